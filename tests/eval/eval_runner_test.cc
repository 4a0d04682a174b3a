// The experiment loop with a fake model, fake evaluators and a sink that captures what would be
// posted: concurrency bound, deadlines, evaluator failures, batching, stop, and the exact shape
// of runs and feedback (what the server's compare and the LangSmith UI join on).
#include "eval/runner/eval_runner.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eval/runner/progress.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string str(const json::value& value) {
  return value.is_string() ? std::string(value.get_string()) : json::serialize(value);
}

const json::value& at(const json::value& value, std::string_view key) {
  return value.as_object().at(key);
}

// Answers "answer:<last message content>" after a delay chosen per prompt; honours the deadline
// like the HTTP client does (kTimeout once it passes).
class FakeModel final : public ModelClient {
 public:
  std::map<std::string, std::chrono::milliseconds> delays;  // by prompt text
  std::chrono::milliseconds default_delay{5};
  std::set<std::string> failing;  // prompts answered with an upstream error
  int in_flight = 0;
  int max_in_flight = 0;
  std::vector<ChatRequest> requests;

  asio::awaitable<core::Result<ChatAnswer>> chat(const ChatRequest& request,
                                                 ModelDeadline deadline) override {
    requests.push_back(request);
    const std::string prompt = str(at(request.messages.back(), "content"));
    ++in_flight;
    max_in_flight = std::max(max_in_flight, in_flight);
    const auto found = delays.find(prompt);
    const auto ready =
        std::chrono::steady_clock::now() + (found == delays.end() ? default_delay : found->second);
    asio::steady_timer timer(co_await asio::this_coro::executor, std::min(ready, deadline));
    co_await timer.async_wait(asio::use_awaitable);
    --in_flight;
    if (ready > deadline) co_return core::Error{core::ErrorCode::kTimeout, "deadline passed"};
    if (failing.contains(prompt)) co_return core::Error::unavailable("upstream answered HTTP 502");
    ChatAnswer answer;
    answer.content = "answer:" + prompt;
    answer.usage = json::parse(R"({"prompt_tokens":3,"completion_tokens":2,"total_tokens":5})");
    answer.body = json::object{
        {"choices",
         json::array{json::object{{"message", json::object{{"content", answer.content}}}}}},
        {"usage", answer.usage}};
    answer.latency_seconds = 0.01;
    co_return answer;
  }

  asio::awaitable<core::Result<std::vector<std::vector<double>>>> embed(const EmbeddingRequest&,
                                                                        ModelDeadline) override {
    co_return core::Error::internal("not used");
  }
};

// Scores 1 when the answer equals "answer:" + the reference text; fails on `fail_on` answers.
class FakeEvaluator final : public Evaluator {
 public:
  explicit FakeEvaluator(std::string key, bool uses_model = false)
      : key_(std::move(key)), uses_model_(uses_model) {}
  std::string fail_on;
  bool throw_instead = false;
  std::vector<ModelHeaders> seen_headers;

  const std::string& key() const override { return key_; }
  bool usesModel() const override { return uses_model_; }
  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext& context) override {
    seen_headers.push_back(context.headers);
    if (!fail_on.empty() && evaluation.output_text == fail_on) {
      if (throw_instead) throw std::runtime_error("boom");
      co_return core::Error::invalidArgument("judge answered no JSON");
    }
    EvalResult result;
    result.key = key_;
    result.score = evaluation.reference_text &&
                           evaluation.output_text == "answer:" + *evaluation.reference_text
                       ? 1.0
                       : 0.0;
    co_return result;
  }

 private:
  std::string key_;
  bool uses_model_;
};

class CapturingSink final : public RunSink {
 public:
  std::vector<json::object> runs;
  std::vector<std::size_t> batch_sizes;
  std::vector<json::object> feedback;
  int fail_runs_after = -1;  // batches accepted before failing

