// MemoryStore behaviour beyond the shared contract (store_contract_test.cc).
#include "store/memory/memory_store.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <chrono>

#include "store/store_test_util.h"

namespace pharos::store {
namespace {

using test_util::runSync;

TEST(MemoryStoreTest, DescribesItselfAsMemory) {
  EXPECT_EQ(MemoryStore().describe(), "memory");
}

TEST(MemoryStoreTest, KeepsTimesToTheMicrosecondLikeSqlite) {
  MemoryStore store;
  asio::io_context ctx;
  auto team = runSync(ctx, store.ensureWorkspace("team"));
  ASSERT_TRUE(team.ok());
  EXPECT_EQ(team->created_at.time_since_epoch() % std::chrono::microseconds(1),
            TimePoint::duration::zero());

  const TimePoint precise = TimePoint(std::chrono::nanoseconds(1'764'191'441'123'456'789));
  const TimePoint stored = TimePoint(std::chrono::microseconds(1'764'191'441'123'456));
  ApiKeyRecord key{"key1", team->id, "", std::string(32, 'k'), "", precise, precise};
  ASSERT_TRUE(runSync(ctx, store.insertApiKey(key)).ok());
  auto found = runSync(ctx, store.findApiKey("key1"));
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->created_at, stored);
  EXPECT_EQ((*found)->revoked_at, stored);
}

}  // namespace
}  // namespace pharos::store
