#include "eval/store/experiment_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <functional>
#include <set>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/json_text.h"
#include "core/json_value.h"
#include "core/time.h"
#include "store/sqlite/statement_helpers.h"
#include "tracing/store/feedback_store.h"
#include "tracing/store/run_row.h"
#include "tracing/store/stats.h"

namespace pharos::eval {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using core::Status;
using store::sqlite::Connection;
using store::sqlite::eachRow;
using store::sqlite::Sql;
using store::sqlite::Statement;
using tracing::FeedbackStats;

using core::optionalJson;

// A run or example payload column (JSON text, or a compressed BLOB), or `fallback` when NULL.
Result<json::value> storedJson(const Statement& s, int c, json::value fallback) {
  if (s.columnIsNull(c)) return fallback;
  const bool compressed = s.columnIsBlob(c);
  return tracing::loadStoredJson(compressed ? s.columnBlob(c) : s.columnText(c), compressed);
}

// A JSON text column that should hold an object or a value; damaged text reads as `fallback`
// (these columns are written by our own stores, so this only guards against old rows).
json::value textJson(const Statement& s, int c, json::value fallback) {
  if (s.columnIsNull(c)) return fallback;
  boost::system::error_code ec;
  json::value v = json::parse(s.columnText(c), ec);
  return ec ? fallback : v;
}

// extra {"error": true}: the feedback reports a failed evaluator rather than a judgement.
bool isErrorFeedback(const Statement& s, int c) {
  const json::value extra = textJson(s, c, nullptr);
  if (!extra.is_object()) return false;
  const json::value* error = extra.get_object().if_contains("error");
  return error != nullptr && error->is_bool() && error->get_bool();
}

// ---- feedback statistics ----

// Feedback rows (key, score, value, extra, source_run_id) selected by `where`; also collects the
// evaluator runs that error rows name, so that the same failure is not counted twice.
Result<FeedbackStats> feedbackOver(Connection& c, const Sql& where,
                                   std::unordered_set<std::string>& error_sources) {
  tracing::FeedbackStatsAccumulator acc;
  Sql sql;
  sql.add("SELECT key, score, value, extra, source_run_id FROM feedback WHERE ").append(where);
  auto walked = eachRow(c, sql, [&](Statement& s) {
    const bool error = isErrorFeedback(s, 3);
    if (error && !s.columnIsNull(4)) error_sources.emplace(s.columnText(4));
    std::optional<std::string_view> value;
    if (!s.columnIsNull(2)) value = s.columnText(2);
    acc.add(s.columnText(0), s.optionalDouble(1), value, error);
  });
  if (!walked) return walked.error();
  return std::move(acc).finish();
}

std::int64_t feedbackErrors(const FeedbackStats& stats) {
  std::int64_t n = 0;
  for (const auto& [key, k] : stats) n += k.errors;
  return n;
}

// ---- evaluator runs that failed ----

struct EvaluatorError {
  std::string run_id;
  std::string target_run_id;
  std::optional<std::string> error;
};

// Which example runs to find failed evaluators for: their ids as a set and as a parenthesised
// subquery or IN list, and their examples likewise.
struct EvaluatorScope {
  Sql target_ids;
  Sql example_ids;
  std::unordered_set<std::string> targets;
};

// The target run an evaluator run evaluated, from its inputs. The JS SDK (0.10.5) traces an
// evaluator called with ({langSmithRunAndExample: {run, example}}, {metadata}), so its inputs are
// {args: [{langSmithRunAndExample: ...}, ...]}, and metadata.targetRunId never reaches the run
// (the traceable's own metadata option replaces it). A single argument may also be unwrapped.
std::optional<std::string> evaluatedRunId(const json::value& inputs) {
  const auto fromArgument = [](const json::value& argument) -> std::optional<std::string> {
    const json::value* pair = argument.is_object()
                                  ? argument.get_object().if_contains("langSmithRunAndExample")
                                  : nullptr;
    const json::value* run =
        pair != nullptr && pair->is_object() ? pair->get_object().if_contains("run") : nullptr;
    const json::value* id =
        run != nullptr && run->is_object() ? run->get_object().if_contains("id") : nullptr;
    if (id == nullptr || !id->is_string()) return std::nullopt;
    return std::string(id->get_string());
  };
  if (auto direct = fromArgument(inputs)) return direct;
  const json::value* args = inputs.is_object() ? inputs.get_object().if_contains("args") : nullptr;
  if (args == nullptr || !args->is_array()) return std::nullopt;
  for (const json::value& argument : args->get_array()) {
    if (auto id = fromArgument(argument)) return id;
  }
  return std::nullopt;
}

// Errored evaluator runs (any project) of the scope's example runs, found two ways: by metadata
// targetRunId (the Python SDK, `pharos eval`), and among the errored runs that name one of the
// examples, by the run their inputs carry (the JS SDK). A failing evaluator's own children may
// fail with it under the same target; only the outermost failing run of each target counts.
Result<std::vector<EvaluatorError>> evaluatorErrors(Connection& c, std::int64_t ws,
                                                    const EvaluatorScope& scope) {
  struct Row {
    EvaluatorError e;
    std::optional<std::string> parent;
    std::int64_t start = 0, seq = 0;
  };
  std::vector<Row> rows;
  std::unordered_set<std::string> seen;
  const auto add = [&](Statement& s, std::string target) {
    std::string id(s.columnText(0));
    if (!seen.insert(id).second) return;
    rows.push_back({{std::move(id), std::move(target), s.optionalText(1)},
                    s.optionalText(2),
                    s.columnIsNull(3) ? 0 : s.columnInt64(3),
                    s.columnInt64(4)});
  };
  Sql by_metadata;
  by_metadata
      .add(
          "SELECT r.id, r.error, r.parent_run_id, r.start_time, r.seq, m.value FROM run_metadata m "
          "JOIN runs r ON r.seq = m.run WHERE m.ws = ? AND m.key = 'targetRunId' "
          "AND r.status = 'error' AND m.value IN ")
      .bind(ws)
      .append(scope.target_ids);
  auto walked =
      eachRow(c, by_metadata, [&](Statement& s) { add(s, std::string(s.columnText(5))); });
  if (!walked) return walked.error();
  Sql by_inputs;
  by_inputs
      .add(
          "SELECT r.id, r.error, r.parent_run_id, r.start_time, r.seq, r.inputs FROM runs r "
          "WHERE r.ws = ? AND r.status = 'error' AND r.reference_example_id IN ")
      .bind(ws)
      .append(scope.example_ids);
  walked = eachRow(c, by_inputs, [&](Statement& s) -> Status {
    auto inputs = storedJson(s, 5, nullptr);
    if (!inputs) return inputs.error();
    auto target = evaluatedRunId(*inputs);
    if (target && scope.targets.contains(*target)) add(s, std::move(*target));
    return {};
  });
  if (!walked) return walked.error();

  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return std::tie(a.start, a.seq) < std::tie(b.start, b.seq);
  });
  std::set<std::pair<std::string, std::string>> failed;  // (run, target)
  for (const Row& r : rows) failed.emplace(r.e.run_id, r.e.target_run_id);
  std::vector<EvaluatorError> out;
  for (Row& r : rows) {
    if (r.parent && failed.contains({*r.parent, r.e.target_run_id})) continue;
    out.push_back(std::move(r.e));
  }
  return out;
}

