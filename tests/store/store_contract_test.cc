// The behaviour every Store must have, run against each implementation.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/ids.h"
#include "store/memory/memory_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_util.h"

namespace pharos::store {
namespace {

using core::ErrorCode;
using test_util::runSync;
using test_util::spawnInto;
using test_util::TempDir;
using namespace std::chrono_literals;

struct Backend {
  std::string name;
  std::function<StorePtr(const std::filesystem::path& data_dir)> open;
};

const Backend kSqlite{"Sqlite", [](const std::filesystem::path& data_dir) -> StorePtr {
                        auto store = sqlite::SqliteStore::open(data_dir, {});
                        EXPECT_TRUE(store.ok()) << store.error().message;
                        return store.ok() ? *store : nullptr;
                      }};
const Backend kMemory{"Memory", [](const std::filesystem::path&) -> StorePtr {
                        return std::make_shared<MemoryStore>();
                      }};

// Stored times keep microseconds; these have exactly that precision.
const TimePoint kCreated = TimePoint(std::chrono::microseconds(1'764'191'441'123'456));
const TimePoint kFirstRevocation = kCreated + 1h;

std::string sha256Like(char fill) {
  std::string bytes(32, fill);
  bytes[7] = '\0';  // raw bytes, not text
  return bytes;
}

class StoreContractTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    store_ = GetParam().open(dir_.path());
    ASSERT_TRUE(store_);
  }

  template <class T>
  T run(asio::awaitable<T> awaitable) {
    return runSync(ctx_, std::move(awaitable));
  }

  Workspace workspace(const std::string& name) {
    auto ensured = run(store_->ensureWorkspace(name));
    EXPECT_TRUE(ensured.ok()) << ensured.error().message;
    return ensured.ok() ? *ensured : Workspace{};
  }

  ApiKeyRecord key(const std::string& id, const Workspace& owner, TimePoint created = kCreated) {
    ApiKeyRecord record;
    record.id = id;
    record.workspace_id = owner.id;
    record.secret_sha256 = sha256Like(id.back());
    record.label = "label of " + id;
    record.created_at = created;
    return record;
  }

  TempDir dir_;
  asio::io_context ctx_;
  StorePtr store_;
};

TEST_P(StoreContractTest, EnsureWorkspaceIsIdempotent) {
  const Workspace first = workspace("default");
  EXPECT_TRUE(core::isUuid(first.id)) << first.id;
  EXPECT_EQ(first.name, "default");
  EXPECT_LE(first.created_at, std::chrono::system_clock::now());
  EXPECT_GT(first.created_at, std::chrono::system_clock::now() - 1min);

  const Workspace again = workspace("default");
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.created_at, first.created_at);

  auto listed = run(store_->listWorkspaces());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, first.id);
}

TEST_P(StoreContractTest, ConcurrentEnsureWorkspaceCreatesOne) {
  constexpr int kCallers = 32;
  std::vector<Result<Workspace>> results(kCallers);
  for (int i = 0; i < kCallers; ++i) {
    spawnInto(ctx_, store_->ensureWorkspace(i % 2 == 0 ? "even" : "odd"), results[i]);
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back([&] { ctx_.run(); });
  for (auto& thread : threads) thread.join();

  for (int i = 0; i < kCallers; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().message;
    EXPECT_EQ(results[i]->id, results[i % 2]->id);
  }
  EXPECT_NE(results[0]->id, results[1]->id);
  auto listed = run(store_->listWorkspaces());
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

TEST_P(StoreContractTest, InvalidWorkspaceNamesAreRefused) {
  for (const std::string& name :
       {std::string(), std::string("has space"), std::string("a/b"), std::string(65, 'x')}) {
    auto ensured = run(store_->ensureWorkspace(name));
    ASSERT_FALSE(ensured.ok()) << name;
    EXPECT_EQ(ensured.error().code, ErrorCode::kInvalidArgument) << name;
  }
  EXPECT_TRUE(run(store_->ensureWorkspace(std::string(64, 'x'))).ok());
}

TEST_P(StoreContractTest, WorkspacesAreListedByName) {
  const Workspace zeta = workspace("zeta");
  const Workspace alpha = workspace("alpha");
  const Workspace mid = workspace("mid");
  auto listed = run(store_->listWorkspaces());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].id, alpha.id);
  EXPECT_EQ((*listed)[1].id, mid.id);
  EXPECT_EQ((*listed)[2].id, zeta.id);
  EXPECT_EQ((*listed)[2].name, "zeta");
  EXPECT_EQ((*listed)[2].created_at, zeta.created_at);
}

