// The dataset store over a real SQLite file: datasets (names, schemas, aggregates), example
// revisions and reads as of an earlier time, tombstones, splits, upserts, all-or-nothing schema
// checks on example writes and on schema changes, and workspace isolation.
#include "eval/store/dataset_store.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "store/store_test_util.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using store::sqlite::Connection;
using store::sqlite::SqliteDatabase;

constexpr std::string_view kWorkspace = "ws-1";
constexpr std::string_view kOtherWorkspace = "ws-2";

std::string exampleId(int n) {
  return fmt::format("0195f3a0-0000-4000-8000-{:012x}", n);
}
std::string datasetId(int n) {
  return fmt::format("0195f3a0-1111-4000-8000-{:012x}", n);
}

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

ExampleWrite example(int n, std::string_view inputs,
                     std::optional<std::string_view> outputs = std::nullopt) {
  ExampleWrite w;
  w.id = exampleId(n);
  w.inputs = obj(inputs);
  if (outputs) w.outputs = obj(*outputs);
  return w;
}

const json::value kQuestionSchema = json::parse(
    R"({"type":"object","required":["question"],"properties":{"question":{"type":"string"}}})");

class DatasetStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = store::test_util::openWithWorkspaces(dir_.path() / "pharos.db",
                                                   {kWorkspace, kOtherWorkspace});
    ASSERT_TRUE(db.ok()) << db.error().message;
    db_ = std::move(db).value();
    store_ = std::make_unique<DatasetStore>(*db_);
  }
  void TearDown() override { db_->close(); }

  template <class T>
  T run(boost::asio::awaitable<T> awaitable) {
    return store::test_util::runSync(ctx_, std::move(awaitable));
  }

  Dataset create(int n, std::string name, json::value inputs_schema = nullptr,
                 std::string_view workspace = kWorkspace) {
    Dataset d;
    d.id = datasetId(n);
    d.name = std::move(name);
    d.inputs_schema = std::move(inputs_schema);
    d.created_at = d.modified_at = 1000 + n;
    auto created = run(store_->createDataset(std::string(workspace), d));
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? *created : Dataset{};
  }

  ExampleWriteOutcome add(const Dataset& d, std::vector<ExampleWrite> examples, bool upsert = false,
                          std::string_view workspace = kWorkspace) {
    auto outcome =
        run(store_->createExamples(std::string(workspace), d.id, std::move(examples), upsert));
    EXPECT_TRUE(outcome.ok()) << outcome.error().message;
    return outcome.ok() ? *outcome : ExampleWriteOutcome{};
  }

  std::vector<std::string> listIds(ExampleListQuery q, std::string_view workspace = kWorkspace) {
    auto listed = run(store_->listExamples(std::string(workspace), std::move(q)));
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::string> ids;
    if (listed.ok()) {
      for (const Example& e : *listed) ids.push_back(e.id);
    }
    return ids;
  }

  ExampleListQuery ofDataset(const Dataset& d) {
    ExampleListQuery q;
    q.dataset_id = d.id;
    return q;
  }

  // Versions are microsecond times; make sure the next write gets a later one.
  static void tick() { std::this_thread::sleep_for(std::chrono::milliseconds(2)); }

  store::test_util::TempDir dir_;
  std::unique_ptr<SqliteDatabase> db_;
  std::unique_ptr<DatasetStore> store_;
  boost::asio::io_context ctx_;
};

TEST_F(DatasetStoreTest, CreatesDatasetsAndRefusesADuplicateName) {
  Dataset d = create(1, "qa");
  EXPECT_EQ(d.id, datasetId(1));
  Dataset again;
  again.id = datasetId(2);
  again.name = "qa";
  auto dup = run(store_->createDataset(std::string(kWorkspace), again));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_NE(dup.error().message.find("\"qa\""), std::string::npos) << dup.error().message;
  // The same name in another workspace is a different dataset.
  create(3, "qa", nullptr, kOtherWorkspace);
}

