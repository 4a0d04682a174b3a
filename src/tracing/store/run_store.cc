#include "tracing/store/run_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <type_traits>
#include <utility>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/time.h"
#include "store/sqlite/statement_helpers.h"
#include "tracing/query/sql_compiler.h"
#include "tracing/store/stats.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using core::Status;
using store::sqlite::appendIn;
using store::sqlite::Connection;
using store::sqlite::eachRow;
using store::sqlite::Sql;
using store::sqlite::Statement;

// The filter compiler's parameters bind as they are.

// The FTS rowid of a run's text version: run.seq * 256 + version (see migration 2).
constexpr std::int64_t kTextVersions = 256;

// ---- binding helpers ----

void bindFigure(Statement& s, int i, const std::optional<TokenFigure>& v) {
  if (v) {
    s.bindInt64(i, v->value);
  } else {
    s.bindNull(i);
  }
}
void bindStored(Statement& s, int i, const std::optional<StoredJson>& v) {
  if (v) {
    bindStoredJson(s, i, *v);
  } else {
    s.bindNull(i);
  }
}
void bindNonEmpty(Statement& s, int i, const std::string& v) {
  if (v.empty()) {
    s.bindNull(i);
  } else {
    s.bindText(i, v);
  }
}

// Parameters ?1..?31 of the runs columns, shared by the insert and the update of a run.
constexpr std::string_view kInsertRun =
    "INSERT INTO runs(ws, id, session, trace_id, parent_run_id, dotted_order, name, run_type, "
    "status, start_time, end_time, latency, error, is_root, reference_example_id, thread_id, "
    "model, prompt_tokens, completion_tokens, total_tokens, prompt_cost, completion_cost, "
    "total_cost, figure_sources, tags, inputs, outputs, events, extra, serialized, posted) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
    "?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31) ON CONFLICT (ws, id) DO NOTHING";
constexpr std::string_view kUpdateRun =
    "UPDATE runs SET session = ?3, trace_id = ?4, parent_run_id = ?5, dotted_order = ?6, "
    "name = ?7, run_type = ?8, status = ?9, start_time = ?10, end_time = ?11, latency = ?12, "
    "error = ?13, is_root = ?14, reference_example_id = ?15, thread_id = ?16, model = ?17, "
    "prompt_tokens = ?18, completion_tokens = ?19, total_tokens = ?20, prompt_cost = ?21, "
    "completion_cost = ?22, total_cost = ?23, figure_sources = ?24, tags = ?25, inputs = ?26, "
    "outputs = ?27, events = ?28, extra = ?29, serialized = ?30, posted = ?31, "
    "text_versions = ?32 WHERE seq = ?33 AND ws = ?1 AND id = ?2";

void bindRunRow(Statement& s, std::int64_t ws, std::optional<std::int64_t> session,
                const RunRow& row) {
  const RunFields& f = row.fields;
  s.bindInt64(1, ws).bindText(2, f.id);
  s.bindOptionalInt64(3, session);
  s.bindOptionalText(4, f.trace_id);
  s.bindOptionalText(5, f.parent_run_id);
  s.bindOptionalText(6, f.dotted_order);
  s.bindOptionalText(7, f.name);
  s.bindOptionalText(8, f.run_type);
  s.bindText(9, row.status);
  s.bindOptionalInt64(10, f.start_time);
  s.bindOptionalInt64(11, f.end_time);
  s.bindOptionalDouble(12, f.latency_seconds);
  s.bindOptionalText(13, f.error);
  s.bindInt64(14, row.is_root ? 1 : 0);
  s.bindOptionalText(15, f.reference_example_id);
  s.bindOptionalText(16, row.thread_id);
  s.bindOptionalText(17, f.model);
  bindFigure(s, 18, f.prompt_tokens);
  bindFigure(s, 19, f.completion_tokens);
  bindFigure(s, 20, f.total_tokens);
  s.bindOptionalDouble(21, row.prompt_cost);
  s.bindOptionalDouble(22, row.completion_cost);
  s.bindOptionalDouble(23, row.total_cost);
  bindNonEmpty(s, 24, row.figure_sources);
  bindNonEmpty(s, 25, row.tags_json);
  bindStored(s, 26, row.inputs);
  bindStored(s, 27, row.outputs);
  bindStored(s, 28, row.events);
  bindStored(s, 29, row.extra);
  bindStored(s, 30, row.serialized);
  s.bindInt64(31, f.posted ? 1 : 0);
}

// ---- reading a stored run back into RunFields (the merge path) ----

constexpr std::string_view kSelectForMerge =
    "SELECT seq, session, text_versions, trace_id, parent_run_id, dotted_order, name, run_type, "
    "start_time, end_time, error, reference_example_id, tags, inputs, outputs, events, extra, "
    "serialized, posted FROM runs WHERE ws = ?1 AND id = ?2";

Result<std::optional<json::value>> jsonColumn(const Statement& s, int c) {
  if (s.columnIsNull(c)) return std::optional<json::value>();
  const bool compressed = s.columnIsBlob(c);
  auto value = loadStoredJson(compressed ? s.columnBlob(c) : s.columnText(c), compressed);
  if (!value) return std::move(value).error();
  return std::optional<json::value>(std::move(value).value());
}

struct StoredRun {
  std::int64_t seq = 0;
  std::optional<std::int64_t> session;
  std::int64_t text_versions = 0;
  RunFields fields;
};

Result<StoredRun> readStoredRun(const Statement& s, const std::string& id) {
  StoredRun out;
  out.seq = s.columnInt64(0);
  out.session = s.optionalInt64(1);
  out.text_versions = s.columnInt64(2);
  RunFields& f = out.fields;
  f.id = id;
  f.trace_id = s.optionalText(3);
  f.parent_run_id = s.optionalText(4);
  f.dotted_order = s.optionalText(5);
  f.name = s.optionalText(6);
  f.run_type = s.optionalText(7);
  f.start_time = s.optionalInt64(8);
  f.end_time = s.optionalInt64(9);
  f.error = s.optionalText(10);
  f.reference_example_id = s.optionalText(11);
  if (!s.columnIsNull(12)) {
    boost::system::error_code ec;
    json::value tags = json::parse(s.columnText(12), ec);
    if (ec || !tags.is_array()) return Error::internal("stored run tags do not parse");
    f.tags.emplace();
    for (const json::value& tag : tags.get_array()) {
      if (tag.is_string()) f.tags->emplace_back(tag.get_string());
    }
  }
  std::optional<json::value>* targets[] = {&f.inputs, &f.outputs, &f.events, &f.extra,
                                           &f.serialized};
  for (int i = 0; i < 5; ++i) {
    auto value = jsonColumn(s, 13 + i);
    if (!value) return std::move(value).error();
    *targets[i] = std::move(value).value();
  }
  f.posted = s.columnInt64(18) != 0;
  return out;
}

