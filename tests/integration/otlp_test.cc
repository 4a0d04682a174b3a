// The OTLP/HTTP trace receiver seen from outside: protobuf and JSON exports become runs that the
// LangSmith API reads (tree, model, tokens, cost, attributes as filterable metadata), partial
// success for bad spans, and clear errors for bodies that are not trace exports.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <mutex>
#include <thread>

#include "google/rpc/status.pb.h"
#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace pharos::testing {
namespace {

namespace json = boost::json;
namespace pb = opentelemetry::proto;

class OtlpTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  std::vector<json::value> runsOf(const std::string& project, const std::string& filter = "") {
    const json::value sessions = get(port(), "/api/v1/sessions?name=" + project).json();
    if (sessions.as_array().empty()) return {};
    json::object body{{"session", json::array{sessions.as_array()[0].at("id")}}};
    if (!filter.empty()) body["filter"] = filter;
    const HttpResponse response =
        fetch(port(), "POST", "/api/v1/runs/query", {{"content-type", "application/json"}},
              json::serialize(body));
    EXPECT_EQ(response.status, 200) << response.body;
    const json::value answer = response.json();
    std::vector<json::value> out(answer.at("runs").as_array().begin(),
                                 answer.at("runs").as_array().end());
    return out;
  }

  PharosServer server_;
};

// The seed's span (prompt.length, model, response.length, duration_ms, tokens.total) under a
// GenAI root, plus one span with an all-zero trace id.
constexpr std::string_view kExport = R"({"resourceSpans":[{
  "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"seed-app"}}]},
  "scopeSpans":[{"scope":{"name":"seed"},"spans":[
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"handle",
     "kind":2,"startTimeUnixNano":"1795725929000000000","endTimeUnixNano":"1795725930000000000",
     "status":{"code":0}},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175",
     "parentSpanId":"eee19b7ec3c1b174","name":"llm_call","kind":3,
     "startTimeUnixNano":"1795725929100000000","endTimeUnixNano":"1795725929600000000",
     "attributes":[{"key":"prompt.length","value":{"intValue":42}},
                   {"key":"model","value":{"stringValue":"gpt-4o"}},
                   {"key":"response.length","value":{"intValue":120}},
                   {"key":"duration_ms","value":{"doubleValue":500.5}},
                   {"key":"tokens.total","value":{"intValue":160}},
                   {"key":"gen_ai.usage.input_tokens","value":{"intValue":100}},
                   {"key":"gen_ai.usage.output_tokens","value":{"intValue":60}}],
     "status":{"code":2,"message":"rate limited"}},
    {"traceId":"00000000000000000000000000000000","spanId":"eee19b7ec3c1b176","name":"bad"}
  ]}]}]})";

