// The unit-test fake Store: in-memory maps behind a mutex, with SqliteStore's semantics (times
// kept to the microsecond, the same errors). Nothing survives the object.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "store/store.h"

namespace pharos::store {

class MemoryStore final : public Store {
 public:
  asio::awaitable<Result<Workspace>> ensureWorkspace(std::string name) override;
  asio::awaitable<Result<std::vector<Workspace>>> listWorkspaces() override;

  asio::awaitable<Status> insertApiKey(ApiKeyRecord key) override;
  asio::awaitable<Result<std::optional<ApiKeyRecord>>> findApiKey(std::string id) override;
  asio::awaitable<Result<std::vector<ApiKeyRecord>>> listApiKeys() override;
  asio::awaitable<Status> revokeApiKey(std::string id, TimePoint at) override;

  asio::awaitable<Status> probeWritable() override;
  std::string describe() const override;
  // Nothing is queued in memory: every call completes before it returns.
  void close() override {}

 private:
  // Fills workspace_name from the workspace the key belongs to.
  ApiKeyRecord joined(const ApiKeyRecord& key) const;

  mutable std::mutex mutex_;
  std::map<std::string, Workspace> workspaces_by_name_;
  std::map<std::string, std::string> workspace_names_by_id_;
  std::map<std::string, ApiKeyRecord> api_keys_;
};

}  // namespace pharos::store
