#include "run_rows.h"

#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>

#include "core/ids.h"
#include "store/sqlite/migrations.h"

namespace pharos::bench {

using core::Error;
using core::Result;
using core::Status;
using store::sqlite::Connection;
using store::sqlite::Statement;

namespace {

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string tagsJson(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (std::size_t i = 0; i < tags.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += "\"" + tags[i] + "\"";  // generated tags need no escaping
  }
  out += "]";
  return out;
}

constexpr std::string_view kFigureSources =
    R"({"prompt_tokens":"reported","completion_tokens":"reported","total_tokens":"reported"})";

}  // namespace

Result<std::unique_ptr<Connection>> openPharosDb(const std::filesystem::path& path) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
  }
  auto db = Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             std::chrono::milliseconds(5000));
  if (!db) return std::move(db).error();
  if (auto wal = (*db)->exec("PRAGMA journal_mode = WAL"); !wal) return std::move(wal).error();
  if (auto set = (*db)->exec("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL"); !set) {
    return std::move(set).error();
  }
  if (auto migrated = store::sqlite::applyMigrations(**db, store::sqlite::pharosMigrations());
      !migrated) {
    return std::move(migrated).error();
  }
  return std::move(db).value();
}

Result<Project> ensureProject(Connection& db, const std::string& workspace,
                              const std::string& session_name) {
  if (auto begun = db.exec("BEGIN IMMEDIATE"); !begun) return std::move(begun).error();
  auto body = [&]() -> Result<Project> {
    Project project;
    auto insert_ws =
        db.prepare("INSERT OR IGNORE INTO workspaces(id, name, created_at) VALUES (?1, ?2, ?3)");
    if (!insert_ws) return std::move(insert_ws).error();
    if (auto done = insert_ws->bindText(1, core::newUuidV7())
                        .bindText(2, workspace)
                        .bindInt64(3, nowMicros())
                        .run();
        !done) {
      return std::move(done).error();
    }
    auto find_ws = db.prepare("SELECT id FROM workspaces WHERE name = ?1");
    if (!find_ws) return std::move(find_ws).error();
    find_ws->bindText(1, workspace);
    if (auto row = find_ws->step(); !row || !*row) {
      return Error::internal("workspace " + workspace + " not found after insert");
    }
    project.workspace_id = std::string(find_ws->columnText(0));

    auto find_tenant = db.prepare("SELECT ws FROM tenants WHERE workspace_id = ?1");
    if (!find_tenant) return std::move(find_tenant).error();
    find_tenant->bindText(1, project.workspace_id);
    auto row = find_tenant->step();
    if (!row) return std::move(row).error();
    if (*row) {
      project.ws = find_tenant->columnInt64(0);
    } else {
      auto insert = db.prepare(
          "INSERT INTO tenants(ws, workspace_id) "
          "VALUES ((SELECT coalesce(max(ws), 0) + 1 FROM tenants), ?1)");
      if (!insert) return std::move(insert).error();
      if (auto done = insert->bindText(1, project.workspace_id).run(); !done) {
        return std::move(done).error();
      }
      project.ws = db.lastInsertRowid();
    }

    auto find_session = db.prepare("SELECT seq, id FROM sessions WHERE ws = ?1 AND name = ?2");
    if (!find_session) return std::move(find_session).error();
    find_session->bindInt64(1, project.ws).bindText(2, session_name);
    auto srow = find_session->step();
    if (!srow) return std::move(srow).error();
    if (*srow) {
      project.session = find_session->columnInt64(0);
      project.session_id = std::string(find_session->columnText(1));
    } else {
      project.session_id = core::newUuidV7();
      auto insert = db.prepare(
          "INSERT INTO sessions(ws, id, name, extra, start_time) VALUES (?1, ?2, ?3, '{}', ?4)");
      if (!insert) return std::move(insert).error();
      if (auto done = insert->bindInt64(1, project.ws)
                          .bindText(2, project.session_id)
                          .bindText(3, session_name)
                          .bindInt64(4, nowMicros())
                          .run();
          !done) {
        return std::move(done).error();
      }
      project.session = db.lastInsertRowid();
    }
    return project;
  };
  auto result = body();
  if (!result) {
    (void)db.exec("ROLLBACK");
    return result;
  }
  if (auto committed = db.exec("COMMIT"); !committed) return std::move(committed).error();
  return result;
}