TEST_F(DatasetStoreTest, RefusesASchemaThatDoesNotCompileNamingWhere) {
  Dataset d;
  d.id = datasetId(1);
  d.name = "bad";
  d.outputs_schema = json::parse(R"({"properties":{"q":{"minLength":"x"}}})");
  auto created = run(store_->createDataset(std::string(kWorkspace), d));
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_NE(created.error().message.find("outputs_schema_definition"), std::string::npos)
      << created.error().message;
  EXPECT_NE(created.error().message.find("minLength"), std::string::npos)
      << created.error().message;
}

TEST_F(DatasetStoreTest, ListsDatasetsByNameAndCountsExamplesAndSessions) {
  Dataset a = create(1, "alpha-set");
  create(2, "beta-set");
  add(a, {example(1, R"({"q":1})"), example(2, R"({"q":2})")});
  auto made = db_->writeSync<bool>([&](Connection& c) -> core::Result<bool> {
    auto s = c.prepare(
        "INSERT INTO sessions(ws, id, name, reference_dataset_id, start_time) "
        "SELECT ws, ?1, 'exp', ?2, 777 FROM tenants WHERE workspace_id = ?3");
    if (!s) return std::move(s).error();
    if (auto done = s->bindText(1, exampleId(99)).bindText(2, a.id).bindText(3, kWorkspace).run();
        !done) {
      return done.error();
    }
    return true;
  });
  ASSERT_TRUE(made.ok()) << made.error().message;

  DatasetListQuery q;
  q.name = "alpha-set";
  auto listed = run(store_->listDatasets(std::string(kWorkspace), q));
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].example_count, 2);
  EXPECT_EQ((*listed)[0].session_count, 1);
  EXPECT_EQ((*listed)[0].last_session_start_time, 777);

  DatasetListQuery all;
  auto both = run(store_->listDatasets(std::string(kWorkspace), all));
  ASSERT_TRUE(both.ok());
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[0].name, "beta-set");  // newest first
  DatasetListQuery contains;
  contains.name_contains = "BETA";
  auto beta = run(store_->listDatasets(std::string(kWorkspace), contains));
  ASSERT_TRUE(beta.ok());
  ASSERT_EQ(beta->size(), 1u);
  EXPECT_EQ((*beta)[0].name, "beta-set");
}

TEST_F(DatasetStoreTest, CreatesExamplesReadsThemBackAndBumpsTheDatasetVersion) {
  Dataset d = create(1, "qa");
  ExampleWrite w = example(1, R"({"question":"What is AI?"})", R"({"answer":"AI"})");
  w.splits = std::vector<std::string>{"train", "test"};
  w.attachments.push_back({"image", "image/png", "PNG"});
  ExampleWriteOutcome out = add(d, {w, example(2, R"({"question":"What is ML?"})")});
  EXPECT_EQ(out.example_ids, (std::vector<std::string>{exampleId(1), exampleId(2)}));
  EXPECT_GT(out.as_of, d.modified_at);

  auto got = run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->dataset_id, d.id);
  EXPECT_EQ(json::value(got->inputs), json::parse(R"({"question":"What is AI?"})"));
  ASSERT_TRUE(got->outputs);
  EXPECT_EQ(json::value(*got->outputs), json::parse(R"({"answer":"AI"})"));
  EXPECT_EQ(json::value(got->metadata),
            json::parse(R"({"dataset_split":["train","test"]})"));  // as given
  EXPECT_EQ(got->modified_at, out.as_of);
  ASSERT_EQ(got->attachments.size(), 1u);
  EXPECT_EQ(got->attachments[0].name, "image");
  auto attachment = run(store_->getAttachment(std::string(kWorkspace), exampleId(1), "image"));
  ASSERT_TRUE(attachment.ok() && *attachment);
  EXPECT_EQ((*attachment)->data, "PNG");
  EXPECT_EQ((*attachment)->content_type, "image/png");

  auto second = run(store_->getExample(std::string(kWorkspace), exampleId(2), std::nullopt));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->outputs);
  EXPECT_TRUE(second->metadata.empty());

  auto dataset = run(store_->getDataset(std::string(kWorkspace), d.id));
  ASSERT_TRUE(dataset.ok());
  EXPECT_EQ(dataset->modified_at, out.as_of);
  EXPECT_EQ(dataset->example_count, 2);
  EXPECT_EQ(listIds(ofDataset(d)), (std::vector<std::string>{exampleId(1), exampleId(2)}));
}