// ---- sessions ----

struct SessionRow {
  std::int64_t seq = 0;
  std::string id;
  std::string name;
  std::optional<std::string> reference_dataset_id;
  std::int64_t start_time = 0;
  std::optional<std::int64_t> end_time;
  std::optional<std::int64_t> num_examples;
  json::value extra;
};

Result<std::optional<SessionRow>> loadSession(Connection& c, std::int64_t ws,
                                              const std::string& id) {
  auto s = c.cached(
      "SELECT seq, id, name, reference_dataset_id, start_time, end_time, num_examples, extra "
      "FROM sessions WHERE ws = ?1 AND id = ?2");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, id).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<SessionRow>();
  const Statement& r = **s;
  SessionRow out;
  out.seq = r.columnInt64(0);
  out.id = std::string(r.columnText(1));
  out.name = std::string(r.columnText(2));
  out.reference_dataset_id = r.optionalText(3);
  out.start_time = r.columnInt64(4);
  out.end_time = r.optionalInt64(5);
  out.num_examples = r.optionalInt64(6);
  out.extra = textJson(r, 7, nullptr);
  (*s)->reset();
  return std::optional<SessionRow>(std::move(out));
}

// The workspace's tenant number and the project `id`; kNotFound when either is missing.
Result<std::pair<std::int64_t, SessionRow>> findProject(Connection& c,
                                                        store::sqlite::TenantCache& tenants,
                                                        const std::string& workspace_id,
                                                        const std::string& id) {
  const Error missing = Error::notFound(fmt::format("no project has the id {}", id));
  auto ws = tenants.lookup(c, workspace_id, false);
  if (!ws) return std::move(ws).error();
  if (!*ws) return missing;
  auto session = loadSession(c, **ws, id);
  if (!session) return std::move(session).error();
  if (!*session) return missing;
  return std::pair{**ws, std::move(**session)};
}

