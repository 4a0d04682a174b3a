// Tests of the run model: golden parses (valid and every error message), post/patch merge
// convergence in both arrival orders, inputs never cleared by a patch, and usage derivation from
// each source with its recorded FigureSource.
#include "tracing/run.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <string_view>

namespace pharos::tracing {
namespace {

namespace json = boost::json;

constexpr std::string_view kRoot = "01a2199b-2a7f-7000-8000-0204c339a597";
constexpr std::string_view kChild = "01a2199b-2a95-7000-8000-03b2ebcfe518";
constexpr std::string_view kOther = "01a2199b-2a95-7000-8000-03b2ebcfe519";
// 2024-01-01T00:00:00Z in Unix microseconds.
constexpr std::int64_t kJan1 = 1704067200000000;

ParsedRun parseOk(std::string_view text, RunOp op, std::string_view path_id = {}) {
  auto parsed = parseRunJson(json::parse(text), op, path_id);
  EXPECT_TRUE(parsed.ok()) << text << " -> " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? std::move(parsed).value() : ParsedRun{};
}

RunFields post(std::string_view text) {
  return parseOk(text, RunOp::kPost).run;
}
RunFields patch(std::string_view text) {
  return parseOk(text, RunOp::kPatch).run;
}

const std::string kChildDotted =
    "20240101T000000000001Z" + std::string(kRoot) + ".20240101T000000500002Z" + std::string(kChild);

TEST(RunParse, ValidPostAllFields) {
  const std::string text = R"({"id":")" + std::string(kChild) + R"(","trace_id":")" +
                           std::string(kRoot) + R"(","parent_run_id":")" + std::string(kRoot) +
                           R"(","dotted_order":")" + kChildDotted + R"(","name":"step",
      "run_type":"llm","start_time":"2024-01-01T00:00:00.500002Z","session_name":"proj",
      "reference_example_id":")" +
                           std::string(kOther) + R"(","tags":["a","b"],
      "inputs":{"q":1},"outputs":{"a":2},"error":null,"events":[{"name":"start"}],
      "extra":{"metadata":{"k":"v"},"runtime":{"sdk":"langsmith-js"}},"serialized":{},
      "child_runs":[]})";
  ParsedRun parsed = parseOk(text, RunOp::kPost);
  const RunFields& run = parsed.run;
  EXPECT_TRUE(parsed.warnings.empty());
  EXPECT_TRUE(run.posted);
  EXPECT_EQ(run.id, kChild);
  EXPECT_EQ(run.trace_id, std::string(kRoot));
  EXPECT_EQ(run.parent_run_id, std::string(kRoot));
  EXPECT_EQ(run.dotted_order, kChildDotted);
  EXPECT_EQ(run.name, "step");
  EXPECT_EQ(run.run_type, "llm");
  EXPECT_EQ(run.start_time, kJan1 + 500002);
  EXPECT_FALSE(run.end_time.has_value());
  EXPECT_EQ(run.session_name, "proj");
  EXPECT_EQ(run.reference_example_id, std::string(kOther));
  EXPECT_EQ(run.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*run.inputs, json::parse(R"({"q":1})"));
  EXPECT_EQ(*run.outputs, json::parse(R"({"a":2})"));
  EXPECT_FALSE(run.error.has_value());  // null scalar == absent
  EXPECT_EQ(*run.events, json::parse(R"([{"name":"start"}])"));
  ASSERT_NE(runMetadata(run), nullptr);
  EXPECT_EQ(runMetadata(run)->at("k"), "v");
}

TEST(RunParse, PatchEpochMillisAndUpperCaseIds) {
  ParsedRun parsed = parseOk(R"({"id":"01A2199B-2A95-7000-8000-03B2EBCFE518",
      "end_time":1704067200500,"start_time":1704067200000.25,"outputs":{"x":1},"newer_field":1})",
                             RunOp::kPatch);
  EXPECT_FALSE(parsed.run.posted);
  EXPECT_EQ(parsed.run.id, kChild);
  EXPECT_EQ(parsed.run.end_time, kJan1 + 500000);
  EXPECT_EQ(parsed.run.start_time, kJan1 + 250);
  EXPECT_FALSE(parsed.run.inputs.has_value());
  EXPECT_EQ(parsed.warnings, std::vector<std::string>{"unknown field ignored: newer_field"});
}

