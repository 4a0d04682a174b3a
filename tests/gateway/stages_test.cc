// Unit tests of the gateway's stages, each on its own: usage (asking for stream usage, stripping
// the usage chunk at any split, counting without reported usage, pricing), the cache (keys,
// semantic queries, store then hit), limits (the cost estimate, budgets reserved and released).
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/cache_stage.h"
#include "gateway/limits_stage.h"
#include "gateway/usage_stage.h"
#include "state/cache_store.h"
#include "state/counter_store.h"

namespace pharos::gateway {
namespace {

namespace json = boost::json;

std::shared_ptr<const economics::PriceTable> prices() {
  return std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn());
}

// A call as the gateway prepares it, for a request body.
std::unique_ptr<Call> makeCall(std::string_view body, http::Request* request = nullptr) {
  auto call = std::make_unique<Call>();
  call->request = request;
  call->body = std::string(body);
  call->fields = json::parse(body).as_object();
  call->stream = call->fields.contains("stream") && call->fields.at("stream").as_bool();
  call->record.model = std::string(call->fields.at("model").as_string());
  call->record.workspace_name = "default";
  call->plan.route.name = call->record.model;
  return call;
}

http::Request makeRequest(std::vector<std::pair<std::string, std::string>> headers = {}) {
  boost::beast::http::request<boost::beast::http::string_body> message;
  message.method(boost::beast::http::verb::post);
  message.target("/v1/chat/completions");
  for (const auto& [name, value] : headers) message.set(name, value);
  return http::Request(std::move(message), "req-1", "127.0.0.1");
}

// Runs a coroutine to completion on a private I/O context.
template <class T>
T run(boost::asio::io_context& io, asio::awaitable<T> task) {
  auto future = asio::co_spawn(io, std::move(task), asio::use_future);
  io.restart();
  io.run();
  return future.get();
}

const std::string kStream =
    "data: "
    "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},"
    "\"finish_reason\":null}],\"usage\":null}\n\n"
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
    "\"usage\":null}\n\n"
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3,"
    "\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n"
    "data: [DONE]\n\n";

std::string withoutUsageChunk(const std::string& stream) {
  const std::size_t start = stream.find("data: {\"id\":\"c\",\"choices\":[]");
  const std::size_t end = stream.find("\n\n", start) + 2;
  return stream.substr(0, start) + stream.substr(end);
}

TEST(UsageStageTest, AsksTheUpstreamForStreamUsage) {
  http::MetricsRegistry metrics;
  UsageStage stage(prices(), metrics);
  boost::asio::io_context io;
  auto call = makeCall(R"({"model":"gpt-4o","stream":true,"messages":[]})");
  EXPECT_FALSE(run(io, stage.onRequest(*call)).has_value());
  EXPECT_TRUE(call->strip_stream_usage);
  EXPECT_EQ(json::parse(call->body).at("stream_options").at("include_usage"), true);
  // Other stream options are kept.
  auto other =
      makeCall(R"({"model":"gpt-4o","stream":true,"stream_options":{"x":1},"messages":[]})");
  run(io, stage.onRequest(*other));
  EXPECT_EQ(json::parse(other->body).at("stream_options"),
            json::parse(R"({"x":1,"include_usage":true})"));
  // A client that asked gets its usage, and its body is untouched.
  const std::string asked =
      R"({"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[]})";
  auto client = makeCall(asked);
  run(io, stage.onRequest(*client));
  EXPECT_FALSE(client->strip_stream_usage);
  EXPECT_EQ(client->body, asked);
  // Plain calls are left alone.
  auto plain = makeCall(R"({"model":"gpt-4o","messages":[]})");
  run(io, stage.onRequest(*plain));
  EXPECT_EQ(plain->body, R"({"model":"gpt-4o","messages":[]})");
}

