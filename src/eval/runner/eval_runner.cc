#include "eval/runner/eval_runner.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <exception>
#include <stdexcept>
#include <utility>

#include "core/ids.h"
#include "core/time.h"
#include "eval/runner/pharos_api.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using SystemClock = std::chrono::system_clock;

constexpr std::string_view kEvaluatorsProject = "evaluators";

std::string isoMicros(SystemClock::time_point at) {
  return core::formatIso8601Micros(
      std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count());
}

// A value as prompt text: strings raw, everything else as JSON.
std::string asText(const json::value& value) {
  if (value.is_string()) return std::string(value.get_string());
  return json::serialize(value);
}

bool isPlaceholderChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

std::string inputKeys(const json::object& inputs) {
  std::string keys;
  for (const auto& entry : inputs) {
    if (!keys.empty()) keys += ", ";
    keys += std::string(entry.key());
  }
  return keys.empty() ? "none" : keys;
}

Result<std::string> renderTemplate(std::string_view text, const json::object& inputs) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
      out += c;
      ++i;
      continue;
    }
    if (c == '{') {
      std::size_t end = i + 1;
      while (end < text.size() && isPlaceholderChar(text[end])) ++end;
      if (end > i + 1 && end < text.size() && text[end] == '}') {
        const std::string_view key = text.substr(i + 1, end - i - 1);
        const json::value* value = inputs.if_contains(key);
        if (value == nullptr) {
          return Error::invalidArgument(
              fmt::format("prompt template: {{{}}} is not among the example's inputs (it has: {})",
                          key, inputKeys(inputs)));
        }
        out += asText(*value);
        i = end;
        continue;
      }
    }
    // Any other brace (JSON in the template, say) is literal.
    out += c;
  }
  return out;
}

json::object message(std::string_view role, std::string content) {
  json::object out;
  out["role"] = role;
  out["content"] = std::move(content);
  return out;
}

std::optional<std::int64_t> usageCount(const json::value& usage, std::string_view key) {
  const json::object* object = usage.if_object();
  const json::value* value = object ? object->if_contains(key) : nullptr;
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return static_cast<std::int64_t>(value->to_number<double>());
}

// Parallel coroutines spawned on one single-threaded executor and awaited together.
class Join {
 public:
  explicit Join(asio::any_io_executor executor) : wake_(std::move(executor)) {}
  void add() { ++running_; }
  void done() {
    --running_;
    wake_.cancel();
  }
  asio::awaitable<void> wait() {
    while (running_ > 0) {
      wake_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ignored;
      co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
  }

 private:
  std::size_t running_ = 0;
  asio::steady_timer wake_;
};

struct State {
  State(asio::any_io_executor executor, std::vector<RunnerExample> examples_in,
        TargetSpec target_in, RunnerOptions options_in, RunnerDependencies deps_in)
      : examples(std::move(examples_in)),
        target(std::move(target_in)),
        options(std::move(options_in)),
        deps(std::move(deps_in)),
        workers(executor),
        flusher(executor),
        flush_timer(executor),
        outcomes(examples.size()),
        recorded(examples.size(), false) {}

  std::vector<RunnerExample> examples;
  TargetSpec target;
  RunnerOptions options;
  RunnerDependencies deps;

  Join workers;
  Join flusher;
  asio::steady_timer flush_timer;
  bool finished = false;

  std::size_t next = 0;
  std::size_t done = 0;
  std::size_t errors = 0;
  json::array pending_runs;
  std::optional<Error> failure;

  std::vector<ExampleOutcome> outcomes;
  std::vector<bool> recorded;
  std::vector<double> latencies;
  std::int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;