TEST(RunParse, PatchIdFromPath) {
  ParsedRun parsed = parseOk(R"({"end_time":1704067200500})", RunOp::kPatch, kChild);
  EXPECT_EQ(parsed.run.id, kChild);
  parsed = parseOk(R"({"id":")" + std::string(kChild) + R"("})", RunOp::kPatch,
                   "01A2199B-2A95-7000-8000-03B2EBCFE518");
  EXPECT_EQ(parsed.run.id, kChild);
}

TEST(RunParse, AnyShortRunTypeIsAccepted) {
  // JS callers can pass any string as run_type; LangSmith keeps it, so Pharos does too.
  const RunFields run = post(R"({"id":")" + std::string(kChild) + R"(","run_type":"agent"})");
  EXPECT_EQ(run.run_type, "agent");
}

TEST(RunParse, DottedOrderUuidsLowerCased) {
  const std::string upper = "20240101T000000000001Z01A2199B-2A7F-7000-8000-0204C339A597";
  RunFields run =
      post(R"({"id":")" + std::string(kRoot) + R"(","dotted_order":")" + upper + R"("})");
  EXPECT_EQ(run.dotted_order, "20240101T000000000001Z" + std::string(kRoot));
}

struct ErrorCase {
  std::string body;
  RunOp op;
  std::string message;
};

TEST(RunParse, ErrorMessages) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  const ErrorCase cases[] = {
      {"[]", RunOp::kPost, "run: expected a JSON object"},
      {"{}", RunOp::kPost, "id: required"},
      {R"({"end_time":1})", RunOp::kPatch, "id: required"},
      {R"({"id":"abc"})", RunOp::kPost, R"(id: not a UUID: "abc")"},
      {R"({"id":7})", RunOp::kPost, "id: expected a string"},
      {"{" + id + R"(,"trace_id":"x"})", RunOp::kPost, R"(trace_id: not a UUID: "x")"},
      {"{" + id + R"(,"parent_run_id":"x"})", RunOp::kPost, R"(parent_run_id: not a UUID: "x")"},
      {"{" + id + R"(,"session_id":"x"})", RunOp::kPost, R"(session_id: not a UUID: "x")"},
      {"{" + id + R"(,"reference_example_id":"x"})", RunOp::kPost,
       R"(reference_example_id: not a UUID: "x")"},
      {"{" + id + R"(,"name":1})", RunOp::kPost, "name: expected a string"},
      {"{" + id + R"(,"session_name":[]})", RunOp::kPost, "session_name: expected a string"},
      {"{" + id + R"(,"error":{}})", RunOp::kPatch, "error: expected a string"},
      {"{" + id + R"(,"run_type":""})", RunOp::kPost,
       "run_type: expected a name of 1 to 64 characters"},
      {"{" + id + R"(,"start_time":"yesterday"})", RunOp::kPost,
       "start_time: expected an ISO-8601 string or epoch milliseconds"},
      {"{" + id + R"(,"start_time":true})", RunOp::kPost,
       "start_time: expected an ISO-8601 string or epoch milliseconds"},
      {"{" + id + R"(,"end_time":-5})", RunOp::kPatch,
       "end_time: expected an ISO-8601 string or epoch milliseconds"},
      {"{" + id + R"(,"end_time":1e300})", RunOp::kPatch,
       "end_time: expected an ISO-8601 string or epoch milliseconds"},
      {"{" + id + R"(,"inputs":[1]})", RunOp::kPost, "inputs: expected an object or null"},
      {"{" + id + R"(,"outputs":"x"})", RunOp::kPatch, "outputs: expected an object or null"},
      {"{" + id + R"(,"events":{}})", RunOp::kPatch, "events: expected an array or null"},
      {"{" + id + R"(,"extra":1})", RunOp::kPost, "extra: expected an object or null"},
      {"{" + id + R"(,"extra":{"metadata":1}})", RunOp::kPost,
       "extra.metadata: expected an object"},
      {"{" + id + R"(,"serialized":1})", RunOp::kPost, "serialized: expected an object or null"},
      {"{" + id + R"(,"attachments":1})", RunOp::kPost, "attachments: expected an object or null"},
      {"{" + id + R"(,"tags":"a"})", RunOp::kPost, "tags: expected an array of strings"},
      {"{" + id + R"(,"tags":["a",1]})", RunOp::kPost, "tags: expected an array of strings"},
      {"{" + id + R"(,"dotted_order":"nope"})", RunOp::kPost,
       R"(dotted_order: expected segments YYYYMMDDTHHMMSSffffffZ<uuid> joined by '.': "nope")"},
      {"{" + id + R"(,"dotted_order":"20240101X000000000001Z)" + std::string(kChild) + R"("})",
       RunOp::kPost,
       R"(dotted_order: expected segments YYYYMMDDTHHMMSSffffffZ<uuid> joined by '.': "20240101X000000000001Z)" +
           std::string(kChild) + R"(")"},
      // The last segment names the parent, not this run.
      {"{" + id + R"(,"dotted_order":"20240101T000000000001Z)" + std::string(kRoot) + R"("})",
       RunOp::kPost,
       "dotted_order: last segment's id " + std::string(kRoot) + " does not match the run id " +
           std::string(kChild)},
      {"{" + id + R"(,"trace_id":")" + std::string(kOther) + R"(","dotted_order":")" +
           kChildDotted + R"("})",
       RunOp::kPost,
       "dotted_order: first segment's id " + std::string(kRoot) + " does not match trace_id " +
           std::string(kOther)},
  };
  for (const ErrorCase& c : cases) {
    auto parsed = parseRunJson(json::parse(c.body), c.op);
    ASSERT_FALSE(parsed.ok()) << c.body;
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidArgument) << c.body;
    EXPECT_EQ(parsed.error().message, c.message) << c.body;
  }
}

