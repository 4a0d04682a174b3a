#include "tracing/api/otlp_grpc.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/thread_pool.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "tracing/api/otlp_status.h"

namespace pharos::tracing {

namespace {

namespace asio = boost::asio;
namespace collector = opentelemetry::proto::collector::trace::v1;

constexpr std::string_view kExportPath =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

std::string flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const grpc::Slice& slice : slices) {
    out.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  return out;
}

grpc::Status toGrpcStatus(const core::Error& error) {
  // The details are a serialized google.rpc.Status carrying RetryInfo when retrying helps; that is
  // what turns UNAVAILABLE into "retry after the delay" for exporters.
  return grpc::Status(static_cast<grpc::StatusCode>(otlp::rpcCode(error.code)), error.message,
                      otlp::statusProtobuf(error));
}

// The HTTP head the authenticator reads, from the call's metadata (gRPC metadata keys are
// lower-case HTTP/2 headers).
http::RequestHead headOf(const grpc::CallbackServerContext& context) {
  http::RequestHead head;
  head.method(boost::beast::http::verb::post);
  head.target(std::string(kExportPath));
  for (const auto& [key, value] : context.client_metadata()) {
    head.insert(std::string_view(key.data(), key.size()),
                std::string_view(value.data(), value.size()));
  }
  return head;
}

std::string metadataValue(const grpc::CallbackServerContext& context, std::string_view key) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find(grpc::string_ref(key.data(), key.size()));
  return found == metadata.end() ? std::string()
                                 : std::string(found->second.data(), found->second.size());
}

// Export as a raw callback method: the request arrives as bytes and goes to the same decoder as
// OTLP/HTTP protobuf bodies (no parse into generated classes and back).
class TraceService final : public collector::TraceService::WithRawCallbackMethod_Export<
                               collector::TraceService::Service> {
 public:
  TraceService(std::shared_ptr<otlp::Receiver> receiver, http::Authenticator& authenticator,
               asio::thread_pool& pool)
      : receiver_(std::move(receiver)), authenticator_(authenticator), pool_(pool) {}

  grpc::ServerUnaryReactor* Export(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request,
                                   grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    // The call's objects live until Finish; the coroutine finishes it on every path.
    auto call = exportCall(context, request, response, reactor);
    asio::co_spawn(pool_, std::move(call), asio::detached);
    return reactor;
  }

 private:
  asio::awaitable<void> exportCall(grpc::CallbackServerContext* context,
                                   const grpc::ByteBuffer* request, grpc::ByteBuffer* response,
                                   grpc::ServerUnaryReactor* reactor) {
    grpc::Status status = co_await handle(*context, *request, *response);
    reactor->Finish(status);
  }

  asio::awaitable<grpc::Status> handle(const grpc::CallbackServerContext& context,
                                       const grpc::ByteBuffer& request,
                                       grpc::ByteBuffer& response) {
    const http::RequestHead head = headOf(context);
    auto identity = co_await authenticator_.authenticate(head);
    if (!identity) {
      const core::Error& error = identity.error();
      co_return error.code == core::ErrorCode::kUnauthenticated
          ? grpc::Status(grpc::StatusCode::UNAUTHENTICATED, error.message)
          : toGrpcStatus(core::Error::unavailable(error.message));
    }
    const std::string body = flatten(request);
    auto summary = co_await receiver_->receive(identity->workspace_id, otlp::Encoding::kProtobuf,
                                               body, metadataValue(context, "x-pharos-project"));
    if (!summary) co_return toGrpcStatus(summary.error());
    collector::ExportTraceServiceResponse answer;
    if (summary->rejected > 0) {
      answer.mutable_partial_success()->set_rejected_spans(summary->rejected);
      answer.mutable_partial_success()->set_error_message(summary->message);
    }
    const std::string encoded = answer.SerializeAsString();
    grpc::Slice slice(encoded);
    response = grpc::ByteBuffer(&slice, 1);
    co_return grpc::Status::OK;
  }

  std::shared_ptr<otlp::Receiver> receiver_;
  http::Authenticator& authenticator_;
  asio::thread_pool& pool_;
};

}  // namespace

struct OtlpGrpcServer::State {
  State(std::shared_ptr<otlp::Receiver> receiver, http::Authenticator& authenticator,
        std::uint64_t max_message_bytes)
      : pool(std::max(2u, std::thread::hardware_concurrency())),
        service(std::move(receiver), authenticator, pool),
        max_message_bytes(max_message_bytes) {}

  // Decoding and store calls run here, off gRPC's own callback threads.
  asio::thread_pool pool;
  TraceService service;
  std::uint64_t max_message_bytes;
  std::unique_ptr<grpc::Server> server;
  core::ListenAddress bound;
};

OtlpGrpcServer::OtlpGrpcServer(std::shared_ptr<otlp::Receiver> receiver,
                               http::Authenticator& authenticator, std::uint64_t max_message_bytes)
    : state_(std::make_unique<State>(std::move(receiver), authenticator, max_message_bytes)) {}

OtlpGrpcServer::~OtlpGrpcServer() {
  shutdown(std::chrono::milliseconds(0));
  state_->pool.join();
}

void OtlpGrpcServer::start(const core::ListenAddress& address) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address.toString(), grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&state_->service);
  const int max_bytes = static_cast<int>(
      std::min<std::uint64_t>(state_->max_message_bytes, std::numeric_limits<int>::max()));
  builder.SetMaxReceiveMessageSize(max_bytes);
  state_->server = builder.BuildAndStart();
  if (!state_->server || port == 0) {
    state_->server.reset();
    throw std::runtime_error(fmt::format(
        "cannot listen for OTLP/gRPC on {} (in use, or not an address of this machine); set "
        "server.otlp_grpc_listen (--otlp-grpc-listen) to another address or \"off\"",
        address.toString()));
  }
  state_->bound = core::ListenAddress{address.host, static_cast<std::uint16_t>(port)};
}

core::ListenAddress OtlpGrpcServer::localAddress() const {
  return state_->bound;
}

void OtlpGrpcServer::shutdown(std::chrono::milliseconds grace) {
  if (!state_->server) return;
  state_->server->Shutdown(std::chrono::system_clock::now() + grace);
  state_->server->Wait();
  state_->server.reset();
}

}  // namespace pharos::tracing