// ---- rendering runs as JSON ----

class JsonOut {
 public:
  explicit JsonOut(std::string& out) : out_(out) { out_.push_back('{'); }
  void close() { out_.push_back('}'); }

  void key(std::string_view name) {
    if (!first_) out_.push_back(',');
    first_ = false;
    out_.push_back('"');
    out_.append(name);
    out_.append("\":");
  }
  void string(std::string_view name, std::string_view value) {
    key(name);
    core::appendJsonString(out_, value);
  }
  void raw(std::string_view name, std::string_view json_text) {
    key(name);
    out_.append(json_text);
  }
  // Column c as a JSON string, or null.
  void textOrNull(std::string_view name, const Statement& s, int c) {
    if (s.columnIsNull(c)) return raw(name, "null");
    string(name, s.columnText(c));
  }
  void intOrNull(std::string_view name, const Statement& s, int c) {
    if (s.columnIsNull(c)) return raw(name, "null");
    raw(name, fmt::format("{}", s.columnInt64(c)));
  }
  void doubleOrNull(std::string_view name, const Statement& s, int c) {
    if (s.columnIsNull(c)) return raw(name, "null");
    raw(name, fmt::format("{}", s.columnDouble(c)));
  }
  void timeOrNull(std::string_view name, const Statement& s, int c) {
    if (s.columnIsNull(c)) return raw(name, "null");
    string(name, core::formatIso8601Micros(s.columnInt64(c)));
  }
  // A column holding JSON text (or a compressed blob) verbatim, or `fallback` when NULL.
  Status jsonColumn(std::string_view name, const Statement& s, int c, std::string_view fallback) {
    if (s.columnIsNull(c)) {
      raw(name, fallback);
      return {};
    }
    if (s.columnIsBlob(c)) {
      auto text = decompressStoredJson(s.columnBlob(c));
      if (!text) return std::move(text).error();
      raw(name, *text);
      return {};
    }
    raw(name, s.columnText(c));
    return {};
  }

 private:
  std::string& out_;
  bool first_ = true;
};

// The columns a rendered run reads, in this order; heavy ones become NULL when not selected.
std::string runColumns(const RunSelection& select) {
  return fmt::format(
      "r.seq, r.id, r.name, r.run_type, r.start_time, r.end_time, r.status, r.error, r.trace_id, "
      "r.parent_run_id, r.dotted_order, s.id, r.reference_example_id, r.tags, r.prompt_tokens, "
      "r.completion_tokens, r.total_tokens, r.prompt_cost, r.completion_cost, r.total_cost, "
      "r.figure_sources, r.latency, r.thread_id, r.is_root, r.model, {}, {}, {}, {}, {}, "
      "r.posted",
      select.inputs ? "r.inputs" : "NULL", select.outputs ? "r.outputs" : "NULL",
      select.events ? "r.events" : "NULL", select.extra ? "r.extra" : "NULL",
      select.serialized ? "r.serialized" : "NULL");
}

enum RunColumn {
  kSeq,
  kId,
  kName,
  kRunType,
  kStartTime,
  kEndTime,
  kStatus,
  kError,
  kTraceId,
  kParentRunId,
  kDottedOrder,
  kSessionId,
  kReferenceExampleId,
  kTags,
  kPromptTokens,
  kCompletionTokens,
  kTotalTokens,
  kPromptCost,
  kCompletionCost,
  kTotalCost,
  kFigureSources,
  kLatency,
  kThreadId,
  kIsRoot,
  kModel,
  kInputs,
  kOutputs,
  kEvents,
  kExtra,
  kSerialized,
  kPosted,
};

// Ancestors of a run, root first, from its dotted order (every segment's uuid but the last).
std::string parentRunIds(std::string_view dotted) {
  std::string out = "[";
  bool first = true;
  std::size_t start = 0;
  while (start < dotted.size()) {
    const std::size_t end = std::min(dotted.find('.', start), dotted.size());
    if (end == dotted.size()) break;  // the last segment is the run itself
    const std::string_view segment = dotted.substr(start, end - start);
    if (segment.size() >= 36) {
      if (!first) out.push_back(',');
      first = false;
      core::appendJsonString(out, segment.substr(segment.size() - 36));
    }
    start = end + 1;
  }
  out.push_back(']');
  return out;
}

Status renderRun(std::string& out, const Statement& s, const std::string& workspace_id,
                 const RunSelection& select) {
  JsonOut o(out);
  o.string("id", s.columnText(kId));
  o.textOrNull("name", s, kName);
  o.textOrNull("run_type", s, kRunType);
  o.timeOrNull("start_time", s, kStartTime);
  o.timeOrNull("end_time", s, kEndTime);
  o.string("status", s.columnText(kStatus));
  o.textOrNull("error", s, kError);
  o.textOrNull("trace_id", s, kTraceId);
  o.textOrNull("parent_run_id", s, kParentRunId);
  o.textOrNull("dotted_order", s, kDottedOrder);
  o.raw("parent_run_ids",
        s.columnIsNull(kDottedOrder) ? "[]" : parentRunIds(s.columnText(kDottedOrder)));
  o.textOrNull("session_id", s, kSessionId);
  o.textOrNull("reference_example_id", s, kReferenceExampleId);
  o.raw("tags", s.columnIsNull(kTags) ? "[]" : s.columnText(kTags));
  if (select.inputs) {
    if (auto st = o.jsonColumn("inputs", s, kInputs, "{}"); !st) return st;
  }
  if (select.outputs) {
    if (auto st = o.jsonColumn("outputs", s, kOutputs, "null"); !st) return st;
  }
  if (select.events) {
    if (auto st = o.jsonColumn("events", s, kEvents, "[]"); !st) return st;
  }
  if (select.extra) {
    if (auto st = o.jsonColumn("extra", s, kExtra, "{}"); !st) return st;
  }
  if (select.serialized) {
    if (auto st = o.jsonColumn("serialized", s, kSerialized, "null"); !st) return st;
  }
  o.intOrNull("prompt_tokens", s, kPromptTokens);
  o.intOrNull("completion_tokens", s, kCompletionTokens);
  o.intOrNull("total_tokens", s, kTotalTokens);
  o.doubleOrNull("prompt_cost", s, kPromptCost);
  o.doubleOrNull("completion_cost", s, kCompletionCost);
  o.doubleOrNull("total_cost", s, kTotalCost);
  o.raw("figure_sources", s.columnIsNull(kFigureSources) ? "{}" : s.columnText(kFigureSources));
  o.textOrNull("model", s, kModel);
  o.doubleOrNull("latency", s, kLatency);
  o.textOrNull("thread_id", s, kThreadId);
  o.raw("is_root", s.columnInt64(kIsRoot) != 0 ? "true" : "false");
  o.raw("execution_order", s.columnInt64(kIsRoot) != 0 ? "1" : "null");
  o.raw("first_token_time", "null");
  o.raw("feedback_stats", "null");
  o.raw("child_run_ids", "null");
  if (!s.columnIsNull(kSessionId)) {
    o.string("app_path", fmt::format("/o/{}/projects/p/{}/r/{}?trace_id={}", workspace_id,
                                     s.columnText(kSessionId), s.columnText(kId),
                                     s.columnIsNull(kTraceId) ? std::string_view(s.columnText(kId))
                                                              : s.columnText(kTraceId)));
  }
  o.close();
  return {};
}

