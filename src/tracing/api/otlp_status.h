// OTLP's error vocabulary: google.rpc.Status. gRPC carries it as the call status (with details);
// OTLP/HTTP sends it as the body of a 4xx/5xx, protobuf-encoded for protobuf requests and in the
// proto3 JSON mapping for JSON requests. Back-pressure carries a RetryInfo detail, which is what
// makes an exporter retry after the delay instead of dropping the data.
#pragma once

#include <chrono>
#include <string>

#include "core/result.h"

namespace pharos::tracing::otlp {

// The delay an overloaded receiver asks exporters to wait (RetryInfo and Retry-After).
inline constexpr std::chrono::seconds kRetryDelay{1};

// google.rpc.Code for an error: kInvalidArgument -> INVALID_ARGUMENT (3), kTooLarge ->
// RESOURCE_EXHAUSTED (8), kOverloaded/kUnavailable -> UNAVAILABLE (14), kUnauthenticated ->
// UNAUTHENTICATED (16), …
int rpcCode(core::ErrorCode code);

// A serialized google.rpc.Status for the error, with RetryInfo{kRetryDelay} when retrying helps.
std::string statusProtobuf(const core::Error& error);
// The same Status in the proto3 JSON mapping ({"code": 3, "message": "…"}).
std::string statusJson(const core::Error& error);

}  // namespace pharos::tracing::otlp
