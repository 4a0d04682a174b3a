// The runs store over a real SQLite file: what the side tables hold after merges (metadata
// index, tags, full-text versions), per-run rejection inside a batch, and the query scopes
// (filter, trace_filter, tree_filter), ordering and field selection.
#include "tracing/store/run_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>

#include "store/store_test_util.h"
#include "tracing/query/filter_validate.h"
#include "tracing/store/sql_functions.h"

namespace pharos::tracing {
namespace {

namespace json = boost::json;
using store::sqlite::Connection;
using store::sqlite::SqliteDatabase;

constexpr std::string_view kWorkspace = "ws-1";

std::string id(int n) {
  return fmt::format("01a2199b-2a7f-7000-8000-{:012x}", n);
}

class RunStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registerRunSqlFunctionsForEveryConnection();
    auto db = store::test_util::openWithWorkspaces(dir_.path() / "pharos.db", {kWorkspace});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    store_ = std::make_unique<RunStore>(
        *db_, std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn()));
  }
  void TearDown() override { db_->close(); }

  template <class T>
  T run(boost::asio::awaitable<T> awaitable) {
    return store::test_util::runSync(ctx_, std::move(awaitable));
  }

  RunFields parse(std::string_view text, RunOp op) {
    auto parsed = parseRunJson(json::parse(text), op);
    EXPECT_TRUE(parsed.ok()) << text;
    return parsed.ok() ? parsed->run : RunFields{};
  }

  IngestOutcome ingest(std::vector<std::pair<std::string, RunOp>> payloads,
                       std::string workspace = std::string(kWorkspace)) {
    std::vector<PreparedRun> runs;
    for (auto& [text, op] : payloads) {
      runs.push_back(prepareRun(parse(text, op), "test", store_->prices()));
    }
    auto outcome = run(store_->ingest(workspace, std::move(runs), {}));
    EXPECT_TRUE(outcome.ok()) << outcome.error().message;
    return outcome.ok() ? *outcome : IngestOutcome{};
  }

  // Rows of a side table for checks the API does not expose.
  std::vector<std::string> column(std::string sql) {
    auto rows = db_->readSync<std::vector<std::string>>(
        [sql](Connection& c) -> core::Result<std::vector<std::string>> {
          auto s = c.prepare(sql);
          if (!s) return std::move(s).error();
          std::vector<std::string> out;
          for (;;) {
            auto row = s->step();
            if (!row) return std::move(row).error();
            if (!*row) break;
            out.emplace_back(s->columnText(0));
          }
          return out;
        });
    EXPECT_TRUE(rows.ok());
    return rows.ok() ? *rows : std::vector<std::string>{};
  }

  std::vector<std::string> names(RunQuery q, std::string workspace = std::string(kWorkspace)) {
    auto page = run(store_->queryRuns(workspace, std::move(q), ""));
    EXPECT_TRUE(page.ok()) << page.error().message;
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const std::string& text : page->runs) {
      out.emplace_back(json::parse(text).at("name").as_string());
    }
    return out;
  }

  static query::FilterExpr filter(std::string_view text) {
    auto parsed = query::parseAndValidateFilter(text);
    EXPECT_TRUE(parsed.ok()) << text;
    return parsed.ok() ? *parsed : query::FilterExpr{};
  }

  store::test_util::TempDir dir_;
  boost::asio::io_context ctx_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<RunStore> store_;
};

std::string runText(int n, std::string_view name, std::string_view more = "") {
  return fmt::format(
      R"({{"id":"{}","name":"{}","trace_id":"{}","start_time":{},"session_name":"p"{}}})", id(n),
      name, id(n), 1795725929000 + n, more);
}

TEST_F(RunStoreTest, MergeKeepsTheMetadataIndexExact) {
  ingest({{runText(1, "a", R"(,"extra":{"metadata":{"user":"ann","team":"x"}})"), RunOp::kPost}});
  ingest({{fmt::format(R"({{"id":"{}","extra":{{"metadata":{{"user":"bob"}}}}}})", id(1)),
           RunOp::kPatch}});
  EXPECT_EQ(column("SELECT key || '=' || value FROM run_metadata ORDER BY key"),
            (std::vector<std::string>{"team=x", "user=bob"}));
}