// ---- cursors: "<start_time>:<seq>" (or "null:<seq>") of the last run of a page ----

struct Cursor {
  std::optional<std::int64_t>
      start_time;  // a run with no start time (a patch seen before its post)
  std::int64_t seq = 0;
};

std::string formatCursor(const Cursor& c) {
  return c.start_time ? fmt::format("{}:{}", *c.start_time, c.seq) : fmt::format("null:{}", c.seq);
}

std::optional<Cursor> parseCursor(std::string_view text) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  Cursor c;
  const std::string_view time = text.substr(0, colon);
  if (time != "null") {
    std::int64_t start = 0;
    const auto a = std::from_chars(time.data(), time.data() + time.size(), start);
    if (a.ec != std::errc() || a.ptr != time.data() + time.size()) return std::nullopt;
    c.start_time = start;
  }
  const auto b = std::from_chars(text.data() + colon + 1, text.data() + text.size(), c.seq);
  if (b.ec != std::errc() || b.ptr != text.data() + text.size()) return std::nullopt;
  return c;
}

// The rows after `cursor` in ORDER BY start_time, seq (SQLite sorts NULL before every value, so
// NULL start times come first ascending and last descending).
void appendAfterCursor(std::string& sql, std::vector<query::SqlValue>& params, const Cursor& cursor,
                       bool ascending) {
  if (ascending) {
    if (cursor.start_time) {
      sql += " AND (r.start_time > ? OR (r.start_time = ? AND r.seq > ?))";
      params.emplace_back(*cursor.start_time);
      params.emplace_back(*cursor.start_time);
    } else {
      sql += " AND (r.start_time IS NOT NULL OR r.seq > ?)";
    }
  } else {
    if (cursor.start_time) {
      sql += " AND (r.start_time < ? OR (r.start_time = ? AND r.seq < ?) OR r.start_time IS NULL)";
      params.emplace_back(*cursor.start_time);
      params.emplace_back(*cursor.start_time);
    } else {
      sql += " AND (r.start_time IS NULL AND r.seq < ?)";
    }
  }
  params.emplace_back(cursor.seq);
}

// ---- projects ----

constexpr std::string_view kProjectColumns =
    "id, name, description, extra, reference_dataset_id, start_time, end_time, num_examples, "
    "num_repetitions, evaluator_keys";

Project projectRow(const Statement& s) {
  Project p;
  p.id = s.columnText(0);
  p.name = s.columnText(1);
  p.description = s.optionalText(2);
  if (!s.columnIsNull(3)) {
    boost::system::error_code ec;
    p.extra = json::parse(s.columnText(3), ec);
    if (ec) p.extra = nullptr;
  }
  p.reference_dataset_id = s.optionalText(4);
  p.start_time = s.columnInt64(5);
  p.end_time = s.optionalInt64(6);
  p.num_examples = s.optionalInt64(7);
  p.num_repetitions = s.optionalInt64(8);
  if (!s.columnIsNull(9)) {
    boost::system::error_code ec;
    p.evaluator_keys = json::parse(s.columnText(9), ec);
    if (ec) p.evaluator_keys = nullptr;
  }
  return p;
}

Result<std::optional<Project>> findProjectBy(Connection& c, std::int64_t ws,
                                             std::string_view column, const std::string& value) {
  const std::string sql =
      fmt::format("SELECT {} FROM sessions WHERE ws = ?1 AND {} = ?2", kProjectColumns, column);
  auto s = c.cached(sql);
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, value).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Project>();
  return std::optional<Project>(projectRow(**s));
}

Result<std::int64_t> insertProject(Connection& c, std::int64_t ws, const Project& p) {
  auto s = c.cached(
      "INSERT INTO sessions(ws, id, name, description, extra, reference_dataset_id, start_time, "
      "end_time, num_examples, num_repetitions, evaluator_keys) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!s) return std::move(s).error();
  (*s)->bindInt64(1, ws).bindText(2, p.id).bindText(3, p.name);
  (*s)->bindOptionalText(4, p.description);
  if (p.extra.is_null()) {
    (*s)->bindNull(5);
  } else {
    (*s)->bindText(5, json::serialize(p.extra));
  }
  (*s)->bindOptionalText(6, p.reference_dataset_id);
  (*s)->bindInt64(7, p.start_time);
  (*s)->bindOptionalInt64(8, p.end_time);
  (*s)->bindOptionalInt64(9, p.num_examples);
  (*s)->bindOptionalInt64(10, p.num_repetitions);
  if (p.evaluator_keys.is_null()) {
    (*s)->bindNull(11);
  } else {
    (*s)->bindText(11, json::serialize(p.evaluator_keys));
  }
  if (auto done = (*s)->run(); !done) {
    if (done.error().code != core::ErrorCode::kAlreadyExists) return done.error();
    auto same_name = findProjectBy(c, ws, "name", p.name);
    if (!same_name) return std::move(same_name).error();
    if (*same_name) {
      return Error::alreadyExists(
          fmt::format("a project named {} already exists", core::jsonString(p.name)));
    }
    return Error::alreadyExists(fmt::format("id: a project with the id {} already exists", p.id));
  }
  return c.lastInsertRowid();
}

// sessions.seq of the project `id` of workspace `ws`, or nullopt.
Result<std::optional<std::int64_t>> projectSeq(Connection& c, std::int64_t ws,
                                               const std::string& id) {
  auto s = c.cached("SELECT seq FROM sessions WHERE ws = ?1 AND id = ?2");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, id).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::int64_t>();
  const std::int64_t seq = (*s)->columnInt64(0);
  (*s)->reset();
  return std::optional<std::int64_t>(seq);
}

struct StatsAccumulator {
  ProjectStats stats;
  std::vector<double> latencies;

