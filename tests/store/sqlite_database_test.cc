#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <latch>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/migrations.h"
#include "store/sqlite/statement_helpers.h"
#include "store/store_test_util.h"

namespace pharos::store::sqlite {
namespace {

using core::ErrorCode;
using test_util::runSync;
using test_util::spawnInto;
using test_util::TempDir;
using namespace std::chrono_literals;

constexpr Migration kItemsSchema[] = {
    {1, "items", "CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL UNIQUE)"},
    {2, "parents and children",
     "CREATE TABLE parents (id INTEGER PRIMARY KEY);"
     "CREATE TABLE children (id INTEGER PRIMARY KEY,"
     "  parent_id INTEGER NOT NULL REFERENCES parents(id) DEFERRABLE INITIALLY DEFERRED)"},
};

std::function<Status(Connection&)> insertItem(std::string value) {
  return [value = std::move(value)](Connection& connection) -> Status {
    auto insert = connection.cached("INSERT INTO items(value) VALUES (?1)");
    if (!insert) return insert.error();
    return (*insert)->bindText(1, value).run();
  };
}

Result<std::int64_t> countRows(Connection& connection, std::string_view table) {
  auto select = connection.prepare(std::string("SELECT count(*) FROM ") + std::string(table));
  if (!select) return select.error();
  auto row = select->step();
  if (!row) return row.error();
  return select->columnInt64(0);
}

// Counts rows through a brand-new plain sqlite3 connection, independent of the engine.
std::int64_t countWithPlainSqlite(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  std::int64_t count = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) count = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return count;
}

void execWithPlainSqlite(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
      << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

// Holds the writer inside a job until released, so that later writes pile up in the queue.
class WriterGate {
 public:
  std::function<Status(Connection&)> job() {
    return [this](Connection&) -> Status {
      started_.count_down();
      released_.wait();
      return {};
    };
  }
  void waitUntilHeld() { started_.wait(); }
  void release() { released_.count_down(); }

 private:
  std::latch started_{1};
  std::latch released_{1};
};

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  std::unique_ptr<SqliteDatabase> open(core::StoreSettings settings = {}) {
    auto db = SqliteDatabase::open(path_, settings, kItemsSchema);
    EXPECT_TRUE(db.ok()) << db.error().message;
    return db.ok() ? std::move(db).value() : nullptr;
  }

  // Waits (bounded) until `n` writes are queued behind the gate.
  static void waitForPending(const SqliteDatabase& db, std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (db.pendingWrites() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_EQ(db.pendingWrites(), n);
  }

  TempDir dir_;
  std::filesystem::path path_ = dir_.path() / "data" / "test.db";
};

TEST_F(SqliteDatabaseTest, OpensWithWalFullSyncAndForeignKeys) {
  auto db = open();
  ASSERT_TRUE(db);
  auto pragmas = db->writeSync<std::string>([](Connection& connection) -> Result<std::string> {
    std::string values;
    for (const char* pragma :
         {"PRAGMA journal_mode", "PRAGMA synchronous", "PRAGMA foreign_keys"}) {
      auto select = connection.prepare(pragma);
      if (!select) return select.error();
      auto row = select->step();
      if (!row) return row.error();
      values += std::string(select->columnText(0)) + " ";
    }
    return values;
  });
  ASSERT_TRUE(pragmas.ok()) << pragmas.error().message;
  EXPECT_EQ(*pragmas, "wal 2 1 ");  // synchronous 2 is FULL
  EXPECT_TRUE(std::filesystem::exists(path_));
}

TEST_F(SqliteDatabaseTest, GroupCommitBatchesConcurrentWrites) {
  core::StoreSettings settings;
  settings.max_batch = 1024;
  auto db = open(settings);
  ASSERT_TRUE(db);
  constexpr int kJobs = 200;
  asio::io_context ctx;
  WriterGate gate;
  std::vector<Status> results(kJobs + 1, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[kJobs]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  for (int i = 0; i < kJobs; ++i) {
    spawnInto(ctx, db->write<void>(insertItem("item" + std::to_string(i))), results[i]);
  }
  waitForPending(*db, kJobs);
  gate.release();
  runner.join();  // returns once every coroutine has its result

  for (const Status& result : results) EXPECT_TRUE(result.ok()) << result.error().message;
  const auto stats = db->writerStats();
  EXPECT_EQ(stats.jobs_committed, kJobs + 1u);
  EXPECT_EQ(stats.batches_committed, 2u);  // the gate's, then all the others together
  EXPECT_EQ(stats.last_batch_size, static_cast<std::uint64_t>(kJobs));
  EXPECT_EQ(db->readSync<std::int64_t>([](Connection& c) { return countRows(c, "items"); }).value(),
            kJobs);
}

TEST_F(SqliteDatabaseTest, GroupCommitRespectsMaxBatch) {
  core::StoreSettings settings;
  settings.max_batch = 50;
  auto db = open(settings);
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  std::vector<Status> results(201, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[200]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  for (int i = 0; i < 200; ++i) {
    spawnInto(ctx, db->write<void>(insertItem("item" + std::to_string(i))), results[i]);
  }
  waitForPending(*db, 200);
  gate.release();
  runner.join();

  for (const Status& result : results) EXPECT_TRUE(result.ok()) << result.error().message;
  const auto stats = db->writerStats();
  EXPECT_EQ(stats.batches_committed, 1u + 200 / 50);
  EXPECT_EQ(stats.last_batch_size, 50u);
  EXPECT_EQ(stats.jobs_committed, 201u);
}

TEST_F(SqliteDatabaseTest, FailingJobInBatchDoesNotLoseTheOthers) {
  auto db = open();
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  constexpr int kJobs = 10;
  std::vector<Status> results(kJobs + 1, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[kJobs]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  for (int i = 0; i < kJobs; ++i) {
    std::function<Status(Connection&)> job = insertItem("item" + std::to_string(i));
    if (i == 3) {
      // Writes, then fails: its write must be undone.
      job = [](Connection& connection) -> Status {
        if (auto inserted = insertItem("item3")(connection); !inserted) return inserted;
        return Error::invalidArgument("job 3 changed its mind");
      };
    } else if (i == 6) {
      job = insertItem("item0");  // violates UNIQUE(value)
    }
    spawnInto(ctx, db->write<void>(job), results[i]);
  }
  waitForPending(*db, kJobs);
  gate.release();
  runner.join();

  for (int i = 0; i < kJobs; ++i) {
    if (i == 3) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code, ErrorCode::kInvalidArgument);
      EXPECT_EQ(results[i].error().message, "job 3 changed its mind");
    } else if (i == 6) {
      ASSERT_FALSE(results[i].ok());
      EXPECT_EQ(results[i].error().code, ErrorCode::kAlreadyExists);
      EXPECT_NE(results[i].error().message.find("UNIQUE constraint failed"), std::string::npos)
          << results[i].error().message;
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error().message;
    }
  }
  const auto stats = db->writerStats();
  EXPECT_EQ(stats.batches_committed, 2u);
  EXPECT_EQ(stats.jobs_committed, 1u + kJobs - 2);
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), kJobs - 2);
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items WHERE value = 'item3'"), 0);
}

TEST_F(SqliteDatabaseTest, FailedCommitFailsEveryJobInTheBatch) {
  auto db = open();
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  std::vector<Status> results(4, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[3]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  // The middle job breaks a deferred foreign key: every statement succeeds, COMMIT fails.
  const std::vector<std::string> statements = {
      "INSERT INTO parents(id) VALUES (1)",
      "INSERT INTO children(id, parent_id) VALUES (1, 99)",
      "INSERT INTO parents(id) VALUES (2)",
  };
  for (int i = 0; i < 3; ++i) {
    auto job = [sql = statements[i]](Connection& connection) { return connection.exec(sql); };
    spawnInto(ctx, db->write<void>(job), results[i]);
  }
  waitForPending(*db, 3);
  gate.release();
  runner.join();

  EXPECT_TRUE(results[3].ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_FALSE(results[i].ok()) << i;
    EXPECT_NE(results[i].error().message.find("FOREIGN KEY constraint failed"), std::string::npos)
        << results[i].error().message;
    EXPECT_NE(results[i].error().message.find("COMMIT"), std::string::npos);
  }
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM parents"), 0);
  // The writer is not left inside the failed transaction.
  ASSERT_TRUE(db->writeSync<void>(insertItem("after")).ok());
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), 1);
}

