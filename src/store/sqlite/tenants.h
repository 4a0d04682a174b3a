// Workspace ids are UUID strings; the tables of runs, feedback and datasets carry a compact,
// never-renumbered tenant number instead (tenants.ws, migration 2). Every store that writes such
// rows shares one cache of that mapping.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/result.h"
#include "store/sqlite/database.h"

namespace pharos::store::sqlite {

class TenantCache {
 public:
  // The tenant number of a workspace, or nullopt when it has none yet; with `create` (writer
  // connection only) one is assigned.
  core::Result<std::optional<std::int64_t>> lookup(Connection& connection,
                                                   const std::string& workspace_id, bool create);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::int64_t> known_;
};

}  // namespace pharos::store::sqlite
