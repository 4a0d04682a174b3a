#include "tracing/store/feedback_store.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <functional>

#include "core/time.h"
#include "store/sqlite/statement_helpers.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using core::Status;
using store::sqlite::bindJsonOrNull;
using store::sqlite::Connection;
using store::sqlite::eachRow;
using store::sqlite::Sql;
using store::sqlite::Statement;

// Every read selects these, in this order (readFeedback): the row joined to its run, if stored,
// and the run's project.
constexpr std::string_view kSelect =
    "SELECT f.id, f.run_id, coalesce(f.trace_id, r.trace_id), coalesce(f.session_id, s.id), "
    "f.key, f.score, f.value, f.comment, f.correction, f.feedback_source, f.extra, "
    "f.feedback_config, f.source_type, f.source_run_id, f.comparative_experiment_id, "
    "f.created_at, coalesce(f.modified_at, f.created_at), f.start_time "
    "FROM feedback f LEFT JOIN runs r ON r.ws = f.ws AND r.id = f.run_id "
    "LEFT JOIN sessions s ON s.seq = r.session "
    "WHERE f.ws = ?";

// A stored JSON column; text that somehow is not JSON comes back as a string rather than lost.
json::value jsonColumn(const Statement& s, int column) {
  if (s.columnIsNull(column)) return nullptr;
  const std::string_view text = s.columnText(column);
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec) return json::string(text);
  return parsed;
}

Feedback readFeedback(const Statement& s) {
  Feedback f;
  f.id = std::string(s.columnText(0));
  f.run_id = s.optionalText(1);
  f.trace_id = s.optionalText(2);
  f.session_id = s.optionalText(3);
  f.key = std::string(s.columnText(4));
  f.score = s.optionalDouble(5);
  f.value = jsonColumn(s, 6);
  f.comment = s.optionalText(7);
  f.correction = jsonColumn(s, 8);
  f.feedback_source = jsonColumn(s, 9);
  f.extra = jsonColumn(s, 10);
  f.feedback_config = jsonColumn(s, 11);
  f.source_type = s.optionalText(12);
  f.source_run_id = s.optionalText(13);
  f.comparative_experiment_id = s.optionalText(14);
  f.created_at = s.columnInt64(15);
  f.modified_at = s.columnInt64(16);
  f.start_time = s.optionalInt64(17);
  return f;
}

Error missing(std::string_view id) {
  return Error::notFound(fmt::format("no feedback has the id {}", id));
}

// The feedback `id` of tenant `ws` as a read returns it, or nullopt.
Result<std::optional<Feedback>> selectOne(Connection& c, std::int64_t ws, std::string_view id) {
  auto s = c.cached(std::string(kSelect) + " AND f.id = ?");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, id).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Feedback>();
  Feedback f = readFeedback(**s);
  (*s)->reset();
  return std::optional<Feedback>(std::move(f));
}

Status insertFeedback(Connection& c, std::int64_t ws, const Feedback& f) {
  auto s = c.cached(
      "INSERT INTO feedback(ws, id, run_id, trace_id, session_id, key, score, value, comment, "
      "correction, feedback_source, created_at, modified_at, extra, source_type, source_run_id, "
      "start_time, comparative_experiment_id, feedback_config) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
      "?19)");
  if (!s) return std::move(s).error();
  Statement& st = **s;
  st.bindInt64(1, ws).bindText(2, f.id);
  st.bindOptionalText(3, f.run_id);
  st.bindOptionalText(4, f.trace_id);
  st.bindOptionalText(5, f.session_id);
  st.bindText(6, f.key);
  st.bindOptionalDouble(7, f.score);
  bindJsonOrNull(st, 8, f.value);
  st.bindOptionalText(9, f.comment);
  bindJsonOrNull(st, 10, f.correction);
  bindJsonOrNull(st, 11, f.feedback_source);
  st.bindInt64(12, f.created_at).bindInt64(13, f.modified_at);
  bindJsonOrNull(st, 14, f.extra);
  st.bindOptionalText(15, f.source_type);
  st.bindOptionalText(16, f.source_run_id);
  st.bindOptionalInt64(17, f.start_time);
  st.bindOptionalText(18, f.comparative_experiment_id);
  bindJsonOrNull(st, 19, f.feedback_config);
  if (auto done = st.run(); !done) {
    if (done.error().code == core::ErrorCode::kAlreadyExists) {
      return Error::alreadyExists(fmt::format("feedback with the id {} already exists", f.id));
    }
    return done;
  }
  return Status{};
}

}  // namespace

Result<FeedbackStats> feedbackStatsForProject(Connection& c, std::int64_t ws,
                                              std::string_view project_id) {
  // Two index-driven halves (by session_id; by the project's runs), the second skipping rows the
  // first already counted.
  auto s = c.cached(
      "SELECT key, score, value, json_type(extra, '$.error') IS 'true' FROM feedback "
      "WHERE ws = ?1 AND session_id = ?2 "
      "UNION ALL "
      "SELECT f.key, f.score, f.value, json_type(f.extra, '$.error') IS 'true' "
      "FROM sessions s JOIN runs r ON r.session = s.seq "
      "JOIN feedback f ON f.ws = r.ws AND f.run_id = r.id "
      "WHERE s.ws = ?1 AND s.id = ?2 AND f.session_id IS NOT ?2");
  if (!s) return std::move(s).error();
  (*s)->bindInt64(1, ws).bindText(2, project_id);
  FeedbackStatsAccumulator stats;
  auto walked = eachRow(**s, [&](const Statement& st) {
    std::optional<std::string_view> value;
    if (!st.columnIsNull(2)) value = st.columnText(2);
    stats.add(st.columnText(0), st.optionalDouble(1), value, st.columnInt64(3) != 0);
  });
  if (!walked) return walked.error();
  return std::move(stats).finish();
}

