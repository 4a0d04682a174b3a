#include "store/sqlite/sqlite_store.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <system_error>
#include <utility>

#include "core/ids.h"
#include "core/names.h"

namespace pharos::store::sqlite {
namespace {

constexpr std::size_t kSha256Bytes = 32;

// Times are stored as Unix microseconds.
std::int64_t toMicros(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}
TimePoint fromMicros(std::int64_t micros) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(micros)));
}

constexpr std::string_view kSelectWorkspaceByName =
    "SELECT id, name, created_at FROM workspaces WHERE name = ?1";

Workspace workspaceRow(const Statement& row) {
  return {std::string(row.columnText(0)), std::string(row.columnText(1)),
          fromMicros(row.columnInt64(2))};
}

Result<std::optional<Workspace>> findWorkspaceByName(Connection& connection,
                                                     const std::string& name) {
  auto select = connection.cached(kSelectWorkspaceByName);
  if (!select) return std::move(select).error();
  auto row = (*select)->bindText(1, name).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Workspace>();
  return std::optional<Workspace>(workspaceRow(**select));
}

constexpr std::string_view kFindApiKey =
    "SELECT k.id, k.workspace_id, w.name, k.secret_sha256, k.label, k.created_at, k.revoked_at "
    "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id WHERE k.id = ?1";
constexpr std::string_view kListApiKeys =
    "SELECT k.id, k.workspace_id, w.name, k.secret_sha256, k.label, k.created_at, k.revoked_at "
    "FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id ORDER BY k.created_at, k.id";

ApiKeyRecord apiKeyRow(const Statement& row) {
  ApiKeyRecord key;
  key.id = row.columnText(0);
  key.workspace_id = row.columnText(1);
  key.workspace_name = row.columnText(2);
  key.secret_sha256 = row.columnBlob(3);
  key.label = row.columnText(4);
  key.created_at = fromMicros(row.columnInt64(5));
  if (!row.columnIsNull(6)) key.revoked_at = fromMicros(row.columnInt64(6));
  return key;
}

}  // namespace

Result<std::shared_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& data_dir,
                                                       const core::StoreSettings& settings) {
  auto database = SqliteDatabase::open(data_dir / "pharos.db", settings);
  if (!database) return std::move(database).error();
  return std::make_shared<SqliteStore>(std::move(database).value());
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDatabase> database)
    : database_(std::move(database)) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(database_->path(), ec);
  description_ = "sqlite:" + (ec ? database_->path() : absolute.lexically_normal()).string();
}

asio::awaitable<Result<Workspace>> SqliteStore::ensureWorkspace(std::string name) {
  if (!core::isValidWorkspaceName(name)) {
    co_return Error::invalidArgument(
        fmt::format("workspace name \"{}\" is not valid: use {}", name, core::kWorkspaceNameRule));
  }
  // Nearly always the workspace exists already: a read answers without queueing a write.
  // GCC 12 destroys a capturing lambda written inside a co_await expression twice (a double
  // free), so each awaitable is built in a named local first.
  auto find = database_->read<std::optional<Workspace>>(
      [name](Connection& connection) { return findWorkspaceByName(connection, name); });
  auto existing = co_await std::move(find);
  if (!existing) co_return std::move(existing).error();
  if (*existing) co_return std::move(**existing);

  auto create = database_->write<Workspace>(
      [name = std::move(name)](Connection& connection) -> Result<Workspace> {
        auto insert = connection.cached(
            "INSERT OR IGNORE INTO workspaces(id, name, created_at) VALUES (?1, ?2, ?3)");
        if (!insert) return std::move(insert).error();
        const auto now = std::chrono::system_clock::now();
        if (auto inserted = (*insert)
                                ->bindText(1, core::newUuidV7(now))
                                .bindText(2, name)
                                .bindInt64(3, toMicros(now))
                                .run();
            !inserted) {
          return std::move(inserted).error();
        }
        // Whoever inserted first, this is now the workspace.
        auto found = findWorkspaceByName(connection, name);
        if (!found) return std::move(found).error();
        if (!*found) return Error::internal(fmt::format("workspace {} vanished", name));
        return std::move(**found);
      });
  co_return co_await std::move(create);
}