TEST(RunParse, PathIdErrors) {
  auto bad = parseRunJson(json::parse("{}"), RunOp::kPatch, "abc");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, R"(id: not a UUID: "abc")");
  auto mismatch = parseRunJson(json::parse(R"({"id":")" + std::string(kChild) + R"("})"),
                               RunOp::kPatch, kOther);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().message, "id: body id " + std::string(kChild) +
                                          " does not match the path id " + std::string(kOther));
}

// Merges `first` then `second` into a new empty record for that id, as a store does.
RunFields applyInOrder(const RunFields& first, const RunFields& second) {
  RunFields stored;
  stored.id = first.id;
  EXPECT_TRUE(mergeInto(stored, first).ok());
  EXPECT_TRUE(mergeInto(stored, second).ok());
  deriveUsage(stored);
  return stored;
}

void expectConverges(const RunFields& p, const RunFields& q) {
  const RunFields post_first = applyInOrder(p, q);
  const RunFields patch_first = applyInOrder(q, p);
  EXPECT_EQ(post_first, patch_first);
  EXPECT_TRUE(post_first.posted);
}

TEST(RunMerge, PostAndPatchConvergeInEitherOrder) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  struct Mix {
    std::string post;
    std::string patch;
  };
  const Mix mixes[] = {
      // The usual slow call: post opens, patch closes.
      {"{" + id + R"(,"name":"n","run_type":"chain","start_time":1704067200000,
         "inputs":{"q":1},"tags":["a"],"extra":{"metadata":{"k":"post","p":1}}})",
       "{" + id + R"(,"end_time":1704067201000,"outputs":{"a":1},"tags":["b","a"],
         "extra":{"metadata":{"k":"patch","z":2},"runtime":{"sdk":"js"}}})"},
      // Both carry end_time/outputs/error: the patch's values win either way.
      {"{" + id + R"(,"end_time":1704067201000,"outputs":{"a":1},"error":"e1","events":[]})",
       "{" + id + R"(,"end_time":1704067202000,"outputs":{"a":2},"error":"e2",
         "events":[{"name":"x"}],"inputs":{}})"},
      // A patch with explicit nulls and no tags; post without extra.
      {"{" + id + R"(,"inputs":{"q":1},"outputs":{"a":1},"tags":["t"]})",
       "{" + id + R"(,"outputs":null,"inputs":null,"extra":{"metadata":{"m":1}}})"},
      // A patch carrying new non-empty inputs replaces them.
      {"{" + id + R"(,"inputs":{"q":1},"run_type":"llm"})",
       "{" + id +
           R"(,"inputs":{"q":2},"outputs":{"usage_metadata":{"input_tokens":3,"output_tokens":4}}})"},
  };
  for (const Mix& mix : mixes) {
    SCOPED_TRACE(mix.patch);
    expectConverges(post(mix.post), patch(mix.patch));
  }
}

