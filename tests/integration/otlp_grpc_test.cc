// The OTLP/gRPC receiver seen from a gRPC client: a good export answers OK and is stored like an
// HTTP one; a span with bad ids is a partial success that keeps the good spans; bytes that are not
// an ExportTraceServiceRequest are INVALID_ARGUMENT with a google.rpc.Status in the details; a
// message over the size limit is RESOURCE_EXHAUSTED; the listener can be switched off.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "google/rpc/status.pb.h"
#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"

namespace pharos::testing {
namespace {

namespace json = boost::json;
namespace pb = opentelemetry::proto;
using pb::collector::trace::v1::ExportTraceServiceRequest;
using pb::collector::trace::v1::ExportTraceServiceResponse;
using pb::collector::trace::v1::TraceService;

std::shared_ptr<grpc::Channel> channelTo(std::uint16_t port) {
  return grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                             grpc::InsecureChannelCredentials());
}

pb::trace::v1::Span* addSpan(ExportTraceServiceRequest& request, std::string span_id,
                             std::string name) {
  auto* resource_spans = request.resource_spans_size() > 0 ? request.mutable_resource_spans(0)
                                                           : request.add_resource_spans();
  if (resource_spans->resource().attributes_size() == 0) {
    auto* service = resource_spans->mutable_resource()->add_attributes();
    service->set_key("service.name");
    service->mutable_value()->set_string_value("grpc-app");
  }
  auto* scope = resource_spans->scope_spans_size() > 0 ? resource_spans->mutable_scope_spans(0)
                                                       : resource_spans->add_scope_spans();
  auto* span = scope->add_spans();
  span->set_trace_id(
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  span->set_span_id(std::move(span_id));
  span->set_name(std::move(name));
  span->set_start_time_unix_nano(1'795'725'929'000'000'000ULL);
  span->set_end_time_unix_nano(1'795'725'930'000'000'000ULL);
  return span;
}

class OtlpGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.start());
    ASSERT_NE(server_.grpcPort(), 0) << "the banner names the gRPC port";
  }

  std::size_t runCount(const std::string& project) {
    const json::value sessions = get(server_.port(), "/api/v1/sessions?name=" + project).json();
    if (sessions.as_array().empty()) return 0;
    const json::object body{{"session", json::array{sessions.as_array()[0].at("id")}}};
    const HttpResponse response =
        fetch(server_.port(), "POST", "/api/v1/runs/query", {{"content-type", "application/json"}},
              json::serialize(body));
    return response.json().at("runs").as_array().size();
  }

  PharosServer server_{ServeOptions{.sets = {"server.max_body_bytes=1MiB"}}};
};

TEST_F(OtlpGrpcTest, BadSpansArePartialSuccessAndTheGoodOnesAreStored) {
  auto stub = TraceService::NewStub(channelTo(server_.grpcPort()));
  ExportTraceServiceRequest request;
  addSpan(request, std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8), "good");
  addSpan(request, std::string("\x00\x00\x00\x00\x00\x00\x00\x00", 8), "zero id");
  addSpan(request, std::string("\x01\x02\x03", 3), "short id");
  grpc::ClientContext context;
  context.AddMetadata("x-pharos-project", "grpc-project");
  ExportTraceServiceResponse response;
  const grpc::Status status = stub->Export(&context, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.partial_success().rejected_spans(), 2);
  EXPECT_NE(response.partial_success().error_message().find("all zeros"), std::string::npos)
      << response.partial_success().error_message();
  ASSERT_TRUE(otlpMaterialized(server_.port()));
  EXPECT_EQ(runCount("grpc-project"), 1u);
}

TEST_F(OtlpGrpcTest, GarbageIsInvalidArgumentWithAStatusDetail) {
  grpc::GenericStub stub(channelTo(server_.grpcPort()));
  grpc::ClientContext context;
  const std::string garbage("\xff\xff\xff\xff", 4);
  grpc::Slice slice(garbage);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::Status status;
  std::mutex mutex;
  std::condition_variable done;
  bool finished = false;
  stub.UnaryCall(&context, "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                 grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
                   std::lock_guard lock(mutex);
                   status = std::move(s);
                   finished = true;
                   done.notify_one();
                 });
  std::unique_lock lock(mutex);
  ASSERT_TRUE(done.wait_for(lock, std::chrono::seconds(10), [&] { return finished; }));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_FALSE(status.error_message().empty());
  google::rpc::Status detail;
  ASSERT_TRUE(detail.ParseFromString(status.error_details()));
  EXPECT_EQ(detail.code(), 3);
}

TEST_F(OtlpGrpcTest, OverTheSizeLimitIsResourceExhausted) {
  auto stub = TraceService::NewStub(channelTo(server_.grpcPort()));
  ExportTraceServiceRequest request;
  auto* span = addSpan(request, std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8), "big");
  auto* attribute = span->add_attributes();
  attribute->set_key("blob");
  attribute->mutable_value()->set_string_value(std::string(2 * 1024 * 1024, 'x'));
  grpc::ClientContext context;
  context.AddMetadata("x-pharos-project", "too-big");
  ExportTraceServiceResponse response;
  const grpc::Status status = stub->Export(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  ASSERT_TRUE(otlpMaterialized(server_.port()));
  EXPECT_EQ(runCount("too-big"), 0u);
}

TEST(OtlpGrpcOffTest, TheListenerCanBeSwitchedOff) {
  PharosServer server(ServeOptions{.otlp_grpc_listen = "off"});
  ASSERT_TRUE(server.start());
  EXPECT_EQ(server.grpcPort(), 0);
  EXPECT_EQ(server.stdoutText().find("gRPC on"), std::string::npos) << server.stdoutText();
}

}  // namespace
}  // namespace pharos::testing
