// The experiment store over a real SQLite file, on rows written the way evaluate() leaves them
// (docs/plans/evaluation.md §1, §4, §7): example runs in the experiment, llm children of their
// traces in another project, evaluator runs in "evaluators" pointing back with targetRunId,
// feedback that names only its run, repetitions, errors, and runs whose example is gone.
#include "eval/store/experiment_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <utility>
#include <vector>

#include "store/store_test_util.h"
#include "tracing/run.h"
#include "tracing/store/run_store.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using store::sqlite::Connection;
using store::sqlite::SqliteDatabase;

constexpr std::string_view kWorkspace = "ws-1";

std::string uuid(int n) {
  return fmt::format("01a2199b-2a7f-7000-8000-{:012x}", n);
}

// Ids of the fixture. Projects 1xx, datasets 2xx, examples 3xx, runs 4xx, feedback 5xx.
const std::string kExperimentX = uuid(101), kExperimentY = uuid(102), kOther = uuid(103),
                  kEvaluators = uuid(104), kPlain = uuid(105), kOtherDatasetExp = uuid(106);
const std::string kDataset = uuid(201), kDataset2 = uuid(202);
const std::string kE1 = uuid(301), kE2 = uuid(302), kE3 = uuid(303), kE4 = uuid(304),
                  kNeverAnExample = uuid(399);
const std::string kR1 = uuid(401), kR2 = uuid(402), kR3 = uuid(403), kR3b = uuid(404),
                  kChild1 = uuid(405), kChild2 = uuid(406), kNoExample = uuid(407), kR4 = uuid(408),
                  kR5 = uuid(409), kY1 = uuid(411), kY2 = uuid(412), kEval1 = uuid(421),
                  kEval1Child = uuid(422), kEval2 = uuid(423), kEval3 = uuid(424);

// An SQL literal of the fixture: the text quoted, or NULL.
std::string quoted(const std::optional<std::string>& v) {
  if (!v) return "NULL";
  std::string out = "'";
  for (char ch : *v) out += ch == '\'' ? std::string("''") : std::string(1, ch);
  return out + "'";
}

struct RunRowSpec {
  std::string id;
  std::string session;               // project id
  std::optional<std::string> trace;  // default: the run itself
  std::optional<std::string> parent;
  std::string status = "success";
  std::optional<double> latency;
  std::optional<std::string> error;
  bool root = true;
  std::optional<std::string> example;
  std::optional<std::int64_t> prompt, completion, total;
  std::optional<double> cost;
  std::int64_t start = 0;
  std::string inputs = R"({"question":"q"})";
  std::optional<std::string> outputs;
};

class ExperimentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDatabase::open(dir_.path() / "pharos.db", core::StoreSettings{});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    sql(fmt::format(
        "INSERT INTO workspaces(id, name, created_at) VALUES ('{0}', 'one', 0), ('ws-2', 'two', "
        "0); INSERT INTO tenants(ws, workspace_id) VALUES (1, '{0}'), (2, 'ws-2');",
        kWorkspace));
    store_ = std::make_unique<ExperimentStore>(*db_);
  }
  void TearDown() override { db_->close(); }

  // Constant SQL of the fixture (values are test literals).
  void sql(std::string text) {
    auto done = db_->writeSync<bool>([text](Connection& c) -> core::Result<bool> {
      if (auto st = c.exec(text); !st) return st.error();
      return true;
    });
    ASSERT_TRUE(done.ok()) << done.error().message << "\n" << text;
  }

  void project(const std::string& id, const std::string& name,
               std::optional<std::string> dataset = std::nullopt,
               std::optional<int> num_examples = std::nullopt, int ws = 1,
               std::string extra = "NULL") {
    sql(fmt::format(
        "INSERT INTO sessions(ws, id, name, reference_dataset_id, start_time, num_examples, "
        "extra) VALUES ({}, '{}', '{}', {}, 1000, {}, {})",
        ws, id, name, quoted(dataset),
        num_examples ? std::to_string(*num_examples) : std::string("NULL"), extra));
  }
  void dataset(const std::string& id, const std::string& name, int ws = 1) {
    sql(fmt::format(
        "INSERT INTO datasets(ws, id, name, created_at, modified_at) VALUES ({}, '{}', '{}', 0, 0)",
        ws, id, name));
  }
  // One revision of an example.
  void example(const std::string& dataset_id, const std::string& id, std::int64_t created,
               std::string inputs, std::optional<std::string> metadata = std::nullopt,
               std::int64_t modified = -1, std::optional<std::int64_t> valid_to = std::nullopt,
               bool deleted = false) {
    sql(fmt::format(
        "INSERT INTO examples(ws, dataset, id, inputs, outputs, metadata, created_at, "
        "modified_at, valid_to, deleted) VALUES (1, (SELECT seq FROM datasets WHERE id = '{}'), "
        "'{}', '{}', '{{\"answer\":\"a\"}}', {}, {}, {}, {}, {})",
        dataset_id, id, inputs, quoted(metadata), created, modified < 0 ? created : modified,
        valid_to ? std::to_string(*valid_to) : std::string("NULL"), deleted ? 1 : 0));
  }
  void run(const RunRowSpec& r) {
    const auto num = [](const auto& v) { return v ? fmt::format("{}", *v) : std::string("NULL"); };
    sql(fmt::format(
        "INSERT INTO runs(ws, id, session, trace_id, parent_run_id, name, status, start_time, "
        "latency, error, is_root, reference_example_id, prompt_tokens, completion_tokens, "
        "total_tokens, total_cost, inputs, outputs, posted) VALUES (1, '{}', (SELECT seq FROM "
        "sessions WHERE id = '{}'), '{}', {}, 'run', '{}', {}, {}, {}, {}, {}, {}, {}, {}, {}, "
        "'{}', {}, 1)",
        r.id, r.session, r.trace.value_or(r.id), quoted(r.parent), r.status, r.start,
        num(r.latency), quoted(r.error), r.root ? 1 : 0, quoted(r.example), num(r.prompt),
        num(r.completion), num(r.total), num(r.cost), r.inputs, quoted(r.outputs)));
  }
  void metadata(const std::string& run_id, const std::string& key, const std::string& value) {
    sql(fmt::format(
        "INSERT INTO run_metadata(ws, key, value, run) SELECT 1, '{}', '{}', seq FROM runs "
        "WHERE id = '{}'",
        key, value, run_id));
  }
  void feedback(int n, std::optional<std::string> run_id, std::optional<std::string> session_id,
                const std::string& key, std::optional<double> score,
                std::optional<std::string> value = std::nullopt,
                std::optional<std::string> extra = std::nullopt,
                std::optional<std::string> source_run = std::nullopt) {
    sql(
        fmt::format("INSERT INTO feedback(ws, id, run_id, session_id, key, score, value, extra, "
                    "source_run_id, created_at) VALUES (1, '{}', {}, {}, '{}', {}, {}, {}, {}, {})",
                    uuid(500 + n), quoted(run_id), quoted(session_id), key,
                    score ? fmt::format("{}", *score) : std::string("NULL"), quoted(value),
                    quoted(extra), quoted(source_run), n));
  }

  // Experiment X on kDataset (3 examples expected): four example runs over three examples (one
  // repeated), one target error, an llm child in another project, feedback that names only its
  // run, non-numeric values, a Python-style error feedback, and evaluator runs pointing back.
  void buildExperimentX() {
    dataset(kDataset, "qa");
    example(kDataset, kE1, 1, R"({"question":"one"})", R"({"dataset_split":["train"]})");
    example(kDataset, kE2, 2, R"({"question":"two"})", R"({"dataset_split":["test"]})");
    example(kDataset, kE3, 3, R"({"question":"three"})", R"({"dataset_split":["train"]})");
    project(kExperimentX, "v1.0-x", kDataset, 3, 1, R"('{"metadata":{"revision_id":"abc"}}')");
    project(kOther, "default");
    project(kEvaluators, "evaluators");

    run({.id = kR1,
         .session = kExperimentX,
         .latency = 1.0,
         .example = kE1,
         .start = 10,
         .outputs = R"({"answer":"one!"})"});
    // The gateway's llm call under r1 landed in another project; a second child stayed in X.
    run({.id = kChild1,
         .session = kOther,
         .trace = kR1,
         .parent = kR1,
         .root = false,
         .prompt = 60,
         .completion = 40,
         .total = 100,
         .cost = 0.5,
         .start = 11});
    run({.id = kChild2,
         .session = kExperimentX,
         .trace = kR1,
         .parent = kR1,
         .root = false,
         .example = kE1,
         .total = 5,
         .start = 12});
    run({.id = kR2,
         .session = kExperimentX,
         .status = "error",
         .latency = 3.0,
         .error = "Error: target exploded",
         .example = kE2,
         .prompt = 10,
         .total = 10,
         .cost = 0.1,
         .start = 20});
    run({.id = kR3, .session = kExperimentX, .latency = 2.0, .example = kE3, .start = 30});
    run({.id = kR3b, .session = kExperimentX, .latency = 4.0, .example = kE3, .start = 31});
    // A root run without an example is not an example run (its tokens do not count either).
    run({.id = kNoExample, .session = kExperimentX, .latency = 100.0, .total = 1000, .start = 40});

    feedback(1, kR1, kExperimentX, "correctness", 1);
    feedback(2, kR2, std::nullopt, "correctness", 0);  // only run_id, like feedback before runs
    feedback(3, kR3, kExperimentX, "correctness", 1);
    feedback(4, kR3b, kExperimentX, "correctness", 1);
    feedback(5, kR1, kExperimentX, "tone", std::nullopt, R"("friendly")");
    feedback(6, kR2, kExperimentX, "tone", std::nullopt, R"("friendly")");
    feedback(7, kR3, kExperimentX, "tone", std::nullopt, R"({"a":1})");
    feedback(8, kR3, kExperimentX, "helpfulness", std::nullopt, std::nullopt, R"({"error":true})");
    // Names the experiment but a run that never arrived: project stats only.
    feedback(9, uuid(498), kExperimentX, "correctness", 0);

    // The JS path: a failed evaluator run in "evaluators", its failing child, a good one.
    run({.id = kEval1,
         .session = kEvaluators,
         .status = "error",
         .error = "Error: evaluator broke",
         .example = kE3,
         .start = 50});
    metadata(kEval1, "targetRunId", kR3);
    run({.id = kEval1Child,
         .session = kEvaluators,
         .trace = kEval1,
         .parent = kEval1,
         .status = "error",
         .error = "Error: evaluator broke",
         .root = false,
         .start = 51});
    metadata(kEval1Child, "targetRunId", kR3);
    run({.id = kEval2, .session = kEvaluators, .example = kE1, .start = 52});
    metadata(kEval2, "targetRunId", kR1);
  }

  template <class T>
  T await(boost::asio::awaitable<T> awaitable) {
    return store::test_util::runSync(ctx_, std::move(awaitable));
  }

  ExperimentStats aggregates(const std::string& session) {
    auto stats = await(store_->aggregates(std::string(kWorkspace), session));
    EXPECT_TRUE(stats.ok()) << stats.error().message;
    return stats.ok() ? *stats : ExperimentStats{};
  }

  json::object compare(CompareQuery q) {
    q.dataset_id = q.dataset_id.empty() ? kDataset : q.dataset_id;
    auto out = await(store_->compare(std::string(kWorkspace), std::move(q)));
    EXPECT_TRUE(out.ok()) << out.error().message;
    return out.ok() ? *out : json::object{};
  }

  core::Error compareError(CompareQuery q, std::string workspace = std::string(kWorkspace)) {
    auto out = await(store_->compare(std::move(workspace), std::move(q)));
    EXPECT_FALSE(out.ok());
    return out.ok() ? core::Error::internal("compare succeeded") : out.error();
  }

  store::test_util::TempDir dir_;
  boost::asio::io_context ctx_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<ExperimentStore> store_;
};

