// The runs store: LangSmith projects ("sessions"), runs merged by id, their tags, metadata,
// full-text and attachments, in the SQLite database of the embedded store (schema: migration 2 in
// store/sqlite/migrations.cc). Every call is scoped by the caller's workspace; no query reads
// another workspace's rows.
//
// Ingest splits the work so the single writer thread does as little as possible: prepareRun()
// (on an I/O thread) parses nothing more but builds the complete row a new run would get; the
// writer inserts it, and only when the id already exists does it read the stored run, merge, and
// rebuild. A write completes once its transaction is durably committed.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "economics/pricing.h"
#include "store/sqlite/database.h"
#include "store/sqlite/tenants.h"
#include "tracing/query/filter_ast.h"
#include "tracing/run.h"
#include "tracing/store/run_row.h"

namespace pharos::tracing {

namespace asio = boost::asio;

// The name a run lands in when it names no project (the SDK's own default).
inline constexpr std::string_view kDefaultProjectName = "default";

struct Attachment {
  std::string run_id;
  std::string name;
  std::string content_type;
  std::string data;
};

// One parsed payload (a post or a patch), with the row it would create if its id is new.
struct PreparedRun {
  RunFields payload;
  RunRow new_row;
  std::string text;    // searchableText(payload)
  std::string origin;  // where it came from, for error messages ("post[3]", "patch.<id>")
};

PreparedRun prepareRun(RunFields payload, std::string origin, const economics::PriceTable& prices);

struct RejectedRun {
  std::string origin;
  std::string message;
};

struct IngestOutcome {
  std::size_t stored = 0;  // payloads merged into the store
  std::vector<RejectedRun> rejected;
};

struct Project {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  boost::json::value extra;  // object or null
  std::optional<std::string> reference_dataset_id;
  std::int64_t start_time = 0;  // Unix microseconds
  std::optional<std::int64_t> end_time;
  // Experiments (projects with a reference dataset): what evaluate() announced when it began.
  std::optional<std::int64_t> num_examples;
  std::optional<std::int64_t> num_repetitions;
  boost::json::value evaluator_keys;  // array of strings, or null
};

struct ProjectUpdate {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<boost::json::value> extra;
  std::optional<std::int64_t> end_time;
};

struct ProjectListQuery {
  std::vector<std::string> ids;
  std::optional<std::string> name;
  std::optional<std::string> name_contains;
  std::optional<std::string> reference_dataset_id;
  std::size_t offset = 0;
  std::size_t limit = 100;
};

struct ProjectStats {
  std::int64_t run_count = 0;
  std::int64_t error_count = 0;
  std::optional<double> latency_p50, latency_p95, latency_p99;
  std::int64_t prompt_tokens = 0, completion_tokens = 0, total_tokens = 0;
  double total_cost = 0;
};

struct StatsBucket {
  std::int64_t start = 0;  // Unix microseconds
  ProjectStats stats;
};

struct StatsQuery {
  std::int64_t from = 0;      // Unix microseconds, inclusive
  std::int64_t to = 0;        // exclusive
  std::int64_t interval = 0;  // bucket width in microseconds
};

struct StatsResult {
  ProjectStats total;
  std::vector<StatsBucket> buckets;
};

// Which optional, heavy run fields a query returns. The light ones always come.
struct RunSelection {
  bool inputs = true, outputs = true, events = true, extra = true, serialized = false;
  bool attachments = true;
};

struct RunQuery {
  std::vector<std::string> session_ids;  // empty: every project of the workspace
  query::FilterExpr filter, trace_filter, tree_filter;
  std::optional<bool> is_root;
  std::optional<std::string> run_type;
  std::optional<std::string> trace_id;
  std::optional<std::string> parent_run_id;
  std::optional<bool> has_error;
  std::vector<std::string> ids;
  std::optional<std::int64_t> start_time_from;
  std::optional<std::string> reference_example_id;
  std::optional<std::string> thread_id;
  std::size_t limit = 100;
  bool ascending = false;
  std::optional<std::string> cursor;  // from a previous page
  RunSelection select;
};

struct TraceRun {
  std::string id;
  std::optional<std::string> parent_run_id;
  std::string json;  // the run as a JSON object text
};

struct RunPage {
  std::vector<std::string> runs;  // each a JSON object text
  std::optional<std::string> next_cursor;
};

class RunStore {
 public:
  RunStore(store::sqlite::SqliteDatabase& database,
           std::shared_ptr<const economics::PriceTable> prices);