TEST_F(DatasetStoreTest, AnExistingIdConflictsUnlessUpsertWhichSkipsIdenticalExamples) {
  Dataset d = create(1, "qa");
  ExampleWriteOutcome first = add(d, {example(1, R"({"q":"a"})", R"({"a":1})")});
  auto dup = run(store_->createExamples(std::string(kWorkspace), d.id,
                                        {example(1, R"({"q":"a"})", R"({"a":1})")}, false));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().code, core::ErrorCode::kAlreadyExists);

  tick();
  ExampleWriteOutcome same = add(d, {example(1, R"({"q":"a"})", R"({"a":1})")}, true);
  EXPECT_EQ(same.as_of, first.as_of);  // nothing written: the version did not move
  auto versions = run(store_->listVersions(std::string(kWorkspace), d.id, 0, 100));
  ASSERT_TRUE(versions.ok());
  EXPECT_EQ(versions->size(), 1u);

  tick();
  ExampleWriteOutcome changed = add(d, {example(1, R"({"q":"b"})", R"({"a":1})")}, true);
  EXPECT_GT(changed.as_of, first.as_of);
  auto now = run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->inputs.at("q"), "b");
  auto before = run(store_->getExample(std::string(kWorkspace), exampleId(1), first.as_of));
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->inputs.at("q"), "a");
  EXPECT_EQ(before->created_at, now->created_at);  // one example, two revisions
}

TEST_F(DatasetStoreTest, UpdatesAreRevisionsAndAsOfReadsEarlierOnes) {
  Dataset d = create(1, "qa");
  ExampleWriteOutcome v1 = add(d, {example(1, R"({"q":"one"})"), example(2, R"({"q":"two"})")});
  tick();
  ExampleWrite patch;
  patch.id = exampleId(1);
  patch.outputs = obj(R"({"a":"uno"})");
  patch.splits = std::vector<std::string>{"test"};
  auto v2 = run(store_->updateExamples(std::string(kWorkspace), d.id, {patch}));
  ASSERT_TRUE(v2.ok()) << v2.error().message;
  ASSERT_TRUE(v2->rejected.empty());
  EXPECT_GT(v2->as_of, v1.as_of);

  auto now = run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt));
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->inputs.at("q"), "one");  // not given: unchanged
  ASSERT_TRUE(now->outputs);
  EXPECT_EQ(now->outputs->at("a"), "uno");

  ExampleListQuery at_v1 = ofDataset(d);
  at_v1.as_of = v1.as_of;
  auto old = run(store_->listExamples(std::string(kWorkspace), at_v1));
  ASSERT_TRUE(old.ok());
  ASSERT_EQ(old->size(), 2u);
  EXPECT_FALSE((*old)[0].outputs);  // as it was

  ExampleWrite missing;
  missing.id = exampleId(9);
  missing.inputs = obj("{}");
  auto unknown = run(store_->updateExamples(std::string(kWorkspace), d.id, {missing}));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, core::ErrorCode::kNotFound);

  auto versions = run(store_->listVersions(std::string(kWorkspace), d.id, 0, 100));
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].as_of, v2->as_of);
  EXPECT_EQ((*versions)[1].as_of, v1.as_of);
  auto at = run(store_->versionAt(std::string(kWorkspace), d.id, v2->as_of - 1));
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(at->as_of, v1.as_of);
}