TEST_F(ExperimentStoreTest, AggregatesCountExampleRunsRepetitionsAndErrors) {
  buildExperimentX();
  const ExperimentStats s = aggregates(kExperimentX);
  EXPECT_EQ(s.example_count, 3);
  EXPECT_EQ(s.run_count, 4);  // r3 ran twice; the run without an example is not counted
  EXPECT_EQ(s.expected_examples, 3);
  EXPECT_TRUE(s.complete);
  EXPECT_EQ(s.error_count, 1);
  EXPECT_DOUBLE_EQ(experimentStatsJson(s).at("error_rate").as_double(), 0.25);
  ASSERT_TRUE(s.latency_mean && s.latency_p50 && s.latency_p95);
  EXPECT_DOUBLE_EQ(*s.latency_mean, 2.5);
  EXPECT_DOUBLE_EQ(*s.latency_p50, 2.0);  // nearest rank over {1, 2, 3, 4}
  EXPECT_DOUBLE_EQ(*s.latency_p95, 4.0);
}

TEST_F(ExperimentStoreTest, TokensAndCostSumWholeTracesWhereverChildrenLanded) {
  buildExperimentX();
  const ExperimentStats s = aggregates(kExperimentX);
  // r1's trace: the llm child in another project (60+40=100, $0.5) and a child in X (5); r2's
  // own 10 tokens and $0.1; the run without an example (1000) is outside.
  EXPECT_EQ(s.total_tokens, 115);
  EXPECT_EQ(s.prompt_tokens, 70);
  EXPECT_EQ(s.completion_tokens, 40);
  EXPECT_NEAR(s.total_cost, 0.6, 1e-12);
}

TEST_F(ExperimentStoreTest, FeedbackJoinsByRunIncludingFeedbackWithoutSession) {
  buildExperimentX();
  const ExperimentStats s = aggregates(kExperimentX);
  ASSERT_TRUE(s.feedback.contains("correctness"));
  const tracing::FeedbackKeyStats& c = s.feedback.at("correctness");
  // r1 1, r2 0 (only run_id), r3 1, r3b 1 (repetitions both count); the feedback on a run that
  // never arrived is not the experiment's.
  EXPECT_EQ(c.n, 4);
  EXPECT_DOUBLE_EQ(*c.avg, 0.75);
  EXPECT_NEAR(*c.stdev, std::sqrt(0.1875), 1e-12);  // population stdev
  EXPECT_DOUBLE_EQ(*c.min, 0);
  EXPECT_DOUBLE_EQ(*c.max, 1);
  EXPECT_EQ(c.errors, 0);
  const tracing::FeedbackKeyStats& tone = s.feedback.at("tone");
  EXPECT_EQ(tone.n, 0);
  EXPECT_FALSE(tone.avg);
  using Values = std::vector<std::pair<std::string, std::int64_t>>;
  EXPECT_EQ(tone.values, (Values{{"friendly", 2}, {R"({"a":1})", 1}}));  // most frequent first
  const tracing::FeedbackKeyStats& help = s.feedback.at("helpfulness");
  EXPECT_EQ(help.n, 0);
  EXPECT_EQ(help.errors, 1);

  const json::object j = experimentStatsJson(s);
  EXPECT_EQ(json::serialize(j.at("feedback").at("tone").at("values")),
            R"({"friendly":2,"{\"a\":1}":1})");
  EXPECT_DOUBLE_EQ(j.at("feedback").at("correctness").at("mean").as_double(), 0.75);
  EXPECT_FALSE(j.at("feedback").at("correctness").as_object().contains("avg"));
}

