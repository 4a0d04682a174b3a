// RunRecorder over a real SQLite store: runs submitted from several threads are all stored after
// stop(); past the byte bound, submissions are dropped and counted, never blocking the caller.
#include "tracing/ingest/run_recorder.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "store/store_test_util.h"
#include "tracing/store/sql_functions.h"

namespace pharos::tracing {
namespace {

using store::sqlite::Connection;
using store::sqlite::SqliteDatabase;

constexpr std::string_view kWorkspace = "ws-1";

class RunRecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registerRunSqlFunctionsForEveryConnection();
    auto db = store::test_util::openWithWorkspaces(dir_.path() / "pharos.db", {kWorkspace});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    store_ = std::make_shared<RunStore>(
        *db_, std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn()));
  }
  void TearDown() override { db_->close(); }

  static RunFields llmRun(int n) {
    RunFields run;
    run.id = fmt::format("01a2199b-2a7f-7000-8000-{:012x}", n);
    run.trace_id = run.id;
    run.name = "chat gpt-4o";
    run.run_type = "llm";
    run.session_name = "gateway";
    run.start_time = 1'700'000'000'000'000 + n;
    run.end_time = *run.start_time + 1000;
    run.inputs = boost::json::object{{"n", n}};
    run.posted = true;
    return run;
  }

  std::int64_t storedRuns() {
    auto count = db_->readSync<std::int64_t>([](Connection& c) -> core::Result<std::int64_t> {
      auto s = c.prepare("SELECT count(*) FROM runs");
      if (!s) return std::move(s).error();
      auto row = s->step();
      if (!row) return std::move(row).error();
      return s->columnInt64(0);
    });
    EXPECT_TRUE(count.ok());
    return count.ok() ? *count : -1;
  }

  store::test_util::TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::shared_ptr<RunStore> store_;
  http::MetricsRegistry metrics_;
};

TEST_F(RunRecorderTest, StoresEverythingSubmittedFromManyThreads) {
  RunRecorder recorder(store_, metrics_);
  recorder.start();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const int n = t * 1000 + i;
        recorder.submit(
            std::string(kWorkspace), [n] { return llmRun(n); }, 100);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  recorder.stop();
  EXPECT_EQ(storedRuns(), 2000);
  EXPECT_NE(metrics_.render().find("pharos_recorded_runs_total 2000"), std::string::npos)
      << metrics_.render();
}

TEST_F(RunRecorderTest, OverTheByteBoundSubmissionsAreDroppedAndCounted) {
  // Not started: nothing drains the queue, so the bound is reached deterministically.
  RunRecorder recorder(store_, metrics_, /*max_queued_bytes=*/1000);
  for (int i = 0; i < 15; ++i) {
    recorder.submit(
        std::string(kWorkspace), [i] { return llmRun(i); }, 100);
  }
  EXPECT_NE(metrics_.render().find("pharos_recorded_runs_dropped_total 5"), std::string::npos)
      << metrics_.render();
  recorder.start();
  recorder.stop();
  EXPECT_EQ(storedRuns(), 10);
}

}  // namespace
}  // namespace pharos::tracing