TEST(UsageStageTest, StripsTheUsageChunkAtEverySplit) {
  http::MetricsRegistry metrics;
  UsageStage stage(prices(), metrics);
  for (bool strip : {true, false}) {
    for (std::size_t split = 0; split <= kStream.size(); ++split) {
      auto call = makeCall(R"({"model":"gpt-4o","stream":true,"messages":[]})");
      call->strip_stream_usage = strip;
      auto filter = stage.streamFilter(*call);
      ASSERT_NE(filter, nullptr);
      std::string first = kStream.substr(0, split), second = kStream.substr(split), tail;
      filter->onData(first);
      filter->onData(second);
      filter->onEnd(tail);
      EXPECT_EQ(first + second + tail, strip ? withoutUsageChunk(kStream) : kStream)
          << "split at " << split;
      ASSERT_TRUE(call->record.usage.has_value()) << split;
      EXPECT_EQ(call->record.usage->prompt_tokens, 12);
      EXPECT_EQ(call->record.usage->completion_tokens, 3);
      EXPECT_EQ(call->record.usage->cached_prompt_tokens, 4);
      EXPECT_FALSE(call->record.usage->counted);
    }
  }
}

TEST(UsageStageTest, CountsWhenTheUpstreamReportsNone) {
  http::MetricsRegistry metrics;
  UsageStage stage(prices(), metrics);
  auto call =
      makeCall(R"({"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]})");
  std::string body =
      R"({"choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."}}]})";
  stage.onAnswer(*call, body);
  ASSERT_TRUE(call->record.usage.has_value());
  EXPECT_TRUE(call->record.usage->counted);
  EXPECT_EQ(call->record.usage->prompt_tokens, 9);  // 3 + "user" 1 + "hello world" 2 + 3
  EXPECT_EQ(call->record.usage->completion_tokens, 10);

  // A stream without usage: the streamed text is counted at its end.
  auto streamed = makeCall(
      R"({"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello world"}]})");
  auto filter = stage.streamFilter(*streamed);
  std::string events =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The quick brown fox \"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"jumps over the lazy dog.\"},"
      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  std::string tail;
  filter->onData(events);
  filter->onEnd(tail);
  ASSERT_TRUE(streamed->record.usage.has_value());
  EXPECT_TRUE(streamed->record.usage->counted);
  EXPECT_EQ(streamed->record.usage->completion_tokens, 10);
}

TEST(UsageStageTest, PricesCachedPromptTokensAndFreeHits) {
  http::MetricsRegistry metrics;
  UsageStage stage(prices(), metrics);
  auto call = makeCall(R"({"model":"gpt-4o","messages":[]})");
  call->record.upstream_model = "gpt-4o-2024-08-06";
  call->record.usage = CallUsage{
      .prompt_tokens = 1'000'000, .completion_tokens = 100'000, .cached_prompt_tokens = 400'000};
  stage.onComplete(*call);
  ASSERT_TRUE(call->record.cost.has_value());
  EXPECT_DOUBLE_EQ(call->record.cost->prompt_usd, 0.6 * 2.5 + 0.4 * 1.25);
  EXPECT_DOUBLE_EQ(call->record.cost->completion_usd, 1.0);
  EXPECT_NE(
      metrics.render().find("pharos_gateway_cost_usd_total{model=\"gpt-4o\",key=\"\",user=\"\"} 3"),
      std::string::npos)
      << metrics.render();

  auto hit = makeCall(R"({"model":"gpt-4o","messages":[]})");
  hit->record.cache_status = "hit";
  hit->record.usage = CallUsage{.prompt_tokens = 10, .completion_tokens = 10};
  stage.onComplete(*hit);
  ASSERT_TRUE(hit->record.cost.has_value());
  EXPECT_EQ(hit->record.cost->total(), 0);

  auto unknown = makeCall(R"({"model":"my-model","messages":[]})");
  unknown->record.usage = CallUsage{.prompt_tokens = 10, .completion_tokens = 10};
  stage.onComplete(*unknown);
  EXPECT_FALSE(unknown->record.cost.has_value());
}