TEST_F(ExperimentStoreTest, ValuesKeepTheTwentyMostFrequent) {
  buildExperimentX();
  // 25 distinct labels on r1; "z-common" three times, so it survives the cut at 20 although it
  // sorts last.
  for (int i = 0; i < 25; ++i) {
    feedback(40 + i, kR1, kExperimentX, "label", std::nullopt, fmt::format(R"("v{:02}")", i));
  }
  for (int i = 0; i < 3; ++i) {
    feedback(70 + i, kR2, kExperimentX, "label", std::nullopt, R"("z-common")");
  }
  const ExperimentStats stats = aggregates(kExperimentX);
  const tracing::FeedbackKeyStats& label = stats.feedback.at("label");
  ASSERT_EQ(label.values.size(), tracing::kMaxDistinctValues);
  using Value = std::pair<std::string, std::int64_t>;
  EXPECT_EQ(label.values.front(), (Value{"z-common", 3}));
  // Then the ties of one in label order: v00..v18 survive, v19..v24 do not.
  EXPECT_EQ(label.values[1], (Value{"v00", 1}));
  EXPECT_EQ(label.values.back(), (Value{"v18", 1}));
}

TEST_F(ExperimentStoreTest, EvaluatorErrorsJoinFailedEvaluatorRunsAndErrorFeedback) {
  buildExperimentX();
  // eval1 failed on r3 (its failing child is the same failure), eval2 succeeded; feedback 8 is
  // a Python-style {"error": true}. An errored evaluator of another experiment's run is not X's.
  project(kExperimentY, "v1.1-y", kDataset, 3);
  run({.id = kY1, .session = kExperimentY, .latency = 1.0, .example = kE1, .start = 60});
  run({.id = kEval3,
       .session = kEvaluators,
       .status = "error",
       .error = "Error: elsewhere",
       .example = kE1,
       .start = 61});
  metadata(kEval3, "targetRunId", kY1);
  EXPECT_EQ(aggregates(kExperimentX).evaluator_errors, 2);
  EXPECT_EQ(aggregates(kExperimentY).evaluator_errors, 1);
}

TEST_F(ExperimentStoreTest, AFailureReportedAsRunAndAsFeedbackCountsOnce) {
  buildExperimentX();
  // The same failed evaluator (eval1) also posted error feedback naming itself as the source.
  feedback(10, kR3, kExperimentX, "fragile", std::nullopt, std::nullopt, R"({"error":true})",
           kEval1);
  const ExperimentStats s = aggregates(kExperimentX);
  EXPECT_EQ(s.feedback.at("fragile").errors, 1);
  EXPECT_EQ(s.evaluator_errors, 2);  // eval1 (= feedback 10) and feedback 8
}

TEST_F(ExperimentStoreTest, EvaluatorRunIngestedAsTheSdkSendsItJoins) {
  buildExperimentX();
  // Through the run store: metadata indexing is what the join reads.
  tracing::RunStore runs(*db_,
                         std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn()));
  const std::string text = fmt::format(
      R"({{"id":"{0}","name":"evaluator","trace_id":"{0}","start_time":1795725929000,)"
      R"("end_time":1795725929100,"session_name":"evaluators","error":"Error: second",)"
      R"("reference_example_id":"{1}","extra":{{"metadata":{{"targetRunId":"{2}"}}}}}})",
      uuid(430), kE2, kR2);
  auto parsed = tracing::parseRunJson(json::parse(text), tracing::RunOp::kPost);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  std::vector<tracing::PreparedRun> prepared;
  prepared.push_back(tracing::prepareRun(parsed->run, "test", runs.prices()));
  auto stored = await(runs.ingest(std::string(kWorkspace), std::move(prepared), {}));
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->stored, 1u);
  EXPECT_EQ(aggregates(kExperimentX).evaluator_errors, 3);
}