  asio::awaitable<core::Status> postRuns(json::array batch) override {
    if (fail_runs_after >= 0 && static_cast<int>(batch_sizes.size()) >= fail_runs_after) {
      co_return core::Error{core::ErrorCode::kOverloaded,
                            "POST /api/v1/runs/batch: HTTP 503: busy (gave up after 3 tries)"};
    }
    batch_sizes.push_back(batch.size());
    for (json::value& run : batch) runs.push_back(std::move(run.as_object()));
    co_return core::Status{};
  }
  asio::awaitable<core::Status> postFeedback(json::object item) override {
    feedback.push_back(std::move(item));
    co_return core::Status{};
  }

  std::vector<json::object> runsNamed(std::string_view name) const {
    std::vector<json::object> out;
    for (const auto& run : runs) {
      if (run.at("name").as_string() == name) out.push_back(run);
    }
    return out;
  }
  const json::object* rootFor(std::string_view example_id) const {
    for (const auto& run : runs) {
      if (const json::value* ref = run.if_contains("reference_example_id");
          ref && run.at("name").as_string() == "target" && ref->as_string() == example_id) {
        return &run;
      }
    }
    return nullptr;
  }
};

std::string exampleId(int i) {
  return fmt::format("00000000-0000-4000-8000-{:012d}", i);
}

std::vector<RunnerExample> examples(int count) {
  std::vector<RunnerExample> out;
  for (int i = 0; i < count; ++i) {
    RunnerExample example;
    example.id = exampleId(i);
    example.inputs = {{"question", fmt::format("q{}", i)}};
    example.outputs = {{"answer", fmt::format("q{}", i)}};
    example.version = "2026-01-02T03:04:05.000000Z";
    out.push_back(std::move(example));
  }
  return out;
}

struct Rig {
  FakeModel model;
  CapturingSink sink;
  std::vector<Evaluator*> evaluators;
  TargetSpec target{.model = "gpt-test"};
  RunnerOptions options{.experiment_name = "v1-0123abcd",
                        .experiment_id = "11111111-2222-4333-8444-555555555555",
                        .output_key = "answer"};
  std::vector<ProgressUpdate> progress;

  EvalSummary run(std::vector<RunnerExample> input) {
    asio::io_context io;
    RunnerDependencies dependencies;
    dependencies.target = &model;
    dependencies.evaluators_models = &model;
    dependencies.evaluators = evaluators;
    dependencies.sink = &sink;
    dependencies.progress = [this](const ProgressUpdate& update) { progress.push_back(update); };
    auto future = asio::co_spawn(
        io, runExperiment(std::move(input), target, options, std::move(dependencies)),
        asio::use_future);
    io.run();
    return future.get();
  }
};

TEST(EvalRunnerTest, NeverRunsMoreTargetsThanTheConcurrency) {
  Rig rig;
  rig.options.concurrency = 3;
  rig.model.default_delay = 15ms;
  const EvalSummary summary = rig.run(examples(20));
  EXPECT_EQ(rig.model.max_in_flight, 3);
  EXPECT_EQ(rig.model.requests.size(), 20u);
  EXPECT_EQ(summary.completed, 20u);
  EXPECT_EQ(summary.errors, 0u);
  EXPECT_EQ(rig.sink.runsNamed("target").size(), 20u);
  ASSERT_EQ(rig.progress.size(), 20u);
  EXPECT_EQ(rig.progress.back().done, 20u);
  EXPECT_EQ(rig.progress.back().total, 20u);
  EXPECT_EQ(summary.total_tokens, 100);
}