  void add(const Statement& s) {
    ++stats.run_count;
    if (s.columnText(0) == "error") ++stats.error_count;
    if (!s.columnIsNull(1)) latencies.push_back(s.columnDouble(1));
    if (!s.columnIsNull(2)) stats.prompt_tokens += s.columnInt64(2);
    if (!s.columnIsNull(3)) stats.completion_tokens += s.columnInt64(3);
    if (!s.columnIsNull(4)) stats.total_tokens += s.columnInt64(4);
    if (!s.columnIsNull(5)) stats.total_cost += s.columnDouble(5);
  }
  ProjectStats finish() {
    std::sort(latencies.begin(), latencies.end());
    stats.latency_p50 = percentile(latencies, 0.50);
    stats.latency_p95 = percentile(latencies, 0.95);
    stats.latency_p99 = percentile(latencies, 0.99);
    return stats;
  }
};

// ---- query planning: driving a query from a side table ----

// Without statistics SQLite answers "newest runs of a project matching X" by walking the project's
// runs newest first and testing X on each: fast when X is common, a scan of the whole project when
// X is rare. When X includes a side-table condition (a tag, a metadata pair, a full-text match)
// that names few runs, starting from those runs and sorting them is far cheaper. A capped count
// tells the two cases apart.
constexpr std::int64_t kDriveFromSideTableBelow = 5000;

struct Driver {
  std::string subquery;  // yields one column, `run` (runs.seq), without duplicates
  std::vector<query::SqlValue> params;
};

const query::Literal* literalArg(const query::Call& call, std::size_t index) {
  if (call.args.size() <= index) return nullptr;
  return std::get_if<query::Literal>(&call.args[index].value);
}

std::string_view fieldArg(const query::Call& call) {
  if (call.args.empty()) return {};
  const auto* field = std::get_if<query::Field>(&call.args[0].value);
  return field != nullptr ? std::string_view(field->name) : std::string_view();
}

const std::string* stringArg(const query::Call& call, std::size_t index) {
  const query::Literal* literal = literalArg(call, index);
  return literal != nullptr ? std::get_if<std::string>(&literal->value) : nullptr;
}

// Side-table conditions among the top-level conjuncts of `expr` (each a superset of the runs the
// whole filter can match, so driving from any of them is exact once the filter is applied).
std::vector<Driver> sideTableDrivers(const query::FilterExpr& expr, std::int64_t ws) {
  std::vector<Driver> drivers;
  if (!expr.root) return drivers;
  std::vector<const query::Call*> conjuncts;
  if (expr.root->function == query::Function::kAnd) {
    for (const query::Node& arg : expr.root->args) {
      if (const auto* call = std::get_if<query::Call>(&arg.value)) conjuncts.push_back(call);
    }
  } else {
    conjuncts.push_back(&*expr.root);
  }
  const std::string* metadata_key = nullptr;
  const std::string* metadata_value = nullptr;
  for (const query::Call* call : conjuncts) {
    const std::string_view field = fieldArg(*call);
    if (call->function == query::Function::kHas && field == "tags") {
      if (const std::string* tag = stringArg(*call, 1)) {
        drivers.push_back({"SELECT run FROM run_tags WHERE ws = ? AND tag = ?", {ws, *tag}});
      }
    } else if (call->function == query::Function::kSearch && call->args.size() == 1) {
      const std::string* text = stringArg(*call, 0);
      if (text != nullptr && !query::isBlankSearch(*text)) {
        drivers.push_back({"SELECT DISTINCT rowid >> 8 AS run FROM run_text WHERE run_text MATCH ?",
                           {query::ftsPhrase(*text)}});
      }
    } else if (call->function == query::Function::kExists && field == "metadata") {
      if (const std::string* key = stringArg(*call, 1)) {
        drivers.push_back(
            {"SELECT DISTINCT run FROM run_metadata WHERE ws = ? AND key = ?", {ws, *key}});
      }
    } else if (call->function == query::Function::kEq && field == "metadata_key") {
      metadata_key = stringArg(*call, 1);
    } else if (call->function == query::Function::kEq && field == "metadata_value") {
      metadata_value = stringArg(*call, 1);
    }
  }
  if (metadata_key != nullptr && metadata_value != nullptr) {
    drivers.push_back({"SELECT run FROM run_metadata WHERE ws = ? AND key = ? AND value = ?",
                       {ws, *metadata_key, *metadata_value}});
  } else if (metadata_key != nullptr) {
    drivers.push_back(
        {"SELECT DISTINCT run FROM run_metadata WHERE ws = ? AND key = ?", {ws, *metadata_key}});
  }
  return drivers;
}

// The driver naming the fewest runs, if it names fewer than kDriveFromSideTableBelow.
Result<std::optional<Driver>> pickDriver(Connection& c, std::vector<Driver> drivers) {
  std::optional<Driver> best;
  std::int64_t best_count = kDriveFromSideTableBelow;
  for (Driver& driver : drivers) {
    auto count = c.prepare(fmt::format("SELECT count(*) FROM ({} LIMIT {})", driver.subquery,
                                       kDriveFromSideTableBelow));
    if (!count) return std::move(count).error();
    count->bindAll(driver.params);
    auto row = count->step();
    if (!row) return std::move(row).error();
    const std::int64_t n = count->columnInt64(0);
    if (n < best_count) {
      best_count = n;
      best = std::move(driver);
    }
  }
  return best;
}

constexpr std::string_view kStatsColumns =
    "status, latency, prompt_tokens, completion_tokens, total_tokens, total_cost, start_time";

}  // namespace

// ---------------------------------------------------------------------------------------------

PreparedRun prepareRun(RunFields payload, std::string origin, const economics::PriceTable& prices) {
  PreparedRun prepared;
  RunFields fresh;
  fresh.id = payload.id;
  (void)mergeInto(fresh, payload);  // same id by construction
  deriveUsage(fresh);
  prepared.new_row = buildRunRow(std::move(fresh), prices);
  prepared.text = searchableText(payload);
  prepared.payload = std::move(payload);
  prepared.origin = std::move(origin);
  return prepared;
}

RunStore::RunStore(store::sqlite::SqliteDatabase& database,
                   std::shared_ptr<const economics::PriceTable> prices)
    : database_(database), prices_(std::move(prices)) {}

Result<RunStore::ProjectRef> RunStore::existingProject(Connection& c,
                                                       const std::string& workspace_id,
                                                       const std::string& id) {
  const Error missing = Error::notFound(fmt::format("no project has the id {}", id));
  auto ws = tenants_.lookup(c, workspace_id, false);
  if (!ws) return std::move(ws).error();
  if (!*ws) return missing;
  auto seq = projectSeq(c, **ws, id);
  if (!seq) return std::move(seq).error();
  if (!*seq) return missing;
  return ProjectRef{**ws, **seq};
}

