// The storage interface every Pharos capability persists through. Implementations: SqliteStore
// (the embedded default: WAL, one writer thread with group commit, readers on their own
// connections) and MemoryStore (the unit-test fake).
//
// Contract for every write: the awaitable completes only once the change is durable (for SQLite:
// its transaction committed with synchronous=FULL). Every call may be made from any I/O thread;
// none blocks the caller's thread. A write refused for back-pressure returns kOverloaded.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace pharos::store {

namespace asio = boost::asio;
using core::Result;
using core::Status;
using TimePoint = std::chrono::system_clock::time_point;

// All data belongs to a workspace; ids are UUIDv7 strings.
struct Workspace {
  std::string id;
  std::string name;
  TimePoint created_at;
};

// An API key as stored: never the key itself, only the SHA-256 of its secret part.
struct ApiKeyRecord {
  std::string id;  // the public key id, also embedded in the key ("phk_<id>_<secret>")
  std::string workspace_id;
  std::string workspace_name;  // filled by reads (joined); ignored on insert
  std::string secret_sha256;   // 32 raw bytes
  std::string label;
  TimePoint created_at;
  std::optional<TimePoint> revoked_at;
};

class WorkspaceStore {
 public:
  virtual ~WorkspaceStore() = default;
  // Returns the workspace called `name`, creating it (durably) on first use.
  virtual asio::awaitable<Result<Workspace>> ensureWorkspace(std::string name) = 0;
  virtual asio::awaitable<Result<std::vector<Workspace>>> listWorkspaces() = 0;
};

class ApiKeyStore {
 public:
  virtual ~ApiKeyStore() = default;
  virtual asio::awaitable<Status> insertApiKey(ApiKeyRecord key) = 0;
  // The key with this id (revoked or not), or nullopt.
  virtual asio::awaitable<Result<std::optional<ApiKeyRecord>>> findApiKey(std::string id) = 0;
  virtual asio::awaitable<Result<std::vector<ApiKeyRecord>>> listApiKeys() = 0;
  // kNotFound when no key has this id; revoking twice keeps the first time.
  virtual asio::awaitable<Status> revokeApiKey(std::string id, TimePoint at) = 0;
};

class Store : public WorkspaceStore, public ApiKeyStore {
 public:
  // Proves the store is open and can make a durable write (for /readyz).
  virtual asio::awaitable<Status> probeWritable() = 0;
  // Where the data lives, for humans ("sqlite:/path/pharos.db", "memory").
  virtual std::string describe() const = 0;
  // Finishes queued writes (completing their callers), then refuses new work with kUnavailable.
  // Call it while the executors of any waiting callers still exist: their results are posted
  // there. Idempotent.
  virtual void close() = 0;
};

using StorePtr = std::shared_ptr<Store>;

}  // namespace pharos::store