TEST(RunMerge, ResultOfTypicalPair) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  const RunFields merged =
      applyInOrder(post("{" + id + R"(,"start_time":1704067200000,"inputs":{"q":1},"tags":["a"],
          "extra":{"metadata":{"k":"post","p":1},"runtime":{"sdk":"js"}}})"),
                   patch("{" + id + R"(,"end_time":1704067201500,"outputs":{"a":1},"tags":["b","a"],
          "extra":{"metadata":{"k":"patch","z":2}}})"));
  EXPECT_EQ(*merged.inputs, json::parse(R"({"q":1})"));
  EXPECT_EQ(*merged.outputs, json::parse(R"({"a":1})"));
  EXPECT_EQ(merged.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*merged.extra,
            json::parse(R"({"metadata":{"k":"patch","p":1,"z":2},"runtime":{"sdk":"js"}})"));
  EXPECT_EQ(merged.status, RunStatus::kSuccess);
  EXPECT_EQ(merged.latency_seconds, 1.5);
}

TEST(RunMerge, PatchNeverClearsInputs) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  for (const char* tail : {"}", R"(,"inputs":{}})", R"(,"inputs":null})"}) {
    RunFields stored = post("{" + id + R"(,"inputs":{"q":1}})");
    ASSERT_TRUE(mergeInto(stored, patch("{" + id + tail)).ok());
    ASSERT_TRUE(stored.inputs.has_value()) << tail;
    EXPECT_EQ(*stored.inputs, json::parse(R"({"q":1})")) << tail;
  }
}

TEST(RunMerge, PatchOnlyRecordIsNotPosted) {
  RunFields stored = patch(R"({"id":")" + std::string(kChild) + R"(","end_time":1})");
  EXPECT_FALSE(stored.posted);
  ASSERT_TRUE(mergeInto(stored, patch(R"({"id":")" + std::string(kChild) + R"("})")).ok());
  EXPECT_FALSE(stored.posted);
}

TEST(RunMerge, RejectsDifferentIds) {
  RunFields stored = post(R"({"id":")" + std::string(kChild) + R"("})");
  const core::Status status =
      mergeInto(stored, patch(R"({"id":")" + std::string(kOther) + R"("})"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "id: cannot merge run " + std::string(kOther) + " into run " + std::string(kChild));
}

TEST(RunDerive, Status) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  RunFields run = post("{" + id + "}");
  deriveUsage(run);
  EXPECT_EQ(run.status, RunStatus::kPending);
  EXPECT_FALSE(run.latency_seconds.has_value());
  run = post("{" + id + R"(,"end_time":1704067200000})");
  deriveUsage(run);
  EXPECT_EQ(run.status, RunStatus::kSuccess);
  run = post("{" + id + R"(,"end_time":1704067200000,"error":"Error: boom"})");
  deriveUsage(run);
  EXPECT_EQ(run.status, RunStatus::kError);
  EXPECT_EQ(runStatusName(run.status), "error");
}

TEST(RunDerive, LatencyOfARunEndingWithinTheMillisecondOfItsMicrosecondStartIsZero) {
  const std::string id = R"("id":")" + std::string(kChild) + R"(")";
  // Start from a dotted order with execution-order microseconds, end in whole milliseconds.
  RunFields run =
      post("{" + id + R"(,"start_time":"2024-01-01T00:00:00.000005Z","end_time":1704067200000})");
  deriveUsage(run);
  ASSERT_TRUE(run.latency_seconds.has_value());
  EXPECT_EQ(*run.latency_seconds, 0.0);
  run = post("{" + id + R"(,"start_time":"2024-01-01T00:00:00.000005Z","end_time":1704067200250})");
  deriveUsage(run);
  ASSERT_TRUE(run.latency_seconds.has_value());
  EXPECT_NEAR(*run.latency_seconds, 0.249995, 1e-9);
  // An end a whole second before the start is not a duration.
  run = post("{" + id + R"(,"start_time":"2024-01-01T00:00:01Z","end_time":1704067200000})");
  deriveUsage(run);
  EXPECT_FALSE(run.latency_seconds.has_value());
}