Result<RunStore::LoadedProject> RunStore::loadProject(Connection& c,
                                                      const std::string& workspace_id,
                                                      const std::string& id) {
  const Error missing = Error::notFound(fmt::format("no project has the id {}", id));
  auto ws = tenants_.lookup(c, workspace_id, false);
  if (!ws) return std::move(ws).error();
  if (!*ws) return missing;
  auto found = findProjectBy(c, **ws, "id", id);
  if (!found) return std::move(found).error();
  if (!*found) return missing;
  return LoadedProject{**ws, std::move(**found)};
}

Result<std::int64_t> RunStore::projectForRun(Connection& connection, std::int64_t ws,
                                             const RunFields& payload, ProjectMemo& memo) {
  if (payload.session_id) {
    auto seq = projectSeq(connection, ws, *payload.session_id);
    if (!seq) return std::move(seq).error();
    if (!*seq) {
      return Error::notFound(fmt::format("session_id: no project has the id {}",
                                         core::jsonString(*payload.session_id)));
    }
    return **seq;
  }
  const std::string name =
      payload.session_name ? *payload.session_name : std::string(kDefaultProjectName);
  if (auto it = memo.find(name); it != memo.end()) return it->second;
  auto s = connection.cached("SELECT seq FROM sessions WHERE ws = ?1 AND name = ?2");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, name).step();
  if (!row) return std::move(row).error();
  std::int64_t seq = 0;
  if (*row) {
    seq = (*s)->columnInt64(0);
  } else {
    Project project;
    project.id = core::newUuidV7();
    project.name = name;
    project.start_time = payload.start_time.value_or(core::unixMicrosNow());
    auto inserted = insertProject(connection, ws, project);
    if (!inserted) return inserted;
    seq = *inserted;
  }
  // Valid for this job only: if the job fails, its whole transaction (projects included) is gone.
  memo.emplace(name, seq);
  return seq;
}

Status RunStore::storeOne(Connection& c, std::int64_t ws, const PreparedRun& run,
                          ProjectMemo& projects) {
  const bool names_project = run.payload.session_name || run.payload.session_id;
  // A new run: one insert. Most runs take this path (the SDK merges a fast run's post and patch
  // into one post before sending it).
  auto insert = c.cached(kInsertRun);
  if (!insert) return std::move(insert).error();
  std::optional<std::int64_t> session;
  if (names_project || run.payload.posted) {
    auto project = projectForRun(c, ws, run.payload, projects);
    if (!project) return std::move(project).error();
    session = *project;
  }
  bindRunRow(**insert, ws, session, run.new_row);
  if (auto done = (*insert)->run(); !done) return done;

  std::int64_t seq = 0;
  std::int64_t text_version = 0;
  std::vector<std::pair<std::string, std::string>> stale_metadata;
  const RunRow* row = &run.new_row;
  RunRow merged_row;
  if (c.changes() == 1) {
    seq = c.lastInsertRowid();
  } else {
    // The id exists: merge this payload into what is stored.
    auto select = c.cached(kSelectForMerge);
    if (!select) return std::move(select).error();
    auto found = (*select)->bindInt64(1, ws).bindText(2, run.payload.id).step();
    if (!found) return std::move(found).error();
    if (!*found) return Error::internal("a run vanished between insert and merge");
    auto stored = readStoredRun(**select, run.payload.id);
    if (!stored) return std::move(stored).error();
    (*select)->reset();
    seq = stored->seq;
    // A run stays in the project it was first stored in, whatever order its payloads arrive in
    // (a retried post naming another project does not move it).
    if (stored->session) session = stored->session;
    if (!session) {
      // A patch-first record gets its project once any payload names one, else the default.
      auto project = projectForRun(c, ws, run.payload, projects);
      if (!project) return std::move(project).error();
      session = *project;
    }
    std::vector<std::pair<std::string, std::string>> old_metadata = indexedMetadata(stored->fields);
    if (auto merged = mergeInto(stored->fields, run.payload); !merged) return merged;
    deriveUsage(stored->fields);
    merged_row = buildRunRow(std::move(stored->fields), *prices_);
    row = &merged_row;
    for (auto& pair : old_metadata) {
      if (std::find(merged_row.metadata.begin(), merged_row.metadata.end(), pair) ==
          merged_row.metadata.end()) {
        stale_metadata.push_back(std::move(pair));
      }
    }
    text_version = run.text.empty() ? stored->text_versions
                                    : std::min(stored->text_versions + 1, kTextVersions - 1);
    auto update = c.cached(kUpdateRun);
    if (!update) return std::move(update).error();
    bindRunRow(**update, ws, session, merged_row);
    (*update)->bindInt64(32, text_version).bindInt64(33, seq);
    if (auto done = (*update)->run(); !done) return done;
    // Past the last version slot, later text is not indexed (the run keeps what it has).
    if (stored->text_versions == text_version) text_version = -1;
  }

  if (row->fields.tags) {
    auto tag = c.cached("INSERT OR IGNORE INTO run_tags(ws, tag, run) VALUES (?1, ?2, ?3)");
    if (!tag) return std::move(tag).error();
    for (const std::string& t : *row->fields.tags) {
      if (auto done = (*tag)->bindInt64(1, ws).bindText(2, t).bindInt64(3, seq).run(); !done) {
        return done;
      }
      (*tag)->reset();
    }
  }
  if (!stale_metadata.empty()) {
    auto erase =
        c.cached("DELETE FROM run_metadata WHERE ws = ?1 AND key = ?2 AND value = ?3 AND run = ?4");
    if (!erase) return std::move(erase).error();
    for (const auto& [key, value] : stale_metadata) {
      (*erase)->bindInt64(1, ws).bindText(2, key).bindText(3, value).bindInt64(4, seq);
      if (auto done = (*erase)->run(); !done) return done;
      (*erase)->reset();
    }
  }
  if (!row->metadata.empty()) {
    auto meta =
        c.cached("INSERT OR IGNORE INTO run_metadata(ws, key, value, run) VALUES (?1, ?2, ?3, ?4)");
    if (!meta) return std::move(meta).error();
    for (const auto& [key, value] : row->metadata) {
      (*meta)->bindInt64(1, ws).bindText(2, key).bindText(3, value).bindInt64(4, seq);
      if (auto done = (*meta)->run(); !done) return done;
      (*meta)->reset();
    }
  }
  if (!run.text.empty() && text_version >= 0) {
    auto text = c.cached("INSERT INTO run_text(rowid, text) VALUES (?1, ?2)");
    if (!text) return std::move(text).error();
    (*text)->bindInt64(1, seq * kTextVersions + text_version).bindText(2, run.text);
    if (auto done = (*text)->run(); !done) return done;
  }
  return {};
}

