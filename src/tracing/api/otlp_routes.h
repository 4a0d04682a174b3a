// The OTLP/HTTP trace receiver: POST /v1/traces with application/x-protobuf or application/json
// bodies (gzip and chunked handled by the server), spans stored as runs of the same store the
// LangSmith API reads. Answers an ExportTraceServiceResponse in the request's encoding, with
// partial_success naming how many spans were rejected and why; a body that cannot be read at all
// is a 400, an overloaded store a 503 with Retry-After (retryable for OTLP exporters); error
// bodies are google.rpc.Status in the request's encoding, as the OTLP spec asks.
#pragma once

#include <memory>

#include "http/router.h"
#include "tracing/ingest/otlp_receiver.h"

namespace pharos::tracing {

void addOtlpRoutes(http::Router& router, std::shared_ptr<otlp::Receiver> receiver);

}  // namespace pharos::tracing