TEST_F(SqliteDatabaseTest, WritesLostWithAnAbortedTransactionAreNotAcknowledged) {
  auto db = open();
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  std::vector<Status> results(4, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[3]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  // The middle job ends the transaction the way SQLite does after a full disk or an I/O error.
  spawnInto(ctx, db->write<void>(insertItem("before")), results[0]);
  waitForPending(*db, 1);
  spawnInto(ctx, db->write<void>([](Connection& connection) -> Status {
    if (auto aborted = connection.exec("ROLLBACK"); !aborted) return aborted;
    return Error::unavailable("disk full");
  }),
            results[1]);
  waitForPending(*db, 2);
  spawnInto(ctx, db->write<void>(insertItem("after")), results[2]);
  waitForPending(*db, 3);
  gate.release();
  runner.join();

  ASSERT_FALSE(results[0].ok());
  EXPECT_EQ(results[0].error().code, ErrorCode::kUnavailable);
  EXPECT_NE(results[0].error().message.find("not committed"), std::string::npos);
  ASSERT_FALSE(results[1].ok());
  EXPECT_EQ(results[1].error().message, "disk full");
  EXPECT_TRUE(results[2].ok()) << results[2].error().message;
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), 1);
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items WHERE value = 'after'"), 1);
}

TEST_F(SqliteDatabaseTest, CompletedWriteIsVisibleToANewConnection) {
  auto db = open();
  ASSERT_TRUE(db);
  asio::io_context ctx;
  for (int i = 0; i < 3; ++i) {
    auto written = runSync(ctx, db->write<void>(insertItem("durable" + std::to_string(i))));
    ASSERT_TRUE(written.ok()) << written.error().message;
    EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), i + 1);
  }
  // A second engine on the same file sees the rows too.
  auto other = SqliteDatabase::open(path_, {}, kItemsSchema);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(
      (*other)->readSync<std::int64_t>([](Connection& c) { return countRows(c, "items"); }).value(),
      3);
}