asio::awaitable<Result<IngestOutcome>> RunStore::ingest(std::string workspace_id,
                                                        std::vector<PreparedRun> runs,
                                                        std::vector<Attachment> attachments) {
  auto shared_runs = std::make_shared<std::vector<PreparedRun>>(std::move(runs));
  auto shared_attachments = std::make_shared<std::vector<Attachment>>(std::move(attachments));
  std::function<Result<IngestOutcome>(Connection&)> job =
      [this, workspace_id, shared_runs,
       shared_attachments](Connection& c) -> Result<IngestOutcome> {
    auto ws = tenants_.lookup(c, workspace_id, true);
    if (!ws) return std::move(ws).error();
    if (!*ws) return Error::internal("workspace has no tenant number");
    IngestOutcome outcome;
    std::set<std::string> rejected_ids;
    ProjectMemo projects;
    // No savepoint per run (it would double the writer's cost): storeOne decides whether a run is
    // rejected (an unknown session_id) before it writes anything for that run, and any other
    // failure is the disk's or a bug, which fails the whole job and rolls it back.
    for (const PreparedRun& run : *shared_runs) {
      Status stored = storeOne(c, **ws, run, projects);
      if (stored) {
        ++outcome.stored;
        continue;
      }
      const core::ErrorCode code = stored.error().code;
      if (code != core::ErrorCode::kInvalidArgument && code != core::ErrorCode::kNotFound) {
        return stored.error();
      }
      c.resetCached();
      rejected_ids.insert(run.payload.id);
      outcome.rejected.push_back({run.origin, stored.error().message});
    }
    if (!shared_attachments->empty()) {
      auto s = c.cached(
          "INSERT OR REPLACE INTO run_attachments(ws, run_id, name, content_type, data) "
          "VALUES (?1, ?2, ?3, ?4, ?5)");
      if (!s) return std::move(s).error();
      for (const Attachment& a : *shared_attachments) {
        if (rejected_ids.contains(a.run_id)) continue;
        (*s)->bindInt64(1, **ws)
            .bindText(2, a.run_id)
            .bindText(3, a.name)
            .bindText(4, a.content_type);
        (*s)->bindBlob(5, a.data);
        if (auto done = (*s)->run(); !done) return done.error();
        (*s)->reset();
      }
    }
    return outcome;
  };
  auto result = co_await database_.write<IngestOutcome>(std::move(job));
  co_return result;
}

asio::awaitable<Result<std::string>> RunStore::getRun(std::string workspace_id, std::string run_id,
                                                      std::string base_url) {
  std::function<Result<std::string>(Connection&)> job =
      [this, workspace_id, run_id, base_url](Connection& c) -> Result<std::string> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    const Error missing = Error::notFound(fmt::format("no run has the id {}", run_id));
    if (!*ws) return missing;
    RunSelection all;
    all.serialized = true;
    const std::string sql = fmt::format(
        "SELECT {} FROM runs r LEFT JOIN sessions s ON s.seq = r.session "
        "WHERE r.ws = ?1 AND r.id = ?2",
        runColumns(all));
    auto s = c.cached(sql);
    if (!s) return std::move(s).error();
    auto row = (*s)->bindInt64(1, **ws).bindText(2, run_id).step();
    if (!row) return std::move(row).error();
    if (!*row) return missing;
    std::string out;
    if (auto rendered = renderRun(out, **s, workspace_id, all); !rendered) {
      return rendered.error();
    }
    (*s)->reset();
    // Attachments: LangSmith's shape, {"<name>": {"mime_type", "presigned_url"}}.
    auto a = c.cached(
        "SELECT name, content_type FROM run_attachments WHERE ws = ?1 AND run_id = ?2 "
        "ORDER BY name");
    if (!a) return std::move(a).error();
    (*a)->bindInt64(1, **ws).bindText(2, run_id);
    std::string attachments = "{";
    for (;;) {
      auto more = (*a)->step();
      if (!more) return std::move(more).error();
      if (!*more) break;
      if (attachments.size() > 1) attachments.push_back(',');
      const std::string name((*a)->columnText(0));
      core::appendJsonString(attachments, name);
      attachments += R"(:{"mime_type":)";
      core::appendJsonString(attachments, (*a)->columnText(1));
      attachments += R"(,"presigned_url":)";
      core::appendJsonString(
          attachments, fmt::format("{}/api/v1/runs/{}/attachments/{}", base_url, run_id, name));
      attachments.push_back('}');
    }
    attachments.push_back('}');
    out.pop_back();  // the closing brace of the run object
    out += ",\"attachments\":" + attachments + "}";
    return out;
  };
  auto result = co_await database_.read<std::string>(std::move(job));
  co_return result;
}

asio::awaitable<Result<std::optional<Attachment>>> RunStore::getAttachment(std::string workspace_id,
                                                                           std::string run_id,
                                                                           std::string name) {
  std::function<Result<std::optional<Attachment>>(Connection&)> job =
      [this, workspace_id, run_id, name](Connection& c) -> Result<std::optional<Attachment>> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return std::optional<Attachment>();
    auto s = c.cached(
        "SELECT content_type, data FROM run_attachments WHERE ws = ?1 AND run_id = ?2 AND "
        "name = ?3");
    if (!s) return std::move(s).error();
    auto row = (*s)->bindInt64(1, **ws).bindText(2, run_id).bindText(3, name).step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Attachment>();
    return std::optional<Attachment>(Attachment{run_id, name, std::string((*s)->columnText(0)),
                                                std::string((*s)->columnBlob(1))});
  };
  auto result = co_await database_.read<std::optional<Attachment>>(std::move(job));
  co_return result;
}

