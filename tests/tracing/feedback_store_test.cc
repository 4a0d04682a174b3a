// The feedback store over a real SQLite file: create/get/update/delete, the list filters (by run,
// key, source type, project — its own or its run's — and score presence), feedback that arrives
// before its run, per-key project stats and workspace isolation.
#include "tracing/store/feedback_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>

#include "store/sqlite/tenants.h"
#include "store/store_test_util.h"
#include "tracing/store/run_store.h"
#include "tracing/store/sql_functions.h"

namespace pharos::tracing {
namespace {

namespace json = boost::json;
using store::sqlite::Connection;
using store::sqlite::SqliteDatabase;

constexpr std::string_view kWorkspace = "ws-1";
constexpr std::string_view kOtherWorkspace = "ws-2";
constexpr std::int64_t kT0 = 1'795'725'929'000'000;  // Unix µs

std::string id(int n) {
  return fmt::format("01a2199b-2a7f-7000-8000-{:012x}", n);
}
// Projects get ids of their own range, so a test never confuses them with runs.
std::string projectId(int n) {
  return fmt::format("01a2199b-2a7f-7000-9000-{:012x}", n);
}

class FeedbackStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registerRunSqlFunctionsForEveryConnection();
    auto db = store::test_util::openWithWorkspaces(dir_.path() / "pharos.db",
                                                   {kWorkspace, kOtherWorkspace});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    runs_ = std::make_unique<RunStore>(
        *db_, std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn()));
    store_ = std::make_unique<FeedbackStore>(*db_);
  }
  void TearDown() override { db_->close(); }

  template <class T>
  T run(boost::asio::awaitable<T> awaitable) {
    return store::test_util::runSync(ctx_, std::move(awaitable));
  }

  void makeProject(int n, std::string name) {
    Project p;
    p.id = projectId(n);
    p.name = std::move(name);
    p.start_time = kT0;
    auto made = run(runs_->createProject(std::string(kWorkspace), std::move(p), false));
    ASSERT_TRUE(made.ok()) << made.error().message;
  }

  // A root run `n` (its own trace) in the project named `project`.
  void ingestRun(int n, std::string_view project) {
    auto parsed = parseRunJson(
        json::parse(fmt::format(
            R"({{"id":"{}","name":"r","trace_id":"{}","start_time":{},"session_name":"{}"}})",
            id(n), id(n + 500), 1795725929000 + n, project)),
        RunOp::kPost);
    ASSERT_TRUE(parsed.ok());
    std::vector<PreparedRun> prepared;
    prepared.push_back(prepareRun(parsed->run, "test", runs_->prices()));
    auto outcome = run(runs_->ingest(std::string(kWorkspace), std::move(prepared), {}));
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    ASSERT_EQ(outcome->stored, 1u);
  }

  // Feedback `n` on run `run_n` (0: none), created at kT0 + n seconds.
  static Feedback feedback(int n, int run_n, std::string key, std::optional<double> score) {
    Feedback f;
    f.id = id(1000 + n);
    if (run_n > 0) f.run_id = id(run_n);
    f.key = std::move(key);
    f.score = score;
    f.created_at = kT0 + n * 1'000'000LL;
    f.modified_at = f.created_at;
    f.feedback_source = json::object{{"type", "api"}, {"metadata", json::object{}}};
    f.source_type = "api";
    return f;
  }

  Feedback create(Feedback f, std::string_view workspace = kWorkspace) {
    auto created = run(store_->create(std::string(workspace), std::move(f)));
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? *created : Feedback{};
  }

  // The ids of the feedback a query lists, in order (as their numbers n of id(1000 + n)).
  std::vector<int> listed(FeedbackQuery q, std::string_view workspace = kWorkspace) {
    auto rows = run(store_->list(std::string(workspace), std::move(q)));
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    std::vector<int> out;
    if (!rows.ok()) return out;
    for (const Feedback& f : *rows) {
      out.push_back(static_cast<int>(std::stoll(f.id.substr(24), nullptr, 16)) - 1000);
    }
    return out;
  }

  // feedbackStatsForProject of project `project_n` in `workspace`, which must have a tenant
  // number (it has once it stored feedback or runs).
  FeedbackStats stats(int project_n, std::string_view workspace = kWorkspace) {
    auto computed = db_->readSync<FeedbackStats>([&](Connection& c) -> core::Result<FeedbackStats> {
      auto ws = tenants_.lookup(c, std::string(workspace), false);
      if (!ws) return std::move(ws).error();
      if (!*ws) return core::Error::notFound("the workspace has no tenant number yet");
      return feedbackStatsForProject(c, **ws, projectId(project_n));
    });
    EXPECT_TRUE(computed.ok()) << computed.error().message;
    return computed.ok() ? *computed : FeedbackStats{};
  }

  store::test_util::TempDir dir_;
  boost::asio::io_context ctx_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<RunStore> runs_;
  std::unique_ptr<FeedbackStore> store_;
  store::sqlite::TenantCache tenants_;
};

