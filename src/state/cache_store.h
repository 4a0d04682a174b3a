// The response cache: bytes by key with a time to live, in this process's memory or in a Redis
// that several Pharos processes share. A cache never fails its caller: a backend that cannot
// answer is a miss (counted and logged), and the request goes on to the upstream.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "state/redis_client.h"

namespace pharos::state {

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;     // including lookups the backend failed to answer
  std::uint64_t evictions = 0;  // entries pushed out to make room (memory only)
  std::uint64_t errors = 0;     // backend failures, on get or put (Redis only)
};

class CacheStore {
 public:
  virtual ~CacheStore();

  // The value stored under `key`, or nullopt (absent, expired, or the backend failed).
  virtual asio::awaitable<std::optional<std::string>> get(std::string key) = 0;
  // Stores `value` for `ttl` (a ttl of zero or less stores nothing). Best effort: a value the
  // backend cannot take (too large, Redis down) is simply not cached.
  virtual asio::awaitable<void> put(std::string key, std::string value,
                                    std::chrono::milliseconds ttl) = 0;
  // "memory" or "redis".
  virtual std::string_view backendName() const = 0;

  CacheStats stats() const;

 protected:
  std::atomic<std::uint64_t> hits_{0};
  std::atomic<std::uint64_t> misses_{0};
  std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> errors_{0};
};

// LRU with a TTL per entry, thread-safe. Counts the bytes of keys and values against
// `max_bytes`; an entry larger than max_bytes / 8 is not stored (one answer must not flush the
// whole cache). Large caches are split into up to 8 independently locked shards, each with its
// share of the limits, so LRU order is kept per shard.
std::unique_ptr<CacheStore> makeMemoryCache(std::size_t max_bytes, std::size_t max_entries);

// GET / SET PX under `key_prefix` + key. Redis evicts by its own maxmemory policy.
std::unique_ptr<CacheStore> makeRedisCache(std::shared_ptr<RedisClient> client,
                                           std::string key_prefix);

}  // namespace pharos::state