asio::awaitable<Result<RunPage>> RunStore::queryRuns(std::string workspace_id, RunQuery query,
                                                     std::string base_url) {
  (void)base_url;
  std::optional<Cursor> cursor;
  if (query.cursor && !query.cursor->empty()) {
    cursor = parseCursor(*query.cursor);
    if (!cursor) {
      co_return Error::invalidArgument("cursor: not a cursor this server returned");
    }
  }
  auto shared = std::make_shared<RunQuery>(std::move(query));
  std::function<Result<RunPage>(Connection&)> job = [this, workspace_id, shared,
                                                     cursor](Connection& c) -> Result<RunPage> {
    const RunQuery& q = *shared;
    RunPage page;
    auto ws_found = tenants_.lookup(c, workspace_id, false);
    if (!ws_found) return std::move(ws_found).error();
    if (!*ws_found) return page;
    const std::int64_t ws = **ws_found;

    auto driver = pickDriver(c, sideTableDrivers(q.filter, ws));
    if (!driver) return std::move(driver).error();
    std::string sql;
    std::vector<query::SqlValue> params;
    if (*driver) {
      // CROSS JOIN makes SQLite keep this join order: the driver's few runs first.
      sql = fmt::format(
          "SELECT {} FROM ({}) d CROSS JOIN runs r ON r.seq = d.run "
          "LEFT JOIN sessions s ON s.seq = r.session WHERE r.ws = ?",
          runColumns(q.select), (*driver)->subquery);
      params = std::move((*driver)->params);
    } else {
      sql = fmt::format(
          "SELECT {} FROM runs r LEFT JOIN sessions s ON s.seq = r.session WHERE r.ws = ?",
          runColumns(q.select));
    }
    params.emplace_back(ws);

    if (!q.session_ids.empty()) {
      std::vector<std::int64_t> seqs;
      for (const std::string& id : q.session_ids) {
        auto seq = projectSeq(c, ws, id);
        if (!seq) return std::move(seq).error();
        if (*seq) seqs.push_back(**seq);
      }
      if (seqs.empty()) return page;
      if (seqs.size() == 1) {
        sql += " AND r.session = ?";  // an equality plans better than a one-element IN
        params.emplace_back(seqs.front());
      } else {
        appendIn(sql, params, "r.session", seqs);
      }
    }
    if (q.is_root) {
      sql += " AND r.is_root = ?";
      params.emplace_back(std::int64_t{*q.is_root ? 1 : 0});
    }
    const auto equals = [&](std::string_view column, const std::optional<std::string>& value) {
      if (!value) return;
      sql += fmt::format(" AND r.{} = ?", column);
      params.emplace_back(*value);
    };
    equals("run_type", q.run_type);
    equals("trace_id", q.trace_id);
    equals("parent_run_id", q.parent_run_id);
    equals("reference_example_id", q.reference_example_id);
    equals("thread_id", q.thread_id);
    if (q.has_error) sql += *q.has_error ? " AND r.status = 'error'" : " AND r.status <> 'error'";
    if (!q.ids.empty()) appendIn(sql, params, "r.id", q.ids);
    if (q.start_time_from) {
      sql += " AND r.start_time >= ?";
      params.emplace_back(*q.start_time_from);
    }
    const auto addFilter = [&](const query::FilterExpr& expr, std::string_view alias,
                               std::string_view before, std::string_view after) -> Status {
      if (!expr.root) return {};
      auto compiled = query::compileFilter(expr, alias, ws);
      if (!compiled) return compiled.error();
      sql += before;
      sql += compiled->sql;
      sql += after;
      for (auto& p : compiled->params) params.push_back(std::move(p));
      return {};
    };
    if (auto st = addFilter(q.filter, "r", " AND (", ")"); !st) return st.error();
    // trace_filter: the candidate's root run matches. The root is found as the trace's run
    // without a parent, not by id: only LangSmith makes the root's id the trace id (an OTLP root
    // span's id is not).
    if (auto st = addFilter(q.trace_filter, "t",
                            " AND EXISTS (SELECT 1 FROM runs t WHERE t.ws = r.ws AND "
                            "t.trace_id = r.trace_id AND t.is_root = 1 AND (",
                            "))");
        !st) {
      return st.error();
    }
    // tree_filter: any run of the candidate's trace matches.
    if (auto st = addFilter(q.tree_filter, "t",
                            " AND EXISTS (SELECT 1 FROM runs t WHERE t.ws = r.ws AND "
                            "t.trace_id = r.trace_id AND (",
                            "))");
        !st) {
      return st.error();
    }
    const char* direction = q.ascending ? "ASC" : "DESC";
    if (cursor) appendAfterCursor(sql, params, *cursor, q.ascending);
    sql += fmt::format(" ORDER BY r.start_time {0}, r.seq {0} LIMIT ?", direction);
    params.emplace_back(static_cast<std::int64_t>(q.limit + 1));

    auto s = c.prepare(sql);
    if (!s) return std::move(s).error();
    s->bindAll(params);
    std::optional<Cursor> last;
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      if (page.runs.size() >= q.limit && last) {
        page.next_cursor = formatCursor(*last);
        break;
      }
      std::string out;
      if (auto rendered = renderRun(out, *s, workspace_id, q.select); !rendered) {
        return rendered.error();
      }
      page.runs.push_back(std::move(out));
      last = Cursor{
          s->columnIsNull(kStartTime) ? std::nullopt : std::optional(s->columnInt64(kStartTime)),
          s->columnInt64(kSeq)};
    }
    return page;
  };
  auto result = co_await database_.read<RunPage>(std::move(job));
  co_return result;
}

asio::awaitable<Result<std::vector<TraceRun>>> RunStore::traceRuns(std::string workspace_id,
                                                                   std::string trace_id) {
  std::function<Result<std::vector<TraceRun>>(Connection&)> job =
      [this, workspace_id, trace_id](Connection& c) -> Result<std::vector<TraceRun>> {
    const Error missing = Error::notFound(fmt::format("no trace has the id {}", trace_id));
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return missing;
    RunSelection select;
    const std::string sql = fmt::format(
        "SELECT {} FROM runs r LEFT JOIN sessions s ON s.seq = r.session "
        "WHERE r.ws = ?1 AND r.trace_id = ?2 ORDER BY r.dotted_order, r.seq",
        runColumns(select));
    auto s = c.cached(sql);
    if (!s) return std::move(s).error();
    (*s)->bindInt64(1, **ws).bindText(2, trace_id);
    std::vector<TraceRun> runs;
    for (;;) {
      auto row = (*s)->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      TraceRun run;
      if (auto rendered = renderRun(run.json, **s, workspace_id, select); !rendered) {
        return rendered.error();
      }
      run.id = (*s)->columnText(kId);
      run.parent_run_id = (*s)->optionalText(kParentRunId);
      runs.push_back(std::move(run));
    }
    if (runs.empty()) return missing;
    return runs;
  };
  auto result = co_await database_.read<std::vector<TraceRun>>(std::move(job));
  co_return result;
}

asio::awaitable<Result<Project>> RunStore::createProject(std::string workspace_id, Project project,
                                                         bool upsert) {
  std::function<Result<Project>(Connection&)> job = [this, workspace_id, project,
                                                     upsert](Connection& c) -> Result<Project> {
    auto ws = tenants_.lookup(c, workspace_id, true);
    if (!ws) return std::move(ws).error();
    if (!*ws) return Error::internal("workspace has no tenant number");
    if (upsert) {
      auto existing = findProjectBy(c, **ws, "name", project.name);
      if (!existing) return std::move(existing).error();
      if (*existing) return **existing;
    }
    auto inserted = insertProject(c, **ws, project);
    if (!inserted) return std::move(inserted).error();
    return project;
  };
  auto result = co_await database_.write<Project>(std::move(job));
  co_return result;
}