  bool halted() const { return failure.has_value() || (options.stop && options.stop->load()); }
  void fail(Error error) {
    if (!failure) failure = std::move(error);
  }
};

asio::awaitable<void> flush(std::shared_ptr<State> state) {
  if (state->pending_runs.empty()) co_return;
  json::array batch = std::move(state->pending_runs);
  state->pending_runs = json::array();
  auto posting = state->deps.sink->postRuns(std::move(batch));
  auto status = co_await std::move(posting);
  if (!status) state->fail(std::move(status).error());
}

asio::awaitable<void> enqueueRun(std::shared_ptr<State> state, json::object run) {
  state->pending_runs.emplace_back(std::move(run));
  if (state->pending_runs.size() >= state->options.batch_runs) {
    auto flushing = flush(state);
    co_await std::move(flushing);
  }
}

asio::awaitable<void> flushPeriodically(std::shared_ptr<State> state) {
  while (!state->finished) {
    state->flush_timer.expires_after(state->options.batch_interval);
    boost::system::error_code ignored;
    co_await state->flush_timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    if (state->finished) break;
    auto flushing = flush(state);
    co_await std::move(flushing);
  }
}

std::optional<std::string> referenceText(const RunnerOptions& options, const json::value& outputs) {
  const json::object* reference = outputs.if_object();
  if (reference == nullptr || reference->empty()) return std::nullopt;
  const json::value* value = nullptr;
  if (options.reference_key) {
    value = reference->if_contains(*options.reference_key);
  } else if (const json::value* same = reference->if_contains(options.output_key)) {
    value = same;
  } else if (reference->size() == 1) {
    value = &reference->begin()->value();
  }
  if (value == nullptr || value->is_null()) return std::nullopt;
  return asText(*value);
}

json::object rootRun(const State& state, const RunnerExample& example, const std::string& id,
                     const std::string& dotted_order, SystemClock::time_point start) {
  json::object run;
  run["id"] = id;
  run["trace_id"] = id;
  run["dotted_order"] = dotted_order;
  run["name"] = "target";
  run["run_type"] = "chain";
  run["session_name"] = state.options.experiment_name;
  run["reference_example_id"] = example.id;
  run["start_time"] = isoMicros(start);
  run["inputs"] = example.inputs;
  json::object metadata;
  if (!example.version.empty()) metadata["example_version"] = example.version;
  if (example.line) metadata["example_line"] = *example.line;
  metadata["num_repetitions"] = 1;
  json::object extra;
  extra["metadata"] = std::move(metadata);
  run["extra"] = std::move(extra);
  return run;
}

// The llm run of an external target, which no gateway records: the root's child.
json::object llmRun(const State& state, const std::string& root_id,
                    const std::string& root_dotted_order, const json::array& messages,
                    SystemClock::time_point start, SystemClock::time_point end,
                    const Result<ChatAnswer>& answer) {
  const std::string id = core::newUuidV7(start);
  json::object run;
  run["id"] = id;
  run["trace_id"] = root_id;
  run["parent_run_id"] = root_id;
  run["dotted_order"] = root_dotted_order + "." + dottedOrderSegment(start, id);
  run["name"] = state.target.model;
  run["run_type"] = "llm";
  run["session_name"] = state.options.experiment_name;
  run["start_time"] = isoMicros(start);
  run["end_time"] = isoMicros(end);
  json::object inputs;
  inputs["messages"] = messages;
  run["inputs"] = std::move(inputs);
  if (answer) {
    // The OpenAI response as is: the run store reads `usage` for the token counts.
    run["outputs"] = answer->body.is_object() ? answer->body : json::value(json::object());
  } else {
    run["error"] = answer.error().message;
  }
  json::object invocation;
  invocation["model"] = state.target.model;
  json::object metadata;
  metadata["ls_model_name"] = state.target.model;
  metadata["ls_provider"] = "openai";
  if (!state.target.endpoint.empty()) metadata["endpoint"] = state.target.endpoint;
  json::object extra;
  extra["invocation_params"] = std::move(invocation);
  extra["metadata"] = std::move(metadata);
  run["extra"] = std::move(extra);
  return run;
}

json::object feedbackFor(const State& state, const std::string& root_id,
                         const std::optional<std::string>& evaluator_run_id, const std::string& key,
                         const Result<EvalResult>& result) {
  json::object feedback;
  feedback["id"] = core::newUuidV7();
  feedback["run_id"] = root_id;
  feedback["trace_id"] = root_id;
  if (!state.options.experiment_id.empty()) feedback["session_id"] = state.options.experiment_id;
  if (result) {
    feedback["key"] = result->key.empty() ? key : result->key;
    feedback["score"] = result->score ? json::value(*result->score) : json::value(nullptr);
    if (!result->value.is_null()) feedback["value"] = result->value;
    if (result->comment) feedback["comment"] = *result->comment;
  } else {
    feedback["key"] = key;
    feedback["score"] = nullptr;
    feedback["comment"] = result.error().message;
    json::object extra;
    extra["error"] = true;
    feedback["extra"] = std::move(extra);
  }
  json::object metadata;
  if (evaluator_run_id) {
    json::object run;
    run["run_id"] = *evaluator_run_id;
    metadata["__run"] = std::move(run);
  }
  json::object source;
  source["type"] = "model";
  source["metadata"] = std::move(metadata);
  feedback["feedback_source"] = std::move(source);
  return feedback;
}

// One evaluator on one answered example: its feedback (and evaluator run) go to the sink.
asio::awaitable<FeedbackOutcome> evaluateOne(std::shared_ptr<State> state, Evaluator* evaluator,
                                             const EvalCase& evaluation,
                                             const RunnerExample& example,
                                             const std::string& root_id) {
  EvalContext context;
  context.models = state->deps.evaluators_models;
  context.deadline = std::chrono::steady_clock::now() + state->options.judge_timeout;
  std::optional<std::string> run_id;
  std::string dotted_order;
  const SystemClock::time_point start = SystemClock::now();
  if (evaluator->usesModel()) {
    run_id = core::newUuidV7(start);
    dotted_order = dottedOrderSegment(start, *run_id);
    context.headers = {{"langsmith-trace", dotted_order},
                       {"x-pharos-project", std::string(kEvaluatorsProject)}};
  }

  Result<EvalResult> result = Error::internal("evaluator did not run");
  try {
    auto evaluating = evaluator->evaluate(evaluation, context);
    result = co_await std::move(evaluating);
  } catch (const std::exception& thrown) {
    result =
        Error::internal(fmt::format("evaluator {} threw: {}", evaluator->key(), thrown.what()));
  }

  if (run_id) {
    json::object run;
    run["id"] = *run_id;
    run["trace_id"] = *run_id;
    run["dotted_order"] = dotted_order;
    run["name"] = "evaluator";
    run["run_type"] = "chain";
    run["session_name"] = kEvaluatorsProject;
    run["reference_example_id"] = example.id;
    run["start_time"] = isoMicros(start);
    run["end_time"] = isoMicros(SystemClock::now());
    json::object inputs;
    inputs["inputs"] = evaluation.inputs;
    inputs["output"] = evaluation.output_text;
    inputs["reference_outputs"] = evaluation.reference_outputs;
    run["inputs"] = std::move(inputs);
    if (result) {
      json::object outputs;
      outputs["key"] = result->key;
      outputs["score"] = result->score ? json::value(*result->score) : json::value(nullptr);
      outputs["value"] = result->value;
      if (result->comment) outputs["comment"] = *result->comment;
      run["outputs"] = std::move(outputs);
    } else {
      run["error"] = result.error().message;
    }
    json::object metadata;
    metadata["targetRunId"] = root_id;
    metadata["evaluator"] = evaluator->key();
    json::object extra;
    extra["metadata"] = std::move(metadata);
    run["extra"] = std::move(extra);
    auto enqueueing = enqueueRun(state, std::move(run));
    co_await std::move(enqueueing);
  }

  FeedbackOutcome outcome;
  outcome.key = result && !result->key.empty() ? result->key : evaluator->key();
  if (result) {
    outcome.score = result->score;
  } else {
    outcome.error = result.error().message;
  }
  auto posting = state->deps.sink->postFeedback(
      feedbackFor(*state, root_id, run_id, evaluator->key(), result));
  auto status = co_await std::move(posting);
  if (!status) state->fail(std::move(status).error());
  co_return outcome;
}

asio::awaitable<void> runOne(std::shared_ptr<State> state, std::size_t index) {
  const RunnerExample& example = state->examples[index];
  ExampleOutcome outcome;
  outcome.index = index;
  outcome.example_id = example.id;
  outcome.line = example.line;

  const SystemClock::time_point start = SystemClock::now();
  const std::string root_id = core::newUuidV7(start);
  const std::string dotted_order = dottedOrderSegment(start, root_id);
  outcome.run_id = root_id;
  json::object root = rootRun(*state, example, root_id, dotted_order, start);

  std::optional<ChatAnswer> answer;
  if (example.preset_error) {
    outcome.error = *example.preset_error;
  } else if (auto messages = buildMessages(state->target, example.inputs); !messages) {
    outcome.error = messages.error().message;
  } else {
    ChatRequest request;
    request.model = state->target.model;
    request.messages = *messages;
    request.parameters = state->target.parameters;
    if (state->target.via_gateway) {
      // The gateway gives up at the same deadline (and records the timeout on its llm run)
      // instead of retrying on for an answer nobody waits for.
      request.headers = {{"langsmith-trace", dotted_order},
                         {"x-pharos-project", state->options.experiment_name},
                         {"x-pharos-total-timeout-ms", std::to_string(std::max<std::int64_t>(
                                                           state->options.timeout.count(), 1))}};
    }
    const SystemClock::time_point call_start = SystemClock::now();
    const auto deadline = std::chrono::steady_clock::now() + state->options.timeout;
    Result<ChatAnswer> result = Error::internal("target did not run");
    try {
      auto calling = state->deps.target->chat(request, deadline);
      result = co_await std::move(calling);
    } catch (const std::exception& thrown) {
      result = Error::internal(fmt::format("target call threw: {}", thrown.what()));
    }
    const SystemClock::time_point call_end = SystemClock::now();
    if (!state->target.via_gateway) {
      auto enqueueing = enqueueRun(
          state, llmRun(*state, root_id, dotted_order, *messages, call_start, call_end, result));
      co_await std::move(enqueueing);
    }
    if (!result) {
      outcome.error =
          result.error().code == core::ErrorCode::kTimeout
              ? fmt::format("timeout: no answer within {:g}s",
                            std::chrono::duration<double>(state->options.timeout).count())
              : result.error().message;
    } else {
      answer = std::move(result).value();
    }
  }

  root["end_time"] = isoMicros(SystemClock::now());
  if (answer) {
    outcome.output = answer->content;
    outcome.latency_seconds = answer->latency_seconds;
    json::object outputs;
    outputs[state->options.output_key] = answer->content;
    root["outputs"] = std::move(outputs);
    state->latencies.push_back(answer->latency_seconds);
    const auto prompt = usageCount(answer->usage, "prompt_tokens");
    const auto completion = usageCount(answer->usage, "completion_tokens");
    state->prompt_tokens += prompt.value_or(0);
    state->completion_tokens += completion.value_or(0);
    state->total_tokens += usageCount(answer->usage, "total_tokens")
                               .value_or(prompt.value_or(0) + completion.value_or(0));
  } else {
    root["error"] = *outcome.error;
  }
  {
    auto enqueueing = enqueueRun(state, std::move(root));
    co_await std::move(enqueueing);
  }

  if (answer) {
    EvalCase evaluation;
    evaluation.inputs = example.inputs;
    evaluation.reference_outputs = example.outputs;
    evaluation.output_text = answer->content;
    evaluation.reference_text = referenceText(state->options, example.outputs);
    for (Evaluator* evaluator : state->deps.evaluators) {
      auto evaluating = evaluateOne(state, evaluator, evaluation, example, root_id);
      FeedbackOutcome verdict = co_await std::move(evaluating);
      outcome.feedback.push_back(std::move(verdict));
    }
  }

  ++state->done;
  if (outcome.error) ++state->errors;
  state->outcomes[index] = std::move(outcome);
  state->recorded[index] = true;
  if (state->deps.progress) {
    state->deps.progress(ProgressUpdate{state->done, state->examples.size(), state->errors});
  }
}

asio::awaitable<void> worker(std::shared_ptr<State> state) {
  while (!state->halted() && state->next < state->examples.size()) {
    const std::size_t index = state->next++;
    auto running = runOne(state, index);
    co_await std::move(running);
  }
}

EvalSummary summarize(State& state) {
  EvalSummary summary;
  summary.total = state.examples.size();
  summary.completed = state.done;
  summary.errors = state.errors;
  summary.stopped = state.options.stop && state.options.stop->load();
  summary.failure = state.failure;
  summary.prompt_tokens = state.prompt_tokens;
  summary.completion_tokens = state.completion_tokens;
  summary.total_tokens = state.total_tokens;
  summary.latency_p50 = percentile(state.latencies, 0.5);
  summary.latency_p95 = percentile(state.latencies, 0.95);
  std::map<std::string, double> sums;
  for (std::size_t i = 0; i < state.outcomes.size(); ++i) {
    if (!state.recorded[i]) continue;
    for (const FeedbackOutcome& feedback : state.outcomes[i].feedback) {
      KeySummary& key = summary.feedback[feedback.key];
      if (feedback.error) {
        ++key.errors;
      } else if (feedback.score) {
        ++key.n;
        sums[feedback.key] += *feedback.score;
      }
    }
    summary.examples.push_back(std::move(state.outcomes[i]));
  }
  for (auto& [key, figures] : summary.feedback) {
    if (figures.n > 0) figures.mean = sums[key] / static_cast<double>(figures.n);
  }
  return summary;
}

class PharosApiSink final : public RunSink {
 public:
  explicit PharosApiSink(PharosApi& api) : api_(api) {}
  asio::awaitable<core::Status> postRuns(json::array runs) override {
    auto posting = api_.postRuns(std::move(runs));
    co_return co_await std::move(posting);
  }
  asio::awaitable<core::Status> postFeedback(json::object feedback) override {
    auto posting = api_.createFeedback(std::move(feedback));
    auto answer = co_await std::move(posting);
    if (!answer) co_return std::move(answer).error();
    co_return core::Status{};
  }