// The ids of the experiment's example runs, as a parenthesised subquery.
Sql exampleRunIds(std::int64_t session) {
  Sql sql;
  sql.add(
         "(SELECT id FROM runs WHERE session = ? AND is_root = 1 "
         "AND reference_example_id IS NOT NULL)")
      .bind(session);
  return sql;
}

// ---- §4.1 ----

Result<ExperimentStats> computeAggregates(Connection& c, std::int64_t ws,
                                          const SessionRow& session) {
  ExperimentStats stats;
  stats.expected_examples = session.num_examples;

  std::vector<double> latencies;
  std::unordered_set<std::string> examples;
  EvaluatorScope scope;
  bool pending = false;
  Sql runs;
  runs.add(
          "SELECT status, latency, reference_example_id, id FROM runs WHERE session = ? "
          "AND is_root = 1 AND reference_example_id IS NOT NULL")
      .bind(session.seq);
  auto walked = eachRow(c, runs, [&](Statement& s) {
    ++stats.run_count;
    const std::string_view status = s.columnText(0);
    if (status == "error") ++stats.error_count;
    if (status == "pending") pending = true;
    if (!s.columnIsNull(1)) latencies.push_back(s.columnDouble(1));
    examples.emplace(s.columnText(2));
    scope.targets.emplace(s.columnText(3));
  });
  if (!walked) return walked.error();
  stats.example_count = static_cast<std::int64_t>(examples.size());
  stats.complete = !pending && (session.num_examples ? stats.example_count >= *session.num_examples
                                                     : session.end_time.has_value());
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    double sum = 0;
    for (double l : latencies) sum += l;
    stats.latency_mean = sum / static_cast<double>(latencies.size());
    stats.latency_p50 = tracing::percentile(latencies, 0.50);
    stats.latency_p95 = tracing::percentile(latencies, 0.95);
  }

  // Tokens and cost of whole traces: each run stores its own figures (no roll-up), so summing
  // every run of a trace counts each call once, whichever project it landed in. A root without
  // a trace id stands for itself.
  const auto addSums = [&](Statement& s) {
    if (!s.columnIsNull(0)) stats.prompt_tokens += s.columnInt64(0);
    if (!s.columnIsNull(1)) stats.completion_tokens += s.columnInt64(1);
    if (!s.columnIsNull(2)) stats.total_tokens += s.columnInt64(2);
    if (!s.columnIsNull(3)) stats.total_cost += s.columnDouble(3);
  };
  Sql traces;
  traces
      .add(
          "SELECT sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), sum(total_cost) "
          "FROM runs WHERE ws = ? AND trace_id IN (SELECT trace_id FROM runs WHERE session = ? "
          "AND is_root = 1 AND reference_example_id IS NOT NULL AND trace_id IS NOT NULL)")
      .bind(ws)
      .bind(session.seq);
  if (auto st = eachRow(c, traces, addSums); !st) return st.error();
  Sql untraced;
  untraced
      .add(
          "SELECT sum(prompt_tokens), sum(completion_tokens), sum(total_tokens), sum(total_cost) "
          "FROM runs WHERE session = ? AND is_root = 1 AND reference_example_id IS NOT NULL "
          "AND trace_id IS NULL")
      .bind(session.seq);
  if (auto st = eachRow(c, untraced, addSums); !st) return st.error();

  // Feedback joins by run id, not session id: feedback posted before its run, or without a
  // session, still counts.
  std::unordered_set<std::string> error_sources;
  Sql where;
  where.add("ws = ? AND run_id IN ").bind(ws).append(exampleRunIds(session.seq));
  auto feedback = feedbackOver(c, where, error_sources);
  if (!feedback) return std::move(feedback).error();
  stats.feedback = std::move(feedback).value();

  scope.target_ids = exampleRunIds(session.seq);
  scope.example_ids
      .add(
          "(SELECT reference_example_id FROM runs WHERE session = ? AND is_root = 1 "
          "AND reference_example_id IS NOT NULL)")
      .bind(session.seq);
  auto failed = evaluatorErrors(c, ws, scope);
  if (!failed) return std::move(failed).error();
  std::int64_t shared = 0;  // failures reported both as a run and as feedback naming that run
  for (const EvaluatorError& e : *failed) shared += error_sources.contains(e.run_id) ? 1 : 0;
  stats.evaluator_errors =
      static_cast<std::int64_t>(failed->size()) + feedbackErrors(stats.feedback) - shared;
  return stats;
}

