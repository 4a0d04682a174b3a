// What every OTLP trace transport (HTTP protobuf, HTTP JSON, gRPC) does with an export once the
// caller is known: decode it, reject the spans that are unusable (counted, with reasons), store
// the rest as runs of the caller's workspace. The transports only translate the outcome into
// their own wire form (ExportTraceServiceResponse, HTTP status, gRPC status).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing::otlp {

enum class Encoding { kProtobuf, kJson };

struct ExportSummary {
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::string message;  // why spans were rejected; empty when none were
};

class Receiver {
 public:
  explicit Receiver(std::shared_ptr<RunStore> store);

  // `body` must stay alive until the awaitable completes. `project` is the x-pharos-project
  // header (empty: none). Errors: kInvalidArgument for a body that is not an
  // ExportTraceServiceRequest, kOverloaded when the store cannot keep up.
  boost::asio::awaitable<core::Result<ExportSummary>> receive(std::string workspace_id,
                                                              Encoding encoding,
                                                              std::string_view body,
                                                              std::string project);

 private:
  std::shared_ptr<RunStore> store_;
};

}  // namespace pharos::tracing::otlp
