// The feedback store: LangSmith feedback (a key, a score and/or value, a comment, a correction,
// its source) on a run, or on a project ("session") alone. Schema: the feedback table of
// migration 2 plus the columns of migration 3 (store/sqlite/migrations.cc). Every call is scoped by
// the caller's workspace.
//
// Nothing links eagerly: feedback may name a run that has not arrived yet (evaluate() posts its
// feedback before the last run batch), so every read joins the runs table as it is then. A
// feedback row's effective trace and project are its own, else those of its run.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "store/sqlite/database.h"
#include "store/sqlite/tenants.h"
#include "tracing/store/feedback_stats.h"

namespace pharos::tracing {

namespace asio = boost::asio;

struct Feedback {
  std::string id;
  std::optional<std::string> run_id;
  // On reads: the row's own trace/project, else its run's (when the run is stored).
  std::optional<std::string> trace_id;
  std::optional<std::string> session_id;
  std::string key;
  std::optional<double> score;
  // JSON values; null = none. feedback_source, extra and feedback_config are objects.
  boost::json::value value;
  std::optional<std::string> comment;
  boost::json::value correction;
  boost::json::value feedback_source;
  boost::json::value extra;
  boost::json::value feedback_config;
  // Copied out of feedback_source for filtering: its `type` and `metadata.__run.run_id`.
  std::optional<std::string> source_type;
  std::optional<std::string> source_run_id;
  std::optional<std::string> comparative_experiment_id;
  std::int64_t created_at = 0;  // Unix microseconds
  std::int64_t modified_at = 0;
  std::optional<std::int64_t> start_time;
};

// Members left empty stay as they are.
struct FeedbackUpdate {
  std::optional<double> score;
  std::optional<boost::json::value> value;
  std::optional<boost::json::value> correction;
  std::optional<std::string> comment;
};

// Every non-empty list must match (any of its entries); the lists combine with AND.
struct FeedbackQuery {
  std::vector<std::string> run_ids;
  std::vector<std::string> keys;
  std::vector<std::string> source_types;
  // Feedback whose own session_id is one of these, or whose run is in one of these projects.
  std::vector<std::string> session_ids;
  std::optional<bool> has_score;
  std::size_t offset = 0;
  std::size_t limit = 100;
};

// A project's `feedback_stats`, for callers that already hold a connection (GET /sessions with
// include_stats), with the workspace's tenant number `ws`: per key, over the feedback on
// `project_id` — its own session_id is the project, or its run is in the project — each row
// once. An unknown project has no feedback on its runs, but may still have feedback naming it.
core::Result<FeedbackStats> feedbackStatsForProject(store::sqlite::Connection& connection,
                                                    std::int64_t ws, std::string_view project_id);

class FeedbackStore {
 public:
  explicit FeedbackStore(store::sqlite::SqliteDatabase& database) : database_(database) {}

  // Stores `feedback` as given (the caller sets id, created_at, modified_at); kAlreadyExists
  // when the workspace already has feedback with that id. Returns it as a read would.
  asio::awaitable<core::Result<Feedback>> create(std::string workspace_id, Feedback feedback);
  // kNotFound when absent.
  asio::awaitable<core::Result<Feedback>> get(std::string workspace_id, std::string id);
  // Applies `update` and sets modified_at to now; kNotFound when absent.
  asio::awaitable<core::Result<Feedback>> update(std::string workspace_id, std::string id,
                                                 FeedbackUpdate update);
  // kNotFound when absent.
  asio::awaitable<core::Status> remove(std::string workspace_id, std::string id);
  // Ordered by created_at, then insertion.
  asio::awaitable<core::Result<std::vector<Feedback>>> list(std::string workspace_id,
                                                            FeedbackQuery query);

 private:
  store::sqlite::SqliteDatabase& database_;
  store::sqlite::TenantCache tenants_;
};

}  // namespace pharos::tracing