TEST_F(DatasetStoreTest, DeletesAreTombstonesThatKeepHistory) {
  Dataset d = create(1, "qa");
  ExampleWriteOutcome v1 = add(d, {example(1, R"({"q":1})"), example(2, R"({"q":2})")});
  tick();
  auto deleted = run(store_->deleteExamples(std::string(kWorkspace), {exampleId(1)}));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_GT(deleted->as_of, v1.as_of);

  EXPECT_EQ(listIds(ofDataset(d)), std::vector<std::string>{exampleId(2)});
  auto gone = run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, core::ErrorCode::kNotFound);
  auto then = run(store_->getExample(std::string(kWorkspace), exampleId(1), v1.as_of));
  EXPECT_TRUE(then.ok());
  ExampleListQuery at_v1 = ofDataset(d);
  at_v1.as_of = v1.as_of;
  EXPECT_EQ(listIds(at_v1), (std::vector<std::string>{exampleId(1), exampleId(2)}));
  auto dataset = run(store_->getDataset(std::string(kWorkspace), d.id));
  ASSERT_TRUE(dataset.ok());
  EXPECT_EQ(dataset->example_count, 1);
  EXPECT_EQ(dataset->modified_at, deleted->as_of);

  auto again = run(store_->deleteExamples(std::string(kWorkspace), {exampleId(1)}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, core::ErrorCode::kNotFound);
  // A deleted id can be created again.
  add(d, {example(1, R"({"q":"back"})")});
  EXPECT_EQ(listIds(ofDataset(d)).size(), 2u);
}

TEST_F(DatasetStoreTest, FiltersBySplitsMetadataAndIds) {
  Dataset d = create(1, "qa");
  ExampleWrite a = example(1, R"({"q":1})");
  a.splits = std::vector<std::string>{"train"};
  a.metadata = obj(R"({"lang":"en","tags":["x","y"]})");
  ExampleWrite b = example(2, R"({"q":2})");
  b.splits = std::vector<std::string>{"test"};
  b.metadata = obj(R"({"lang":"fr"})");
  ExampleWrite c = example(3, R"({"q":3})");
  c.metadata = obj(R"({"dataset_split":"train","lang":"en"})");  // a string split is one split
  ExampleWriteOutcome v1 = add(d, {a, b, c});

  ExampleListQuery train = ofDataset(d);
  train.splits = {"train"};
  EXPECT_EQ(listIds(train), (std::vector<std::string>{exampleId(1), exampleId(3)}));
  ExampleListQuery en = ofDataset(d);
  en.metadata = obj(R"({"lang":"en","tags":["y"]})");
  EXPECT_EQ(listIds(en), std::vector<std::string>{exampleId(1)});
  ExampleListQuery page = ofDataset(d);
  page.offset = 1;
  page.limit = 1;
  EXPECT_EQ(listIds(page), std::vector<std::string>{exampleId(2)});
  ExampleListQuery by_id;
  by_id.ids = {exampleId(3), exampleId(2)};
  EXPECT_EQ(listIds(by_id), (std::vector<std::string>{exampleId(2), exampleId(3)}));

  auto splits = run(store_->listSplits(std::string(kWorkspace), d.id, std::nullopt));
  ASSERT_TRUE(splits.ok());
  EXPECT_EQ(*splits, (std::vector<std::string>{"test", "train"}));

  tick();
  ExampleWrite move = example(2, R"({"q":2})");
  move.splits = std::vector<std::string>{"train"};
  ASSERT_TRUE(run(store_->updateExamples(std::string(kWorkspace), d.id, {move})).ok());
  auto now_splits = run(store_->listSplits(std::string(kWorkspace), d.id, std::nullopt));
  ASSERT_TRUE(now_splits.ok());
  EXPECT_EQ(*now_splits, std::vector<std::string>{"train"});
  auto old_splits = run(store_->listSplits(std::string(kWorkspace), d.id, v1.as_of));
  ASSERT_TRUE(old_splits.ok());
  EXPECT_EQ(*old_splits, (std::vector<std::string>{"test", "train"}));
  ExampleListQuery old_test = ofDataset(d);
  old_test.as_of = v1.as_of;
  old_test.splits = {"test"};
  EXPECT_EQ(listIds(old_test), std::vector<std::string>{exampleId(2)});
}