Result<RunInserter> RunInserter::create(Connection& db, InsertOptions options) {
  RunInserter inserter;
  inserter.db_ = &db;
  inserter.options_ = options;
  auto prepare = [&](Statement*& into, std::string_view sql) -> Status {
    auto statement = db.cached(sql);
    if (!statement) return std::move(statement).error();
    into = *statement;
    return {};
  };
  if (auto ok =
          prepare(inserter.run_,
                  "INSERT INTO runs(ws, id, session, trace_id, parent_run_id, dotted_order, "
                  "name, run_type, status, start_time, end_time, latency, error, is_root, "
                  "reference_example_id, thread_id, model, prompt_tokens, completion_tokens, "
                  "total_tokens, prompt_cost, completion_cost, total_cost, figure_sources, "
                  "tags, inputs, outputs, events, extra, serialized, posted) "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                  "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, "
                  "1) ON CONFLICT (ws, id) DO NOTHING");
      !ok) {
    return std::move(ok).error();
  }
  if (auto ok = prepare(inserter.tag_,
                        "INSERT OR IGNORE INTO run_tags(ws, tag, run) VALUES (?1, ?2, ?3)");
      !ok) {
    return std::move(ok).error();
  }
  if (auto ok = prepare(
          inserter.metadata_,
          "INSERT OR IGNORE INTO run_metadata(ws, key, value, run) VALUES (?1, ?2, ?3, ?4)");
      !ok) {
    return std::move(ok).error();
  }
  if (auto ok = prepare(inserter.text_, "INSERT INTO run_text(rowid, text) VALUES (?1, ?2)"); !ok) {
    return std::move(ok).error();
  }
  return inserter;
}

Status RunInserter::insert(std::span<const GenRun> runs, const Project& project) {
  for (const GenRun& r : runs) {
    if (options_.savepoint) {
      if (auto begun = db_->exec("SAVEPOINT run"); !begun) return begun;
    }
    Statement& s = *run_;
    s.clear();
    s.bindInt64(1, project.ws)
        .bindText(2, r.id)
        .bindInt64(3, project.session)
        .bindText(4, r.trace_id)
        .bindText(6, r.dotted_order)
        .bindText(7, r.name)
        .bindText(8, r.run_type)
        .bindText(9, r.status)
        .bindInt64(10, r.start_us)
        .bindInt64(11, r.endMicros())
        .bindDouble(12, r.latency)
        .bindInt64(14, r.is_root ? 1 : 0)
        .bindText(26, r.inputs)
        .bindText(29, r.extra)
        .bindText(30, r.serialized);
    if (!r.parent_run_id.empty()) s.bindText(5, r.parent_run_id);
    if (!r.error.empty()) s.bindText(13, r.error);
    if (!r.thread_id.empty()) s.bindText(16, r.thread_id);
    if (!r.model.empty()) s.bindText(17, r.model);
    if (r.total_tokens >= 0) {
      s.bindInt64(18, r.prompt_tokens)
          .bindInt64(19, r.completion_tokens)
          .bindInt64(20, r.total_tokens)
          .bindDouble(21, static_cast<double>(r.prompt_tokens) * 0.15e-6)
          .bindDouble(22, static_cast<double>(r.completion_tokens) * 0.6e-6)
          .bindDouble(23, static_cast<double>(r.prompt_tokens) * 0.15e-6 +
                              static_cast<double>(r.completion_tokens) * 0.6e-6)
          .bindText(24, kFigureSources);
    }
    if (!r.tags.empty()) s.bindText(25, tagsJson(r.tags));
    if (!r.outputs.empty()) s.bindText(27, r.outputs);
    if (auto done = s.run(); !done) return done;
    if (db_->changes() != 1) return Error::alreadyExists(fmt::format("run {} exists", r.id));
    const std::int64_t seq = db_->lastInsertRowid();

    for (const std::string& tag : r.tags) {
      if (!options_.tags) break;
      tag_->clear();
      if (auto done = tag_->bindInt64(1, project.ws).bindText(2, tag).bindInt64(3, seq).run();
          !done) {
        return done;
      }
    }
    for (const auto& [key, value] : r.metadata) {
      if (!options_.metadata) break;
      metadata_->clear();
      if (auto done = metadata_->bindInt64(1, project.ws)
                          .bindText(2, key)
                          .bindText(3, value)
                          .bindInt64(4, seq)
                          .run();
          !done) {
        return done;
      }
    }
    if (options_.text) {
      text_->clear();
      if (auto done = text_->bindInt64(1, seq * 256).bindText(2, r.text).run(); !done) return done;
    }
    if (options_.savepoint) {
      if (auto released = db_->exec("RELEASE run"); !released) return released;
    }
  }
  return {};
}

}  // namespace pharos::bench