asio::awaitable<Result<std::vector<Project>>> RunStore::listProjects(std::string workspace_id,
                                                                     ProjectListQuery query) {
  std::function<Result<std::vector<Project>>(Connection&)> job =
      [this, workspace_id, query](Connection& c) -> Result<std::vector<Project>> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    std::vector<Project> out;
    if (!*ws) return out;
    Sql sql;
    sql.add(fmt::format("SELECT {} FROM sessions WHERE ws = ?", kProjectColumns))
        .bind(**ws)
        .andIn("id", query.ids)
        .andEqual("name", query.name)
        .andContains("name", query.name_contains)
        .andEqual("reference_dataset_id", query.reference_dataset_id)
        .add(" ORDER BY start_time DESC, seq DESC")
        .page(query.limit, query.offset);
    auto walked = eachRow(c, sql, [&](const Statement& row) { out.push_back(projectRow(row)); });
    if (!walked) return walked.error();
    return out;
  };
  auto result = co_await database_.read<std::vector<Project>>(std::move(job));
  co_return result;
}

asio::awaitable<Result<Project>> RunStore::getProject(std::string workspace_id, std::string id) {
  std::function<Result<Project>(Connection&)> job = [this, workspace_id,
                                                     id](Connection& c) -> Result<Project> {
    auto loaded = loadProject(c, workspace_id, id);
    if (!loaded) return std::move(loaded).error();
    return std::move(loaded->project);
  };
  auto result = co_await database_.read<Project>(std::move(job));
  co_return result;
}

asio::awaitable<Result<Project>> RunStore::updateProject(std::string workspace_id, std::string id,
                                                         ProjectUpdate update) {
  std::function<Result<Project>(Connection&)> job = [this, workspace_id, id,
                                                     update](Connection& c) -> Result<Project> {
    auto loaded = loadProject(c, workspace_id, id);
    if (!loaded) return std::move(loaded).error();
    const std::int64_t ws = loaded->ws;
    Project p = std::move(loaded->project);
    if (update.name) p.name = *update.name;
    if (update.description) p.description = *update.description;
    if (update.extra) p.extra = *update.extra;
    if (update.end_time) p.end_time = *update.end_time;
    auto s = c.cached(
        "UPDATE sessions SET name = ?3, description = ?4, extra = ?5, end_time = ?6 "
        "WHERE ws = ?1 AND id = ?2");
    if (!s) return std::move(s).error();
    (*s)->bindInt64(1, ws).bindText(2, id).bindText(3, p.name);
    (*s)->bindOptionalText(4, p.description);
    if (p.extra.is_null()) {
      (*s)->bindNull(5);
    } else {
      (*s)->bindText(5, json::serialize(p.extra));
    }
    (*s)->bindOptionalInt64(6, p.end_time);
    if (auto done = (*s)->run(); !done) {
      if (done.error().code == core::ErrorCode::kAlreadyExists) {
        return Error::alreadyExists(
            fmt::format("a project named {} already exists", core::jsonString(p.name)));
      }
      return done.error();
    }
    return p;
  };
  auto result = co_await database_.write<Project>(std::move(job));
  co_return result;
}

asio::awaitable<Status> RunStore::deleteProject(std::string workspace_id, std::string id) {
  std::function<Result<bool>(Connection&)> job = [this, workspace_id,
                                                  id](Connection& c) -> Result<bool> {
    auto project = existingProject(c, workspace_id, id);
    if (!project) return std::move(project).error();
    const std::int64_t ws = project->ws;
    const std::int64_t session = project->seq;
    // Feedback goes with the project: what names it, and what is on its runs.
    constexpr std::string_view kDeletes[] = {
        "DELETE FROM feedback WHERE ws = ?1 AND (session_id = (SELECT id FROM sessions WHERE seq = "
        "?2) OR run_id IN (SELECT id FROM runs WHERE session = ?2))",
        "DELETE FROM run_tags WHERE ws = ?1 AND run IN (SELECT seq FROM runs WHERE session = ?2)",
        "DELETE FROM run_metadata WHERE ws = ?1 AND run IN "
        "(SELECT seq FROM runs WHERE session = ?2)",
        "DELETE FROM run_attachments WHERE ws = ?1 AND run_id IN "
        "(SELECT id FROM runs WHERE session = ?2)",
        "DELETE FROM runs WHERE ws = ?1 AND session = ?2",
        "DELETE FROM sessions WHERE ws = ?1 AND seq = ?2",
    };
    for (std::string_view sql : kDeletes) {
      auto s = c.prepare(sql);
      if (!s) return std::move(s).error();
      if (auto done = s->bindInt64(1, ws).bindInt64(2, session).run(); !done) {
        return done.error();
      }
    }
    return true;
  };
  auto result = co_await database_.write<bool>(std::move(job));
  if (!result) co_return result.error();
  co_return Status{};
}

asio::awaitable<Result<ProjectStats>> RunStore::projectStats(std::string workspace_id,
                                                             std::string project_id) {
  StatsQuery everything{std::numeric_limits<std::int64_t>::min(),
                        std::numeric_limits<std::int64_t>::max(), 0};
  auto result =
      co_await projectStatsOverTime(std::move(workspace_id), std::move(project_id), everything);
  if (!result) co_return std::move(result).error();
  co_return result->total;
}

asio::awaitable<Result<StatsResult>> RunStore::projectStatsOverTime(std::string workspace_id,
                                                                    std::string project_id,
                                                                    StatsQuery query) {
  std::function<Result<StatsResult>(Connection&)> job =
      [this, workspace_id, project_id, query](Connection& c) -> Result<StatsResult> {
    auto project = existingProject(c, workspace_id, project_id);
    if (!project) return std::move(project).error();
    const std::int64_t session = project->seq;
    auto s = c.cached(fmt::format(
        "SELECT {} FROM runs WHERE session = ?1 AND start_time >= ?2 AND start_time < ?3",
        kStatsColumns));
    if (!s) return std::move(s).error();
    (*s)->bindInt64(1, session).bindInt64(2, query.from).bindInt64(3, query.to);
    StatsAccumulator total;
    std::map<std::int64_t, StatsAccumulator> buckets;
    for (;;) {
      auto row = (*s)->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      total.add(**s);
      if (query.interval > 0) {
        const std::int64_t start = (*s)->columnInt64(6);
        const std::int64_t index = (start - query.from) / query.interval;
        buckets[query.from + index * query.interval].add(**s);
      }
    }
    StatsResult result;
    result.total = total.finish();
    if (query.interval > 0) {
      for (std::int64_t at = query.from; at < query.to; at += query.interval) {
        auto it = buckets.find(at);
        result.buckets.push_back({at, it == buckets.end() ? ProjectStats{} : it->second.finish()});
      }
    }
    return result;
  };
  auto result = co_await database_.read<StatsResult>(std::move(job));
  co_return result;
}

}  // namespace pharos::tracing
