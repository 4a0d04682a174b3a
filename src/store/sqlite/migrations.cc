#include "store/sqlite/migrations.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>

#include "core/log.h"
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
};

std::int64_t nowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

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
        .bindInt64(3, nowMicros())
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