TEST_F(SqliteDatabaseTest, ReadersSeeCommittedWrites) {
  core::StoreSettings settings;
  settings.reader_threads = 4;
  auto db = open(settings);
  ASSERT_TRUE(db);
  asio::io_context ctx;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(runSync(ctx, db->write<void>(insertItem("seen" + std::to_string(i)))).ok());
    // Several reads at once, so that every reader connection gets exercised.
    std::vector<Result<std::int64_t>> counts(8);
    for (auto& count : counts) {
      spawnInto(ctx, db->read<std::int64_t>([](Connection& c) { return countRows(c, "items"); }),
                count);
    }
    ctx.restart();
    ctx.run();
    for (const auto& count : counts) {
      ASSERT_TRUE(count.ok()) << count.error().message;
      EXPECT_EQ(*count, i + 1);
    }
  }
}

TEST_F(SqliteDatabaseTest, ReadersCannotWrite) {
  auto db = open();
  ASSERT_TRUE(db);
  auto written = db->readSync<void>(insertItem("sneaky"));
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(written.error().message.find("readonly"), std::string::npos) << written.error().message;
}

TEST_F(SqliteDatabaseTest, TooManyQueuedWritesAreRefusedAtOnce) {
  core::StoreSettings settings;
  settings.max_pending_writes = 1;
  auto db = open(settings);
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  auto held = asio::co_spawn(ctx, db->write<void>(gate.job()), asio::use_future);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();

  auto queued = asio::co_spawn(ctx, db->write<void>(insertItem("queued")), asio::use_future);
  waitForPending(*db, 1);
  auto refused = asio::co_spawn(ctx, db->write<void>(insertItem("refused")), asio::use_future);
  // Answered while the writer is still held: the refusal does not wait for the queue.
  ASSERT_EQ(refused.wait_for(10s), std::future_status::ready);
  const Status refusal = refused.get();
  ASSERT_FALSE(refusal.ok());
  EXPECT_EQ(refusal.error().code, ErrorCode::kOverloaded);
  EXPECT_EQ(queued.wait_for(0s), std::future_status::timeout);

  gate.release();
  runner.join();
  EXPECT_TRUE(held.get().ok());
  EXPECT_TRUE(queued.get().ok());
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), 1);
}

TEST_F(SqliteDatabaseTest, ShutdownFinishesQueuedWrites) {
  auto db = open();
  ASSERT_TRUE(db);
  asio::io_context ctx;
  WriterGate gate;
  std::vector<Status> results(51, Error::internal("never completed"));
  spawnInto(ctx, db->write<void>(gate.job()), results[50]);
  std::thread runner([&] { ctx.run(); });
  gate.waitUntilHeld();
  for (int i = 0; i < 50; ++i) {
    spawnInto(ctx, db->write<void>(insertItem("item" + std::to_string(i))), results[i]);
  }
  waitForPending(*db, 50);
  std::thread closer([&] { db.reset(); });
  gate.release();
  closer.join();
  runner.join();

  for (const Status& result : results) EXPECT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM items"), 50);
  // The checkpoint at close folded the log into the database file.
  EXPECT_FALSE(std::filesystem::exists(path_.string() + "-wal") &&
               std::filesystem::file_size(path_.string() + "-wal") > 0);
}