TEST_F(FeedbackStoreTest, CreateThenGetReturnsEveryMember) {
  Feedback f = feedback(1, 7, "correctness", 0.75);
  f.trace_id = id(8);
  f.session_id = projectId(1);
  f.value = json::parse(R"({"label":"ok","n":[1,2]})");
  f.comment = "close enough";
  f.correction = json::parse(R"("Paris")");
  f.feedback_source =
      json::parse(R"({"type":"model","metadata":{"__run":{"run_id":")" + id(9) + R"("}}})");
  f.source_type = "model";
  f.source_run_id = id(9);
  f.extra = json::parse(R"({"note":1})");
  f.feedback_config = json::parse(R"({"type":"continuous","min":0,"max":1})");
  f.comparative_experiment_id = projectId(3);
  f.start_time = kT0 - 5;
  const Feedback created = create(f);
  EXPECT_EQ(created.id, f.id);

  auto got = run(store_->get(std::string(kWorkspace), f.id));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->run_id, id(7));
  EXPECT_EQ(got->trace_id, id(8));
  EXPECT_EQ(got->session_id, projectId(1));
  EXPECT_EQ(got->key, "correctness");
  EXPECT_EQ(got->score, 0.75);
  EXPECT_EQ(got->value, f.value);
  EXPECT_EQ(got->comment, "close enough");
  EXPECT_EQ(got->correction, json::value("Paris"));
  EXPECT_EQ(got->feedback_source, f.feedback_source);
  EXPECT_EQ(got->source_type, "model");
  EXPECT_EQ(got->source_run_id, id(9));
  EXPECT_EQ(got->extra, f.extra);
  EXPECT_EQ(got->feedback_config, f.feedback_config);
  EXPECT_EQ(got->comparative_experiment_id, projectId(3));
  EXPECT_EQ(got->created_at, f.created_at);
  EXPECT_EQ(got->modified_at, f.created_at);
  EXPECT_EQ(got->start_time, kT0 - 5);

  // Nulls stay null.
  const Feedback bare = create(feedback(2, 7, "bare", std::nullopt));
  EXPECT_FALSE(bare.score);
  EXPECT_TRUE(bare.value.is_null());
  EXPECT_TRUE(bare.correction.is_null());
  EXPECT_TRUE(bare.extra.is_null());
  EXPECT_FALSE(bare.comment);
  EXPECT_FALSE(bare.start_time);
}

TEST_F(FeedbackStoreTest, ADuplicateIdIsAConflictAndAnUnknownIdIsNotFound) {
  create(feedback(1, 7, "k", 1));
  auto again = run(store_->create(std::string(kWorkspace), feedback(1, 8, "other", 0)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_NE(again.error().message.find(id(1001)), std::string::npos) << again.error().message;
  // The first one is untouched.
  auto got = run(store_->get(std::string(kWorkspace), id(1001)));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->key, "k");

  auto unknown = run(store_->get(std::string(kWorkspace), id(1099)));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);
}