struct UsageCase {
  std::string fields;  // appended to {"id":...,"run_type":"llm"
  std::optional<TokenFigure> prompt;
  std::optional<TokenFigure> completion;
  std::optional<TokenFigure> total;
  std::optional<std::string> model;
};

TEST(RunDerive, UsageFromEachSource) {
  constexpr auto R = FigureSource::kReported;
  constexpr auto C = FigureSource::kComputed;
  const UsageCase cases[] = {
      {R"("outputs":{"usage_metadata":{"input_tokens":10,"output_tokens":5,"total_tokens":15}})",
       TokenFigure{10, R}, TokenFigure{5, R}, TokenFigure{15, R}, std::nullopt},
      {R"("outputs":{"usage_metadata":{"input_tokens":10,"output_tokens":5}})", TokenFigure{10, R},
       TokenFigure{5, R}, TokenFigure{15, C}, std::nullopt},
      {R"("outputs":{"llm_output":{"token_usage":{"prompt_tokens":7,"completion_tokens":3},
          "model_name":"gpt-x"}})",
       TokenFigure{7, R}, TokenFigure{3, R}, TokenFigure{10, C}, "gpt-x"},
      {R"("extra":{"metadata":{"usage_metadata":{"input_tokens":2,"total_tokens":9},
          "ls_model_name":"claude"}})",
       TokenFigure{2, R}, TokenFigure{7, C}, TokenFigure{9, R}, "claude"},
      {R"("outputs":{"model":"gpt-4o","usage":{"prompt_tokens":1,"completion_tokens":2,
          "total_tokens":3}})",
       TokenFigure{1, R}, TokenFigure{2, R}, TokenFigure{3, R}, "gpt-4o"},
      {R"("outputs":{"usage":{"input_tokens":4,"output_tokens":6}},
          "extra":{"invocation_params":{"model_name":"m2"}})",
       TokenFigure{4, R}, TokenFigure{6, R}, TokenFigure{10, C}, "m2"},
      {R"("outputs":{"response_metadata":{"model_name":"m3"},
          "usage_metadata":{"total_tokens":8}})",
       std::nullopt, std::nullopt, TokenFigure{8, R}, "m3"},
      // usage_metadata wins over llm_output; invalid counts are ignored.
      {R"("outputs":{"usage_metadata":{"input_tokens":1,"output_tokens":-1},
          "llm_output":{"token_usage":{"prompt_tokens":50}}},
          "extra":{"invocation_params":{"model":"m4","model_name":"ignored"}})",
       TokenFigure{1, R}, std::nullopt, std::nullopt, "m4"},
      {R"("outputs":{"text":"hi"})", std::nullopt, std::nullopt, std::nullopt, std::nullopt},
  };
  for (const UsageCase& c : cases) {
    SCOPED_TRACE(c.fields);
    RunFields run =
        post(R"({"id":")" + std::string(kChild) + R"(","run_type":"llm",)" + c.fields + "}");
    deriveUsage(run);
    EXPECT_EQ(run.prompt_tokens, c.prompt);
    EXPECT_EQ(run.completion_tokens, c.completion);
    EXPECT_EQ(run.total_tokens, c.total);
    EXPECT_EQ(run.model, c.model);
  }
}

TEST(RunDerive, UsageOnlyForLlmRuns) {
  RunFields run = post(R"({"id":")" + std::string(kChild) +
                       R"(","run_type":"chain","outputs":{"usage_metadata":{"total_tokens":8}}})");
  deriveUsage(run);
  EXPECT_FALSE(run.total_tokens.has_value());
  EXPECT_FALSE(run.model.has_value());
}

}  // namespace
}  // namespace pharos::tracing