TEST_F(DatasetStoreTest, ASchemaViolationRejectsTheWholeRequestNamingEveryBadExample) {
  Dataset d = create(1, "strict", kQuestionSchema);
  auto outcome = run(
      store_->createExamples(std::string(kWorkspace), d.id,
                             {example(1, R"({"question":"ok"})"), example(2, R"({"question":42})"),
                              example(3, R"({"query":"no question"})")},
                             false));
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  ASSERT_EQ(outcome->rejected.size(), 2u);
  EXPECT_EQ(outcome->rejected_examples, 2u);
  EXPECT_EQ(outcome->rejected[0].example_id, exampleId(2));
  EXPECT_EQ(outcome->rejected[0].index, 1u);
  EXPECT_EQ(outcome->rejected[0].field, "inputs");
  EXPECT_EQ(outcome->rejected[0].pointer, "/question");
  EXPECT_EQ(outcome->rejected[1].example_id, exampleId(3));
  EXPECT_EQ(outcome->rejected[1].index, 2u);
  EXPECT_TRUE(outcome->example_ids.empty());
  // Nothing of that request was stored, not even the good example.
  EXPECT_TRUE(listIds(ofDataset(d)).empty());
  auto dataset = run(store_->getDataset(std::string(kWorkspace), d.id));
  ASSERT_TRUE(dataset.ok());
  EXPECT_EQ(dataset->example_count, 0);
  EXPECT_EQ(dataset->modified_at, d.modified_at);

  ExampleWriteOutcome clean = add(d, {example(4, R"({"question":"fine"})")});
  EXPECT_TRUE(clean.rejected.empty());
  EXPECT_EQ(listIds(ofDataset(d)), std::vector<std::string>{exampleId(4)});

  // An update is checked on the merged example too.
  ExampleWrite bad;
  bad.id = exampleId(4);
  bad.inputs = obj(R"({"question":false})");
  auto update = run(store_->updateExamples(std::string(kWorkspace), d.id, {bad}));
  ASSERT_TRUE(update.ok());
  ASSERT_EQ(update->rejected.size(), 1u);
  auto kept = run(store_->getExample(std::string(kWorkspace), exampleId(4), std::nullopt));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->inputs.at("question"), "fine");
}

TEST_F(DatasetStoreTest, ASchemaChangeMustHoldForEveryCurrentExample) {
  Dataset d = create(1, "qa");
  add(d, {example(1, R"({"question":"a"})"), example(2, R"({"prompt":"b"})")});
  DatasetUpdate tighten;
  tighten.inputs_schema = kQuestionSchema;
  auto refused = run(store_->updateDataset(std::string(kWorkspace), d.id, tighten));
  ASSERT_TRUE(refused.ok()) << refused.error().message;
  ASSERT_EQ(refused->rejected.size(), 1u);
  EXPECT_EQ(refused->rejected[0].example_id, exampleId(2));
  EXPECT_EQ(refused->rejected[0].field, "inputs");
  auto unchanged = run(store_->getDataset(std::string(kWorkspace), d.id));
  ASSERT_TRUE(unchanged.ok());
  EXPECT_TRUE(unchanged->inputs_schema.is_null());

  ASSERT_TRUE(run(store_->deleteExamples(std::string(kWorkspace), {exampleId(2)})).ok());
  DatasetUpdate rename = tighten;
  rename.name = "qa-strict";
  auto applied = run(store_->updateDataset(std::string(kWorkspace), d.id, rename));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_TRUE(applied->rejected.empty());
  EXPECT_EQ(applied->dataset.name, "qa-strict");
  EXPECT_EQ(applied->dataset.inputs_schema, kQuestionSchema);
  // Now enforced on writes.
  auto outcome =
      run(store_->createExamples(std::string(kWorkspace), d.id, {example(3, R"({"q":1})")}, false));
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(outcome->rejected.size(), 1u);
  // {} removes the schema.
  DatasetUpdate loosen;
  loosen.inputs_schema = json::object();
  auto loosened = run(store_->updateDataset(std::string(kWorkspace), d.id, loosen));
  ASSERT_TRUE(loosened.ok());
  EXPECT_TRUE(loosened->dataset.inputs_schema.is_null());
  EXPECT_TRUE(add(d, {example(3, R"({"q":1})")}).rejected.empty());
}

