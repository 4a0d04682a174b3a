// OTLP spans as runs: ids, tree links, project choice, run type, model/provider/tokens/cost from
// each dialect of the recognition table (with derived figures and their sources once the run store
// prices them), inputs/outputs, errors, events, tags and metadata.
#include "tracing/ingest/otlp_runs.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "tracing/store/run_row.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing::otlp {
namespace {

namespace json = boost::json;

Span span(std::string_view attributes_json,
          std::string_view resource_json = R"({"service.name":"chatbot"})") {
  Span s;
  s.trace_id = "5b8efff798038103d269b633813fc60c";
  s.span_id = "eee19b7ec3c1b175";
  s.parent_span_id = "eee19b7ec3c1b174";
  s.name = "chat gpt-4o";
  s.kind = 3;
  s.start_time_unix_nano = 1795725929100000000ULL;
  s.end_time_unix_nano = 1795725929400000000ULL;
  s.attributes = json::parse(attributes_json).as_object();
  s.resource = std::make_shared<json::object>(json::parse(resource_json).as_object());
  s.scope = std::make_shared<json::object>(
      json::object{{"name", "openllmetry"}, {"version", "0.1"}, {"attributes", json::object{}}});
  return s;
}

// The run as the store would keep it: merged, derived and priced.
RunRow stored(const RunFields& run) {
  static const economics::PriceTable prices = economics::PriceTable::builtIn();
  return prepareRun(run, "test", prices).new_row;
}

TEST(SpanToRunTest, IdsTreeTimesAndProject) {
  const RunFields run = spanToRun(span("{}"), "");
  EXPECT_EQ(run.id, "5b8efff7-9803-8103-eee1-9b7ec3c1b175");
  EXPECT_EQ(run.trace_id, "5b8efff7-9803-8103-d269-b633813fc60c");
  EXPECT_EQ(run.parent_run_id, "5b8efff7-9803-8103-eee1-9b7ec3c1b174");
  EXPECT_FALSE(run.dotted_order);
  EXPECT_EQ(run.start_time, 1795725929100000);
  EXPECT_EQ(run.end_time, 1795725929400000);
  EXPECT_EQ(run.session_name, "chatbot");
  EXPECT_EQ(run.run_type, "chain");
  EXPECT_TRUE(run.posted);
  EXPECT_EQ(spanToRun(span("{}"), "from-header").session_name, "from-header");
  EXPECT_EQ(spanToRun(span(R"({"pharos.project":"attr"})"), "from-header").session_name, "attr");
  EXPECT_EQ(spanToRun(span("{}", "{}"), "").session_name, "default");
}

TEST(SpanToRunTest, GenAiSpanGivesModelTokensAndComputedCost) {
  const RunFields run = spanToRun(span(R"({
      "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
      "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 500,
      "gen_ai.usage.cache_read.input_tokens": 800,
      "gen_ai.input.messages": "[{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"hi\"}]}]",
      "gen_ai.output.messages": [{"role": "assistant"}]})"),
                                  "");
  EXPECT_EQ(run.run_type, "llm");
  EXPECT_EQ(run.inputs->at("messages").at(0).at("role"), "user") << "a JSON string is parsed";
  EXPECT_EQ(run.outputs->at("messages").at(0).at("role"), "assistant");
  const RunRow row = stored(run);
  EXPECT_EQ(row.fields.model, "gpt-4o-mini-2024-07-18") << "the response model wins";
  ASSERT_TRUE(row.fields.prompt_tokens && row.fields.total_tokens);
  // Cached tokens are inside the 1000 input tokens: never added again.
  EXPECT_EQ(row.fields.prompt_tokens->value, 1000);
  EXPECT_EQ(row.fields.total_tokens->value, 1500);
  EXPECT_EQ(row.fields.total_tokens->source, FigureSource::kComputed);
  ASSERT_TRUE(row.total_cost);
  EXPECT_NEAR(*row.total_cost, 1000 * 0.15e-6 + 500 * 0.60e-6, 1e-12);
  EXPECT_NE(row.figure_sources.find(R"("cost":"computed")"), std::string::npos);
  const json::object& metadata = run.extra->at("metadata").as_object();
  EXPECT_EQ(metadata.at("ls_provider"), "openai");
  EXPECT_EQ(metadata.at("usage_metadata").at("input_token_details").at("cache_read"), 800);
  EXPECT_EQ(metadata.at("service.name"), "chatbot");
  EXPECT_EQ(metadata.at("otel.scope.name"), "openllmetry");
}