asio::awaitable<Result<std::vector<Workspace>>> SqliteStore::listWorkspaces() {
  return database_->read<std::vector<Workspace>>(
      [](Connection& connection) -> Result<std::vector<Workspace>> {
        auto select =
            connection.cached("SELECT id, name, created_at FROM workspaces ORDER BY name");
        if (!select) return std::move(select).error();
        std::vector<Workspace> workspaces;
        while (true) {
          auto row = (*select)->step();
          if (!row) return std::move(row).error();
          if (!*row) return workspaces;
          workspaces.push_back(workspaceRow(**select));
        }
      });
}

asio::awaitable<Status> SqliteStore::insertApiKey(ApiKeyRecord key) {
  if (key.secret_sha256.size() != kSha256Bytes) {
    co_return Error::invalidArgument(
        fmt::format("an API key's secret hash must be {} bytes, not {}", kSha256Bytes,
                    key.secret_sha256.size()));
  }
  auto insert = database_->write<void>([key = std::move(key)](Connection& connection) -> Status {
    auto workspace = connection.cached("SELECT 1 FROM workspaces WHERE id = ?1");
    if (!workspace) return std::move(workspace).error();
    auto exists = (*workspace)->bindText(1, key.workspace_id).step();
    if (!exists) return std::move(exists).error();
    if (!*exists) return Error::notFound(fmt::format("no workspace has id {}", key.workspace_id));

    auto insert = connection.cached(
        "INSERT INTO api_keys(id, workspace_id, secret_sha256, label, created_at, revoked_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
    if (!insert) return std::move(insert).error();
    Statement& statement = **insert;
    statement.bindText(1, key.id)
        .bindText(2, key.workspace_id)
        .bindBlob(3, key.secret_sha256)
        .bindText(4, key.label)
        .bindInt64(5, toMicros(key.created_at));
    if (key.revoked_at) {
      statement.bindInt64(6, toMicros(*key.revoked_at));
    } else {
      statement.bindNull(6);
    }
    auto inserted = statement.run();
    if (!inserted && inserted.error().code == core::ErrorCode::kAlreadyExists) {
      return Error::alreadyExists(fmt::format("an API key with id {} already exists", key.id));
    }
    return inserted;
  });
  co_return co_await std::move(insert);
}

asio::awaitable<Result<std::optional<ApiKeyRecord>>> SqliteStore::findApiKey(std::string id) {
  return database_->read<std::optional<ApiKeyRecord>>(
      [id = std::move(id)](Connection& connection) -> Result<std::optional<ApiKeyRecord>> {
        auto select = connection.cached(kFindApiKey);
        if (!select) return std::move(select).error();
        auto row = (*select)->bindText(1, id).step();
        if (!row) return std::move(row).error();
        if (!*row) return std::optional<ApiKeyRecord>();
        return std::optional<ApiKeyRecord>(apiKeyRow(**select));
      });
}

asio::awaitable<Result<std::vector<ApiKeyRecord>>> SqliteStore::listApiKeys() {
  return database_->read<std::vector<ApiKeyRecord>>(
      [](Connection& connection) -> Result<std::vector<ApiKeyRecord>> {
        auto select = connection.cached(kListApiKeys);
        if (!select) return std::move(select).error();
        std::vector<ApiKeyRecord> keys;
        while (true) {
          auto row = (*select)->step();
          if (!row) return std::move(row).error();
          if (!*row) return keys;
          keys.push_back(apiKeyRow(**select));
        }
      });
}

asio::awaitable<Status> SqliteStore::revokeApiKey(std::string id, TimePoint at) {
  return database_->write<void>([id = std::move(id), at](Connection& connection) -> Status {
    // coalesce keeps the first revocation time; the row still counts as changed, so an
    // unknown id is the only way to change nothing.
    auto update = connection.cached(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?1) WHERE id = ?2");
    if (!update) return std::move(update).error();
    if (auto updated = (*update)->bindInt64(1, toMicros(at)).bindText(2, id).run(); !updated) {
      return updated;
    }
    if (connection.changes() == 0) return Error::notFound(fmt::format("no API key has id {}", id));
    return {};
  });
}

asio::awaitable<Status> SqliteStore::probeWritable() {
  return database_->write<void>([](Connection& connection) -> Status {
    auto upsert = connection.cached(
        "INSERT INTO health_probe(id, probed_at) VALUES (1, ?1) "
        "ON CONFLICT(id) DO UPDATE SET probed_at = excluded.probed_at");
    if (!upsert) return std::move(upsert).error();
    return (*upsert)->bindInt64(1, toMicros(std::chrono::system_clock::now())).run();
  });
}

std::string SqliteStore::describe() const {
  return description_;
}

}  // namespace pharos::store::sqlite