 private:
  PharosApi& api_;
};

}  // namespace

std::unique_ptr<RunSink> makePharosApiSink(PharosApi& api) {
  return std::make_unique<PharosApiSink>(api);
}

std::string dottedOrderSegment(SystemClock::time_point start, std::string_view run_id) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch()).count();
  const SystemClock::time_point seconds{std::chrono::seconds(micros / 1'000'000)};
  return fmt::format("{:%Y%m%dT%H%M%S}{:06d}Z{}", seconds, micros % 1'000'000, run_id);
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 1.0) * static_cast<double>(values.size() - 1);
  const auto low = static_cast<std::size_t>(std::floor(rank));
  const std::size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

Result<json::array> buildMessages(const TargetSpec& target, const json::object& inputs) {
  json::array messages;
  if (target.system) messages.emplace_back(message("system", *target.system));
  if (target.prompt_template) {
    auto text = renderTemplate(*target.prompt_template, inputs);
    if (!text) return std::move(text).error();
    messages.emplace_back(message("user", std::move(text).value()));
    return messages;
  }
  if (const json::value* given = inputs.if_contains("messages"); given && given->is_array()) {
    for (const json::value& item : given->get_array()) messages.push_back(item);
    return messages;
  }
  if (inputs.size() == 1) {
    messages.emplace_back(message("user", asText(inputs.begin()->value())));
    return messages;
  }
  messages.emplace_back(message("user", json::serialize(inputs)));
  return messages;
}

