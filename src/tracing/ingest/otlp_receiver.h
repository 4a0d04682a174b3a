// What every OTLP trace transport (HTTP protobuf, HTTP JSON, gRPC) does with an export once the
// caller is known: check it, count and explain the spans that are unusable, and make the export
// durable in the span log — the acknowledgement means "safe on disk". The Materializer turns
// logged exports into runs behind it (otlp_materializer.h), by the same rules, so what the
// acknowledgement says was accepted is what gets stored.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "http/metrics.h"
#include "store/log/append_log.h"
#include "tracing/ingest/otlp_logged_export.h"

namespace pharos::tracing::otlp {

struct ExportSummary {
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::string message;  // why spans were rejected; empty when none were
};

class Receiver {
 public:
  // `log` and `metrics` must outlive the receiver.
  Receiver(store::AppendLog& log, http::MetricsRegistry& metrics);

  // `body` must stay alive until the awaitable completes. `project` is the x-pharos-project
  // header (empty: none). Errors: kInvalidArgument for a body that is not an
  // ExportTraceServiceRequest, kOverloaded when the backlog of exports not yet stored as runs is
  // full, kUnavailable when the disk fails.
  boost::asio::awaitable<core::Result<ExportSummary>> receive(std::string workspace_id,
                                                              Encoding encoding,
                                                              std::string_view body,
                                                              std::string project);

 private:
  store::AppendLog& log_;
  http::Counter& accepted_;
  http::Counter& rejected_;
};

}  // namespace pharos::tracing::otlp
