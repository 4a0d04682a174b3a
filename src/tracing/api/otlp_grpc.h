// The OTLP/gRPC trace receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export on its
// own listener (gRPC needs HTTP/2; the main port speaks HTTP/1.1). Same semantics as POST
// /v1/traces: the caller's key from `x-api-key` or `authorization: Bearer` metadata, the project
// from `x-pharos-project`, partial_success for rejected spans, INVALID_ARGUMENT for a message
// that is not a trace export, UNAVAILABLE + RetryInfo when the store cannot keep up, and
// RESOURCE_EXHAUSTED above the size limit (gzip-compressed calls are inflated by gRPC first).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/settings.h"
#include "http/server.h"
#include "tracing/ingest/otlp_receiver.h"

namespace pharos::tracing {

class OtlpGrpcServer {
 public:
  // `authenticator` must outlive the server.
  OtlpGrpcServer(std::shared_ptr<otlp::Receiver> receiver, http::Authenticator& authenticator,
                 std::uint64_t max_message_bytes);
  ~OtlpGrpcServer();
  OtlpGrpcServer(const OtlpGrpcServer&) = delete;
  OtlpGrpcServer& operator=(const OtlpGrpcServer&) = delete;

  // Binds and starts serving; throws std::runtime_error naming the address when it cannot.
  void start(const core::ListenAddress& address);
  // The bound address (the real port when asked for port 0).
  core::ListenAddress localAddress() const;
  // Stops accepting calls; calls in flight get `grace` to finish, then are cancelled.
  void shutdown(std::chrono::milliseconds grace);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace pharos::tracing