TEST_F(SqliteDatabaseTest, StatementBindsAndReadsEveryType) {
  auto db = open();
  ASSERT_TRUE(db);
  const std::string blob("\x00\x01\xff\x00z", 5);
  auto row = db->readSync<std::string>([&](Connection& connection) -> Result<std::string> {
    auto select = connection.prepare("SELECT ?1, ?2, ?3, ?4, ?5, :text, :int, :blob, :null");
    if (!select) return select.error();
    select->bindInt64(1, -(std::int64_t{1} << 62))
        .bindDouble(2, 2.5)
        .bindText(3, "héllo")
        .bindBlob(4, blob)
        .bindNull(5)
        .bindText(":text", std::string_view("a\0b", 3))
        .bindInt64(":int", 7)
        .bindBlob(":blob", "")
        .bindNull(":null");
    auto stepped = select->step();
    if (!stepped) return stepped.error();
    EXPECT_TRUE(*stepped);
    EXPECT_EQ(select->columnCount(), 9);
    EXPECT_EQ(select->columnInt64(0), -(std::int64_t{1} << 62));
    EXPECT_EQ(select->columnDouble(1), 2.5);
    EXPECT_EQ(select->columnText(2), "héllo");
    EXPECT_EQ(select->columnBlob(3), blob);
    EXPECT_TRUE(select->columnIsNull(4));
    EXPECT_EQ(select->columnText(5), std::string_view("a\0b", 3));
    EXPECT_EQ(select->columnInt64(6), 7);
    EXPECT_FALSE(select->columnIsNull(7));  // an empty blob is not NULL
    EXPECT_EQ(select->columnBlob(7), "");
    EXPECT_TRUE(select->columnIsNull(8));
    return std::string(select->sql());
  });
  ASSERT_TRUE(row.ok()) << row.error().message;
  EXPECT_EQ(*row, "SELECT ?1, ?2, ?3, ?4, ?5, :text, :int, :blob, :null");
}

TEST_F(SqliteDatabaseTest, ErrorsCarrySqliteMessageAndSql) {
  auto db = open();
  ASSERT_TRUE(db);
  auto prepared = db->readSync<void>([](Connection& connection) -> Status {
    auto select = connection.prepare("SELEKT 1");
    if (!select) return select.error();
    return {};
  });
  ASSERT_FALSE(prepared.ok());
  EXPECT_NE(prepared.error().message.find("syntax error"), std::string::npos);
  EXPECT_NE(prepared.error().message.find("SELEKT 1"), std::string::npos);
  EXPECT_NE(prepared.error().message.find(path_.string()), std::string::npos);

  auto unbound = db->readSync<void>([](Connection& connection) -> Status {
    auto select = connection.prepare("SELECT :known");
    if (!select) return select.error();
    return select->bindText(":unknown", "x").run();
  });
  ASSERT_FALSE(unbound.ok());
  EXPECT_NE(unbound.error().message.find(":unknown"), std::string::npos);
  EXPECT_NE(unbound.error().message.find("SELECT :known"), std::string::npos);

  auto two = db->readSync<void>([](Connection& connection) -> Status {
    auto select = connection.prepare("SELECT 1; SELECT 2");
    if (!select) return select.error();
    return {};
  });
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.error().message.find("exactly one SQL statement"), std::string::npos);
  EXPECT_TRUE(db->readSync<void>([](Connection& connection) -> Status {
                  auto select = connection.prepare("SELECT 1;  \n");
                  if (!select) return select.error();
                  return select->run();
                }).ok());
}

TEST_F(SqliteDatabaseTest, CachedStatementsAreReusedCleared) {
  auto db = open();
  ASSERT_TRUE(db);
  auto same = db->readSync<bool>([](Connection& connection) -> Result<bool> {
    auto first = connection.cached("SELECT ?1");
    if (!first) return first.error();
    (*first)->bindInt64(1, 5);
    if (auto row = (*first)->step(); !row) return row.error();
    auto second = connection.cached("SELECT ?1");
    if (!second) return second.error();
    auto row = (*second)->step();
    if (!row) return row.error();
    // Handed back rewound and with its bindings cleared.
    EXPECT_TRUE((*second)->columnIsNull(0));
    return *first == *second;
  });
  ASSERT_TRUE(same.ok()) << same.error().message;
  EXPECT_TRUE(*same);
}