// ---- §4.2 ----

// Which example revisions a comparison reads, on examples aliased `e`: those of the dataset as
// of `as_of` (or the current ones), not tombstones.
Sql exampleVersion(std::int64_t dataset, const std::optional<std::int64_t>& as_of) {
  Sql sql;
  sql.add("e.dataset = ? AND e.deleted = 0").bind(dataset);
  if (as_of) {
    sql.add(" AND e.modified_at <= ? AND (e.valid_to IS NULL OR e.valid_to > ?)")
        .bind(*as_of)
        .bind(*as_of);
  } else {
    sql.add(" AND e.valid_to IS NULL");
  }
  return sql;
}

Sql splitFilter(const std::vector<std::string>& splits) {
  Sql sql;
  if (splits.empty()) return sql;
  // metadata.dataset_split is an array (or a lone string); json_each yields its items either way.
  sql.add(
         " AND EXISTS (SELECT 1 FROM json_each(e.metadata, '$.dataset_split') j "
         "WHERE j.value IN ")
      .in(splits)
      .add(")");
  return sql;
}

struct CellRun {
  std::string run_id;
  std::int64_t session = 0;
  std::string example_id;
  json::object json;
};

json::object experimentJson(const SessionRow& s, const ExperimentStats& stats) {
  json::object out;
  out["id"] = s.id;
  out["name"] = s.name;
  out["start_time"] = core::formatIso8601Micros(s.start_time);
  out["end_time"] =
      s.end_time ? json::value(core::formatIso8601Micros(*s.end_time)) : json::value(nullptr);
  const json::value* metadata =
      s.extra.is_object() ? s.extra.get_object().if_contains("metadata") : nullptr;
  out["metadata"] =
      metadata != nullptr && metadata->is_object() ? *metadata : json::value(json::object());
  out["stats"] = experimentStatsJson(stats);
  return out;
}