TEST(EvalRunnerTest, ATimeoutErrorsOneExampleAndTheRestComplete) {
  Rig rig;
  FakeEvaluator exact("exact_match");
  rig.evaluators = {&exact};
  rig.options.concurrency = 2;
  rig.options.timeout = 100ms;
  rig.model.delays["q2"] = 10s;
  const auto started = std::chrono::steady_clock::now();
  const EvalSummary summary = rig.run(examples(6));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);

  EXPECT_EQ(summary.completed, 6u);
  EXPECT_EQ(summary.errors, 1u);
  ASSERT_EQ(summary.examples.size(), 6u);
  EXPECT_EQ(summary.examples[2].error, "timeout: no answer within 0.1s");
  EXPECT_TRUE(summary.examples[2].feedback.empty());
  const json::object* slow = rig.sink.rootFor(exampleId(2));
  ASSERT_NE(slow, nullptr);
  EXPECT_EQ(slow->at("error").as_string(), "timeout: no answer within 0.1s");
  EXPECT_FALSE(slow->contains("outputs"));
  // Evaluators skipped for the timed-out example only.
  ASSERT_EQ(rig.sink.feedback.size(), 5u);
  for (const auto& item : rig.sink.feedback) {
    EXPECT_NE(item.at("run_id").as_string(), slow->at("id").as_string());
    EXPECT_EQ(item.at("score").as_double(), 1.0);
  }
  EXPECT_EQ(summary.feedback.at("exact_match").n, 5u);
  EXPECT_DOUBLE_EQ(summary.feedback.at("exact_match").mean, 1.0);
  EXPECT_EQ(rig.progress.back().errors, 1u);
}

TEST(EvalRunnerTest, AnUpstreamFailureIsTheRunsError) {
  Rig rig;
  rig.model.failing.insert("q1");
  const EvalSummary summary = rig.run(examples(3));
  EXPECT_EQ(summary.errors, 1u);
  EXPECT_EQ(summary.examples[1].error, "upstream answered HTTP 502");
  EXPECT_EQ(rig.sink.rootFor(exampleId(1))->at("error").as_string(), "upstream answered HTTP 502");
}

TEST(EvalRunnerTest, AFailingEvaluatorGivesErrorFeedbackAndTheOthersStand) {
  Rig rig;
  FakeEvaluator exact("exact_match");
  FakeEvaluator judge("judge");
  judge.fail_on = "answer:q1";
  FakeEvaluator thrower("thrower");
  thrower.fail_on = "answer:q2";
  thrower.throw_instead = true;
  rig.evaluators = {&exact, &judge, &thrower};
  const EvalSummary summary = rig.run(examples(3));

  EXPECT_EQ(summary.errors, 0u);  // evaluator failures are not target errors
  ASSERT_EQ(rig.sink.feedback.size(), 9u);
  const std::string run_q1 = str(rig.sink.rootFor(exampleId(1))->at("id"));
  int error_feedback = 0;
  for (const auto& item : rig.sink.feedback) {
    const bool is_error = item.contains("extra");
    if (!is_error) {
      EXPECT_EQ(item.at("score").as_double(), 1.0) << json::serialize(item);
      continue;
    }
    ++error_feedback;
    EXPECT_TRUE(item.at("score").is_null());
    EXPECT_EQ(item.at("extra"), json::parse(R"({"error":true})"));
    if (item.at("key") == "judge") {
      EXPECT_EQ(str(item.at("run_id")), run_q1);
      EXPECT_EQ(item.at("comment").as_string(), "judge answered no JSON");
    } else {
      EXPECT_EQ(item.at("key").as_string(), "thrower");
      EXPECT_THAT(str(item.at("comment")), HasSubstr("boom"));
    }
  }
  EXPECT_EQ(error_feedback, 2);
  EXPECT_EQ(summary.feedback.at("exact_match").n, 3u);
  EXPECT_EQ(summary.feedback.at("exact_match").errors, 0u);
  EXPECT_EQ(summary.feedback.at("judge").n, 2u);
  EXPECT_EQ(summary.feedback.at("judge").errors, 1u);
  EXPECT_EQ(summary.feedback.at("thrower").errors, 1u);
  ASSERT_EQ(summary.examples[1].feedback.size(), 3u);
  EXPECT_EQ(summary.examples[1].feedback[1].error, "judge answered no JSON");
}