TEST_F(ExperimentStoreTest, JsEvaluatorRunsJoinByTheRunInTheirInputs) {
  buildExperimentX();
  project(kExperimentY, "v1.1-y", kDataset, 3);
  run({.id = kY2, .session = kExperimentY, .latency = 1.0, .example = kE2, .start = 60});
  // langsmith 0.10.5: no targetRunId in metadata; the inputs are the traceable's arguments,
  // {args: [{langSmithRunAndExample: {run, example}}, {metadata}]}. One failed on X's r2, one on
  // Y's run of the same example, one of X's succeeded.
  const auto evaluatorInputs = [](const std::string& target) {
    return fmt::format(
        R"({{"args":[{{"langSmithRunAndExample":{{"run":{{"id":"{}"}},"example":{{}}}}}},)"
        R"({{"metadata":{{"targetRunId":"{}"}}}}]}})",
        target, target);
  };
  run({.id = uuid(431),
       .session = kEvaluators,
       .status = "error",
       .error = "Error: js broke",
       .example = kE2,
       .start = 80,
       .inputs = evaluatorInputs(kR2)});
  run({.id = uuid(432),
       .session = kEvaluators,
       .status = "error",
       .error = "Error: y broke",
       .example = kE2,
       .start = 81,
       .inputs = evaluatorInputs(kY2)});
  run({.id = uuid(433),
       .session = kEvaluators,
       .example = kE2,
       .start = 82,
       .inputs = evaluatorInputs(kR2)});
  EXPECT_EQ(aggregates(kExperimentX).evaluator_errors, 3);  // + eval1 and feedback 8
  EXPECT_EQ(aggregates(kExperimentY).evaluator_errors, 1);

  const json::object out = compare({.experiment_ids = {kExperimentX, kExperimentY}});
  const json::array& x = out.at("examples").at(1).at("results").at(0).at("runs").as_array();
  ASSERT_EQ(x.size(), 1u);
  ASSERT_EQ(x.at(0).at("evaluator_errors").as_array().size(), 1u);
  EXPECT_EQ(x.at(0).at("evaluator_errors").at(0).at("run_id").as_string(), uuid(431));
  EXPECT_EQ(x.at(0).at("evaluator_errors").at(0).at("error").as_string(), "Error: js broke");
  const json::array& y = out.at("examples").at(1).at("results").at(1).at("runs").as_array();
  ASSERT_EQ(y.at(0).at("evaluator_errors").as_array().size(), 1u);
  EXPECT_EQ(y.at(0).at("evaluator_errors").at(0).at("run_id").as_string(), uuid(432));
}

TEST_F(ExperimentStoreTest, CompleteOnlyWhenEveryExpectedExampleRanAndNothingIsPending) {
  buildExperimentX();
  project(kExperimentY, "v1.1-y", kDataset, 3);
  run({.id = kY1, .session = kExperimentY, .latency = 1.0, .example = kE1});
  run({.id = kY2, .session = kExperimentY, .status = "pending", .example = kE2});
  ExperimentStats y = aggregates(kExperimentY);
  EXPECT_EQ(y.example_count, 2);
  EXPECT_FALSE(y.complete);
  EXPECT_FALSE(y.latency_p95 && *y.latency_p95 > 1.0);  // the pending run has no latency
  run({.id = uuid(413), .session = kExperimentY, .latency = 1.0, .example = kE3});
  EXPECT_FALSE(aggregates(kExperimentY).complete);  // 3 of 3, but one still pending
  sql(fmt::format("UPDATE runs SET status = 'success' WHERE id = '{}'", kY2));
  EXPECT_TRUE(aggregates(kExperimentY).complete);
  // Without num_examples an experiment is complete once it has ended.
  project(uuid(107), "no-count", kDataset);
  EXPECT_FALSE(aggregates(uuid(107)).complete);
  sql(fmt::format("UPDATE sessions SET end_time = 2000 WHERE id = '{}'", uuid(107)));
  EXPECT_TRUE(aggregates(uuid(107)).complete);
}

TEST_F(ExperimentStoreTest, AnExperimentWithoutRunsHasEmptyAggregates) {
  dataset(kDataset, "qa");
  project(kExperimentX, "empty", kDataset, 2);
  const ExperimentStats s = aggregates(kExperimentX);
  EXPECT_EQ(s.run_count, 0);
  EXPECT_FALSE(s.complete);
  EXPECT_FALSE(s.latency_p50);
  const json::object j = experimentStatsJson(s);
  EXPECT_EQ(j.at("error_rate").as_double(), 0.0);
  EXPECT_TRUE(j.at("latency_mean").is_null());
  EXPECT_TRUE(j.at("feedback").as_object().empty());
}

TEST_F(ExperimentStoreTest, AggregatesOfAnUnknownProjectIsNotFound) {
  auto none = await(store_->aggregates(std::string(kWorkspace), uuid(999)));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, core::ErrorCode::kNotFound);
  EXPECT_NE(none.error().message.find(uuid(999)), std::string::npos);
  // Another workspace's project is just as unknown.
  project(uuid(108), "theirs", std::nullopt, std::nullopt, 2);
  auto theirs = await(store_->aggregates(std::string(kWorkspace), uuid(108)));
  ASSERT_FALSE(theirs.ok());
  EXPECT_EQ(theirs.error().code, core::ErrorCode::kNotFound);
}