asio::awaitable<EvalSummary> runExperiment(std::vector<RunnerExample> examples, TargetSpec target,
                                           RunnerOptions options, RunnerDependencies dependencies) {
  if (dependencies.target == nullptr || dependencies.sink == nullptr) {
    throw std::invalid_argument("runExperiment: a target client and a sink are required");
  }
  const auto executor = co_await asio::this_coro::executor;
  const std::size_t concurrency = std::max<std::size_t>(options.concurrency, 1);
  auto state = std::make_shared<State>(executor, std::move(examples), std::move(target),
                                       std::move(options), std::move(dependencies));

  state->flusher.add();
  asio::co_spawn(executor, flushPeriodically(state), [state](std::exception_ptr thrown) {
    if (thrown) state->fail(Error::internal("the run flusher failed"));
    state->flusher.done();
  });
  const std::size_t workers = std::min(concurrency, state->examples.size());
  for (std::size_t i = 0; i < workers; ++i) {
    state->workers.add();
    asio::co_spawn(executor, worker(state), [state](std::exception_ptr thrown) {
      if (thrown) {
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& error) {
          state->fail(
              Error::internal(fmt::format("an evaluation worker failed: {}", error.what())));
        } catch (...) {
          state->fail(Error::internal("an evaluation worker failed"));
        }
      }
      state->workers.done();
    });
  }
  {
    auto waiting = state->workers.wait();
    co_await std::move(waiting);
  }
  state->finished = true;
  state->flush_timer.cancel();
  {
    auto waiting = state->flusher.wait();
    co_await std::move(waiting);
  }
  {
    auto flushing = flush(state);
    co_await std::move(flushing);
  }
  co_return summarize(*state);
}

}  // namespace pharos::eval
