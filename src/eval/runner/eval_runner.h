// The experiment loop of `pharos eval` (docs/plans/evaluation.md §6.1, §6.2, §7), independent of
// the command line: for every example a root run in the experiment, the target's answer, the
// evaluators' feedback, collected into a summary.
//
// Per example, on one of `concurrency` worker coroutines that pull the next index:
//  * a root run (run_type "chain", name "target", session_name = the experiment,
//    reference_example_id, trace_id = its id, dotted_order `<YYYYMMDDTHHMMSSffffffZ><id>` as the
//    SDK computes it, extra.metadata.example_version);
//  * an example that failed validation (`preset_error`) gets that root run with the error and
//    nothing else: no target call, no evaluators;
//  * the target: one chat call. Through the gateway it carries `langsmith-trace: <root dotted
//    order>` and `x-pharos-project: <experiment>` so the gateway records the llm run as the root's
//    child (and `x-pharos-total-timeout-ms` = the timeout); to an external endpoint the runner
//    records that llm child run itself (with usage, so the run store counts tokens and prices it);
//  * the deadline passes ⇒ the root run's error is "timeout: no answer within Ns"; any other
//    failure ⇒ its message; either way the evaluators are skipped for that example;
//  * each evaluator: feedback on the root run. A model-backed evaluator runs under its own
//    "evaluator" run in project "evaluators" (extra.metadata.targetRunId = the root run) whose
//    trace link goes with its model calls; its feedback names that run in
//    feedback_source.metadata.__run. An evaluator error ⇒ feedback {key, score:null,
//    comment:<error>, extra:{error:true}}; the other evaluators and examples go on.
//
// Runs are batched to the sink (every 100 runs or 500 ms); feedback is posted as it comes. A
// sink failure (after the API client's retries) stops the experiment: no new examples start,
// the ones in flight finish, what is pending is flushed, and the summary carries the error.
//
// Everything runs on the calling coroutine's executor, which must be single-threaded (a private
// io_context run by one thread, as `runSync` does).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/evaluators/evaluator.h"
#include "eval/runner/model_client.h"

namespace pharos::eval {

class PharosApi;

// Where runs and feedback go. The real one is the Pharos API; tests capture.
class RunSink {
 public:
  virtual ~RunSink() = default;
  // Complete runs (LangSmith run objects) for POST /runs/batch.
  virtual asio::awaitable<core::Status> postRuns(boost::json::array runs) = 0;
  virtual asio::awaitable<core::Status> postFeedback(boost::json::object feedback) = 0;
};

// A sink that writes through `api` (which must outlive it).
std::unique_ptr<RunSink> makePharosApiSink(PharosApi& api);

struct RunnerExample {
  std::string id;  // a UUID: the root run's reference_example_id
  boost::json::object inputs;
  boost::json::value outputs;               // the reference outputs object, or null
  std::string version;                      // the example's modified_at (ISO), "" when unknown
  std::optional<std::size_t> line;          // the file line, for examples read from a file
  std::optional<std::string> preset_error;  // the row failed validation: recorded, not run
};

struct TargetSpec {
  std::string model;
  // `{key}` placeholders filled from the inputs (strings raw, other values as JSON; `{{` and
  // `}}` are literal braces). Without a template: `inputs.messages` as the chat messages when it
  // is an array, else the single input's value, else the inputs as JSON.
  std::optional<std::string> prompt_template;
  std::optional<std::string> system;  // a system message first
  boost::json::object parameters;     // merged into the chat body (temperature, ...)
  // False: an external endpoint, so the runner records the llm run itself.
  bool via_gateway = true;
  std::string endpoint;  // the external endpoint, for the llm run's metadata
};

struct RunnerOptions {
  std::string experiment_name;  // the session name
  std::string experiment_id;    // the session id (feedback's session_id)
  std::string output_key = "output";
  // Which reference output is the reference text; without it: the output key when the
  // reference has it, else the reference's single key.
  std::optional<std::string> reference_key;
  std::size_t concurrency = 4;
  std::chrono::milliseconds timeout{60'000};        // per target call
  std::chrono::milliseconds judge_timeout{60'000};  // per evaluator
  std::size_t batch_runs = 100;                     // flush when this many runs are pending
  std::chrono::milliseconds batch_interval{500};    // ... or this often
  // Set to stop starting examples (an interrupt); those in flight finish.
  std::shared_ptr<std::atomic<bool>> stop;
};

struct ProgressUpdate {
  std::size_t done = 0;
  std::size_t total = 0;
  std::size_t errors = 0;  // examples whose target failed (or that failed validation)
};
using ProgressCallback = std::function<void(const ProgressUpdate&)>;

// One evaluator's verdict on one example.
struct FeedbackOutcome {
  std::string key;
  std::optional<double> score;
  std::optional<std::string> error;  // the evaluator failed
};

struct ExampleOutcome {
  std::size_t index = 0;  // position in the input list
  std::string example_id;
  std::optional<std::size_t> line;
  std::string run_id;
  std::optional<std::string> error;  // target failure, timeout or preset error
  std::string output;                // the answer text
  double latency_seconds = 0;        // the target call (0 when there was none)
  std::vector<FeedbackOutcome> feedback;
};

struct KeySummary {
  std::size_t n = 0;  // scores
  double mean = 0;
  std::size_t errors = 0;
};

struct EvalSummary {
  std::size_t total = 0;      // examples given
  std::size_t completed = 0;  // examples recorded (less than total after a stop or failure)
  std::size_t errors = 0;     // examples with an error
  double latency_p50 = 0, latency_p95 = 0;  // seconds, over the target calls that answered
  std::int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
  std::map<std::string, KeySummary> feedback;  // by key
  std::vector<ExampleOutcome> examples;        // in input order
  bool stopped = false;                        // `stop` was set
  std::optional<core::Error> failure;          // the sink failed: the experiment is incomplete
};

struct RunnerDependencies {
  ModelClient* target = nullptr;             // the target's endpoint (gateway or external)
  ModelClient* evaluators_models = nullptr;  // the gateway, for model-backed evaluators
  std::vector<Evaluator*> evaluators;
  RunSink* sink = nullptr;
  ProgressCallback progress;  // may be empty
};

asio::awaitable<EvalSummary> runExperiment(std::vector<RunnerExample> examples, TargetSpec target,
                                           RunnerOptions options, RunnerDependencies dependencies);

// The chat messages for an example (the §6.2 prompt rules); kInvalidArgument names a template
// placeholder the inputs do not have.
core::Result<boost::json::array> buildMessages(const TargetSpec& target,
                                               const boost::json::object& inputs);

// "20260102T030405123456Z<id>": the SDK's dotted-order segment for a run started at `start`.
std::string dottedOrderSegment(std::chrono::system_clock::time_point start,
                               std::string_view run_id);

// p in [0, 1] over `values` (sorted in place); linear interpolation; 0 when empty.
double percentile(std::vector<double>& values, double p);

}  // namespace pharos::eval
