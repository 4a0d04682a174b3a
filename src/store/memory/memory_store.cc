#include "store/memory/memory_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <tuple>
#include <utility>

#include "core/ids.h"
#include "core/names.h"

namespace pharos::store {

using core::Error;
namespace {

constexpr std::size_t kSha256Bytes = 32;

// SqliteStore keeps microseconds; so does the fake, so that tests see the same values.
TimePoint toStoredPrecision(TimePoint time) {
  return std::chrono::time_point_cast<TimePoint::duration>(
      std::chrono::time_point_cast<std::chrono::microseconds>(time));
}

}  // namespace

asio::awaitable<Result<Workspace>> MemoryStore::ensureWorkspace(std::string name) {
  if (!core::isValidWorkspaceName(name)) {
    co_return Error::invalidArgument(
        fmt::format("workspace name \"{}\" is not valid: use {}", name, core::kWorkspaceNameRule));
  }
  std::lock_guard lock(mutex_);
  auto found = workspaces_by_name_.find(name);
  if (found == workspaces_by_name_.end()) {
    const auto now = std::chrono::system_clock::now();
    Workspace workspace{core::newUuidV7(now), name, toStoredPrecision(now)};
    workspace_names_by_id_.emplace(workspace.id, name);
    found = workspaces_by_name_.emplace(name, std::move(workspace)).first;
  }
  co_return found->second;
}

asio::awaitable<Result<std::vector<Workspace>>> MemoryStore::listWorkspaces() {
  std::lock_guard lock(mutex_);
  std::vector<Workspace> workspaces;
  for (const auto& [name, workspace] : workspaces_by_name_) workspaces.push_back(workspace);
  co_return workspaces;
}

asio::awaitable<Status> MemoryStore::insertApiKey(ApiKeyRecord key) {
  if (key.secret_sha256.size() != kSha256Bytes) {
    co_return Error::invalidArgument(
        fmt::format("an API key's secret hash must be {} bytes, not {}", kSha256Bytes,
                    key.secret_sha256.size()));
  }
  std::lock_guard lock(mutex_);
  if (!workspace_names_by_id_.contains(key.workspace_id)) {
    co_return Error::notFound(fmt::format("no workspace has id {}", key.workspace_id));
  }
  if (api_keys_.contains(key.id)) {
    co_return Error::alreadyExists(fmt::format("an API key with id {} already exists", key.id));
  }
  key.workspace_name.clear();
  key.created_at = toStoredPrecision(key.created_at);
  if (key.revoked_at) key.revoked_at = toStoredPrecision(*key.revoked_at);
  std::string id = key.id;
  api_keys_.emplace(std::move(id), std::move(key));
  co_return Status();
}

ApiKeyRecord MemoryStore::joined(const ApiKeyRecord& key) const {
  ApiKeyRecord copy = key;
  copy.workspace_name = workspace_names_by_id_.at(key.workspace_id);
  return copy;
}

asio::awaitable<Result<std::optional<ApiKeyRecord>>> MemoryStore::findApiKey(std::string id) {
  std::lock_guard lock(mutex_);
  auto found = api_keys_.find(id);
  if (found == api_keys_.end()) co_return std::optional<ApiKeyRecord>();
  co_return std::optional<ApiKeyRecord>(joined(found->second));
}

asio::awaitable<Result<std::vector<ApiKeyRecord>>> MemoryStore::listApiKeys() {
  std::lock_guard lock(mutex_);
  std::vector<ApiKeyRecord> keys;
  for (const auto& [id, key] : api_keys_) keys.push_back(joined(key));
  // The same order as SqliteStore: oldest first, ties by id.
  std::sort(keys.begin(), keys.end(), [](const ApiKeyRecord& a, const ApiKeyRecord& b) {
    return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
  });
  co_return keys;
}

asio::awaitable<Status> MemoryStore::revokeApiKey(std::string id, TimePoint at) {
  std::lock_guard lock(mutex_);
  auto found = api_keys_.find(id);
  if (found == api_keys_.end()) co_return Error::notFound(fmt::format("no API key has id {}", id));
  if (!found->second.revoked_at) found->second.revoked_at = toStoredPrecision(at);
  co_return Status();
}

asio::awaitable<Status> MemoryStore::probeWritable() {
  co_return Status();
}

std::string MemoryStore::describe() const {
  return "memory";
}

}  // namespace pharos::store