TEST_F(OtlpTest, JsonExportBecomesRunsWithPartialSuccessForTheBadSpan) {
  const HttpResponse response =
      fetch(port(), "POST", "/v1/traces", {{"content-type", "application/json"}}, kExport);
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("content-type"), "application/json");
  const json::value answer = response.json();
  EXPECT_EQ(answer.at("partialSuccess").at("rejectedSpans"), "1");
  EXPECT_NE(std::string(answer.at("partialSuccess").at("errorMessage").as_string())
                .find("traceId: all zeros"),
            std::string::npos)
      << response.body;

  ASSERT_TRUE(otlpMaterialized(port()));
  const auto runs = runsOf("seed-app");
  ASSERT_EQ(runs.size(), 2u);
  const auto llm =
      runsOf("seed-app", R"(and(eq(metadata_key, "prompt.length"), eq(metadata_value, "42")))");
  ASSERT_EQ(llm.size(), 1u);
  const json::value& run = llm[0];
  EXPECT_EQ(run.at("name"), "llm_call");
  EXPECT_EQ(run.at("run_type"), "llm");
  EXPECT_EQ(run.at("status"), "error");
  EXPECT_EQ(run.at("error"), "rate limited");
  EXPECT_EQ(run.at("model"), "gpt-4o");
  EXPECT_EQ(run.at("prompt_tokens"), 100);
  EXPECT_EQ(run.at("total_tokens"), 160);
  EXPECT_NEAR(run.at("total_cost").to_number<double>(), 100 * 2.5e-6 + 60 * 10e-6, 1e-12);
  EXPECT_EQ(run.at("extra").at("metadata").at("duration_ms"), 500.5);
  EXPECT_EQ(run.at("extra").at("metadata").at("response.length"), 120);
  EXPECT_EQ(runsOf("seed-app", "gt(latency, 0.4)").size(), 2u);

  const HttpResponse trace = get(port(), "/api/v1/traces/5b8efff7-9803-8103-d269-b633813fc60c");
  ASSERT_EQ(trace.status, 200) << trace.body;
  const json::value tree = trace.json();
  ASSERT_EQ(tree.at("runs").as_array().size(), 1u);
  EXPECT_EQ(tree.at("runs").at(0).at("name"), "handle");
  EXPECT_EQ(tree.at("runs").at(0).at("child_runs").at(0).at("name"), "llm_call");

  // Exporters re-send after a lost acknowledgement: the same spans upsert, nothing doubles.
  ASSERT_EQ(
      fetch(port(), "POST", "/v1/traces", {{"content-type", "application/json"}}, kExport).status,
      200);
  ASSERT_TRUE(otlpMaterialized(port()));
  EXPECT_EQ(runsOf("seed-app").size(), 2u);
}

TEST_F(OtlpTest, ProtobufExportAnswersProtobufAndHonoursTheProjectHeader) {
  pb::collector::trace::v1::ExportTraceServiceRequest request;
  auto* span = request.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(
      std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10", 16));
  span->set_span_id(std::string("\x11\x12\x13\x14\x15\x16\x17\x18", 8));
  span->set_name("embed");
  span->set_start_time_unix_nano(1795725929000000000ULL);
  span->set_end_time_unix_nano(1795725929100000000ULL);
  auto* op = span->add_attributes();
  op->set_key("gen_ai.operation.name");
  op->mutable_value()->set_string_value("embeddings");
  const HttpResponse response =
      fetch(port(), "POST", "/v1/traces",
            {{"content-type", "application/x-protobuf"}, {"x-pharos-project", "vectors"}},
            request.SerializeAsString());
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.header("content-type"), "application/x-protobuf");
  pb::collector::trace::v1::ExportTraceServiceResponse answer;
  ASSERT_TRUE(answer.ParseFromString(response.body));
  EXPECT_FALSE(answer.has_partial_success()) << "unset on full success";
  ASSERT_TRUE(otlpMaterialized(port()));
  const auto runs = runsOf("vectors");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].at("run_type"), "embedding");
  EXPECT_EQ(runs[0].at("id"), "01020304-0506-0708-1112-131415161718");
}

TEST_F(OtlpTest, UnreadableBodiesAreClearErrorsAsGoogleRpcStatus) {
  // A protobuf request gets a protobuf google.rpc.Status, as the OTLP spec asks.
  const HttpResponse garbage =
      fetch(port(), "POST", "/v1/traces", {{"content-type", "application/x-protobuf"}},
            std::string("\xff\xff\xff\xff", 4));
  ASSERT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.header("content-type"), "application/x-protobuf");
  google::rpc::Status status;
  ASSERT_TRUE(status.ParseFromString(garbage.body));
  EXPECT_EQ(status.code(), 3) << "INVALID_ARGUMENT";
  EXPECT_FALSE(status.message().empty());

  // A JSON request gets the Status in the JSON mapping.
  const HttpResponse broken =
      fetch(port(), "POST", "/v1/traces", {{"content-type", "application/json"}}, "{nope");
  ASSERT_EQ(broken.status, 400);
  const boost::json::value broken_status = boost::json::parse(broken.body);
  EXPECT_EQ(broken_status.at("code"), 3);
  EXPECT_FALSE(broken_status.at("message").as_string().empty());

  const HttpResponse logs = fetch(port(), "POST", "/v1/traces",
                                  {{"content-type", "application/json"}}, R"({"resourceLogs":[]})");
  ASSERT_EQ(logs.status, 400);
  const boost::json::value logs_status = boost::json::parse(logs.body);
  EXPECT_NE(std::string(logs_status.at("message").as_string()).find("Logs export"),
            std::string::npos)
      << logs.body;
  EXPECT_TRUE(
      isJsonError(fetch(port(), "POST", "/v1/traces", {{"content-type", "text/plain"}}, "hello"),
                  415, "unsupported_media_type"));
}

