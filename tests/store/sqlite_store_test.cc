// SqliteStore behaviour beyond the shared contract (store_contract_test.cc): the file on disk.
#include "store/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "store/store_test_util.h"

namespace pharos::store::sqlite {
namespace {

using core::ErrorCode;
using test_util::runSync;
using test_util::TempDir;

const TimePoint kCreated = TimePoint(std::chrono::microseconds(1'764'191'441'123'456));

// The first column of the first row, read through a plain sqlite3 connection.
std::int64_t queryInt(const std::filesystem::path& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::int64_t value = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) value = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return value;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<SqliteStore> open() {
    auto store = SqliteStore::open(dir_.path(), {});
    EXPECT_TRUE(store.ok()) << store.error().message;
    return store.ok() ? *store : nullptr;
  }

  template <class T>
  T run(asio::awaitable<T> awaitable) {
    return runSync(ctx_, std::move(awaitable));
  }

  TempDir dir_;
  std::filesystem::path db_path_ = dir_.path() / "pharos.db";
  asio::io_context ctx_;
};

TEST_F(SqliteStoreTest, DescribesTheAbsoluteDatabasePath) {
  auto store = open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->describe(), "sqlite:" + std::filesystem::absolute(db_path_).string());
  EXPECT_TRUE(std::filesystem::exists(db_path_));
}

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
  std::string workspace_id;
  {
    auto store = open();
    ASSERT_TRUE(store);
    auto team = run(store->ensureWorkspace("team"));
    ASSERT_TRUE(team.ok()) << team.error().message;
    workspace_id = team->id;
    ApiKeyRecord key{"key1", team->id, "", std::string(32, 'k'), "ci", kCreated, std::nullopt};
    ASSERT_TRUE(run(store->insertApiKey(key)).ok());
    ASSERT_TRUE(run(store->revokeApiKey("key1", kCreated + std::chrono::hours(1))).ok());
  }
  auto store = open();
  ASSERT_TRUE(store);
  auto team = run(store->ensureWorkspace("team"));
  ASSERT_TRUE(team.ok());
  EXPECT_EQ(team->id, workspace_id);
  auto found = run(store->findApiKey("key1"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->workspace_name, "team");
  EXPECT_EQ((*found)->revoked_at, kCreated + std::chrono::hours(1));
}

TEST_F(SqliteStoreTest, TimesAreStoredAsUnixMicroseconds) {
  auto store = open();
  ASSERT_TRUE(store);
  auto team = run(store->ensureWorkspace("team"));
  ASSERT_TRUE(team.ok());
  ApiKeyRecord key{"key1", team->id, "", std::string(32, 'k'), "", kCreated, std::nullopt};
  ASSERT_TRUE(run(store->insertApiKey(key)).ok());
  EXPECT_EQ(queryInt(db_path_, "SELECT created_at FROM api_keys"), 1'764'191'441'123'456);
  EXPECT_EQ(queryInt(db_path_, "SELECT typeof(secret_sha256) = 'blob' FROM api_keys"), 1);
  EXPECT_EQ(
      queryInt(db_path_, "SELECT created_at FROM workspaces"),
      std::chrono::duration_cast<std::chrono::microseconds>(team->created_at.time_since_epoch())
          .count());
}

TEST_F(SqliteStoreTest, ProbeWritableKeepsOneRowUpToDate) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(run(store->probeWritable()).ok());
  const std::int64_t first = queryInt(db_path_, "SELECT probed_at FROM health_probe");
  ASSERT_TRUE(run(store->probeWritable()).ok());
  EXPECT_EQ(queryInt(db_path_, "SELECT count(*) FROM health_probe"), 1);
  EXPECT_GE(queryInt(db_path_, "SELECT probed_at FROM health_probe"), first);
  EXPECT_GE(store->database().writerStats().jobs_committed, 2u);
}

TEST_F(SqliteStoreTest, ExistingWorkspaceIsFoundWithoutAWrite) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(run(store->ensureWorkspace("team")).ok());
  const auto before = store->database().writerStats().jobs_committed;
  ASSERT_TRUE(run(store->ensureWorkspace("team")).ok());
  EXPECT_EQ(store->database().writerStats().jobs_committed, before);
}

TEST_F(SqliteStoreTest, DatabaseIsSharedWithOtherModules) {
  auto store = open();
  ASSERT_TRUE(store);
  ASSERT_TRUE(run(store->ensureWorkspace("team")).ok());
  auto count =
      store->database().readSync<std::int64_t>([](Connection& connection) -> Result<std::int64_t> {
        auto select = connection.cached("SELECT count(*) FROM workspaces");
        if (!select) return select.error();
        auto row = (*select)->step();
        if (!row) return row.error();
        return (*select)->columnInt64(0);
      });
  ASSERT_TRUE(count.ok()) << count.error().message;
  EXPECT_EQ(*count, 1);
}

TEST_F(SqliteStoreTest, UnusableDataDirGivesAClearError) {
  std::ofstream(dir_.path() / "occupied") << "a file where the data dir should be";
  auto store = SqliteStore::open(dir_.path() / "occupied", {});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message.find((dir_.path() / "occupied" / "pharos.db").string()),
            std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace pharos::store::sqlite
