#include "tracing/api/otlp_status.h"

#include <boost/json/serialize.hpp>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace pharos::tracing::otlp {

namespace {

bool retryable(core::ErrorCode code) {
  return code == core::ErrorCode::kOverloaded || code == core::ErrorCode::kUnavailable;
}

}  // namespace

int rpcCode(core::ErrorCode code) {
  using core::ErrorCode;
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 3;  // INVALID_ARGUMENT
    case ErrorCode::kUnauthenticated:
      return 16;  // UNAUTHENTICATED
    case ErrorCode::kPermissionDenied:
      return 7;  // PERMISSION_DENIED
    case ErrorCode::kNotFound:
      return 5;  // NOT_FOUND
    case ErrorCode::kAlreadyExists:
      return 6;  // ALREADY_EXISTS
    case ErrorCode::kTooLarge:
      return 8;  // RESOURCE_EXHAUSTED: without RetryInfo, not retried (the same body fails again)
    case ErrorCode::kOverloaded:
    case ErrorCode::kUnavailable:
      return 14;  // UNAVAILABLE
    case ErrorCode::kTimeout:
      return 4;  // DEADLINE_EXCEEDED
    case ErrorCode::kCancelled:
      return 1;  // CANCELLED
    case ErrorCode::kInternal:
      break;
  }
  return 13;  // INTERNAL
}

std::string statusProtobuf(const core::Error& error) {
  google::rpc::Status status;
  status.set_code(rpcCode(error.code));
  status.set_message(error.message);
  if (retryable(error.code)) {
    google::rpc::RetryInfo retry;
    retry.mutable_retry_delay()->set_seconds(kRetryDelay.count());
    status.add_details()->PackFrom(retry);
  }
  return status.SerializeAsString();
}

std::string statusJson(const core::Error& error) {
  boost::json::object status{{"code", rpcCode(error.code)}, {"message", error.message}};
  if (retryable(error.code)) {
    status["details"] = boost::json::array{
        boost::json::object{{"@type", "type.googleapis.com/google.rpc.RetryInfo"},
                            {"retryDelay", std::to_string(kRetryDelay.count()) + "s"}}};
  }
  return boost::json::serialize(status);
}

}  // namespace pharos::tracing::otlp