TEST_F(ExperimentStoreTest, ProjectStatsFieldsGiveFeedbackStatsAndExperimentStats) {
  buildExperimentX();
  auto x = await(store_->projectStatsFields(std::string(kWorkspace), kExperimentX));
  ASSERT_TRUE(x.ok()) << x.error().message;
  // By run or by session: the feedback on a run that never arrived counts here.
  const json::object& correctness = x->at("feedback_stats").at("correctness").as_object();
  EXPECT_EQ(correctness.at("n").as_int64(), 5);
  EXPECT_DOUBLE_EQ(correctness.at("avg").as_double(), 0.6);
  EXPECT_EQ(correctness.at("errors").as_int64(), 0);
  EXPECT_EQ(x->at("feedback_stats").at("helpfulness").at("errors").as_int64(), 1);
  ASSERT_TRUE(x->contains("experiment_stats"));
  EXPECT_EQ(x->at("experiment_stats").at("run_count").as_int64(), 4);

  // A plain project: feedback_stats only.
  project(kPlain, "plain");
  run({.id = uuid(440), .session = kPlain, .start = 1});
  feedback(20, uuid(440), std::nullopt, "thumbs", 1);
  auto plain = await(store_->projectStatsFields(std::string(kWorkspace), kPlain));
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->contains("experiment_stats"));
  EXPECT_EQ(plain->at("feedback_stats").at("thumbs").at("n").as_int64(), 1);
  EXPECT_EQ(json::serialize(plain->at("feedback_stats")),
            R"({"thumbs":{"n":1,"avg":1E0,"stdev":0E0,"min":1E0,"max":1E0,"errors":0,)"
            R"("values":{}}})");
}

// ---- compare ----

class CompareTest : public ExperimentStoreTest {
 protected:
  void SetUp() override {
    ExperimentStoreTest::SetUp();
    buildExperimentX();
    project(kExperimentY, "v1.1-y", kDataset, 3);
    run({.id = kY1,
         .session = kExperimentY,
         .latency = 0.5,
         .example = kE1,
         .start = 60,
         .outputs = R"({"answer":"one"})"});
    run({.id = kY2, .session = kExperimentY, .latency = 0.5, .example = kE2, .start = 61});
    feedback(30, kY1, kExperimentY, "correctness", 1);
    feedback(31, kY2, kExperimentY, "exactness", 0);
    // e4 existed from t=4 and was deleted at t=20; X ran it before. r5 is a file row that
    // never became an example (§7).
    example(kDataset, kE4, 4, R"({"question":"four"})", std::nullopt, 4, 20);
    example(kDataset, kE4, 4, R"({"question":"four"})", std::nullopt, 20, std::nullopt, true);
    run({.id = kR4,
         .session = kExperimentX,
         .latency = 1.0,
         .example = kE4,
         .start = 70,
         .inputs = R"({"question":"four"})"});
    run({.id = kR5,
         .session = kExperimentX,
         .status = "error",
         .error = "example line 7 breaks the dataset's inputs schema",
         .example = kNeverAnExample,
         .start = 71,
         .inputs = R"({"q":7})"});
  }

  static const json::object& row(const json::object& out, std::size_t i) {
    return out.at("examples").at(i).as_object();
  }
  static const json::array& runsOf(const json::object& out, std::size_t row_index,
                                   std::size_t experiment) {
    return row(out, row_index).at("results").at(experiment).at("runs").as_array();
  }
};

