// The embedded default Store: one SQLite file, <data_dir>/pharos.db, behind SqliteDatabase.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "core/settings.h"
#include "store/sqlite/database.h"
#include "store/store.h"

namespace pharos::store::sqlite {

class SqliteStore final : public Store {
 public:
  static Result<std::shared_ptr<SqliteStore>> open(const std::filesystem::path& data_dir,
                                                   const core::StoreSettings& settings);

  explicit SqliteStore(std::unique_ptr<SqliteDatabase> database);

  asio::awaitable<Result<Workspace>> ensureWorkspace(std::string name) override;
  asio::awaitable<Result<std::vector<Workspace>>> listWorkspaces() override;

  asio::awaitable<Status> insertApiKey(ApiKeyRecord key) override;
  asio::awaitable<Result<std::optional<ApiKeyRecord>>> findApiKey(std::string id) override;
  asio::awaitable<Result<std::vector<ApiKeyRecord>>> listApiKeys() override;
  asio::awaitable<Status> revokeApiKey(std::string id, TimePoint at) override;

  asio::awaitable<Status> probeWritable() override;
  std::string describe() const override;

  // The engine, for modules that keep their own tables in the same file.
  SqliteDatabase& database() { return *database_; }
  void close() override { database_->close(); }

 private:
  std::unique_ptr<SqliteDatabase> database_;
  std::string description_;
};

}  // namespace pharos::store::sqlite
