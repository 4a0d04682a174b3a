// Inserts generated runs straight into Pharos's SQLite schema (migration 2), the rows the server
// writes per ingested run (tracing/store/run_store.cc, RunStore::storeOne, new-run path): one
// `runs` row (INSERT ... ON CONFLICT (ws, id) DO NOTHING), its `run_tags` rows, its `run_metadata`
// rows (top-level keys of extra.metadata) and one `run_text` full-text row (rowid = seq * 256,
// text version 0).
// Used by sqlite_ceiling (the ingest ceiling) and by its `seed` mode (the query benchmark's data).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"
#include "run_gen.h"
#include "store/sqlite/database.h"

namespace pharos::bench {

// Opens (creating) `path` the way the server does (WAL, synchronous=FULL, foreign_keys) and
// applies pharosMigrations().
core::Result<std::unique_ptr<store::sqlite::Connection>> openPharosDb(
    const std::filesystem::path& path);

struct Project {
  std::int64_t ws = 0;       // tenants.ws
  std::int64_t session = 0;  // sessions.seq
  std::string workspace_id;
  std::string session_id;
};

// The workspace named `workspace` (created if absent), its tenants row (created if absent, ws =
// max+1) and the session (project) `session_name` (created if absent). Runs in its own
// transaction.
core::Result<Project> ensureProject(store::sqlite::Connection& db, const std::string& workspace,
                                    const std::string& session_name);

struct InsertOptions {
  // Each run inside its own SAVEPOINT ... RELEASE, as the server does (one bad run never takes
  // the others of its batch with it).
  bool savepoint = false;
  // Which side tables to write; all by default. Turning one off shows its share of the cost.
  bool tags = true;
  bool metadata = true;
  bool text = true;
};

class RunInserter {
 public:
  static core::Result<RunInserter> create(store::sqlite::Connection& db, InsertOptions options);

  // Inserts every run of `runs` (no transaction of its own: wrap batches in BEGIN/COMMIT).
  core::Status insert(std::span<const GenRun> runs, const Project& project);

 private:
  RunInserter() = default;
  store::sqlite::Connection* db_ = nullptr;
  InsertOptions options_;
  store::sqlite::Statement* run_ = nullptr;
  store::sqlite::Statement* tag_ = nullptr;
  store::sqlite::Statement* metadata_ = nullptr;
  store::sqlite::Statement* text_ = nullptr;
};

}  // namespace pharos::bench
