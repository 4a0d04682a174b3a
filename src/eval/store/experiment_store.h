// Experiments read back: the aggregates of one experiment (docs/plans/evaluation.md §4.1), the
// example-by-example comparison of experiments on a dataset (§4.2), and the feedback statistics
// of any project (§2.4, tracing::feedbackStatsForProject). An experiment is a project ("session")
// with a reference dataset; its *example runs* are its root runs that name a reference example.
// Everything is joined at read time — feedback may arrive before its run, evaluator runs land in
// another project, and the gateway's llm children may land anywhere — so nothing here depends on
// the order of writes. Read-only: every call runs on the database's reader pool, in one snapshot.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "store/sqlite/database.h"
#include "store/sqlite/tenants.h"
#include "tracing/store/feedback_stats.h"

namespace pharos::eval {

namespace asio = boost::asio;

// The most experiments one comparison reads.
inline constexpr std::size_t kMaxComparedExperiments = 10;

struct ExperimentStats {
  std::int64_t example_count = 0;  // distinct reference examples among the example runs
  std::optional<std::int64_t> expected_examples;  // sessions.num_examples
  // Every expected example has a run and none is still pending; without num_examples, once
  // the experiment has ended.
  bool complete = false;
  std::int64_t run_count = 0;  // example runs (repetitions count separately)
  std::int64_t error_count = 0;
  std::optional<double> latency_mean, latency_p50, latency_p95;
  // Over every run of the example runs' traces, whatever project each landed in.
  std::int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
  double total_cost = 0;
  tracing::FeedbackStats feedback;  // feedback on the example runs
  // Errored evaluator runs of an example run (by metadata targetRunId, or by the run in their
  // inputs as the JS SDK traces them), plus feedback rows marked as evaluator errors (counted
  // once when both describe the same evaluator run).
  std::int64_t evaluator_errors = 0;
};

// The §4.1 block; its "feedback" is tracing's feedbackStatsJson with "avg" named "mean".
boost::json::object experimentStatsJson(const ExperimentStats& stats);

struct CompareQuery {
  std::string dataset_id;
  std::vector<std::string> experiment_ids;  // 1..kMaxComparedExperiments, response order
  std::size_t offset = 0;
  std::size_t limit = 100;
  std::vector<std::string> splits;    // empty: every example
  std::optional<std::int64_t> as_of;  // Unix µs; nullopt: the current examples
};

class ExperimentStore {
 public:
  explicit ExperimentStore(store::sqlite::SqliteDatabase& database);

  // kNotFound when the workspace has no such project.
  asio::awaitable<core::Result<ExperimentStats>> aggregates(std::string workspace_id,
                                                            std::string session_id);

  // What GET /sessions?include_stats=true adds to a project: "feedback_stats" always, and
  // "experiment_stats" when the project has a reference dataset. kNotFound as above.
  asio::awaitable<core::Result<boost::json::object>> projectStatsFields(std::string workspace_id,
                                                                        std::string session_id);

  // The §4.2 comparison. kNotFound for an unknown dataset; kInvalidArgument naming the id for
  // an experiment that is not a project of this workspace on this dataset, for none, a repeated
  // one, or more than kMaxComparedExperiments.
  asio::awaitable<core::Result<boost::json::object>> compare(std::string workspace_id,
                                                             CompareQuery query);

 private:
  store::sqlite::SqliteDatabase& database_;
  store::sqlite::TenantCache tenants_;
};

}  // namespace pharos::eval