TEST_F(SqliteDatabaseTest, ThrowingJobBecomesAnInternalError) {
  auto db = open();
  ASSERT_TRUE(db);
  auto thrown =
      db->writeSync<void>([](Connection&) -> Status { throw std::runtime_error("boom"); });
  ASSERT_FALSE(thrown.ok());
  EXPECT_EQ(thrown.error().code, ErrorCode::kInternal);
  EXPECT_NE(thrown.error().message.find("boom"), std::string::npos);
  EXPECT_TRUE(db->writeSync<void>(insertItem("still works")).ok());
}

// --- migrations ---

std::string migrationRows(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db,
                               "SELECT version, description, applied_at FROM schema_migrations "
                               "ORDER BY version",
                               -1, &stmt, nullptr),
            SQLITE_OK);
  std::string rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    rows += std::to_string(sqlite3_column_int64(stmt, 0)) + "|" +
            reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)) + "|" +
            std::to_string(sqlite3_column_int64(stmt, 2)) + "\n";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return rows;
}

TEST_F(SqliteDatabaseTest, PharosMigrationsApplyOnceAndReopenIsANoop) {
  ASSERT_TRUE(SqliteDatabase::open(path_, {}).ok());
  const std::string applied = migrationRows(path_);
  EXPECT_EQ(applied.substr(0, applied.find('|', 2) + 1), "1|workspaces, api keys, health probe|");
  EXPECT_EQ(std::count(applied.begin(), applied.end(), '\n'),
            static_cast<long>(pharosMigrations().size()));
  EXPECT_EQ(countWithPlainSqlite(path_,
                                 "SELECT count(*) FROM sqlite_schema WHERE name IN ('workspaces', "
                                 "'api_keys', 'api_keys_workspace_id', 'health_probe')"),
            4);

  auto reopened = SqliteDatabase::open(path_, {});
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ(migrationRows(path_), applied);  // same rows, same applied_at
}

TEST_F(SqliteDatabaseTest, OnlyPendingMigrationsAreApplied) {
  ASSERT_TRUE(SqliteDatabase::open(path_, {}, std::span(kItemsSchema).first(1)).ok());
  const std::string first = migrationRows(path_);
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 1);

  ASSERT_TRUE(SqliteDatabase::open(path_, {}, kItemsSchema).ok());
  const std::string both = migrationRows(path_);
  EXPECT_EQ(both.substr(0, first.size()), first);
  EXPECT_EQ(both.substr(first.size(), 23), "2|parents and children|");
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM children"), 0);
}

TEST_F(SqliteDatabaseTest, NewerSchemaIsRefused) {
  ASSERT_TRUE(SqliteDatabase::open(path_, {}, kItemsSchema).ok());
  auto older = SqliteDatabase::open(path_, {}, std::span(kItemsSchema).first(1));
  ASSERT_FALSE(older.ok());
  EXPECT_EQ(older.error().message, path_.string() +
                                       " was written by a newer Pharos (schema 2, this build "
                                       "knows 1); upgrade Pharos");

  execWithPlainSqlite(path_, "INSERT INTO schema_migrations VALUES (7, 'from the future', 0)");
  auto pharos = SqliteDatabase::open(path_, {});
  ASSERT_FALSE(pharos.ok());
  EXPECT_NE(
      pharos.error().message.find(fmt::format(
          "written by a newer Pharos (schema 7, this build knows {})", pharosMigrations().size())),
      std::string::npos)
      << pharos.error().message;
}

TEST_F(SqliteDatabaseTest, FailedMigrationIsRolledBackAndNamed) {
  constexpr Migration kBroken[] = {
      kItemsSchema[0],
      {2, "half a table", "CREATE TABLE half (x INTEGER); SELEKT 1"},
  };
  auto db = SqliteDatabase::open(path_, {}, kBroken);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.error().message.find("migration 2 (half a table) failed"), std::string::npos)
      << db.error().message;
  EXPECT_NE(db.error().message.find(path_.string()), std::string::npos);
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT max(version) FROM schema_migrations"), 1);
  EXPECT_EQ(countWithPlainSqlite(path_, "SELECT count(*) FROM sqlite_schema WHERE name = 'half'"),
            0);
}

// --- opening ---