  const economics::PriceTable& prices() const { return *prices_; }

  asio::awaitable<core::Result<IngestOutcome>> ingest(std::string workspace_id,
                                                      std::vector<PreparedRun> runs,
                                                      std::vector<Attachment> attachments);

  // The run as JSON text, or kNotFound. `base_url` prefixes attachment download links.
  asio::awaitable<core::Result<std::string>> getRun(std::string workspace_id, std::string run_id,
                                                    std::string base_url);
  asio::awaitable<core::Result<std::optional<Attachment>>> getAttachment(std::string workspace_id,
                                                                         std::string run_id,
                                                                         std::string name);

  // kInvalidArgument for a malformed cursor.
  asio::awaitable<core::Result<RunPage>> queryRuns(std::string workspace_id, RunQuery query,
                                                   std::string base_url);

  // Every run of a trace in dotted order (tree order); kNotFound when none.
  asio::awaitable<core::Result<std::vector<TraceRun>>> traceRuns(std::string workspace_id,
                                                                 std::string trace_id);

  // kAlreadyExists when the name is taken (unless `upsert`, which then returns the existing one).
  asio::awaitable<core::Result<Project>> createProject(std::string workspace_id, Project project,
                                                       bool upsert);
  asio::awaitable<core::Result<std::vector<Project>>> listProjects(std::string workspace_id,
                                                                   ProjectListQuery query);
  asio::awaitable<core::Result<Project>> getProject(std::string workspace_id, std::string id);
  asio::awaitable<core::Result<Project>> updateProject(std::string workspace_id, std::string id,
                                                       ProjectUpdate update);
  // Deletes the project, every run in it and their feedback (the runs' full-text entries stay
  // behind, unreachable: the contentless index cannot delete without the original text). kNotFound
  // when absent.
  asio::awaitable<core::Status> deleteProject(std::string workspace_id, std::string id);
  asio::awaitable<core::Result<ProjectStats>> projectStats(std::string workspace_id,
                                                           std::string project_id);
  asio::awaitable<core::Result<StatsResult>> projectStatsOverTime(std::string workspace_id,
                                                                  std::string project_id,
                                                                  StatsQuery query);

 private:
  struct ProjectRef {
    std::int64_t ws = 0;
    std::int64_t seq = 0;
  };
  // The tenant number and sessions.seq of an existing project; kNotFound otherwise.
  core::Result<ProjectRef> existingProject(store::sqlite::Connection& connection,
                                           const std::string& workspace_id, const std::string& id);
  struct LoadedProject {
    std::int64_t ws = 0;
    Project project;
  };
  // The tenant number and the whole row of an existing project; kNotFound otherwise.
  core::Result<LoadedProject> loadProject(store::sqlite::Connection& connection,
                                          const std::string& workspace_id, const std::string& id);
  // Project name -> sessions.seq, remembered within one ingest job.
  using ProjectMemo = std::unordered_map<std::string, std::int64_t>;
  core::Result<std::int64_t> projectForRun(store::sqlite::Connection& connection, std::int64_t ws,
                                           const RunFields& payload, ProjectMemo& memo);
  core::Status storeOne(store::sqlite::Connection& connection, std::int64_t ws,
                        const PreparedRun& run, ProjectMemo& projects);

  store::sqlite::SqliteDatabase& database_;
  std::shared_ptr<const economics::PriceTable> prices_;

  store::sqlite::TenantCache tenants_;
};

}  // namespace pharos::tracing
