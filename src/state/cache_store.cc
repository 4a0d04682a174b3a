#include "state/cache_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/log.h"

namespace pharos::state {

CacheStore::~CacheStore() = default;

CacheStats CacheStore::stats() const {
  return {hits_.load(), misses_.load(), evictions_.load(), errors_.load()};
}

namespace {

using Clock = std::chrono::steady_clock;

class MemoryCache final : public CacheStore {
 public:
  MemoryCache(std::size_t max_bytes, std::size_t max_entries)
      : max_entry_bytes_(max_bytes / 8),
        // A shard per 1024 entries, at most 8: small caches keep one exact LRU order, and a
        // shard always has room for the largest entry allowed (max_bytes / 8).
        shards_(std::clamp<std::size_t>(max_entries / 1024, 1, 8)) {
    for (auto& shard : shards_) {
      shard.max_bytes = max_bytes / shards_.size();
      shard.max_entries = std::max<std::size_t>(1, max_entries / shards_.size());
    }
  }

  asio::awaitable<std::optional<std::string>> get(std::string key) override {
    Shard& shard = shardOf(key);
    std::optional<std::string> value;
    {
      std::lock_guard lock(shard.mutex);
      auto it = shard.index.find(key);
      if (it != shard.index.end()) {
        if (it->second->expires_at <= Clock::now()) {
          shard.erase(it->second);
        } else {
          shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
          value = it->second->value;
        }
      }
    }
    (value ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
    co_return value;
  }

  asio::awaitable<void> put(std::string key, std::string value,
                            std::chrono::milliseconds ttl) override {
    const std::size_t bytes = key.size() + value.size();
    Shard& shard = shardOf(key);
    std::uint64_t evicted = 0;
    {
      std::lock_guard lock(shard.mutex);
      const auto now = Clock::now();
      // A newer value replaces the old one even when it is not kept itself: the old one is
      // stale.
      auto it = shard.index.find(key);
      if (it != shard.index.end()) shard.erase(it->second);
      if (ttl.count() <= 0 || bytes > max_entry_bytes_) co_return;
      // Expired entries go first, then the least recently used.
      while (!shard.lru.empty() &&
             (shard.bytes + bytes > shard.max_bytes || shard.lru.size() + 1 > shard.max_entries)) {
        auto victim = std::prev(shard.lru.end());
        if (victim->expires_at > now) ++evicted;
        shard.erase(victim);
      }
      shard.lru.push_front(Entry{std::move(key), std::move(value), now + ttl});
      shard.index.emplace(shard.lru.front().key, shard.lru.begin());
      shard.bytes += bytes;
    }
    if (evicted > 0) evictions_.fetch_add(evicted, std::memory_order_relaxed);
    co_return;
  }

  std::string_view backendName() const override { return "memory"; }

 private:
  struct Entry {
    std::string key;
    std::string value;
    Clock::time_point expires_at;
  };
  struct Shard {
    std::mutex mutex;
    std::list<Entry> lru;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views into lru
    std::size_t bytes = 0;
    std::size_t max_bytes = 0;
    std::size_t max_entries = 0;

    void erase(std::list<Entry>::iterator entry) {
      bytes -= entry->key.size() + entry->value.size();
      index.erase(entry->key);
      lru.erase(entry);
    }
  };

  Shard& shardOf(const std::string& key) {
    return shards_[std::hash<std::string>{}(key) % shards_.size()];
  }

  std::size_t max_entry_bytes_;
  std::vector<Shard> shards_;
};

// Logs at most one line per interval, saying how many were left out since the last one.
class RateLimitedLog {
 public:
  void warn(std::string_view message, const std::string& error) {
    const auto now = Clock::now();
    std::uint64_t suppressed = 0;
    {
      std::lock_guard lock(mutex_);
      if (now < next_) {
        ++suppressed_;
        return;
      }
      next_ = now + std::chrono::seconds(10);
      suppressed = suppressed_;
      suppressed_ = 0;
    }
    core::log::warn(message, {{"error", error}, {"suppressed_since_last", suppressed}});
  }

 private:
  std::mutex mutex_;
  Clock::time_point next_{};
  std::uint64_t suppressed_ = 0;
};

class RedisCache final : public CacheStore {
 public:
  RedisCache(std::shared_ptr<RedisClient> client, std::string prefix)
      : client_(std::move(client)), prefix_(std::move(prefix)) {}

  asio::awaitable<std::optional<std::string>> get(std::string key) override {
    std::vector<std::string> args{"GET", prefix_ + key};
    auto call = client_->command(std::move(args));
    auto reply = co_await std::move(call);
    if (reply && reply->kind == RedisReply::Kind::kString) {
      hits_.fetch_add(1, std::memory_order_relaxed);
      co_return std::move(reply->str);
    }
    misses_.fetch_add(1, std::memory_order_relaxed);
    if (!reply || !reply->isNil()) failed("GET", reply);
    co_return std::nullopt;
  }

  asio::awaitable<void> put(std::string key, std::string value,
                            std::chrono::milliseconds ttl) override {
    if (ttl.count() <= 0) co_return;
    std::vector<std::string> args{"SET", prefix_ + key, std::move(value), "PX",
                                  std::to_string(ttl.count())};
    auto call = client_->command(std::move(args));
    auto reply = co_await std::move(call);
    if (!reply || reply->kind != RedisReply::Kind::kStatus) failed("SET", reply);
  }

  std::string_view backendName() const override { return "redis"; }

 private:
  void failed(std::string_view what, const core::Result<RedisReply>& reply) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    const std::string error = reply ? fmt::format("{} answered {}", what, reply->describe())
                                    : fmt::format("{}: {}", what, reply.error().message);
    log_.warn("redis cache unavailable; treated as a miss", error);
  }

  std::shared_ptr<RedisClient> client_;
  std::string prefix_;
  RateLimitedLog log_;
};

}  // namespace

std::unique_ptr<CacheStore> makeMemoryCache(std::size_t max_bytes, std::size_t max_entries) {
  return std::make_unique<MemoryCache>(max_bytes, max_entries);
}

std::unique_ptr<CacheStore> makeRedisCache(std::shared_ptr<RedisClient> client,
                                           std::string key_prefix) {
  return std::make_unique<RedisCache>(std::move(client), std::move(key_prefix));
}

}  // namespace pharos::state