TEST_F(SqliteDatabaseTest, DirectoryThatCannotBeCreatedGivesAClearError) {
  std::ofstream(dir_.path() / "file") << "not a directory";
  const auto path = dir_.path() / "file" / "data" / "pharos.db";
  auto db = SqliteDatabase::open(path, {});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(db.error().message.find("cannot create directory"), std::string::npos);
  EXPECT_NE(db.error().message.find(path.string()), std::string::npos) << db.error().message;
}

TEST_F(SqliteDatabaseTest, UnwritableDirectoryGivesAClearError) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes to read-only directories";
  const auto locked = dir_.path() / "locked";
  std::filesystem::create_directories(locked);
  std::filesystem::permissions(
      locked, std::filesystem::perms::owner_read | std::filesystem::perms::owner_exec);
  const auto path = locked / "pharos.db";
  auto db = SqliteDatabase::open(path, {});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(db.error().message, "cannot open database " + path.string() + ": directory " +
                                    locked.string() + " is not writable (Permission denied)");
}

TEST_F(SqliteDatabaseTest, ReadOnlyFileGivesAClearError) {
  if (geteuid() == 0) GTEST_SKIP() << "root writes to read-only files";
  ASSERT_TRUE(SqliteDatabase::open(path_, {}).ok());
  std::filesystem::permissions(path_, std::filesystem::perms::owner_read);
  auto db = SqliteDatabase::open(path_, {});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().message,
            "cannot open database " + path_.string() + ": the file is not writable");
}

TEST_F(SqliteDatabaseTest, FileThatIsNotADatabaseGivesAClearError) {
  std::filesystem::create_directories(path_.parent_path());
  std::ofstream(path_) << "this is a text file, certainly not an SQLite database, as you can see";
  auto db = SqliteDatabase::open(path_, {});
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(db.error().message.find(path_.string()), std::string::npos) << db.error().message;
  EXPECT_NE(db.error().message.find("not a database"), std::string::npos) << db.error().message;
}

}  // namespace
TEST_F(SqliteDatabaseTest, SqlBuilderBindsEveryValueAndSkipsUnsetConditions) {
  auto db = open();
  ASSERT_TRUE(db);
  auto found = db->writeSync<std::string>([](Connection& c) -> Result<std::string> {
    for (const char* value : {"alpha", "beta", "Gamma", "delta"}) {
      Sql insert;
      insert.add("INSERT INTO items(value) VALUES (?)").bind(std::string(value));
      auto s = prepare(c, insert);
      if (!s) return s.error();
      if (auto done = s->run(); !done) return done.error();
    }
    Sql select;
    select.add("SELECT value FROM items WHERE 1")
        .andIn("value", std::vector<std::string>{"alpha", "Gamma", "delta", "'; DROP TABLE items"})
        .andIn("id", std::vector<std::int64_t>{})  // unset: no condition
        .andEqual("value", std::nullopt)
        .andContains("value", std::string("A"))
        .add(" ORDER BY id")
        .page(2, 0);
    EXPECT_EQ(select.params.size(), 7u);
    auto s = prepare(c, select);
    if (!s) return s.error();
    std::string out;
    auto walked = eachRow(*s, [&](Statement& row) { out += std::string(row.columnText(0)) + " "; });
    if (!walked) return walked.error();
    return out;
  });
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(*found, "alpha Gamma ");  // "delta" also matches, but the page holds two
}

TEST_F(SqliteDatabaseTest, OptionalBindsAndReadsRoundTripNull) {
  auto db = open();
  ASSERT_TRUE(db);
  auto read = db->writeSync<std::string>([](Connection& c) -> Result<std::string> {
    auto s = c.prepare("SELECT ?1, ?2, ?3, ?4, ?5, ?6");
    if (!s) return s.error();
    s->bindOptionalText(1, std::string("x"))
        .bindOptionalText(2, std::nullopt)
        .bindOptionalInt64(3, std::int64_t{7})
        .bindOptionalInt64(4, std::nullopt)
        .bindOptionalDouble(5, 0.5)
        .bindOptionalDouble(6, std::nullopt);
    auto row = s->step();
    if (!row) return row.error();
    return fmt::format("{} {} {} {} {} {}", s->optionalText(0).value_or("-"),
                       s->optionalText(1).value_or("-"), s->optionalInt64(2).value_or(-1),
                       s->optionalInt64(3).value_or(-1), s->optionalDouble(4).value_or(-1),
                       s->optionalDouble(5).value_or(-1));
  });
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, "x - 7 -1 0.5 -1");
}

}  // namespace pharos::store::sqlite