Result<json::object> computeCompare(Connection& c, std::int64_t ws, std::int64_t dataset,
                                    json::object dataset_json, const CompareQuery& q,
                                    const std::vector<SessionRow>& sessions) {
  json::object out;
  out["dataset"] = std::move(dataset_json);

  // Experiments and their aggregates, in request order.
  json::array experiments;
  std::set<std::string> keys;
  std::vector<std::int64_t> session_seqs;
  std::unordered_map<std::int64_t, std::size_t> column_of;  // sessions.seq -> result index
  for (const SessionRow& s : sessions) {
    auto stats = computeAggregates(c, ws, s);
    if (!stats) return std::move(stats).error();
    for (const auto& [key, k] : stats->feedback) keys.insert(key);
    column_of.emplace(s.seq, session_seqs.size());
    session_seqs.push_back(s.seq);
    experiments.push_back(experimentJson(s, *stats));
  }
  out["experiments"] = std::move(experiments);
  json::array feedback_keys;
  for (const std::string& key : keys) feedback_keys.emplace_back(key);
  out["feedback_keys"] = std::move(feedback_keys);

  const Sql version = exampleVersion(dataset, q.as_of);
  const Sql splits = splitFilter(q.splits);

  Sql count;
  count.add("SELECT count(*) FROM examples e WHERE ").append(version).append(splits);
  std::int64_t total = 0;
  if (auto st = eachRow(c, count, [&](Statement& s) { total = s.columnInt64(0); }); !st) {
    return st.error();
  }

  // The page of examples.
  Sql page;
  page.add("SELECT e.id, e.inputs, e.outputs, e.metadata, e.modified_at, ");
  // With as_of, an example may be gone today: say so rather than hide it.
  page.add(q.as_of ? "NOT EXISTS (SELECT 1 FROM examples c WHERE c.ws = e.ws AND c.id = e.id "
                     "AND c.valid_to IS NULL AND c.deleted = 0)"
                   : "0");
  page.add(" FROM examples e WHERE ")
      .append(version)
      .append(splits)
      .add(" ORDER BY e.created_at, e.id LIMIT ? OFFSET ?")
      .bind(static_cast<std::int64_t>(q.limit))
      .bind(static_cast<std::int64_t>(q.offset));
  json::array rows;
  std::vector<std::string> example_ids;
  std::unordered_map<std::string, std::size_t> row_of;
  auto paged = eachRow(c, page, [&](Statement& s) -> Status {
    json::object row;
    const std::string id(s.columnText(0));
    row["id"] = id;
    auto inputs = storedJson(s, 1, json::object());
    if (!inputs) return inputs.error();
    row["inputs"] = std::move(inputs).value();
    auto outputs = storedJson(s, 2, nullptr);
    if (!outputs) return outputs.error();
    row["outputs"] = std::move(outputs).value();
    row["metadata"] = textJson(s, 3, json::object());
    row["modified_at"] = core::formatIso8601Micros(s.columnInt64(4));
    row["deleted"] = s.columnInt64(5) != 0;
    json::array results;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      json::object cell;
      cell["runs"] = json::array();
      results.push_back(std::move(cell));
    }
    row["results"] = std::move(results);
    row_of.emplace(id, rows.size());
    example_ids.push_back(id);
    rows.push_back(std::move(row));
    return {};
  });
  if (!paged) return paged.error();

  // The example runs of the page, oldest first (repetitions in the order they ran).
  std::vector<CellRun> cells;
  std::unordered_map<std::string, std::size_t> cell_of;
  std::vector<std::string> trace_ids;
  if (!example_ids.empty()) {
    Sql sql;
    sql.add(
           "SELECT r.id, r.trace_id, r.status, r.error, r.outputs, r.latency, r.total_tokens, "
           "r.total_cost, r.session, r.reference_example_id FROM runs r WHERE r.ws = ? "
           "AND r.is_root = 1 AND r.reference_example_id IN ")
        .bind(ws)
        .in(example_ids)
        .add(" AND r.session IN ")
        .in(session_seqs)
        .add(" ORDER BY r.start_time, r.seq");
    auto walked = eachRow(c, sql, [&](Statement& s) -> Status {
      CellRun cell;
      cell.run_id = std::string(s.columnText(0));
      cell.session = s.columnInt64(8);
      cell.example_id = std::string(s.columnText(9));
      json::object& o = cell.json;
      o["run_id"] = cell.run_id;
      o["trace_id"] = optionalJson(s.optionalText(1));
      o["status"] = std::string(s.columnText(2));
      o["error"] = optionalJson(s.optionalText(3));
      auto outputs = storedJson(s, 4, nullptr);
      if (!outputs) return outputs.error();
      o["outputs"] = std::move(outputs).value();
      o["latency"] = optionalJson(s.optionalDouble(5));
      // The run's own figures until its trace's sums replace them.
      o["total_tokens"] = optionalJson(s.optionalInt64(6));
      o["total_cost"] = optionalJson(s.optionalDouble(7));
      o["feedback"] = json::object();
      o["evaluator_errors"] = json::array();
      if (!s.columnIsNull(1)) trace_ids.emplace_back(s.columnText(1));
      cell_of.emplace(cell.run_id, cells.size());
      cells.push_back(std::move(cell));
      return {};
    });
    if (!walked) return walked.error();
  }

  if (!cells.empty()) {
    std::vector<std::string> run_ids;
    for (const CellRun& cell : cells) run_ids.push_back(cell.run_id);

    if (!trace_ids.empty()) {
      std::unordered_map<std::string, std::pair<json::value, json::value>> sums;
      Sql sql;
      sql.add(
             "SELECT trace_id, sum(total_tokens), sum(total_cost) FROM runs WHERE ws = ? "
             "AND trace_id IN ")
          .bind(ws)
          .in(trace_ids)
          .add(" GROUP BY trace_id");
      auto walked = eachRow(c, sql, [&](Statement& s) {
        sums[std::string(s.columnText(0))] = {optionalJson(s.optionalInt64(1)),
                                              optionalJson(s.optionalDouble(2))};
      });
      if (!walked) return walked.error();
      for (CellRun& cell : cells) {
        const json::value& trace = cell.json["trace_id"];
        if (!trace.is_string()) continue;
        auto it = sums.find(std::string(trace.get_string()));
        if (it == sums.end()) continue;
        cell.json["total_tokens"] = it->second.first;
        cell.json["total_cost"] = it->second.second;
      }
    }

    // Feedback per key; of repeated feedback on one (run, key) the latest shows.
    Sql feedback;
    feedback
        .add(
            "SELECT run_id, id, key, score, value, comment, extra FROM feedback WHERE ws = ? "
            "AND run_id IN ")
        .bind(ws)
        .in(run_ids)
        .add(" ORDER BY created_at, seq");
    auto walked = eachRow(c, feedback, [&](Statement& s) {
      auto it = cell_of.find(std::string(s.columnText(0)));
      if (it == cell_of.end()) return;
      json::object entry;
      entry["id"] = std::string(s.columnText(1));
      entry["score"] = optionalJson(s.optionalDouble(3));
      entry["value"] = textJson(s, 4, nullptr);
      entry["comment"] = optionalJson(s.optionalText(5));
      entry["error"] = isErrorFeedback(s, 6);
      cells[it->second].json["feedback"].as_object()[s.columnText(2)] = std::move(entry);
    });
    if (!walked) return walked.error();

    EvaluatorScope scope;
    scope.target_ids.in(run_ids);
    scope.example_ids.in(example_ids);
    scope.targets.insert(run_ids.begin(), run_ids.end());
    auto failed = evaluatorErrors(c, ws, scope);
    if (!failed) return std::move(failed).error();
    for (const EvaluatorError& e : *failed) {
      auto it = cell_of.find(e.target_run_id);
      if (it == cell_of.end()) continue;
      json::object failure;
      failure["run_id"] = e.run_id;
      failure["error"] = optionalJson(e.error);
      cells[it->second].json["evaluator_errors"].as_array().push_back(std::move(failure));
    }

    for (CellRun& cell : cells) {
      auto row = row_of.find(cell.example_id);
      auto column = column_of.find(cell.session);
      if (row == row_of.end() || column == column_of.end()) continue;
      rows[row->second]
          .as_object()["results"]
          .as_array()[column->second]
          .as_object()["runs"]
          .as_array()
          .push_back(std::move(cell.json));
    }
  }
  out["examples"] = std::move(rows);

  // Example runs whose example is not in the dataset (at this version): deleted since, or a
  // file row that never became an example (§7). Listed on the first page so nothing is hidden.
  json::array orphans;
  if (q.offset == 0) {
    for (const SessionRow& s : sessions) {
      Sql sql;
      sql.add(
             "SELECT r.id, r.reference_example_id, r.inputs, r.error FROM runs r "
             "WHERE r.session = ? AND r.is_root = 1 AND r.reference_example_id IS NOT NULL "
             "AND NOT EXISTS (SELECT 1 FROM examples e WHERE e.id = r.reference_example_id AND ")
          .bind(s.seq)
          .append(version)
          .add(") ORDER BY r.start_time, r.seq");
      auto walked = eachRow(c, sql, [&](Statement& r) -> Status {
        json::object o;
        o["experiment_id"] = s.id;
        o["run_id"] = std::string(r.columnText(0));
        o["reference_example_id"] = std::string(r.columnText(1));
        auto inputs = storedJson(r, 2, json::object());
        if (!inputs) return inputs.error();
        o["inputs"] = std::move(inputs).value();
        o["error"] = optionalJson(r.optionalText(3));
        orphans.push_back(std::move(o));
        return {};
      });
      if (!walked) return walked.error();
    }
  }
  out["orphans"] = std::move(orphans);
  out["offset"] = q.offset;
  out["limit"] = q.limit;
  out["total"] = total;
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

