// Versioned schema migrations. The list is append-only: a released migration is never edited or
// removed, a schema change is a new entry with the next version. Applied versions are recorded
// in schema_migrations(version, description, applied_at).
#pragma once

#include <span>
#include <string_view>

#include "core/result.h"

namespace pharos::store::sqlite {

class Connection;

struct Migration {
  int version;  // 1, 2, 3, ... with no gaps
  std::string_view description;
  std::string_view sql;  // one or more statements, run in the migration's transaction
};

// Every migration this build knows, oldest first.
std::span<const Migration> pharosMigrations();

// Applies the migrations `connection`'s database lacks, each in its own transaction. Refuses a
// database whose schema is newer than the newest of `migrations`.
core::Status applyMigrations(Connection& connection, std::span<const Migration> migrations);

}  // namespace pharos::store::sqlite