TEST(CacheKeyTest, EveryFieldThatCanChangeTheAnswerAndNothingElse) {
  const auto key = [](std::string_view body, std::string workspace = "default") {
    auto call = makeCall(body);
    call->record.workspace_name = std::move(workspace);
    return exactCacheKey(*call);
  };
  const std::string base =
      key(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"a"}]})");
  EXPECT_EQ(base.size(), 64u);
  // Key order, user, metadata and stream_options do not matter.
  EXPECT_EQ(base,
            key(R"({"messages":[{"content":"a","role":"user"}],"temperature":0,"model":"m"})"));
  EXPECT_EQ(
      base,
      key(R"({"model":"m","temperature":0,"user":"u","metadata":{"a":"b"},"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"a"}]})"));
  // Everything else does.
  EXPECT_NE(base,
            key(R"({"model":"m","temperature":0.5,"messages":[{"role":"user","content":"a"}]})"));
  EXPECT_NE(base,
            key(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"b"}]})"));
  EXPECT_NE(base,
            key(R"({"model":"n","temperature":0,"messages":[{"role":"user","content":"a"}]})"));
  EXPECT_NE(
      base,
      key(R"({"model":"m","temperature":0,"stream":true,"messages":[{"role":"user","content":"a"}]})"));
  EXPECT_NE(base, key(R"({"model":"m","temperature":0,"messages":[{"role":"user","content":"a"}]})",
                      "other"));
}

TEST(CacheKeyTest, SemanticQueryIsTheLastUserMessageInTheRestOfTheRequest) {
  auto call = makeCall(R"({"model":"m","messages":[{"role":"system","content":"S"},
      {"role":"user","content":"first"},{"role":"assistant","content":"A"},
      {"role":"user","content":[{"type":"text","text":"What is"},{"type":"image_url"},{"type":"text","text":"AI?"}]}]})");
  const auto query = semanticQuery(*call);
  ASSERT_TRUE(query.has_value());
  EXPECT_EQ(query->text, "What is\nAI?");
  auto paraphrase = makeCall(R"({"model":"m","messages":[{"role":"system","content":"S"},
      {"role":"user","content":"first"},{"role":"assistant","content":"A"},
      {"role":"user","content":"Define AI"}]})");
  EXPECT_EQ(semanticQuery(*paraphrase)->scope, query->scope);
  auto other_system = makeCall(R"({"model":"m","messages":[{"role":"system","content":"T"},
      {"role":"user","content":"first"},{"role":"assistant","content":"A"},
      {"role":"user","content":"Define AI"}]})");
  EXPECT_NE(semanticQuery(*other_system)->scope, query->scope);
  EXPECT_FALSE(
      semanticQuery(*makeCall(R"({"model":"m","messages":[{"role":"system","content":"S"}]})")));
}

TEST(CacheStageTest, StoresAnAnswerAndServesItAgain) {
  boost::asio::io_context io;
  http::MetricsRegistry metrics;
  std::shared_ptr<state::CacheStore> store = state::makeMemoryCache(1 << 20, 100);
  CacheStage stage({}, store, nullptr, metrics);
  http::Request request = makeRequest();
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"a"}]})";

  auto first = makeCall(body, &request);
  first->executor = io.get_executor();
  EXPECT_FALSE(run(io, stage.onRequest(*first)).has_value());
  EXPECT_FALSE(first->stored_answer.has_value());
  EXPECT_EQ(first->record.cache_status, "miss");
  std::string answer = R"({"id":"x","choices":[]})";
  stage.onAnswer(*first, answer);
  io.restart();
  io.run();  // the write happens after the answer went out

  auto second = makeCall(body, &request);
  second->executor = io.get_executor();
  run(io, stage.onRequest(*second));
  ASSERT_TRUE(second->stored_answer.has_value());
  EXPECT_EQ(second->stored_answer->body, answer);
  EXPECT_FALSE(second->stored_answer->stream);
  EXPECT_EQ(second->record.cache_status, "hit");
  ASSERT_EQ(second->response_headers.size(), 1u);
  EXPECT_EQ(second->response_headers[0].second, "hit");

  // no-store neither looks up nor stores; a header value it does not know is a 400.
  http::Request no_store = makeRequest({{"x-pharos-cache", "no-store"}});
  auto bypass = makeCall(body, &no_store);
  run(io, stage.onRequest(*bypass));
  EXPECT_FALSE(bypass->stored_answer.has_value());
  EXPECT_EQ(bypass->record.cache_status, "bypass");
  http::Request bad = makeRequest({{"x-pharos-cache", "maybe"}});
  auto refused = makeCall(body, &bad);
  const auto response = run(io, stage.onRequest(*refused));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 400u);
}

