#include "store/sqlite/migrations.h"

#include <fmt/format.h>

#include <cstdint>

#include "core/log.h"
#include "core/time.h"
#include "store/sqlite/database.h"

namespace pharos::store::sqlite {
namespace {

constexpr Migration kMigrations[] = {
    {1, "workspaces, api keys, health probe", R"sql(
CREATE TABLE workspaces (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  secret_sha256 BLOB NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX api_keys_workspace_id ON api_keys(workspace_id);
CREATE TABLE health_probe (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  probed_at INTEGER NOT NULL
);
)sql"},
    {2, "tracing: projects, runs, tags, metadata, full-text, attachments, feedback", R"sql(
-- Workspace ids are UUID strings; run tables carry a compact, never-renumbered integer instead.
CREATE TABLE tenants (
  ws INTEGER PRIMARY KEY,
  workspace_id TEXT NOT NULL UNIQUE REFERENCES workspaces(id)
);
-- LangSmith "sessions" (projects).
CREATE TABLE sessions (
  seq INTEGER PRIMARY KEY,
  ws INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  description TEXT,
  extra TEXT,
  reference_dataset_id TEXT,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  UNIQUE (ws, name)
);
-- One row per run id: the merge of every post and patch received for it. Times are Unix
-- microseconds. inputs/outputs/events/extra/serialized hold JSON text, or zlib-compressed JSON
-- stored as a BLOB when that saved enough (typeof() tells which).
CREATE TABLE runs (
  -- AUTOINCREMENT: a deleted run's number is never reused, so the full-text rows it leaves behind
  -- (the contentless index cannot delete them) never attach to a later run.
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ws INTEGER NOT NULL,
  id TEXT NOT NULL,
  session INTEGER,
  trace_id TEXT,
  parent_run_id TEXT,
  dotted_order TEXT,
  name TEXT,
  run_type TEXT,
  status TEXT NOT NULL,
  start_time INTEGER,
  end_time INTEGER,
  latency REAL,
  error TEXT,
  is_root INTEGER NOT NULL,
  reference_example_id TEXT,
  thread_id TEXT,
  model TEXT,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  prompt_cost REAL,
  completion_cost REAL,
  total_cost REAL,
  figure_sources TEXT,
  tags TEXT,
  inputs BLOB,
  outputs BLOB,
  events BLOB,
  extra BLOB,
  serialized BLOB,
  posted INTEGER NOT NULL,
  text_versions INTEGER NOT NULL DEFAULT 0,
  UNIQUE (ws, id)
);
CREATE INDEX runs_by_session_time ON runs(session, start_time);
CREATE INDEX runs_by_session_status ON runs(session, status, start_time);
CREATE INDEX runs_by_session_name ON runs(session, name, start_time);
CREATE INDEX runs_by_session_root ON runs(session, is_root, start_time);
CREATE INDEX runs_by_trace ON runs(ws, trace_id, dotted_order);
CREATE TABLE run_tags (
  ws INTEGER NOT NULL,
  tag TEXT NOT NULL,
  run INTEGER NOT NULL,
  PRIMARY KEY (ws, tag, run)
) WITHOUT ROWID;
-- Top-level keys of extra.metadata; value is the string itself, or the JSON text of anything else.
CREATE TABLE run_metadata (
  ws INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  run INTEGER NOT NULL,
  PRIMARY KEY (ws, key, value, run)
) WITHOUT ROWID;
-- Contentless full-text index of names, errors and the strings in inputs and outputs. Its rowid is
-- run.seq * 256 + the run's text version, so each ingested payload adds its own text.
CREATE VIRTUAL TABLE run_text USING fts5(text, content='', tokenize='unicode61 remove_diacritics 2');
CREATE TABLE run_attachments (
  ws INTEGER NOT NULL,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (ws, run_id, name)
) WITHOUT ROWID;
CREATE TABLE feedback (
  seq INTEGER PRIMARY KEY,
  ws INTEGER NOT NULL,
  id TEXT NOT NULL,
  run_id TEXT,
  trace_id TEXT,
  session_id TEXT,
  key TEXT NOT NULL,
  score REAL,
  value TEXT,
  comment TEXT,
  correction TEXT,
  feedback_source TEXT,
  created_at INTEGER NOT NULL,
  UNIQUE (ws, id)
);
CREATE INDEX feedback_by_run ON feedback(ws, run_id);
CREATE INDEX feedback_by_key ON feedback(ws, key, score);
)sql"},
    {3, "eval: datasets, examples with revisions, experiment fields, feedback columns", R"sql(
CREATE TABLE datasets (
  seq INTEGER PRIMARY KEY,
  ws INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  description TEXT,
  data_type TEXT NOT NULL DEFAULT 'kv',
  inputs_schema TEXT,
  outputs_schema TEXT,
  extra TEXT,
  created_at INTEGER NOT NULL,
  -- The last write to the dataset or any of its examples: the dataset's latest version.
  modified_at INTEGER NOT NULL,
  UNIQUE (ws, name)
);
-- One row per example revision; the current one has valid_to NULL. A delete writes a tombstone
-- revision (deleted = 1) and closes the one before, so any earlier version can still be read:
-- as of T, the revision with modified_at <= T AND (valid_to IS NULL OR valid_to > T), unless it
-- is a tombstone. inputs/outputs are stored like run payloads (JSON text or a zlib BLOB).
CREATE TABLE examples (
  seq INTEGER PRIMARY KEY,
  ws INTEGER NOT NULL,
  dataset INTEGER NOT NULL,
  id TEXT NOT NULL,
  inputs BLOB NOT NULL,
  outputs BLOB,
  metadata TEXT,
  source_run_id TEXT,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  valid_to INTEGER,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX examples_current ON examples(ws, id) WHERE valid_to IS NULL;
CREATE INDEX examples_by_dataset ON examples(dataset, created_at, id)
  WHERE valid_to IS NULL AND deleted = 0;
CREATE INDEX examples_history ON examples(dataset, id, modified_at);
-- Splits of current revisions; rewritten with each revision.
CREATE TABLE example_splits (
  dataset INTEGER NOT NULL,
  split TEXT NOT NULL,
  example_id TEXT NOT NULL,
  PRIMARY KEY (dataset, split, example_id)
) WITHOUT ROWID;
CREATE TABLE example_attachments (
  ws INTEGER NOT NULL,
  example_id TEXT NOT NULL,
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (ws, example_id, name)
) WITHOUT ROWID;
ALTER TABLE sessions ADD COLUMN num_examples INTEGER;
ALTER TABLE sessions ADD COLUMN num_repetitions INTEGER;
ALTER TABLE sessions ADD COLUMN evaluator_keys TEXT;
CREATE INDEX sessions_by_dataset ON sessions(ws, reference_dataset_id, start_time)
  WHERE reference_dataset_id IS NOT NULL;
-- feedback.value and feedback.correction hold JSON text; feedback_source the whole object, with
-- its type and evaluator run copied out for filtering. extra {"error": true} = a failed evaluator.
ALTER TABLE feedback ADD COLUMN modified_at INTEGER;
ALTER TABLE feedback ADD COLUMN extra TEXT;
ALTER TABLE feedback ADD COLUMN source_type TEXT;
ALTER TABLE feedback ADD COLUMN source_run_id TEXT;
ALTER TABLE feedback ADD COLUMN start_time INTEGER;
ALTER TABLE feedback ADD COLUMN comparative_experiment_id TEXT;
ALTER TABLE feedback ADD COLUMN feedback_config TEXT;
CREATE INDEX feedback_by_session ON feedback(ws, session_id, key) WHERE session_id IS NOT NULL;
-- Compare reads the runs of one example across experiments.
CREATE INDEX runs_by_reference_example ON runs(ws, reference_example_id)
  WHERE reference_example_id IS NOT NULL;
-- Failed evaluators of an experiment's examples (the JS SDK's evaluator runs name the example).
CREATE INDEX runs_errored_by_reference_example ON runs(ws, reference_example_id)
  WHERE status = 'error' AND reference_example_id IS NOT NULL;
)sql"},
};

Error withPath(const Connection& connection, std::string_view what, const Error& error) {
  return {error.code, fmt::format("{}: {}: {}", connection.path().string(), what, error.message)};
}

Result<std::int64_t> appliedVersion(Connection& connection) {
  auto select = connection.prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
  if (!select) return std::move(select).error();
  auto row = select->step();
  if (!row) return std::move(row).error();
  return select->columnInt64(0);
}

Status applyOne(Connection& connection, const Migration& migration) {
  if (auto begun = connection.exec("BEGIN IMMEDIATE"); !begun) return begun;
  auto applied = [&]() -> Status {
    // Another process may have applied it since we looked.
    auto current = appliedVersion(connection);
    if (!current) return std::move(current).error();
    if (*current >= migration.version) return {};
    if (auto created = connection.exec(migration.sql); !created) return created;
    auto record = connection.prepare(
        "INSERT INTO schema_migrations(version, description, applied_at) VALUES (?1, ?2, ?3)");
    if (!record) return std::move(record).error();
    return record->bindInt64(1, migration.version)
        .bindText(2, migration.description)
        .bindInt64(3, core::unixMicrosNow())
        .run();
  }();
  if (!applied) {
    if (connection.inTransaction()) (void)connection.exec("ROLLBACK");
    return applied;
  }
  return connection.exec("COMMIT");
}

}  // namespace

std::span<const Migration> pharosMigrations() {
  return kMigrations;
}

Status applyMigrations(Connection& connection, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Error::internal(fmt::format("migration list is malformed: entry {} has version {}",
                                         i + 1, migrations[i].version));
    }
  }
  const std::int64_t known = static_cast<std::int64_t>(migrations.size());

  if (auto created = connection.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
          "description TEXT NOT NULL, applied_at INTEGER NOT NULL)");
      !created) {
    return withPath(connection, "cannot create schema_migrations", created.error());
  }
  auto current = appliedVersion(connection);
  if (!current) return withPath(connection, "cannot read schema version", current.error());
  if (*current > known) {
    return Error::unavailable(fmt::format(
        "{} was written by a newer Pharos (schema {}, this build knows {}); upgrade Pharos",
        connection.path().string(), *current, known));
  }
  for (const Migration& migration : migrations.subspan(static_cast<std::size_t>(*current))) {
    if (auto applied = applyOne(connection, migration); !applied) {
      return withPath(
          connection,
          fmt::format("migration {} ({}) failed", migration.version, migration.description),
          applied.error());
    }
    core::log::info("applied schema migration", {{"path", connection.path().string()},
                                                 {"version", migration.version},
                                                 {"description", migration.description}});
  }
  return {};
}

}  // namespace pharos::store::sqlite