TEST(SpanToRunTest, OpenInferenceSpanWithReportedCost) {
  const RunFields run = spanToRun(span(R"({
      "openinference.span.kind": "LLM", "llm.model_name": "claude-3-5-sonnet",
      "llm.token_count.prompt": 10, "llm.token_count.completion": 20, "llm.token_count.total": 30,
      "llm.cost.total": 0.5, "input.value": "{\"question\":\"why\"}", "input.mime_type": "application/json",
      "output.value": "because", "session.id": "conv-7", "tag.tags": ["a", "b"]})"),
                                  "");
  EXPECT_EQ(run.run_type, "llm");
  EXPECT_EQ(run.inputs->at("question"), "why");
  EXPECT_EQ(run.outputs->at("output"), "because");
  EXPECT_EQ(run.tags, (std::vector<std::string>{"a", "b"}));
  const RunRow row = stored(run);
  EXPECT_EQ(row.fields.total_tokens->value, 30);
  EXPECT_EQ(row.fields.total_tokens->source, FigureSource::kReported);
  EXPECT_EQ(row.total_cost, 0.5);
  EXPECT_NE(row.figure_sources.find(R"("cost":"reported")"), std::string::npos);
  EXPECT_EQ(row.thread_id, "conv-7");
}

TEST(SpanToRunTest, OpenLlmetryFlattenedPromptsAndVercelTokens) {
  const RunFields flattened = spanToRun(span(R"({
      "traceloop.span.kind": "task", "gen_ai.prompt.0.role": "system",
      "gen_ai.prompt.0.content": "be brief", "gen_ai.prompt.1.role": "user",
      "gen_ai.prompt.1.content": "hi", "gen_ai.completion.0.content": "hello"})"),
                                        "");
  EXPECT_EQ(flattened.run_type, "chain");
  EXPECT_EQ(json::value(*flattened.inputs), json::parse(R"({"messages":[
      {"role":"system","content":"be brief"},{"role":"user","content":"hi"}]})"));
  EXPECT_EQ(flattened.outputs->at("messages").at(0).at("content"), "hello");

  const RunFields vercel =
      spanToRun(span(R"({"ai.model.id": "gpt-4o", "ai.model.provider": "openai.chat",
               "ai.usage.promptTokens": 7, "ai.usage.completionTokens": 3,
               "ai.response.text": "ok"})"),
                "");
  EXPECT_EQ(vercel.run_type, "llm") << "a model makes it an LLM call";
  const RunRow row = stored(vercel);
  EXPECT_EQ(row.fields.total_tokens->value, 10);
  EXPECT_EQ(vercel.outputs->at("output"), "ok");
}

TEST(SpanToRunTest, SeedAttributesAreKeptAsFilterableMetadata) {
  const RunFields run = spanToRun(span(R"({"prompt.length": 42, "model": "gpt-4o",
                                            "response.length": 120, "duration_ms": 512.5,
                                            "tokens.total": 160})"),
                                  "");
  const RunRow row = stored(run);
  const auto has = [&](std::string_view key, std::string_view value) {
    return std::find(row.metadata.begin(), row.metadata.end(),
                     std::pair<std::string, std::string>(key, value)) != row.metadata.end();
  };
  EXPECT_TRUE(has("prompt.length", "42"));
  EXPECT_TRUE(has("model", "gpt-4o"));
  EXPECT_TRUE(has("response.length", "120"));
  EXPECT_TRUE(has("tokens.total", "160"));
  EXPECT_EQ(row.fields.model, "gpt-4o");
  EXPECT_EQ(row.fields.total_tokens->value, 160);
}

TEST(SpanToRunTest, ErrorStatusEventsAndHugeValuesOutOfTheIndex) {
  Span s = span(R"({"prompt": ")" + std::string(5000, 'x') + R"("})");
  s.status_code = StatusCode::kError;
  s.events.push_back(
      json::object{{"name", "exception"},
                   {"time_unix_nano", 1795725929300000000ULL},
                   {"attributes", json::object{{"exception.type", "RateLimitError"},
                                               {"exception.message", "429 Too Many Requests"}}}});
  const RunFields run = spanToRun(s, "");
  EXPECT_EQ(run.error, "RateLimitError: 429 Too Many Requests");
  ASSERT_TRUE(run.events);
  EXPECT_EQ(run.events->at(0).at("time"), "2026-11-26T20:45:29.300000Z");
  EXPECT_EQ(run.events->at(0).at("kwargs").at("exception.type"), "RateLimitError");
  const RunRow row = stored(run);
  EXPECT_EQ(row.status, "error");
  for (const auto& [key, value] : row.metadata) EXPECT_NE(key, "prompt") << "5 KB value indexed";
  EXPECT_EQ(run.extra->at("metadata").at("prompt").as_string().size(), 5000u) << "but kept";
  s.status_message = "upstream failed";
  EXPECT_EQ(spanToRun(s, "").error, "upstream failed") << "the status message wins";
}

}  // namespace
}  // namespace pharos::tracing::otlp
