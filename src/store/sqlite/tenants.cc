#include "store/sqlite/tenants.h"

namespace pharos::store::sqlite {
namespace {

core::Result<std::optional<std::int64_t>> select(Connection& c, const std::string& workspace_id) {
  auto s = c.cached("SELECT ws FROM tenants WHERE workspace_id = ?1");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindText(1, workspace_id).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<std::int64_t>();
  const std::int64_t ws = (*s)->columnInt64(0);
  (*s)->reset();
  return std::optional<std::int64_t>(ws);
}

}  // namespace

core::Result<std::optional<std::int64_t>> TenantCache::lookup(Connection& connection,
                                                              const std::string& workspace_id,
                                                              bool create) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = known_.find(workspace_id); it != known_.end()) {
      return std::optional<std::int64_t>(it->second);
    }
  }
  auto found = select(connection, workspace_id);
  if (!found) return found;
  if (!*found && create) {
    auto insert = connection.cached("INSERT OR IGNORE INTO tenants(workspace_id) VALUES (?1)");
    if (!insert) return std::move(insert).error();
    if (auto done = (*insert)->bindText(1, workspace_id).run(); !done) return done.error();
    found = select(connection, workspace_id);
  }
  // Only what a reader sees is committed: a number the writer sees may belong to a transaction
  // that is still rolled back, and caching it could hand one number to two workspaces.
  if (*found && !create) {
    std::lock_guard lock(mutex_);
    known_.emplace(workspace_id, **found);
  }
  return found;
}

}  // namespace pharos::store::sqlite