TEST_F(FeedbackStoreTest, ListFiltersCombineAndPagesFollowCreationOrder) {
  // Created out of order: listing sorts by created_at; equal times keep insertion order.
  create(feedback(3, 1, "correctness", 1));
  create(feedback(1, 1, "correctness", 0));
  Feedback model = feedback(2, 2, "correctness", std::nullopt);
  model.source_type = "model";
  create(model);
  create(feedback(4, 2, "helpfulness", 0.5));
  Feedback same_time = feedback(5, 3, "helpfulness", 1);
  same_time.created_at = kT0 + 4'000'000;  // as feedback 4
  create(same_time);

  EXPECT_EQ(listed({}), (std::vector<int>{1, 2, 3, 4, 5}));
  EXPECT_EQ(listed({.run_ids = {id(1)}}), (std::vector<int>{1, 3}));
  EXPECT_EQ(listed({.run_ids = {id(1), id(3)}}), (std::vector<int>{1, 3, 5}));
  EXPECT_EQ(listed({.keys = {"helpfulness"}}), (std::vector<int>{4, 5}));
  EXPECT_EQ(listed({.source_types = {"model"}}), (std::vector<int>{2}));
  EXPECT_EQ(listed({.keys = {"correctness"}, .source_types = {"api"}}), (std::vector<int>{1, 3}));
  EXPECT_EQ(listed({.run_ids = {id(2)}, .keys = {"correctness"}}), (std::vector<int>{2}));
  EXPECT_EQ(listed({.has_score = false}), (std::vector<int>{2}));
  EXPECT_EQ(listed({.has_score = true}), (std::vector<int>{1, 3, 4, 5}));
  EXPECT_EQ(listed({.offset = 1, .limit = 2}), (std::vector<int>{2, 3}));
  EXPECT_EQ(listed({.offset = 4, .limit = 2}), (std::vector<int>{5}));
  EXPECT_TRUE(listed({.offset = 5}).empty());
  EXPECT_TRUE(listed({.keys = {"nothing"}}).empty());
}

TEST_F(FeedbackStoreTest, FeedbackBeforeItsRunIsJoinedToTheRunsProjectOnceItArrives) {
  makeProject(1, "experiment");
  makeProject(2, "elsewhere");
  create(feedback(1, 10, "correctness", 1));  // run 10 not stored yet
  Feedback by_session = feedback(2, 11, "correctness", 0);
  by_session.session_id = projectId(1);  // names the experiment itself; run 11 never arrives
  create(by_session);
  create(feedback(3, 12, "correctness", 1));  // run 12 will land in another project

  EXPECT_EQ(listed({.session_ids = {projectId(1)}}), (std::vector<int>{2}));
  auto early = run(store_->get(std::string(kWorkspace), id(1001)));
  ASSERT_TRUE(early.ok());
  EXPECT_FALSE(early->session_id);
  EXPECT_FALSE(early->trace_id);

  ingestRun(10, "experiment");
  ingestRun(12, "elsewhere");

  EXPECT_EQ(listed({.session_ids = {projectId(1)}}), (std::vector<int>{1, 2}));
  EXPECT_EQ(listed({.session_ids = {projectId(2)}}), (std::vector<int>{3}));
  EXPECT_EQ(listed({.session_ids = {projectId(1), projectId(2)}}), (std::vector<int>{1, 2, 3}));
  auto late = run(store_->get(std::string(kWorkspace), id(1001)));
  ASSERT_TRUE(late.ok());
  EXPECT_EQ(late->session_id, projectId(1));
  EXPECT_EQ(late->trace_id, id(510));  // the run's trace
}

TEST_F(FeedbackStoreTest, UpdateChangesOnlyWhatItCarriesAndSetsModifiedAt) {
  Feedback f = feedback(1, 7, "k", 0.5);
  f.value = "draft";
  f.comment = "first";
  f.correction = json::parse(R"({"answer":"x"})");
  create(f);

  auto scored = run(store_->update(std::string(kWorkspace), f.id, FeedbackUpdate{.score = 1}));
  ASSERT_TRUE(scored.ok()) << scored.error().message;
  EXPECT_EQ(scored->score, 1);
  EXPECT_EQ(scored->value, json::value("draft"));
  EXPECT_EQ(scored->comment, "first");
  EXPECT_EQ(scored->correction, f.correction);
  EXPECT_EQ(scored->created_at, f.created_at);
  EXPECT_GT(scored->modified_at, f.created_at);

  FeedbackUpdate rest;
  rest.value = json::parse("[1,2]");
  rest.correction = json::value("y");
  rest.comment = "second";
  auto changed = run(store_->update(std::string(kWorkspace), f.id, rest));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->score, 1);
  EXPECT_EQ(changed->value, json::parse("[1,2]"));
  EXPECT_EQ(changed->correction, json::value("y"));
  EXPECT_EQ(changed->comment, "second");
  auto got = run(store_->get(std::string(kWorkspace), f.id));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->comment, "second");

  auto unknown = run(store_->update(std::string(kWorkspace), id(1099), rest));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);
}