TEST(EvalRunnerTest, RootRunsAndFeedbackHaveTheSdkShape) {
  Rig rig;
  FakeEvaluator exact("exact_match");
  rig.evaluators = {&exact};
  const EvalSummary summary = rig.run(examples(2));
  ASSERT_EQ(rig.sink.runs.size(), 2u);
  ASSERT_EQ(rig.model.requests.size(), 2u);

  const json::object& root = *rig.sink.rootFor(exampleId(0));
  const std::string id = str(root.at("id"));
  EXPECT_EQ(root.at("trace_id").as_string(), id);
  EXPECT_EQ(root.at("run_type").as_string(), "chain");
  EXPECT_EQ(root.at("session_name").as_string(), "v1-0123abcd");
  EXPECT_EQ(root.at("reference_example_id").as_string(), exampleId(0));
  EXPECT_TRUE(
      std::regex_match(str(root.at("dotted_order")), std::regex("\\d{8}T\\d{6}\\d{6}Z" + id)))
      << root.at("dotted_order");
  EXPECT_EQ(root.at("inputs"), json::parse(R"({"question":"q0"})"));
  EXPECT_EQ(root.at("outputs"), json::parse(R"({"answer":"answer:q0"})"));
  EXPECT_EQ(at(at(root.at("extra"), "metadata"), "example_version").as_string(),
            "2026-01-02T03:04:05.000000Z");
  EXPECT_TRUE(std::regex_match(str(root.at("start_time")),
                               std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z")));
  EXPECT_FALSE(root.contains("error"));

  // The gateway call carries the root's trace link and the experiment as its project.
  const ChatRequest* request = nullptr;
  for (const auto& r : rig.model.requests) {
    if (str(at(r.messages.back(), "content")) == "q0") request = &r;
  }
  ASSERT_NE(request, nullptr);
  EXPECT_EQ(request->model, "gpt-test");
  const ModelHeaders expected = {{"langsmith-trace", str(root.at("dotted_order"))},
                                 {"x-pharos-project", "v1-0123abcd"},
                                 {"x-pharos-total-timeout-ms", "60000"}};
  EXPECT_EQ(request->headers, expected);

  ASSERT_EQ(rig.sink.feedback.size(), 2u);
  const json::object* feedback = nullptr;
  for (const auto& item : rig.sink.feedback) {
    if (item.at("run_id") == root.at("id")) feedback = &item;
  }
  ASSERT_NE(feedback, nullptr);
  EXPECT_EQ(feedback->at("key").as_string(), "exact_match");
  EXPECT_EQ(feedback->at("score").as_double(), 1.0);
  EXPECT_EQ(feedback->at("trace_id").as_string(), id);
  EXPECT_EQ(feedback->at("session_id").as_string(), "11111111-2222-4333-8444-555555555555");
  // No evaluator run for an evaluator without a model: no __run.
  EXPECT_EQ(feedback->at("feedback_source"), json::parse(R"({"type":"model","metadata":{}})"));
  EXPECT_EQ(summary.examples[0].run_id, id);
}

TEST(EvalRunnerTest, AModelBackedEvaluatorRunsUnderAnEvaluatorRun) {
  Rig rig;
  FakeEvaluator judge("judge", /*uses_model=*/true);
  rig.evaluators = {&judge};
  rig.run(examples(1));
  const auto evaluator_runs = rig.sink.runsNamed("evaluator");
  ASSERT_EQ(evaluator_runs.size(), 1u);
  const json::object& run = evaluator_runs[0];
  const json::object& root = *rig.sink.rootFor(exampleId(0));
  const std::string id = str(run.at("id"));
  EXPECT_EQ(run.at("session_name").as_string(), "evaluators");
  EXPECT_EQ(run.at("trace_id").as_string(), id);
  EXPECT_EQ(run.at("reference_example_id").as_string(), exampleId(0));
  EXPECT_EQ(at(at(run.at("extra"), "metadata"), "targetRunId"), root.at("id"));
  EXPECT_EQ(at(run.at("outputs"), "score").as_double(), 1.0);
  // Its model calls nest under it.
  ASSERT_EQ(judge.seen_headers.size(), 1u);
  const ModelHeaders expected = {{"langsmith-trace", str(run.at("dotted_order"))},
                                 {"x-pharos-project", "evaluators"}};
  EXPECT_EQ(judge.seen_headers[0], expected);
  ASSERT_EQ(rig.sink.feedback.size(), 1u);
  EXPECT_EQ(at(at(at(rig.sink.feedback[0].at("feedback_source"), "metadata"), "__run"), "run_id"),
            run.at("id"));
}

TEST(EvalRunnerTest, AnExternalTargetGetsAnLlmRunRecordedByTheRunner) {
  Rig rig;
  rig.target.via_gateway = false;
  rig.target.endpoint = "https://api.example.com/v1";
  rig.run(examples(1));
  ASSERT_EQ(rig.model.requests.size(), 1u);
  EXPECT_TRUE(rig.model.requests[0].headers.empty());
  const json::object& root = *rig.sink.rootFor(exampleId(0));
  const auto llm = rig.sink.runsNamed("gpt-test");
  ASSERT_EQ(llm.size(), 1u);
  EXPECT_EQ(llm[0].at("run_type").as_string(), "llm");
  EXPECT_EQ(llm[0].at("parent_run_id"), root.at("id"));
  EXPECT_EQ(llm[0].at("trace_id"), root.at("id"));
  EXPECT_EQ(llm[0].at("session_name").as_string(), "v1-0123abcd");
  EXPECT_THAT(str(llm[0].at("dotted_order")), StartsWith(str(root.at("dotted_order")) + "."));
  EXPECT_TRUE(str(llm[0].at("dotted_order")).ends_with(str(llm[0].at("id"))));
  EXPECT_EQ(at(at(llm[0].at("outputs"), "usage"), "total_tokens").as_int64(), 5);
  EXPECT_EQ(at(at(llm[0].at("extra"), "invocation_params"), "model").as_string(), "gpt-test");
}

TEST(EvalRunnerTest, AnExampleThatFailedValidationIsRecordedWithoutATargetCall) {
  Rig rig;
  FakeEvaluator exact("exact_match");
  rig.evaluators = {&exact};
  auto input = examples(2);
  input[1].line = 7;
  input[1].preset_error =
      "example line 7 breaks the dataset's inputs schema: /question: expected "
      "a string";
  const EvalSummary summary = rig.run(std::move(input));
  EXPECT_EQ(rig.model.requests.size(), 1u);
  EXPECT_EQ(summary.errors, 1u);
  const json::object& bad = *rig.sink.rootFor(exampleId(1));
  EXPECT_THAT(str(bad.at("error")), HasSubstr("line 7 breaks"));
  EXPECT_EQ(at(at(bad.at("extra"), "metadata"), "example_line").to_number<int>(), 7);
  EXPECT_EQ(rig.sink.feedback.size(), 1u);
  EXPECT_EQ(summary.examples[1].line, 7u);
}

TEST(EvalRunnerTest, RunsAreBatchedByCount) {
  Rig rig;
  rig.options.concurrency = 8;
  rig.options.batch_interval = 10s;  // only the count and the final flush
  rig.model.default_delay = 0ms;
  rig.run(examples(250));
  ASSERT_EQ(rig.sink.batch_sizes.size(), 3u);
  EXPECT_EQ(rig.sink.batch_sizes[0], 100u);
  EXPECT_EQ(rig.sink.batch_sizes[1], 100u);
  EXPECT_EQ(rig.sink.batch_sizes[2], 50u);
}

TEST(EvalRunnerTest, RunsAreFlushedByTime) {
  Rig rig;
  rig.options.concurrency = 1;
  rig.options.batch_interval = 20ms;
  rig.model.default_delay = 15ms;
  rig.run(examples(10));
  // ~150 ms of work with a flush every 20 ms: several batches, none of them everything.
  EXPECT_GE(rig.sink.batch_sizes.size(), 3u);
  std::size_t total = 0;
  for (std::size_t size : rig.sink.batch_sizes) total += size;
  EXPECT_EQ(total, 10u);
}

TEST(EvalRunnerTest, StopLetsInFlightExamplesFinishAndStartsNoMore) {
  Rig rig;
  rig.options.concurrency = 2;
  rig.options.stop = std::make_shared<std::atomic<bool>>(false);
  auto stop = rig.options.stop;
  RunnerDependencies dependencies;
  asio::io_context io;
  dependencies.target = &rig.model;
  dependencies.sink = &rig.sink;
  std::size_t seen = 0;
  dependencies.progress = [&](const ProgressUpdate&) {
    if (++seen == 3) stop->store(true);
  };
  auto future = asio::co_spawn(
      io, runExperiment(examples(20), rig.target, rig.options, std::move(dependencies)),
      asio::use_future);
  io.run();
  const EvalSummary summary = future.get();
  EXPECT_TRUE(summary.stopped);
  EXPECT_GE(summary.completed, 3u);
  EXPECT_LE(summary.completed, 4u);  // the other worker's example was already in flight
  EXPECT_EQ(rig.sink.runs.size(), summary.completed);  // every finished example flushed
}

TEST(EvalRunnerTest, ASinkFailureStopsTheExperimentWithTheError) {
  Rig rig;
  rig.options.concurrency = 1;
  rig.options.batch_runs = 2;
  rig.sink.fail_runs_after = 1;
  const EvalSummary summary = rig.run(examples(20));
  ASSERT_TRUE(summary.failure.has_value());
  EXPECT_THAT(summary.failure->message, HasSubstr("/runs/batch"));
  EXPECT_LT(summary.completed, 20u);
  EXPECT_EQ(rig.sink.runs.size(), 2u);
}

TEST(EvalRunnerTest, PromptRules) {
  TargetSpec target;
  const json::object inputs = {{"question", "why?"}, {"n", 3}};
  target.prompt_template = "Q: {question} ({n}) {{literal}} {\"json\": 1}";
  target.system = "be brief";
  auto messages = buildMessages(target, inputs);
  ASSERT_TRUE(messages.ok());
  EXPECT_EQ(json::value(*messages), json::parse(R"([{"role":"system","content":"be brief"},
                            {"role":"user","content":"Q: why? (3) {literal} {\"json\": 1}"}])"));

  target.prompt_template = "Q: {missing}";
  auto bad = buildMessages(target, inputs);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message, HasSubstr("{missing} is not among the example's inputs"));
  EXPECT_THAT(bad.error().message, HasSubstr("question, n"));

  TargetSpec plain;
  EXPECT_EQ(json::value(*buildMessages(plain, {{"q", "hi"}})),
            json::parse(R"([{"role":"user","content":"hi"}])"));
  EXPECT_EQ(json::value(*buildMessages(plain, {{"q", json::array{1, 2}}})),
            json::parse(R"([{"role":"user","content":"[1,2]"}])"));
  EXPECT_EQ(json::value(*buildMessages(plain, inputs)),
            json::parse(R"([{"role":"user","content":"{\"question\":\"why?\",\"n\":3}"}])"));
  const json::object chat = {{"messages", json::parse(R"([{"role":"user","content":"hello"}])")},
                             {"other", 1}};
  EXPECT_EQ(json::value(*buildMessages(plain, chat)),
            json::parse(R"([{"role":"user","content":"hello"}])"));
}

TEST(EvalRunnerTest, ReferenceTextPrefersTheReferenceKeyThenTheOutputKey) {
  Rig rig;
  FakeEvaluator exact("exact_match");
  rig.evaluators = {&exact};
  auto input = examples(2);
  input[0].outputs = {{"answer", "q0"}, {"other", "x"}};  // the output key's value
  input[1].outputs = {{"expected", "zzz"}, {"ref", "q1"}};
  rig.options.reference_key = std::nullopt;
  auto summary = rig.run(input);
  EXPECT_EQ(summary.examples[0].feedback[0].score, 1.0);
  EXPECT_EQ(summary.examples[1].feedback[0].score, 0.0);  // two keys, none named: no reference

  Rig keyed;
  keyed.evaluators = {&exact};
  keyed.options.reference_key = "ref";
  summary = keyed.run(input);
  EXPECT_EQ(summary.examples[1].feedback[0].score, 1.0);
}

TEST(EvalRunnerTest, PercentileAndDottedOrder) {
  std::vector<double> values = {4, 1, 3, 2, 5};
  EXPECT_DOUBLE_EQ(percentile(values, 0.5), 3);
  EXPECT_DOUBLE_EQ(percentile(values, 0.95), 4.8);
  std::vector<double> none;
  EXPECT_EQ(percentile(none, 0.5), 0);
  const auto at = std::chrono::system_clock::time_point(
      std::chrono::microseconds(1'767'323'045'000'000 + 123'456));  // 2026-01-02T03:04:05.123456Z
  EXPECT_EQ(dottedOrderSegment(at, "abc"), "20260102T030405123456Zabc");
}

// --- progress ---------------------------------------------------------------------------------

struct FakeClock {
  std::chrono::steady_clock::time_point now{};
  ProgressDisplay::Now fn() {
    return [this] { return now; };
  }
};

TEST(ProgressTest, TheBarLine) {
  EXPECT_EQ(ProgressDisplay::bar(45, 100, 2, 45 / 12.3),
            "[#########-----------] 45/100  2 errors  12.3/s  eta 5s");
  EXPECT_EQ(ProgressDisplay::bar(0, 10, 0, 0), "[--------------------] 0/10");
  EXPECT_EQ(ProgressDisplay::bar(10, 10, 1, 2), "[####################] 10/10  1 error  5.0/s");
}

TEST(ProgressTest, TerminalRedrawsAtMostTenTimesASecond) {
  std::ostringstream out;
  FakeClock clock;
  ProgressDisplay display(out, ProgressMode::kTerminal, 100, clock.fn());
  display.update(1, 0);  // first draw
  clock.now += 50ms;
  display.update(2, 0);  // too soon
  clock.now += 60ms;
  display.update(3, 0);    // 110 ms after the first
  display.update(100, 0);  // the last always draws
  display.finish();
  const std::string text = out.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 4);
  EXPECT_THAT(text, HasSubstr("] 1/100"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("] 2/100")));
  EXPECT_THAT(text, HasSubstr("] 3/100"));
  EXPECT_THAT(text, HasSubstr("[####################] 100/100"));
  EXPECT_TRUE(text.ends_with("\n"));
}