json::object experimentStatsJson(const ExperimentStats& s) {
  json::object out;
  out["example_count"] = s.example_count;
  out["expected_examples"] = optionalJson(s.expected_examples);
  out["complete"] = s.complete;
  out["run_count"] = s.run_count;
  out["error_count"] = s.error_count;
  out["error_rate"] =
      s.run_count > 0 ? static_cast<double>(s.error_count) / static_cast<double>(s.run_count) : 0.0;
  out["latency_mean"] = optionalJson(s.latency_mean);
  out["latency_p50"] = optionalJson(s.latency_p50);
  out["latency_p95"] = optionalJson(s.latency_p95);
  out["prompt_tokens"] = s.prompt_tokens;
  out["completion_tokens"] = s.completion_tokens;
  out["total_tokens"] = s.total_tokens;
  out["total_cost"] = s.total_cost;
  // Same statistics as feedback_stats, with the mean named as in §4.1.
  json::object feedback = tracing::feedbackStatsJson(s.feedback);
  for (auto& [key, k] : feedback) {
    json::object& entry = k.as_object();
    entry["mean"] = entry["avg"];
    entry.erase("avg");
  }
  out["feedback"] = std::move(feedback);
  out["evaluator_errors"] = s.evaluator_errors;
  return out;
}

ExperimentStore::ExperimentStore(store::sqlite::SqliteDatabase& database) : database_(database) {}