TEST_F(FeedbackStoreTest, RemoveDeletesOnceThenIsNotFound) {
  create(feedback(1, 7, "k", 1));
  create(feedback(2, 7, "k", 0));
  auto removed = run(store_->remove(std::string(kWorkspace), id(1001)));
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(listed({}), (std::vector<int>{2}));
  auto again = run(store_->remove(std::string(kWorkspace), id(1001)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, core::ErrorCode::kNotFound);
  auto got = run(store_->get(std::string(kWorkspace), id(1001)));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, core::ErrorCode::kNotFound);
}

TEST_F(FeedbackStoreTest, StatsCoverTheProjectsRunsAndItsOwnFeedbackOnce) {
  makeProject(1, "experiment");
  makeProject(2, "elsewhere");
  ingestRun(1, "experiment");
  ingestRun(2, "experiment");
  ingestRun(3, "elsewhere");
  create(feedback(1, 1, "correctness", 1));
  create(feedback(2, 2, "correctness", 0));
  Feedback both = feedback(3, 1, "correctness", 1);  // its run is in the project AND names it
  both.session_id = projectId(1);
  create(both);
  Feedback session_only = feedback(4, 99, "correctness", 0);  // run 99 never stored
  session_only.session_id = projectId(1);
  create(session_only);
  Feedback failed = feedback(5, 2, "correctness", std::nullopt);
  failed.extra = json::parse(R"({"error":true})");
  failed.comment = "judge answered no JSON";
  create(failed);
  Feedback failed_scored = feedback(6, 2, "correctness", 1);  // an error never counts in n
  failed_scored.extra = json::parse(R"({"error":true})");
  create(failed_scored);
  Feedback not_failed = feedback(7, 2, "correctness", 0);
  not_failed.extra = json::parse(R"({"error":false})");
  create(not_failed);
  // Only the boolean true marks an error, as in the experiment aggregates and compare.
  Feedback numeric_error = feedback(9, 2, "correctness", 1);
  numeric_error.extra = json::parse(R"({"error":1})");
  create(numeric_error);
  create(feedback(8, 3, "correctness", 1));  // another project
  int n = 20;
  for (std::string_view label : {"good", "bad", "good"}) {
    Feedback labelled = feedback(n++, 1, "label", std::nullopt);
    labelled.value = json::value(label);
    create(labelled);
  }
  Feedback numeric = feedback(n++, 1, "label", std::nullopt);
  numeric.value = 3;  // numbers are not categories
  create(numeric);
  Feedback structured = feedback(n++, 1, "label", std::nullopt);
  structured.value = json::parse(R"({"a":true})");
  create(structured);

  const FeedbackStats s = stats(1);
  ASSERT_EQ(s.size(), 2u);
  const FeedbackKeyStats& c = s.at("correctness");
  // Scores 1, 0, 1, 0, 0, 1 (feedback 1, 2, 3, 4, 7, 9).
  EXPECT_EQ(c.n, 6);
  ASSERT_TRUE(c.avg);
  EXPECT_DOUBLE_EQ(*c.avg, 0.5);
  ASSERT_TRUE(c.stdev);
  EXPECT_NEAR(*c.stdev, 0.5, 1e-12);
  EXPECT_EQ(c.min, 0);
  EXPECT_EQ(c.max, 1);
  EXPECT_EQ(c.errors, 2);
  EXPECT_TRUE(c.values.empty());

  const FeedbackKeyStats& l = s.at("label");
  EXPECT_EQ(l.n, 0);
  EXPECT_FALSE(l.avg);
  EXPECT_FALSE(l.stdev);
  EXPECT_EQ(l.errors, 0);
  using Values = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(l.values, (Values{{"good", 2}, {"bad", 1}, {R"({"a":true})", 1}}));

  const FeedbackStats other = stats(2);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other.at("correctness").n, 1);
  EXPECT_TRUE(stats(9).empty());
}