TEST_F(RunStoreTest, TagsUnionAndEveryPayloadTextIsSearchable) {
  ingest({{runText(2, "a", R"(,"tags":["t1"],"inputs":{"q":"alpha"})"), RunOp::kPost}});
  ingest({{fmt::format(R"({{"id":"{}","tags":["t2"],"outputs":{{"a":"omega"}}}})", id(2)),
           RunOp::kPatch}});
  EXPECT_EQ(column("SELECT tag FROM run_tags ORDER BY tag"),
            (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(column("SELECT text_versions FROM runs"), (std::vector<std::string>{"1"}));
  ingest({{runText(3, "b", R"(,"inputs":{"order":424242})"), RunOp::kPost}});
  RunQuery number;
  number.filter = filter(R"(search("424242"))");
  EXPECT_EQ(names(number), (std::vector<std::string>{"b"}));
  for (std::string_view word : {"alpha", "omega"}) {
    RunQuery q;
    q.filter = filter(fmt::format("search(\"{}\")", word));
    EXPECT_EQ(names(q), (std::vector<std::string>{"a"})) << word;
  }
}

TEST_F(RunStoreTest, AnUnknownSessionIdRejectsOnlyThatRun) {
  const IngestOutcome outcome =
      ingest({{runText(3, "good"), RunOp::kPost},
              {runText(4, "lost", R"(,"session_id":"01a2199b-2a7f-7000-8000-00000000ffff")"),
               RunOp::kPost}});
  EXPECT_EQ(outcome.stored, 1u);
  ASSERT_EQ(outcome.rejected.size(), 1u);
  EXPECT_NE(outcome.rejected[0].message.find("session_id: no project has the id"),
            std::string::npos);
  EXPECT_EQ(names(RunQuery{}), (std::vector<std::string>{"good"}));
}

TEST_F(RunStoreTest, TraceAndTreeFiltersLookAtTheWholeTrace) {
  // Trace 10: root r1 -> c1 (errored). Trace 20: root r2 -> c2.
  const auto child = [](int n, int root, std::string_view name, std::string_view more = "") {
    return fmt::format(
        R"({{"id":"{}","name":"{}","trace_id":"{}","parent_run_id":"{}","start_time":{},"session_name":"p"{}}})",
        id(n), name, id(root), id(root), 1795725929000 + n, more);
  };
  ingest({{runText(10, "r1"), RunOp::kPost},
          {child(11, 10, "c1", R"(,"error":"boom")"), RunOp::kPost},
          {runText(20, "r2"), RunOp::kPost},
          {child(21, 20, "c2"), RunOp::kPost}});
  RunQuery tree;
  tree.tree_filter = filter(R"(eq(status, "error"))");
  EXPECT_EQ(names(tree), (std::vector<std::string>{"c1", "r1"}));
  RunQuery by_root;
  by_root.trace_filter = filter(R"(eq(name, "r2"))");
  by_root.is_root = false;
  EXPECT_EQ(names(by_root), (std::vector<std::string>{"c2"}));
  // A root whose id is not the trace id (as OTLP spans are stored) is still the trace's root.
  ingest(
      {{fmt::format(
            R"({{"id":"{}","name":"r3","trace_id":"{}","start_time":1,"session_name":"p"}})",
            id(31), id(30)),
        RunOp::kPost},
       {fmt::format(
            R"({{"id":"{}","name":"c3","trace_id":"{}","parent_run_id":"{}","start_time":2,"session_name":"p"}})",
            id(32), id(30), id(31)),
        RunOp::kPost}});
  RunQuery otlp_root;
  otlp_root.trace_filter = filter(R"(eq(name, "r3"))");
  otlp_root.is_root = false;
  EXPECT_EQ(names(otlp_root), (std::vector<std::string>{"c3"}));
  RunQuery ascending;
  ascending.ascending = true;
  ascending.filter = filter(R"(neq(error, null))");
  EXPECT_EQ(names(ascending), (std::vector<std::string>{"c1"}));
  RunQuery all;
  all.ascending = true;
  EXPECT_EQ(names(all), (std::vector<std::string>{"r3", "c3", "r1", "c1", "r2", "c2"}));
  EXPECT_TRUE(names(all, "another-workspace").empty());
}

TEST_F(RunStoreTest, SelectionLeavesHeavyFieldsOut) {
  ingest({{runText(30, "a", R"(,"inputs":{"q":1},"outputs":{"a":2})"), RunOp::kPost}});
  RunQuery q;
  q.select = RunSelection{.inputs = false, .outputs = true, .events = false, .extra = false};
  auto page = run(store_->queryRuns(std::string(kWorkspace), q, ""));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->runs.size(), 1u);
  const json::value got = json::parse(page->runs[0]);
  EXPECT_FALSE(got.as_object().contains("inputs"));
  EXPECT_EQ(got.at("outputs").at("a"), 2);
  EXPECT_FALSE(got.as_object().contains("extra"));
}

TEST_F(RunStoreTest, LargeBodiesAreCompressedAndReadBackIntact) {
  std::string big(10000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = 'y';
  ingest({{runText(40, "big", R"(,"inputs":{"text":")" + big + R"("})"), RunOp::kPost}});
  EXPECT_EQ(column("SELECT typeof(inputs) FROM runs"), (std::vector<std::string>{"blob"}));
  auto got = run(store_->getRun(std::string(kWorkspace), id(40), ""));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::parse(*got).at("inputs").at("text"), json::value(big));
  // A patch merges into the compressed row too.
  ingest({{fmt::format(R"({{"id":"{}","outputs":{{"n":1}}}})", id(40)), RunOp::kPatch}});
  got = run(store_->getRun(std::string(kWorkspace), id(40), ""));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(json::parse(*got).at("inputs").at("text"), json::value(big));
  EXPECT_EQ(json::parse(*got).at("outputs").at("n"), 1);
}

// A common tag is answered by walking the project newest first, a rare one by starting from its
// few runs (see kDriveFromSideTableBelow); both must give the same, correctly ordered answers.
TEST_F(RunStoreTest, CommonAndRareSideTableFiltersAgree) {
  std::vector<std::pair<std::string, RunOp>> payloads;
  for (int n = 1; n <= 5100; ++n) {
    const bool rare = n % 1700 == 0;  // 1700, 3400, 5100
    payloads.emplace_back(runText(1000 + n, fmt::format("r{}", n),
                                  rare ? R"(,"tags":["common","rare"],"inputs":{"q":"zebra"})"
                                       : R"(,"tags":["common"],"inputs":{"q":"horse"})"),
                          RunOp::kPost);
  }
  ASSERT_EQ(ingest(std::move(payloads)).stored, 5100u);
  RunQuery common;
  common.limit = 3;
  common.filter = filter(R"(has(tags, "common"))");
  EXPECT_EQ(names(common), (std::vector<std::string>{"r5100", "r5099", "r5098"}));
  RunQuery rare;
  rare.filter = filter(R"(and(has(tags, "common"), has(tags, "rare")))");
  EXPECT_EQ(names(rare), (std::vector<std::string>{"r5100", "r3400", "r1700"}));
  rare.ascending = true;
  rare.limit = 2;
  EXPECT_EQ(names(rare), (std::vector<std::string>{"r1700", "r3400"}));
  RunQuery words;
  words.filter = filter(R"(search("zebra"))");
  EXPECT_EQ(names(words), (std::vector<std::string>{"r5100", "r3400", "r1700"}));
  words.filter = filter(R"(and(search("horse"), lt(start_time, "2026-11-26T20:45:30.004Z")))");
  EXPECT_EQ(names(words).size(), 3u);  // r1..r3 of the common word: the slow path, exact
}

TEST_F(RunStoreTest, RunsWithoutStartTimePageLikeAnyOther) {
  // Two patch-first records (no start time yet) among three timed runs.
  ingest({{runText(50, "t1"), RunOp::kPost},
          {fmt::format(R"({{"id":"{}","name":"n1","session_name":"p"}})", id(51)), RunOp::kPatch},
          {runText(52, "t2"), RunOp::kPost},
          {fmt::format(R"({{"id":"{}","name":"n2","session_name":"p"}})", id(53)), RunOp::kPatch},
          {runText(54, "t3"), RunOp::kPost}});
  for (bool ascending : {false, true}) {
    RunQuery q;
    q.limit = 1;
    q.ascending = ascending;
    std::vector<std::string> seen;
    for (int page = 0; page < 10; ++page) {
      auto result = run(store_->queryRuns(std::string(kWorkspace), q, ""));
      ASSERT_TRUE(result.ok()) << result.error().message;
      for (const std::string& text : result->runs) {
        seen.emplace_back(json::parse(text).at("name").as_string());
      }
      if (!result->next_cursor) break;
      q.cursor = result->next_cursor;
    }
    const std::vector<std::string> newest_first = {"t3", "t2", "t1", "n2", "n1"};
    const std::vector<std::string> oldest_first = {"n1", "n2", "t1", "t2", "t3"};
    EXPECT_EQ(seen, ascending ? oldest_first : newest_first);
  }
}

TEST_F(RunStoreTest, ARunStaysInTheProjectItWasFirstStoredIn) {
  ingest({{fmt::format(R"({{"id":"{}","session_name":"first"}})", id(60)), RunOp::kPatch}});
  ingest({{fmt::format(R"({{"id":"{}","name":"x","start_time":1}})", id(60)), RunOp::kPost}});
  ingest(
      {{fmt::format(R"({{"id":"{}","name":"x","session_name":"other"}})", id(60)), RunOp::kPost}});
  EXPECT_EQ(column("SELECT s.name FROM runs r JOIN sessions s ON s.seq = r.session"),
            (std::vector<std::string>{"first"}));
}

TEST_F(RunStoreTest, DeletedRunsLeaveNoSearchableTextForLaterRuns) {
  ingest({{runText(70, "old", R"(,"inputs":{"q":"zanzibar"})"), RunOp::kPost}});
  const std::string project = column("SELECT id FROM sessions").at(0);
  ASSERT_TRUE(run(store_->deleteProject(std::string(kWorkspace), project)).ok());
  ingest({{runText(71, "new", R"(,"inputs":{"q":"other words"})"), RunOp::kPost}});
  RunQuery q;
  q.filter = filter(R"(search("zanzibar"))");
  EXPECT_TRUE(names(q).empty()) << "a new run must not inherit the deleted run's text";
}

}  // namespace
}  // namespace pharos::tracing
