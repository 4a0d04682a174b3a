// CacheStore: the same behaviour over memory and Redis (hits, misses, overwrite, TTL expiry,
// binary values, concurrent use from two I/O threads), then what only one backend does: LRU and
// byte limits in memory, "a Redis failure is a miss" for Redis.
#include "state/cache_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <future>

#include "state/test_util.h"

namespace pharos::state {
namespace {

using namespace std::chrono_literals;
using testing::IoThreads;
using testing::runOn;

asio::awaitable<std::optional<std::string>> get(CacheStore& cache, std::string key) {
  auto call = cache.get(std::move(key));
  auto value = co_await std::move(call);
  co_return value;
}

asio::awaitable<void> put(CacheStore& cache, std::string key, std::string value,
                          std::chrono::milliseconds ttl) {
  auto call = cache.put(std::move(key), std::move(value), ttl);
  co_await std::move(call);
}

struct MemoryBackend {
  std::unique_ptr<CacheStore> make() { return makeMemoryCache(1 << 20, 10'000); }
  void clear() {}
};

struct RedisBackend {
  std::shared_ptr<RedisClient> client;
  std::unique_ptr<CacheStore> make() {
    auto made = RedisClient::fromUrl(testing::sharedRedis().url());
    if (!made) throw std::runtime_error(made.error().message);
    client = *made;
    return makeRedisCache(client, testing::uniquePrefix());
  }
  void clear() {
    if (client) client->clear();
  }
};

template <class Backend>
class CacheStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { cache_ = backend_.make(); }
  void TearDown() override { backend_.clear(); }

  std::optional<std::string> get(std::string key) { return runOn(io_, state::get(*cache_, key)); }
  void put(std::string key, std::string value, std::chrono::milliseconds ttl = 60s) {
    runOn(io_, state::put(*cache_, key, value, ttl));
  }

  asio::io_context io_{1};
  Backend backend_;
  std::unique_ptr<CacheStore> cache_;
};

using Backends = ::testing::Types<MemoryBackend, RedisBackend>;
TYPED_TEST_SUITE(CacheStoreTest, Backends);

TYPED_TEST(CacheStoreTest, HitMissAndOverwrite) {
  EXPECT_EQ(this->get("a"), std::nullopt);
  this->put("a", "one");
  EXPECT_EQ(this->get("a"), "one");
  this->put("a", "two");
  EXPECT_EQ(this->get("a"), "two");
  const std::string binary("\0\r\n\xff", 4);
  this->put("b", binary);
  EXPECT_EQ(this->get("b"), binary);
  const auto stats = this->cache_->stats();
  EXPECT_EQ(stats.hits, 3u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.errors, 0u);
}

TYPED_TEST(CacheStoreTest, EntriesExpireAfterTheirTtl) {
  this->put("short", "v", 100ms);
  this->put("long", "v", 10s);
  this->put("never", "v", 0ms);  // a ttl of zero stores nothing
  EXPECT_EQ(this->get("short"), "v");
  EXPECT_EQ(this->get("never"), std::nullopt);
  std::this_thread::sleep_for(250ms);
  EXPECT_EQ(this->get("short"), std::nullopt);
  EXPECT_EQ(this->get("long"), "v");
}

TYPED_TEST(CacheStoreTest, ConcurrentUseFromTwoIoThreads) {
  IoThreads threads(2);
  CacheStore& cache = *this->cache_;
  std::vector<std::future<bool>> futures;
  for (int i = 0; i < 400; ++i) {
    futures.push_back(asio::co_spawn(
        threads[i % 2],
        [&cache, i]() -> asio::awaitable<bool> {
          const std::string key = "k" + std::to_string(i % 50);
          const std::string value = "v" + std::to_string(i % 50);
          auto write = cache.put(key, value, 60s);
          co_await std::move(write);
          auto read = cache.get(key);
          auto got = co_await std::move(read);
          co_return got == value;
        },
        asio::use_future));
  }
  for (auto& future : futures) EXPECT_TRUE(future.get());
  this->backend_.clear();
  threads.stop();
}

class MemoryCacheTest : public ::testing::Test {
 protected:
  asio::io_context io_{1};
};

TEST_F(MemoryCacheTest, EvictsTheLeastRecentlyUsedBeyondMaxEntries) {
  auto cache = makeMemoryCache(1 << 20, 3);
  EXPECT_EQ(cache->backendName(), "memory");
  runOn(io_, put(*cache, "a", "1", 60s));
  runOn(io_, put(*cache, "b", "2", 60s));
  runOn(io_, put(*cache, "c", "3", 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "a")), "1");  // a is now the most recent; b the least
  runOn(io_, put(*cache, "d", "4", 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "b")), std::nullopt);
  EXPECT_EQ(runOn(io_, get(*cache, "a")), "1");
  EXPECT_EQ(runOn(io_, get(*cache, "c")), "3");
  EXPECT_EQ(runOn(io_, get(*cache, "d")), "4");
  EXPECT_EQ(cache->stats().evictions, 1u);
}

TEST_F(MemoryCacheTest, CountsBytesAndRefusesEntriesOverAnEighth) {
  auto cache = makeMemoryCache(800, 1000);  // entries up to 100 bytes of key + value
  const std::string big(100, 'x');          // with its 2-byte key: 102 bytes
  runOn(io_, put(*cache, "k1", big, 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "k1")), std::nullopt);
  // A value too large to keep still removes the older, now stale, value of its key.
  runOn(io_, put(*cache, "k2", "small", 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "k2")), "small");
  runOn(io_, put(*cache, "k2", big, 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "k2")), std::nullopt);
  const std::string value(98, 'v');  // 2 + 98 = 100 bytes: 8 of them fill the cache
  for (int i = 0; i < 8; ++i) runOn(io_, put(*cache, "e" + std::to_string(i), value, 60s));
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(runOn(io_, get(*cache, "e" + std::to_string(i))), value) << i;
  }
  EXPECT_EQ(cache->stats().evictions, 0u);
  runOn(io_, put(*cache, "e8", value, 60s));  // pushes out e0, the least recently used
  EXPECT_EQ(runOn(io_, get(*cache, "e0")), std::nullopt);
  EXPECT_EQ(runOn(io_, get(*cache, "e8")), value);
  EXPECT_EQ(cache->stats().evictions, 1u);
}