TEST_P(StoreContractTest, InsertedKeyIsFoundWithItsWorkspaceName) {
  const Workspace team = workspace("team");
  ApiKeyRecord inserted = key("key1", team);
  inserted.workspace_name = "ignored on insert";
  ASSERT_TRUE(run(store_->insertApiKey(inserted)).ok());

  auto found = run(store_->findApiKey("key1"));
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  const ApiKeyRecord& record = **found;
  EXPECT_EQ(record.id, "key1");
  EXPECT_EQ(record.workspace_id, team.id);
  EXPECT_EQ(record.workspace_name, "team");
  EXPECT_EQ(record.secret_sha256, sha256Like('1'));
  EXPECT_EQ(record.label, "label of key1");
  EXPECT_EQ(record.created_at, kCreated);
  EXPECT_FALSE(record.revoked_at.has_value());
}

TEST_P(StoreContractTest, UnknownKeyIsNotFound) {
  auto found = run(store_->findApiKey("nope"));
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_FALSE(found->has_value());
}

TEST_P(StoreContractTest, DuplicateKeyIdIsRefused) {
  const Workspace team = workspace("team");
  ASSERT_TRUE(run(store_->insertApiKey(key("key1", team))).ok());
  auto again = run(store_->insertApiKey(key("key1", team)));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_P(StoreContractTest, KeyForUnknownWorkspaceIsRefused) {
  Workspace ghost{core::newUuidV7(), "ghost", kCreated};
  auto inserted = run(store_->insertApiKey(key("key1", ghost)));
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, ErrorCode::kNotFound);
  auto found = run(store_->findApiKey("key1"));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_P(StoreContractTest, KeyWithMalformedHashIsRefused) {
  ApiKeyRecord record = key("key1", workspace("team"));
  record.secret_sha256 = "too short";
  auto inserted = run(store_->insertApiKey(record));
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, ErrorCode::kInvalidArgument);
}

TEST_P(StoreContractTest, ListedKeysCarryTheirWorkspaceNames) {
  const Workspace red = workspace("red");
  const Workspace blue = workspace("blue");
  ASSERT_TRUE(run(store_->insertApiKey(key("key2", blue, kCreated + 2s))).ok());
  ASSERT_TRUE(run(store_->insertApiKey(key("key1", red, kCreated + 1s))).ok());
  ASSERT_TRUE(run(store_->insertApiKey(key("key3", red, kCreated + 3s))).ok());

  auto listed = run(store_->listApiKeys());
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 3u);
  // Oldest first.
  EXPECT_EQ((*listed)[0].id, "key1");
  EXPECT_EQ((*listed)[0].workspace_name, "red");
  EXPECT_EQ((*listed)[1].id, "key2");
  EXPECT_EQ((*listed)[1].workspace_name, "blue");
  EXPECT_EQ((*listed)[1].workspace_id, blue.id);
  EXPECT_EQ((*listed)[1].secret_sha256, sha256Like('2'));
  EXPECT_EQ((*listed)[2].id, "key3");
  EXPECT_EQ((*listed)[2].workspace_name, "red");
  EXPECT_EQ((*listed)[2].created_at, kCreated + 3s);
}

TEST_P(StoreContractTest, RevokingTwiceKeepsTheFirstTime) {
  ASSERT_TRUE(run(store_->insertApiKey(key("key1", workspace("team")))).ok());
  ASSERT_TRUE(run(store_->revokeApiKey("key1", kFirstRevocation)).ok());
  ASSERT_TRUE(run(store_->revokeApiKey("key1", kFirstRevocation + 1h)).ok());

  auto found = run(store_->findApiKey("key1"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->revoked_at, kFirstRevocation);
  auto listed = run(store_->listApiKeys());
  ASSERT_TRUE(listed.ok() && listed->size() == 1);
  EXPECT_EQ((*listed)[0].revoked_at, kFirstRevocation);
}

TEST_P(StoreContractTest, RevokingAnUnknownKeyIsNotFound) {
  auto revoked = run(store_->revokeApiKey("nope", kFirstRevocation));
  ASSERT_FALSE(revoked.ok());
  EXPECT_EQ(revoked.error().code, ErrorCode::kNotFound);
}

TEST_P(StoreContractTest, InsertedRevocationIsKept) {
  ApiKeyRecord record = key("key1", workspace("team"));
  record.revoked_at = kFirstRevocation;
  ASSERT_TRUE(run(store_->insertApiKey(record)).ok());
  ASSERT_TRUE(run(store_->revokeApiKey("key1", kFirstRevocation + 1h)).ok());
  auto found = run(store_->findApiKey("key1"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->revoked_at, kFirstRevocation);
}

TEST_P(StoreContractTest, ProbeWritableSucceeds) {
  EXPECT_TRUE(run(store_->probeWritable()).ok());
  EXPECT_TRUE(run(store_->probeWritable()).ok());
}

TEST_P(StoreContractTest, DescribeNamesTheBackend) {
  const std::string description = store_->describe();
  EXPECT_TRUE(description == "memory" || description.starts_with("sqlite:/")) << description;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContractTest, ::testing::Values(kSqlite, kMemory),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param.name;
                         });

}  // namespace
}  // namespace pharos::store