asio::awaitable<Result<ExperimentStats>> ExperimentStore::aggregates(std::string workspace_id,
                                                                     std::string session_id) {
  std::function<Result<ExperimentStats>(Connection&)> job =
      [this, workspace_id, session_id](Connection& c) -> Result<ExperimentStats> {
    auto found = findProject(c, tenants_, workspace_id, session_id);
    if (!found) return std::move(found).error();
    auto& [ws, session] = *found;
    return computeAggregates(c, ws, session);
  };
  auto reading = database_.read<ExperimentStats>(std::move(job));
  auto result = co_await std::move(reading);
  co_return result;
}

asio::awaitable<Result<json::object>> ExperimentStore::projectStatsFields(std::string workspace_id,
                                                                          std::string session_id) {
  std::function<Result<json::object>(Connection&)> job =
      [this, workspace_id, session_id](Connection& c) -> Result<json::object> {
    auto found = findProject(c, tenants_, workspace_id, session_id);
    if (!found) return std::move(found).error();
    auto& [ws, session] = *found;
    json::object out;
    auto feedback = tracing::feedbackStatsForProject(c, ws, session.id);
    if (!feedback) return std::move(feedback).error();
    out["feedback_stats"] = tracing::feedbackStatsJson(*feedback);
    if (session.reference_dataset_id) {
      auto stats = computeAggregates(c, ws, session);
      if (!stats) return std::move(stats).error();
      out["experiment_stats"] = experimentStatsJson(*stats);
    }
    return out;
  };
  auto reading = database_.read<json::object>(std::move(job));
  auto result = co_await std::move(reading);
  co_return result;
}