TEST_F(CompareTest, RowsAreExamplesAndCellsAreExperimentsInRequestOrder) {
  const json::object out = compare({.experiment_ids = {kExperimentY, kExperimentX}});
  EXPECT_EQ(out.at("dataset").at("id").as_string(), kDataset);
  EXPECT_EQ(out.at("dataset").at("name").as_string(), "qa");
  EXPECT_EQ(out.at("dataset").at("example_count").as_int64(), 3);
  ASSERT_EQ(out.at("experiments").as_array().size(), 2u);
  EXPECT_EQ(out.at("experiments").at(0).at("id").as_string(), kExperimentY);
  EXPECT_EQ(out.at("experiments").at(1).at("name").as_string(), "v1.0-x");
  EXPECT_EQ(out.at("experiments").at(1).at("metadata").at("revision_id").as_string(), "abc");
  EXPECT_EQ(out.at("experiments").at(1).at("stats").at("run_count").as_int64(), 6);
  EXPECT_EQ(json::serialize(out.at("feedback_keys")),
            R"(["correctness","exactness","helpfulness","tone"])");
  EXPECT_EQ(out.at("total").as_int64(), 3);
  EXPECT_EQ(out.at("offset").as_uint64(), 0u);
  EXPECT_EQ(out.at("limit").as_uint64(), 100u);

  ASSERT_EQ(out.at("examples").as_array().size(), 3u);
  EXPECT_EQ(row(out, 0).at("id").as_string(), kE1);
  EXPECT_EQ(row(out, 1).at("id").as_string(), kE2);
  EXPECT_EQ(row(out, 2).at("id").as_string(), kE3);
  EXPECT_EQ(row(out, 0).at("inputs").at("question").as_string(), "one");
  EXPECT_EQ(row(out, 0).at("outputs").at("answer").as_string(), "a");
  EXPECT_EQ(row(out, 1).at("metadata").at("dataset_split").at(0).as_string(), "test");
  EXPECT_FALSE(row(out, 0).at("deleted").as_bool());
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(row(out, i).at("results").as_array().size(), 2u);

  // e1: Y's run, then X's run with the trace's tokens (105 = 100 elsewhere + 5 in X).
  ASSERT_EQ(runsOf(out, 0, 0).size(), 1u);
  EXPECT_EQ(runsOf(out, 0, 0).at(0).at("run_id").as_string(), kY1);
  EXPECT_EQ(runsOf(out, 0, 0).at(0).at("outputs").at("answer").as_string(), "one");
  ASSERT_EQ(runsOf(out, 0, 1).size(), 1u);
  const json::object& r1 = runsOf(out, 0, 1).at(0).as_object();
  EXPECT_EQ(r1.at("run_id").as_string(), kR1);
  EXPECT_EQ(r1.at("trace_id").as_string(), kR1);
  EXPECT_EQ(r1.at("status").as_string(), "success");
  EXPECT_TRUE(r1.at("error").is_null());
  EXPECT_EQ(r1.at("total_tokens").as_int64(), 105);
  EXPECT_DOUBLE_EQ(r1.at("total_cost").as_double(), 0.5);
  EXPECT_DOUBLE_EQ(r1.at("latency").as_double(), 1.0);
  EXPECT_DOUBLE_EQ(r1.at("feedback").at("correctness").at("score").as_double(), 1);
  EXPECT_EQ(r1.at("feedback").at("correctness").at("id").as_string(), uuid(501));
  EXPECT_FALSE(r1.at("feedback").at("correctness").at("error").as_bool());
  EXPECT_EQ(r1.at("feedback").at("tone").at("value").as_string(), "friendly");
  EXPECT_TRUE(r1.at("evaluator_errors").as_array().empty());

  // e2: X's target error.
  const json::object& r2 = runsOf(out, 1, 1).at(0).as_object();
  EXPECT_EQ(r2.at("status").as_string(), "error");
  EXPECT_EQ(r2.at("error").as_string(), "Error: target exploded");
  EXPECT_TRUE(r2.at("outputs").is_null());
  EXPECT_EQ(r2.at("total_tokens").as_int64(), 10);

  // e3: nothing from Y; X ran it twice, the first with a failed evaluator.
  EXPECT_TRUE(runsOf(out, 2, 0).empty());
  ASSERT_EQ(runsOf(out, 2, 1).size(), 2u);
  const json::object& r3 = runsOf(out, 2, 1).at(0).as_object();
  EXPECT_EQ(r3.at("run_id").as_string(), kR3);
  EXPECT_EQ(runsOf(out, 2, 1).at(1).at("run_id").as_string(), kR3b);
  ASSERT_EQ(r3.at("evaluator_errors").as_array().size(), 1u);
  EXPECT_EQ(r3.at("evaluator_errors").at(0).at("run_id").as_string(), kEval1);
  EXPECT_EQ(r3.at("evaluator_errors").at(0).at("error").as_string(), "Error: evaluator broke");
  EXPECT_TRUE(r3.at("feedback").at("helpfulness").at("error").as_bool());
  EXPECT_TRUE(r3.at("feedback").at("helpfulness").at("score").is_null());
  EXPECT_TRUE(r3.at("total_tokens").is_null());
}

TEST_F(CompareTest, OrphansListRunsWhoseExampleIsGoneOnTheFirstPageOnly) {
  const json::object out = compare({.experiment_ids = {kExperimentY, kExperimentX}});
  const json::array& orphans = out.at("orphans").as_array();
  ASSERT_EQ(orphans.size(), 2u);
  EXPECT_EQ(orphans.at(0).at("experiment_id").as_string(), kExperimentX);
  EXPECT_EQ(orphans.at(0).at("run_id").as_string(), kR4);
  EXPECT_EQ(orphans.at(0).at("reference_example_id").as_string(), kE4);
  EXPECT_EQ(orphans.at(0).at("inputs").at("question").as_string(), "four");
  EXPECT_EQ(orphans.at(1).at("run_id").as_string(), kR5);
  EXPECT_EQ(orphans.at(1).at("error").as_string(),
            "example line 7 breaks the dataset's inputs schema");
  // They still count in the experiment's aggregates: nothing is hidden.
  const json::object& stats = out.at("experiments").at(1).at("stats").as_object();
  EXPECT_EQ(stats.at("error_count").as_int64(), 2);

  const json::object second = compare({.experiment_ids = {kExperimentX}, .offset = 1});
  EXPECT_TRUE(second.at("orphans").as_array().empty());
}