TEST_F(FeedbackStoreTest, StatsKeepTheMostFrequentValues) {
  makeProject(1, "experiment");
  ingestRun(1, "experiment");
  int n = 1;
  // "v00" three times, "v01" twice, then 25 more distinct values once each.
  for (int v : {0, 0, 0, 1, 1}) {
    Feedback f = feedback(n++, 1, "label", std::nullopt);
    f.value = json::value(fmt::format("v{:02}", v));
    create(f);
  }
  for (int v = 2; v < 27; ++v) {
    Feedback f = feedback(n++, 1, "label", std::nullopt);
    f.value = json::value(fmt::format("v{:02}", v));
    create(f);
  }
  const FeedbackKeyStats l = stats(1).at("label");
  ASSERT_EQ(l.values.size(), kMaxDistinctValues);
  EXPECT_EQ(l.values[0], (std::pair<std::string, std::int64_t>{"v00", 3}));
  EXPECT_EQ(l.values[1], (std::pair<std::string, std::int64_t>{"v01", 2}));
  EXPECT_EQ(l.values[2], (std::pair<std::string, std::int64_t>{"v02", 1}));
  EXPECT_EQ(l.values.back(), (std::pair<std::string, std::int64_t>{"v19", 1}));
}

TEST_F(FeedbackStoreTest, DeletingAProjectDeletesItsFeedback) {
  makeProject(1, "experiment");
  ingestRun(1, "experiment");
  Feedback named = feedback(1, 1, "k", 1);
  named.session_id = projectId(1);
  create(named);
  Feedback named_too = feedback(2, 0, "k", 0);
  named_too.session_id = projectId(1);
  create(named_too);
  create(feedback(3, 1, "k", 1));  // only through its run, which goes with the project
  Feedback other = feedback(4, 0, "k", 1);
  other.session_id = projectId(2);
  create(other);

  // Another workspace cannot delete the project, nor anything of its feedback.
  auto foreign = run(runs_->deleteProject(std::string(kOtherWorkspace), projectId(1)));
  EXPECT_FALSE(foreign.ok());
  EXPECT_EQ(listed({}), (std::vector<int>{1, 2, 3, 4}));

  auto deleted = run(runs_->deleteProject(std::string(kWorkspace), projectId(1)));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(listed({}), (std::vector<int>{4}));
}

TEST_F(FeedbackStoreTest, WorkspacesNeverSeeEachOthersFeedback) {
  makeProject(1, "experiment");
  ingestRun(1, "experiment");
  Feedback mine = feedback(1, 1, "k", 1);
  mine.session_id = projectId(1);
  create(mine);

  const std::string other(kOtherWorkspace);
  EXPECT_TRUE(listed({}, kOtherWorkspace).empty());
  EXPECT_TRUE(listed({.session_ids = {projectId(1)}}, kOtherWorkspace).empty());
  auto got = run(store_->get(other, id(1001)));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, core::ErrorCode::kNotFound);
  auto updated = run(store_->update(other, id(1001), FeedbackUpdate{.score = 0}));
  ASSERT_FALSE(updated.ok());
  EXPECT_EQ(updated.error().code, core::ErrorCode::kNotFound);
  auto removed = run(store_->remove(other, id(1001)));
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, core::ErrorCode::kNotFound);

  // The same feedback id is free in the other workspace, and stays apart.
  create(feedback(1, 1, "theirs", 0), kOtherWorkspace);
  // Its feedback names run 1 too, but the run and project 1 are the first workspace's.
  EXPECT_TRUE(stats(1, kOtherWorkspace).empty());
  EXPECT_FALSE(stats(1).contains("theirs"));
  EXPECT_EQ(listed({}, kOtherWorkspace), (std::vector<int>{1}));
  auto still = run(store_->get(std::string(kWorkspace), id(1001)));
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->key, "k");
  EXPECT_EQ(still->score, 1);
  // Their feedback on run 1 is not joined to our run of the same id.
  auto theirs = run(store_->get(other, id(1001)));
  ASSERT_TRUE(theirs.ok());
  EXPECT_FALSE(theirs->session_id);
  EXPECT_EQ(stats(1).at("k").n, 1);
}

}  // namespace
}  // namespace pharos::tracing
