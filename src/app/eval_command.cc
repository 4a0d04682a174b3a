// `pharos eval` and `pharos eval compare`: run a dataset against a model and score the answers,
// stored as an experiment of a running Pharos (docs/evaluation.md).
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <iostream>
#include <map>
#include <set>

#include "app/commands.h"
#include "app/dataset_files.h"
#include "app/server_client.h"
#include "core/crypto.h"
#include "core/time.h"
#include "eval/evaluators/evaluator.h"
#include "eval/runner/compare_table.h"
#include "eval/runner/eval_runner.h"
#include "eval/runner/progress.h"

namespace pharos::app {
namespace {

namespace json = boost::json;
using core::Error;
using core::Result;

constexpr int kExitSetup = 1;
constexpr int kExitUsage = 2;
constexpr int kExitBelowThreshold = 3;
constexpr int kExitInterrupted = 130;
// How often a taken experiment name is retried with a new suffix (as the LangSmith SDK does).
constexpr int kNameAttempts = 10;

// SIGINT asks the runner to start no new example; those in flight finish and are stored.
std::atomic<bool>* interrupt_flag = nullptr;
extern "C" void onInterrupt(int) {
  if (interrupt_flag != nullptr) interrupt_flag->store(true);
}

int usageError(const std::string& message) {
  fmt::print(stderr, "pharos eval: {}\n", message);
  return kExitUsage;
}

struct Threshold {
  std::string key;
  double minimum = 0;
};

Result<std::vector<Threshold>> parseThresholds(const std::vector<std::string>& specs) {
  std::vector<Threshold> out;
  for (const std::string& spec : specs) {
    const auto equals = spec.find('=');
    Threshold threshold;
    bool ok = equals != std::string::npos && equals > 0;
    if (ok) {
      threshold.key = spec.substr(0, equals);
      const std::string number = spec.substr(equals + 1);
      char* end = nullptr;
      threshold.minimum = std::strtod(number.c_str(), &end);
      ok = !number.empty() && end == number.c_str() + number.size();
    }
    if (!ok) {
      return Error::invalidArgument(fmt::format(
          "--fail-under: expected KEY=NUMBER such as exact_match=0.8, got \"{}\"", spec));
    }
    out.push_back(std::move(threshold));
  }
  return out;
}

std::string randomHex(std::size_t digits) {
  return core::toHex(core::randomBytes((digits + 1) / 2)).substr(0, digits);
}

// The reference outputs' single key when every example with outputs has exactly that one.
std::string defaultOutputKey(const std::vector<eval::RunnerExample>& examples) {
  std::string key;
  for (const eval::RunnerExample& example : examples) {
    if (!example.outputs.is_object() || example.outputs.get_object().empty()) continue;
    const json::object& outputs = example.outputs.get_object();
    if (outputs.size() != 1) return "output";
    const std::string only(outputs.begin()->key());
    if (!key.empty() && key != only) return "output";
    key = only;
  }
  return key.empty() ? "output" : key;
}

struct ExampleSource {
  json::value dataset;
  std::vector<eval::RunnerExample> examples;
};

asio::awaitable<Result<ExampleSource>> loadExamples(ServerClient& client,
                                                    const EvalOptions& options) {
  ExampleSource source;
  if (!options.file.empty()) {
    DatasetFileSource file{options.file,          options.format,
                           options.dataset,       {options.input_keys, options.output_keys},
                           options.inputs_schema, options.outputs_schema};
    auto load = loadDatasetFile(*client.api, std::move(file), false);
    auto loaded = co_await std::move(load);
    if (!loaded) co_return std::move(loaded).error();
    source.dataset = std::move(loaded->dataset);
    for (std::size_t i = 0; i < loaded->rows.size(); ++i) {
      eval::ExampleRow& row = loaded->rows[i];
      eval::RunnerExample example;
      example.id = loaded->row_ids[i];
      example.inputs = std::move(row.inputs);
      if (!row.outputs.empty()) example.outputs = std::move(row.outputs);
      example.line = row.line;
      source.examples.push_back(std::move(example));
    }
    for (RejectedRow& rejected : loaded->rejected) {
      eval::RunnerExample example;
      example.id = rejected.example_id;
      example.inputs = std::move(rejected.inputs);
      example.line = rejected.line;
      example.preset_error = rejected.message;
      source.examples.push_back(std::move(example));
    }
    std::stable_sort(source.examples.begin(), source.examples.end(),
                     [](const auto& a, const auto& b) { return a.line < b.line; });
    co_return source;
  }
  auto find = client.api->getDatasetByName(options.dataset);
  auto dataset = co_await std::move(find);
  if (!dataset) co_return std::move(dataset).error();
  source.dataset = std::move(*dataset);
  auto list = client.api->listExamples(stringAt(source.dataset, "id"), options.splits);
  auto examples = co_await std::move(list);
  if (!examples) co_return std::move(examples).error();
  for (json::value& item : *examples) {
    if (!item.is_object()) continue;
    json::object& stored = item.get_object();
    eval::RunnerExample example;
    example.id = stringAt(item, "id");
    if (json::value* inputs = stored.if_contains("inputs"); inputs && inputs->is_object()) {
      example.inputs = std::move(inputs->get_object());
    }
    if (json::value* outputs = stored.if_contains("outputs"); outputs && outputs->is_object()) {
      example.outputs = std::move(*outputs);
    }
    example.version = stringAt(item, "modified_at");
    source.examples.push_back(std::move(example));
  }
  co_return source;
}

// Creates the experiment `<prefix>-<8 hex>`, with a further suffix when the name is taken.
asio::awaitable<Result<json::value>> createExperiment(ServerClient& client, std::string prefix,
                                                      json::object body) {
  const std::string base = fmt::format("{}-{}", prefix, randomHex(8));
  std::string name = base;
  for (int attempt = 1;; ++attempt) {
    body["name"] = name;
    auto create = client.api->createSession(body);
    auto created = co_await std::move(create);
    if (created || created.error().code != core::ErrorCode::kAlreadyExists ||
        attempt == kNameAttempts) {
      co_return created;
    }
    name = fmt::format("{}-{}", base, randomHex(6));
  }
}

// The experiments to compare with, oldest first, then `current` last.
Result<std::vector<std::string>> pickExperiments(const json::array& sessions,
                                                 const std::vector<std::string>& wanted,
                                                 std::size_t last, const std::string& current) {
  std::vector<std::string> ids;
  if (!wanted.empty()) {
    for (const std::string& want : wanted) {
      auto it = std::find_if(sessions.begin(), sessions.end(), [&](const json::value& s) {
        return stringAt(s, "id") == want || stringAt(s, "name") == want;
      });
      if (it == sessions.end()) {
        return Error::notFound(fmt::format("no experiment named \"{}\" on this dataset", want));
      }
      ids.push_back(stringAt(*it, "id"));
    }
  } else {
    // Sessions come newest first.
    for (const json::value& session : sessions) {
      if (ids.size() == last) break;
      if (stringAt(session, "id") != current) ids.push_back(stringAt(session, "id"));
    }
    std::reverse(ids.begin(), ids.end());
  }
  if (!current.empty()) ids.push_back(current);
  return ids;
}

json::object evalMetadata(const EvalOptions& options) {
  json::object metadata;
  json::object pharos_eval;
  pharos_eval["target"] = options.model;
  if (!options.endpoint.empty()) pharos_eval["endpoint"] = options.endpoint;
  json::array evaluators;
  for (const std::string& spec : options.evaluators) evaluators.emplace_back(spec);
  pharos_eval["evaluators"] = std::move(evaluators);
  pharos_eval["concurrency"] = options.concurrency;
  pharos_eval["timeout"] = options.timeout;
  if (!options.file.empty()) pharos_eval["file"] = options.file;
  metadata["pharos_eval"] = std::move(pharos_eval);
  return metadata;
}

asio::awaitable<int> runEval(ServerClient& client, EvalOptions options) {
  if (options.model.empty()) co_return usageError("--model is required");
  if (options.dataset.empty() && options.file.empty()) {
    co_return usageError("give the examples: --dataset NAME or --file PATH");
  }
  if (options.concurrency == 0) co_return usageError("--concurrency: must be at least 1");
  auto timeout = parseCommandDuration(options.timeout, "--timeout");
  if (!timeout) co_return usageError(timeout.error().message);
  auto judge_timeout = parseCommandDuration(options.judge_timeout, "--judge-timeout");
  if (!judge_timeout) co_return usageError(judge_timeout.error().message);
  auto thresholds = parseThresholds(options.fail_under);
  if (!thresholds) co_return usageError(thresholds.error().message);
  eval::TargetSpec target;
  target.model = options.model;
  if (!options.prompt_file.empty()) {
    auto prompt = readWholeFile(options.prompt_file);
    if (!prompt) co_return usageError("--prompt-file: " + prompt.error().message);
    target.prompt_template = std::move(*prompt);
  } else if (!options.prompt.empty()) {
    target.prompt_template = options.prompt;
  }
  if (!options.system.empty()) target.system = options.system;
  target.via_gateway = options.endpoint.empty();
  target.endpoint = options.endpoint;

  auto load = loadExamples(client, options);
  auto source = co_await std::move(load);
  if (!source) co_return reportFailure(source.error());
  const std::string dataset_id = stringAt(source->dataset, "id");
  const std::string dataset_name = stringAt(source->dataset, "name");
  std::vector<eval::RunnerExample>& examples = source->examples;
  if (options.limit > 0 && examples.size() > options.limit) examples.resize(options.limit);
  if (examples.empty()) {
    co_return reportFailure(
        Error::notFound(fmt::format("dataset {} has no examples", dataset_name)));
  }

  eval::EvaluatorEnvironment environment;
  if (const auto* schema = source->dataset.get_object().if_contains("outputs_schema_definition")) {
    environment.dataset_outputs_schema = *schema;
  }
  std::vector<std::unique_ptr<eval::Evaluator>> evaluators;
  std::set<std::string> keys;
  for (const std::string& spec : options.evaluators) {
    auto made = eval::makeEvaluator(spec, environment);
    if (!made) co_return usageError(made.error().message);
    if (!keys.insert((*made)->key()).second) {
      co_return usageError(
          fmt::format("two evaluators give feedback under the key \"{}\"; set key= on one of them",
                      (*made)->key()));
    }
    evaluators.push_back(std::move(*made));
  }

  eval::ModelHeaders server_headers;
  if (client.api_key) server_headers.emplace_back("x-api-key", *client.api_key);
  http::Origin gateway_origin = client.origin;
  gateway_origin.base_path += "/v1";
  auto gateway = eval::makeHttpModelClient(client.pool, gateway_origin, server_headers);
  std::unique_ptr<eval::ModelClient> external;
  if (!options.endpoint.empty()) {
    auto origin = http::parseBaseUrl(options.endpoint);
    if (!origin) co_return usageError("--endpoint: " + origin.error().message);
    eval::ModelHeaders headers;
    if (!options.endpoint_key_env.empty()) {
      const char* key = std::getenv(options.endpoint_key_env.c_str());
      if (key == nullptr || *key == '\0') {
        co_return usageError(
            fmt::format("--endpoint-key-env: ${} is not set", options.endpoint_key_env));
      }
      headers.emplace_back("authorization", fmt::format("Bearer {}", key));
    }
    external = eval::makeHttpModelClient(client.pool, *origin, std::move(headers));
  }

  json::object session;
  session["reference_dataset_id"] = dataset_id;
  session["num_examples"] = examples.size();
  session["num_repetitions"] = 1;
  json::array evaluator_keys;
  for (const std::string& key : keys) evaluator_keys.emplace_back(key);
  session["evaluator_keys"] = std::move(evaluator_keys);
  json::object extra;
  extra["metadata"] = evalMetadata(options);
  session["extra"] = extra;
  const std::string prefix =
      options.experiment_prefix.empty() ? options.model : options.experiment_prefix;
  auto create = createExperiment(client, prefix, session);
  auto experiment = co_await std::move(create);
  if (!experiment) co_return reportFailure(experiment.error());
  const std::string experiment_id = stringAt(*experiment, "id");
  const std::string experiment_name = stringAt(*experiment, "name");
  if (!options.json) {
    fmt::print(stderr, "experiment {} on dataset {} ({} examples)\n", experiment_name, dataset_name,
               examples.size());
  }

  eval::RunnerOptions runner;
  runner.experiment_name = experiment_name;
  runner.experiment_id = experiment_id;
  runner.output_key = options.output_key.empty() ? defaultOutputKey(examples) : options.output_key;
  if (!options.reference_key.empty()) runner.reference_key = options.reference_key;
  runner.concurrency = options.concurrency;
  runner.timeout = *timeout;
  runner.judge_timeout = *judge_timeout;
  runner.stop = std::make_shared<std::atomic<bool>>(false);
  interrupt_flag = runner.stop.get();
  signal(SIGINT, onInterrupt);

  eval::ProgressDisplay progress(std::cerr, eval::progressModeFor(stderr, options.no_progress),
                                 examples.size());
  auto sink = eval::makePharosApiSink(*client.api);
  eval::RunnerDependencies dependencies;
  dependencies.target = external ? external.get() : gateway.get();
  dependencies.evaluators_models = gateway.get();
  for (const auto& evaluator : evaluators) dependencies.evaluators.push_back(evaluator.get());
  dependencies.sink = sink.get();
  dependencies.progress = [&progress](const eval::ProgressUpdate& update) {
    progress.update(update.done, update.errors);
  };
  auto run = eval::runExperiment(examples, target, runner, dependencies);
  eval::EvalSummary summary = co_await std::move(run);
  progress.finish();
  signal(SIGINT, SIG_DFL);
  interrupt_flag = nullptr;

  json::object closing_metadata = evalMetadata(options);
  closing_metadata["dataset_version"] = stringAt(source->dataset, "modified_at");
  if (summary.stopped) closing_metadata["pharos_eval"].as_object()["interrupted"] = true;
  json::object closing_extra;
  closing_extra["metadata"] = std::move(closing_metadata);
  json::object closing;
  closing["end_time"] = core::formatIso8601(std::chrono::system_clock::now());
  closing["extra"] = std::move(closing_extra);
  auto patch = client.api->patchSession(experiment_id, std::move(closing));
  auto patched = co_await std::move(patch);
  if (summary.failure) co_return reportFailure(*summary.failure);
  if (!patched) co_return reportFailure(patched.error());

  std::vector<eval::SummaryError> errors;
  for (const eval::ExampleOutcome& outcome : summary.examples) {
    if (outcome.error) errors.push_back({outcome.example_id, outcome.line, *outcome.error});
    for (const eval::FeedbackOutcome& feedback : outcome.feedback) {
      if (feedback.error) {
        errors.push_back({outcome.example_id, outcome.line,
                          fmt::format("evaluator {}: {}", feedback.key, *feedback.error)});
      }
    }
  }
  auto own = client.api->compare(dataset_id, {experiment_id});
  auto own_compare = co_await std::move(own);
  if (!own_compare) co_return reportFailure(own_compare.error());
  const json::value* stats = nullptr;
  if (const auto* experiments =
          own_compare->is_object() ? own_compare->get_object().if_contains("experiments") : nullptr;
      experiments != nullptr && experiments->is_array() && !experiments->get_array().empty() &&
      experiments->get_array()[0].is_object()) {
    stats = experiments->get_array()[0].get_object().if_contains("stats");
  }
  if (stats == nullptr) {
    co_return reportFailure(Error::internal(
        "GET /datasets/{id}/compare: the server's answer has no stats for the experiment"));
  }

  std::optional<json::value> comparison;
  if (options.compare > 0 || !options.baselines.empty()) {
    auto list = client.api->listSessions(dataset_id);
    auto sessions = co_await std::move(list);
    if (!sessions) co_return reportFailure(sessions.error());
    auto ids =
        pickExperiments(*sessions, options.baselines,
                        static_cast<std::size_t>(std::max(options.compare, 0)), experiment_id);
    if (!ids) co_return reportFailure(ids.error());
    auto compare = client.api->compare(dataset_id, *ids);
    auto compared = co_await std::move(compare);
    if (!compared) co_return reportFailure(compared.error());
    comparison = std::move(*compared);
  }

  if (options.json) {
    json::object out;
    out["experiment"] = {{"id", experiment_id}, {"name", experiment_name}};
    out["dataset"] = {{"id", dataset_id}, {"name", dataset_name}};
    out["summary"] = *stats;
    json::array error_list;
    for (const eval::SummaryError& error : errors) {
      json::object entry{{"example_id", error.example_id}, {"message", error.message}};
      if (error.line) entry["line"] = *error.line;
      error_list.push_back(std::move(entry));
    }
    out["errors"] = std::move(error_list);
    if (comparison) out["compare"] = *comparison;
    fmt::print("{}\n", json::serialize(out));
  } else {
    fmt::print("{}", eval::renderExperimentSummary(experiment_name, dataset_name, *stats, errors));
    if (comparison) {
      auto table = eval::renderCompareTable(*comparison);
      if (!table) co_return reportFailure(table.error());
      fmt::print("\n{}", *table);
    }
  }

  if (summary.stopped) {
    fmt::print(stderr, "pharos eval: interrupted after {} of {} examples (stored)\n",
               summary.completed, summary.total);
    co_return kExitInterrupted;
  }
  int code = 0;
  for (const Threshold& threshold : *thresholds) {
    auto it = summary.feedback.find(threshold.key);
    if (it == summary.feedback.end() || it->second.n == 0) {
      fmt::print(stderr, "pharos eval: --fail-under {}: no scores for that key\n", threshold.key);
      code = kExitBelowThreshold;
    } else if (it->second.mean < threshold.minimum) {
      fmt::print(stderr, "pharos eval: --fail-under {}: mean {:.4f} is below {}\n", threshold.key,
                 it->second.mean, threshold.minimum);
      code = kExitBelowThreshold;
    }
  }
  co_return code;
}

asio::awaitable<int> runCompare(ServerClient& client, EvalCompareOptions options) {
  auto find = client.api->getDatasetByName(options.dataset);
  auto dataset = co_await std::move(find);
  if (!dataset) co_return reportFailure(dataset.error());
  const std::string dataset_id = stringAt(*dataset, "id");
  auto list = client.api->listSessions(dataset_id);
  auto sessions = co_await std::move(list);
  if (!sessions) co_return reportFailure(sessions.error());
  auto ids = pickExperiments(*sessions, options.experiments, options.last, "");
  if (!ids) co_return reportFailure(ids.error());
  if (ids->empty()) {
    co_return reportFailure(
        Error::notFound(fmt::format("dataset {} has no experiments yet", options.dataset)));
  }
  auto compare = client.api->compare(dataset_id, *ids);
  auto compared = co_await std::move(compare);
  if (!compared) co_return reportFailure(compared.error());
  if (options.json) {
    fmt::print("{}\n", json::serialize(*compared));
    co_return 0;
  }
  auto table = eval::renderCompareTable(*compared);
  if (!table) co_return reportFailure(table.error());
  fmt::print("{}", *table);
  co_return 0;
}

}  // namespace

int evalCommand(const CommonOptions& options, const EvalOptions& eval_options) {
  return runAgainstServer(options, eval_options, &runEval);
}

int evalCompareCommand(const CommonOptions& options, const EvalCompareOptions& compare) {
  return runAgainstServer(options, compare, &runCompare);
}

}  // namespace pharos::app