asio::awaitable<Result<Feedback>> FeedbackStore::create(std::string workspace_id,
                                                        Feedback feedback) {
  std::function<Result<Feedback>(Connection&)> job = [this, workspace_id,
                                                      feedback](Connection& c) -> Result<Feedback> {
    auto ws = tenants_.lookup(c, workspace_id, true);
    if (!ws) return std::move(ws).error();
    if (!*ws) return Error::internal("workspace has no tenant number");
    if (auto inserted = insertFeedback(c, **ws, feedback); !inserted) return inserted.error();
    auto stored = selectOne(c, **ws, feedback.id);
    if (!stored) return std::move(stored).error();
    if (!*stored) return Error::internal("feedback vanished right after its insert");
    return std::move(**stored);
  };
  auto pending = database_.write<Feedback>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<Feedback>> FeedbackStore::get(std::string workspace_id, std::string id) {
  std::function<Result<Feedback>(Connection&)> job = [this, workspace_id,
                                                      id](Connection& c) -> Result<Feedback> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return missing(id);
    auto found = selectOne(c, **ws, id);
    if (!found) return std::move(found).error();
    if (!*found) return missing(id);
    return std::move(**found);
  };
  auto pending = database_.read<Feedback>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<Feedback>> FeedbackStore::update(std::string workspace_id, std::string id,
                                                        FeedbackUpdate update) {
  std::function<Result<Feedback>(Connection&)> job = [this, workspace_id, id,
                                                      update](Connection& c) -> Result<Feedback> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return missing(id);
    // Each member is set only when given: ?n IS NULL distinguishes "keep" from a value, so the
    // flags ?3.. say which members the update carries.
    auto s = c.cached(
        "UPDATE feedback SET "
        "score = CASE WHEN ?3 THEN ?4 ELSE score END, "
        "value = CASE WHEN ?5 THEN ?6 ELSE value END, "
        "correction = CASE WHEN ?7 THEN ?8 ELSE correction END, "
        "comment = CASE WHEN ?9 THEN ?10 ELSE comment END, "
        "modified_at = ?11 "
        "WHERE ws = ?1 AND id = ?2");
    if (!s) return std::move(s).error();
    Statement& st = **s;
    st.bindInt64(1, **ws).bindText(2, id);
    st.bindInt64(3, update.score ? 1 : 0);
    if (update.score) {
      st.bindDouble(4, *update.score);
    } else {
      st.bindNull(4);
    }
    st.bindInt64(5, update.value ? 1 : 0);
    bindJsonOrNull(st, 6, update.value ? *update.value : json::value());
    st.bindInt64(7, update.correction ? 1 : 0);
    bindJsonOrNull(st, 8, update.correction ? *update.correction : json::value());
    st.bindInt64(9, update.comment ? 1 : 0);
    st.bindOptionalText(10, update.comment);
    st.bindInt64(11, core::unixMicrosNow());
    if (auto done = st.run(); !done) return done.error();
    if (c.changes() == 0) return missing(id);
    auto found = selectOne(c, **ws, id);
    if (!found) return std::move(found).error();
    if (!*found) return missing(id);
    return std::move(**found);
  };
  auto pending = database_.write<Feedback>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Status> FeedbackStore::remove(std::string workspace_id, std::string id) {
  std::function<Result<bool>(Connection&)> job = [this, workspace_id,
                                                  id](Connection& c) -> Result<bool> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return missing(id);
    auto s = c.cached("DELETE FROM feedback WHERE ws = ?1 AND id = ?2");
    if (!s) return std::move(s).error();
    if (auto done = (*s)->bindInt64(1, **ws).bindText(2, id).run(); !done) return done.error();
    if (c.changes() == 0) return missing(id);
    return true;
  };
  auto pending = database_.write<bool>(std::move(job));
  auto result = co_await std::move(pending);
  if (!result) co_return result.error();
  co_return Status{};
}

asio::awaitable<Result<std::vector<Feedback>>> FeedbackStore::list(std::string workspace_id,
                                                                   FeedbackQuery query) {
  std::function<Result<std::vector<Feedback>>(Connection&)> job =
      [this, workspace_id, query](Connection& c) -> Result<std::vector<Feedback>> {
    std::vector<Feedback> out;
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return out;
    Sql sql;
    sql.add(kSelect)
        .bind(**ws)
        .andIn("f.run_id", query.run_ids)
        .andIn("f.key", query.keys)
        .andIn("f.source_type", query.source_types);
    if (!query.session_ids.empty()) {
      sql.add(" AND (f.session_id IN ").in(query.session_ids);
      sql.add(" OR s.id IN ").in(query.session_ids).add(")");
    }
    if (query.has_score) {
      sql.add(*query.has_score ? " AND f.score IS NOT NULL" : " AND f.score IS NULL");
    }
    sql.add(" ORDER BY f.created_at, f.seq").page(query.limit, query.offset);
    auto walked = eachRow(c, sql, [&](const Statement& row) { out.push_back(readFeedback(row)); });
    if (!walked) return walked.error();
    return out;
  };
  auto pending = database_.read<std::vector<Feedback>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

}  // namespace pharos::tracing