TEST_F(MemoryCacheTest, ExpiredEntriesMakeRoomWithoutCountingAsEvictions) {
  auto cache = makeMemoryCache(1 << 20, 2);
  runOn(io_, put(*cache, "a", "1", 50ms));
  runOn(io_, put(*cache, "b", "2", 50ms));
  std::this_thread::sleep_for(100ms);
  runOn(io_, put(*cache, "c", "3", 60s));
  runOn(io_, put(*cache, "d", "4", 60s));
  EXPECT_EQ(runOn(io_, get(*cache, "c")), "3");
  EXPECT_EQ(runOn(io_, get(*cache, "d")), "4");
  EXPECT_EQ(cache->stats().evictions, 0u);
}

TEST_F(MemoryCacheTest, LargeCachesAreShardedAndStillKeepTheirLimit) {
  auto cache = makeMemoryCache(1 << 20, 8192);
  for (int i = 0; i < 20'000; ++i) runOn(io_, put(*cache, std::to_string(i), "v", 60s));
  int present = 0;
  for (int i = 0; i < 20'000; ++i)
    present += runOn(io_, get(*cache, std::to_string(i))).has_value();
  EXPECT_LE(present, 8192);
  EXPECT_GE(present, 8000);  // each shard full to its share
  EXPECT_EQ(cache->stats().evictions, 20'000u - static_cast<unsigned>(present));
  // The most recent entries survive.
  EXPECT_EQ(runOn(io_, get(*cache, "19999")), "v");
}

TEST(RedisCacheTest, AFailingRedisIsAMissNeverAnError) {
  asio::io_context io{1};
  // Nothing listens on this port (the server is stopped at once).
  int port = 0;
  {
    testing::RedisServer server;
    port = server.port();
  }
  auto client = RedisClient::fromUrl("redis://127.0.0.1:" + std::to_string(port), 200ms);
  ASSERT_TRUE(client.ok());
  auto cache = makeRedisCache(*client, "p:");
  EXPECT_EQ(cache->backendName(), "redis");
  runOn(io, put(*cache, "k", "v", 60s));
  EXPECT_EQ(runOn(io, get(*cache, "k")), std::nullopt);
  const auto stats = cache->stats();
  EXPECT_EQ(stats.errors, 2u);
  EXPECT_EQ(stats.misses, 1u);
  EXPECT_EQ(stats.hits, 0u);
  (*client)->clear();
}

TEST(RedisCacheTest, ValuesLiveUnderThePrefixWithAnExpiry) {
  asio::io_context io{1};
  auto client = *RedisClient::fromUrl(testing::sharedRedis().url());
  const std::string prefix = testing::uniquePrefix();
  auto cache = makeRedisCache(client, prefix);
  runOn(io, put(*cache, "k", "v", 60s));
  auto ttl = runOn(io,
                   [](std::shared_ptr<RedisClient> c,
                      std::string key) -> asio::awaitable<core::Result<RedisReply>> {
                     auto call = c->command({"PTTL", std::move(key)});
                     auto reply = co_await std::move(call);
                     co_return reply;
                   }(client, prefix + "k"));
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 50'000);
  EXPECT_LE(ttl->integer, 60'000);
  client->clear();
}

}  // namespace
}  // namespace pharos::state