TEST(CacheStageTest, AModelWithCacheOffIsNeitherLookedUpNorStored) {
  boost::asio::io_context io;
  http::MetricsRegistry metrics;
  std::shared_ptr<state::CacheStore> store = state::makeMemoryCache(1 << 20, 100);
  CacheStage stage({}, store, nullptr, metrics);
  http::Request request = makeRequest();
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"a"}]})";
  for (int i = 0; i < 2; ++i) {
    auto call = makeCall(body, &request);
    call->plan.route.cache = false;
    call->executor = io.get_executor();
    EXPECT_FALSE(run(io, stage.onRequest(*call)).has_value());
    EXPECT_FALSE(call->stored_answer.has_value()) << i;
    EXPECT_EQ(call->record.cache_status, "none");
    EXPECT_TRUE(call->response_headers.empty());
    std::string answer = R"({"id":"x","choices":[]})";
    stage.onAnswer(*call, answer);
    io.restart();
    io.run();
  }
  EXPECT_EQ(store->stats().hits + store->stats().misses, 0u);
}

TEST(LimitsStageTest, RefusesWhatCouldCostTooMuchAndStatesTheEstimate) {
  boost::asio::io_context io;
  http::MetricsRegistry metrics;
  LimitsStage stage({.max_cost_per_query = 0.10}, prices(), state::makeMemoryCounters(), metrics);
  auto call = makeCall(
      R"({"model":"gpt-4o","max_tokens":20000,"messages":[{"role":"user","content":"hi"}]})");
  const auto refusal = run(io, stage.onRequest(*call));
  ASSERT_TRUE(refusal.has_value());
  EXPECT_EQ(refusal->status, 400u);
  // 8 prompt tokens at $2.50/M + 20,000 at $10/M = $0.20002.
  EXPECT_NE(refusal->body.find("up to $0.2000"), std::string::npos) << refusal->body;
  EXPECT_NE(refusal->body.find("8 prompt tokens"), std::string::npos) << refusal->body;
  EXPECT_NE(refusal->body.find("max_cost_per_query of $0.1000"), std::string::npos);
  EXPECT_NE(refusal->body.find("cost_limit_exceeded"), std::string::npos);
  EXPECT_EQ(call->record.error_class, "limit_max_cost_per_query");

  auto small = makeCall(
      R"({"model":"gpt-4o","max_tokens":2000,"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(run(io, stage.onRequest(*small)).has_value());
}

TEST(LimitsStageTest, BudgetsAreReservedThenSettledToTheActualCost) {
  boost::asio::io_context io;
  http::MetricsRegistry metrics;
  std::shared_ptr<state::CounterStore> counters = state::makeMemoryCounters();
  // Each call's worst case is ~$0.01 (1,000 output tokens at $10/M): the budget holds two.
  LimitsStage stage({.user_budget_usd = 0.025}, prices(), counters, metrics);
  const std::string body =
      R"({"model":"gpt-4o","max_tokens":1000,"user":"u1","messages":[{"role":"user","content":"hi"}]})";
  std::vector<std::unique_ptr<Call>> calls;
  for (int i = 0; i < 3; ++i) {
    calls.push_back(makeCall(body));
    calls.back()->record.user_id = "u1";
    calls.back()->executor = io.get_executor();
  }
  EXPECT_FALSE(run(io, stage.onRequest(*calls[0])).has_value());
  EXPECT_FALSE(run(io, stage.onRequest(*calls[1])).has_value());
  const auto refused = run(io, stage.onRequest(*calls[2]));
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 429u);
  EXPECT_NE(refused->body.find("budget_exceeded"), std::string::npos);

  // The first two cost almost nothing in the end: settling frees the budget again.
  for (int i = 0; i < 2; ++i) {
    calls[i]->record.cost = CallCost{0.0001, 0.0001};
    stage.onComplete(*calls[i]);
  }
  io.restart();
  io.run();
  auto again = makeCall(body);
  again->record.user_id = "u1";
  EXPECT_FALSE(run(io, stage.onRequest(*again)).has_value());
}

}  // namespace
}  // namespace pharos::gateway