TEST(ProgressTest, LinesAtEachTenthAndTheLast) {
  std::ostringstream out;
  ProgressDisplay display(out, ProgressMode::kLines, 25);
  for (std::size_t done = 1; done <= 25; ++done) display.update(done, 0);
  display.finish();
  EXPECT_EQ(out.str(),
            "progress: 3/25\nprogress: 5/25\nprogress: 8/25\nprogress: 10/25\nprogress: 13/25\n"
            "progress: 15/25\nprogress: 18/25\nprogress: 20/25\nprogress: 23/25\n"
            "progress: 25/25\n");
}

TEST(ProgressTest, LinesSayWhereAStoppedRunEnded) {
  std::ostringstream out;
  ProgressDisplay display(out, ProgressMode::kLines, 100);
  for (std::size_t done = 1; done <= 14; ++done) display.update(done, 0);
  display.finish();
  EXPECT_EQ(out.str(), "progress: 10/100\nprogress: 14/100\n");
}

TEST(ProgressTest, DisabledWritesNothing) {
  std::ostringstream out;
  ProgressDisplay display(out, ProgressMode::kDisabled, 10);
  display.update(10, 3);
  display.finish();
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(progressModeFor(nullptr, true), ProgressMode::kDisabled);
}

}  // namespace
}  // namespace pharos::eval