TEST_F(DatasetStoreTest, WorkspacesDoNotSeeEachOther) {
  Dataset d = create(1, "qa");
  add(d, {example(1, R"({"q":1})")});
  const std::string other(kOtherWorkspace);
  auto get = run(store_->getDataset(other, d.id));
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.error().code, core::ErrorCode::kNotFound);
  auto example_read = run(store_->getExample(other, exampleId(1), std::nullopt));
  ASSERT_FALSE(example_read.ok());
  EXPECT_EQ(example_read.error().code, core::ErrorCode::kNotFound);
  auto write = run(store_->createExamples(other, d.id, {example(2, R"({"q":2})")}, false));
  ASSERT_FALSE(write.ok());
  EXPECT_EQ(write.error().code, core::ErrorCode::kNotFound);
  auto listed = run(store_->listDatasets(other, DatasetListQuery{}));
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  ExampleListQuery by_id;
  by_id.ids = {exampleId(1)};
  EXPECT_TRUE(listIds(by_id, other).empty());
  auto del = run(store_->deleteExamples(other, {exampleId(1)}));
  EXPECT_FALSE(del.ok());
  auto attachment = run(store_->getAttachment(other, exampleId(1), "x"));
  ASSERT_TRUE(attachment.ok());
  EXPECT_FALSE(*attachment);
}

TEST_F(DatasetStoreTest, DeletingADatasetDeletesItsExamplesAndAttachments) {
  Dataset d = create(1, "qa");
  ExampleWrite w = example(1, R"({"q":1})");
  w.attachments.push_back({"f", "text/plain", "data"});
  add(d, {w});
  ASSERT_TRUE(run(store_->deleteDataset(std::string(kWorkspace), d.id)).ok());
  auto gone = run(store_->getDataset(std::string(kWorkspace), d.id));
  EXPECT_FALSE(gone.ok());
  EXPECT_FALSE(run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt)).ok());
  auto attachment = run(store_->getAttachment(std::string(kWorkspace), exampleId(1), "f"));
  ASSERT_TRUE(attachment.ok());
  EXPECT_FALSE(*attachment);
  auto rows = db_->readSync<std::int64_t>([](Connection& c) -> core::Result<std::int64_t> {
    auto s =
        c.prepare("SELECT (SELECT count(*) FROM examples) + (SELECT count(*) FROM example_splits)");
    if (!s) return std::move(s).error();
    auto row = s->step();
    if (!row) return std::move(row).error();
    return s->columnInt64(0);
  });
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 0);
  // The name is free again.
  create(2, "qa");
}

TEST_F(DatasetStoreTest, AttachmentOperationsRenameRetainAndDrop) {
  Dataset d = create(1, "qa");
  ExampleWrite w = example(1, R"({"q":1})");
  w.attachments = {{"a", "text/plain", "A"}, {"b", "text/plain", "B"}, {"c", "text/plain", "C"}};
  add(d, {w});
  ExampleWrite patch;
  patch.id = exampleId(1);
  patch.attachment_operations = AttachmentOperations{{{"a", "renamed"}}, {"b"}};
  patch.attachments = {{"d", "text/plain", "D"}};
  auto updated = run(store_->updateExamples(std::string(kWorkspace), d.id, {patch}));
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  auto got = run(store_->getExample(std::string(kWorkspace), exampleId(1), std::nullopt));
  ASSERT_TRUE(got.ok());
  std::vector<std::string> names;
  for (const AttachmentInfo& a : got->attachments) names.push_back(a.name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "d", "renamed"}));
  auto renamed = run(store_->getAttachment(std::string(kWorkspace), exampleId(1), "renamed"));
  ASSERT_TRUE(renamed.ok() && *renamed);
  EXPECT_EQ((*renamed)->data, "A");
}

}  // namespace
}  // namespace pharos::eval