asio::awaitable<Result<json::object>> ExperimentStore::compare(std::string workspace_id,
                                                               CompareQuery query) {
  if (query.experiment_ids.empty()) {
    co_return Error::invalidArgument("experiments: name at least one experiment id");
  }
  if (query.experiment_ids.size() > kMaxComparedExperiments) {
    co_return Error::invalidArgument(fmt::format("experiments: at most {} can be compared, got {}",
                                                 kMaxComparedExperiments,
                                                 query.experiment_ids.size()));
  }
  for (std::size_t i = 0; i < query.experiment_ids.size(); ++i) {
    const std::string& id = query.experiment_ids[i];
    if (std::find(query.experiment_ids.begin(), query.experiment_ids.begin() + i, id) !=
        query.experiment_ids.begin() + i) {
      co_return Error::invalidArgument(fmt::format("experiments: {} is listed twice", id));
    }
  }
  std::function<Result<json::object>(Connection&)> job =
      [this, workspace_id, query](Connection& c) -> Result<json::object> {
    const Error no_dataset =
        Error::notFound(fmt::format("no dataset has the id {}", query.dataset_id));
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return no_dataset;

    std::optional<std::int64_t> dataset;
    json::object dataset_json;
    Sql sql;
    sql.add(
           "SELECT d.seq, d.name, (SELECT count(*) FROM examples e WHERE e.dataset = d.seq "
           "AND e.valid_to IS NULL AND e.deleted = 0) FROM datasets d WHERE d.ws = ? AND d.id = ?")
        .bind(**ws)
        .bind(query.dataset_id);
    auto found = eachRow(c, sql, [&](Statement& s) {
      dataset = s.columnInt64(0);
      dataset_json["id"] = query.dataset_id;
      dataset_json["name"] = std::string(s.columnText(1));
      dataset_json["example_count"] = s.columnInt64(2);
    });
    if (!found) return found.error();
    if (!dataset) return no_dataset;

    std::vector<SessionRow> sessions;
    for (const std::string& id : query.experiment_ids) {
      auto session = loadSession(c, **ws, id);
      if (!session) return std::move(session).error();
      if (!*session) {
        return Error::invalidArgument(
            fmt::format("experiments: {} is not a project of this workspace", id));
      }
      if ((*session)->reference_dataset_id != query.dataset_id) {
        return Error::invalidArgument(fmt::format(
            "experiments: {} is not an experiment on dataset {}", id, query.dataset_id));
      }
      sessions.push_back(std::move(**session));
    }
    return computeCompare(c, **ws, *dataset, std::move(dataset_json), query, sessions);
  };
  auto reading = database_.read<json::object>(std::move(job));
  auto result = co_await std::move(reading);
  co_return result;
}

}  // namespace pharos::eval