TEST_F(CompareTest, PagesSplitsAndEarlierVersions) {
  const json::object page = compare({.experiment_ids = {kExperimentX}, .offset = 1, .limit = 1});
  ASSERT_EQ(page.at("examples").as_array().size(), 1u);
  EXPECT_EQ(row(page, 0).at("id").as_string(), kE2);
  EXPECT_EQ(page.at("total").as_int64(), 3);

  const json::object test = compare({.experiment_ids = {kExperimentX}, .splits = {"test"}});
  ASSERT_EQ(test.at("examples").as_array().size(), 1u);
  EXPECT_EQ(row(test, 0).at("id").as_string(), kE2);
  EXPECT_EQ(test.at("total").as_int64(), 1);
  const json::object both =
      compare({.experiment_ids = {kExperimentX}, .splits = {"test", "train"}});
  EXPECT_EQ(both.at("total").as_int64(), 3);

  // As of t=10 e4 still existed (deleted since, so flagged) and r4 is no orphan then.
  const json::object old = compare({.experiment_ids = {kExperimentX}, .as_of = 10});
  ASSERT_EQ(old.at("examples").as_array().size(), 4u);
  EXPECT_EQ(row(old, 3).at("id").as_string(), kE4);
  EXPECT_TRUE(row(old, 3).at("deleted").as_bool());
  EXPECT_FALSE(row(old, 0).at("deleted").as_bool());
  EXPECT_EQ(runsOf(old, 3, 0).at(0).at("run_id").as_string(), kR4);
  ASSERT_EQ(old.at("orphans").as_array().size(), 1u);
  EXPECT_EQ(old.at("orphans").at(0).at("run_id").as_string(), kR5);
  // Before e2 and e3 were written only e1 existed.
  const json::object first = compare({.experiment_ids = {kExperimentX}, .as_of = 1});
  EXPECT_EQ(first.at("total").as_int64(), 1);
}

TEST_F(CompareTest, ARevisedExampleShowsTheRevisionOfTheVersionAsked) {
  // e1 revised at t=50: before that, its question was "uno".
  sql(
      fmt::format("UPDATE examples SET valid_to = 50, inputs = '{{\"question\":\"uno\"}}' "
                  "WHERE id = '{}'",
                  kE1));
  example(kDataset, kE1, 1, R"({"question":"one"})", R"({"dataset_split":["train"]})", 50);
  const json::object now = compare({.experiment_ids = {kExperimentX}});
  EXPECT_EQ(row(now, 0).at("inputs").at("question").as_string(), "one");
  EXPECT_EQ(row(now, 0).at("modified_at").as_string(), "1970-01-01T00:00:00.000050Z");
  const json::object before = compare({.experiment_ids = {kExperimentX}, .as_of = 49});
  EXPECT_EQ(row(before, 0).at("inputs").at("question").as_string(), "uno");
  EXPECT_EQ(now.at("total").as_int64(), 3);
}

TEST_F(CompareTest, BadExperimentListsAreRefusedNamingTheId) {
  project(kOtherDatasetExp, "elsewhere", kDataset2, 1);
  project(kPlain, "plain");
  for (const std::string& bad : {uuid(998), kOtherDatasetExp, kPlain}) {
    const core::Error e =
        compareError({.dataset_id = kDataset, .experiment_ids = {kExperimentX, bad}});
    EXPECT_EQ(e.code, core::ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(e.message.find(bad), std::string::npos) << e.message;
  }
  const core::Error none = compareError({.dataset_id = kDataset});
  EXPECT_EQ(none.code, core::ErrorCode::kInvalidArgument);
  std::vector<std::string> eleven;
  for (int i = 0; i < 11; ++i) eleven.push_back(uuid(600 + i));
  const core::Error many = compareError({.dataset_id = kDataset, .experiment_ids = eleven});
  EXPECT_EQ(many.code, core::ErrorCode::kInvalidArgument);
  EXPECT_NE(many.message.find("at most 10"), std::string::npos) << many.message;
  const core::Error twice =
      compareError({.dataset_id = kDataset, .experiment_ids = {kExperimentX, kExperimentX}});
  EXPECT_EQ(twice.code, core::ErrorCode::kInvalidArgument);
  EXPECT_NE(twice.message.find("twice"), std::string::npos);
}

TEST_F(CompareTest, AnUnknownDatasetIsNotFound) {
  const core::Error unknown =
      compareError({.dataset_id = uuid(297), .experiment_ids = {kExperimentX}});
  EXPECT_EQ(unknown.code, core::ErrorCode::kNotFound);
  EXPECT_NE(unknown.message.find(uuid(297)), std::string::npos);
  // Another workspace sees none of this workspace's datasets.
  const core::Error foreign =
      compareError({.dataset_id = kDataset, .experiment_ids = {kExperimentX}}, "ws-2");
  EXPECT_EQ(foreign.code, core::ErrorCode::kNotFound);
}

}  // namespace
}  // namespace pharos::eval