// "Durable on acknowledgement" for the span log: exports acknowledged before a SIGKILL are all
// stored as runs after the restart (the materializer resumes from the log), and none twice.
TEST(OtlpDurabilityTest, EveryAcknowledgedSpanSurvivesSigkill) {
  TempDir data;
  std::atomic<std::uint64_t> acknowledged{0};
  {
    PharosServer server{ServeOptions{.data_dir = data.path()}};
    ASSERT_TRUE(server.start());
    std::atomic<bool> stop{false};
    std::atomic<bool> killed{false};
    std::atomic<int> failures_before_kill{0};
    std::vector<std::thread> clients;
    for (std::uint32_t client = 0; client < 2; ++client) {
      clients.emplace_back([&, client] {
        for (std::uint32_t batch = 0; !stop; ++batch) {
          pb::collector::trace::v1::ExportTraceServiceRequest request;
          auto* scope = request.add_resource_spans()->add_scope_spans();
          for (std::uint32_t i = 0; i < 50; ++i) {
            auto* span = scope->add_spans();
            std::string trace_id(16, '\x01');
            std::memcpy(trace_id.data(), &client, 4);
            std::memcpy(trace_id.data() + 4, &batch, 4);
            span->set_trace_id(trace_id);
            std::string span_id(8, '\x02');
            std::memcpy(span_id.data(), &i, 4);
            span->set_span_id(span_id);
            span->set_name("durable");
            // Now, so that the project's statistics (over the last day) count it.
            const auto now =
                static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
            span->set_start_time_unix_nano(now);
            span->set_end_time_unix_nano(now + 1'000'000);
          }
          try {
            const HttpResponse response =
                fetch(server.port(), "POST", "/v1/traces",
                      {{"content-type", "application/x-protobuf"}, {"x-pharos-project", "durable"}},
                      request.SerializeAsString());
            if (response.status == 200) {
              acknowledged += 50;
            } else if (!killed) {
              ++failures_before_kill;
            }
          } catch (const std::exception&) {
            if (!killed) ++failures_before_kill;
            return;  // the server is gone
          }
        }
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (acknowledged < 5000 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    killed = true;
    server.sendSignal(SIGKILL);
    stop = true;
    for (auto& client : clients) client.join();
    server.waitForExit(std::chrono::seconds(5));
    EXPECT_EQ(failures_before_kill.load(), 0);
  }
  ASSERT_GE(acknowledged.load(), 1000u) << "the load never got going";

  PharosServer restarted{ServeOptions{.data_dir = data.path()}};
  ASSERT_TRUE(restarted.start());
  // Every acknowledged span becomes a run; spans in flight at the kill may too (their exporter
  // would have re-sent them), so the count is at least the acknowledged one and never doubles.
  const std::uint64_t sent_at_most = acknowledged.load() + 2 * 50;
  std::int64_t count = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const json::value sessions =
        get(restarted.port(), "/api/v1/sessions?name=durable&include_stats=true").json();
    if (!sessions.as_array().empty()) {
      count = sessions.as_array()[0].at("run_count").to_number<std::int64_t>();
      if (count >= static_cast<std::int64_t>(acknowledged.load())) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_GE(count, static_cast<std::int64_t>(acknowledged.load()));
  EXPECT_LE(count, static_cast<std::int64_t>(sent_at_most));
}

}  // namespace
}  // namespace pharos::testing
