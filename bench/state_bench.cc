// Shared-state micro benchmarks: the memory cache and counters, and the Redis client, cache and
// budget script against a redis-server this benchmark starts (/usr/bin/redis-server).
//
//   cmake --build --preset release --target state_bench && build/release/bench/state_bench
//
// Redis numbers are per operation with `batch` coroutines in flight on one I/O thread
// (pipelined on its one connection), in wall-clock time (the server shares the machine).
#include <benchmark/benchmark.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>

#include "state/cache_store.h"
#include "state/counter_store.h"
#include "state/redis_client.h"
#include "state/redis_server.h"

namespace {

using namespace pharos::state;
using namespace std::chrono_literals;
namespace asio = boost::asio;

testing::RedisServer& server() {
  static testing::RedisServer redis;
  return redis;
}

// Runs `batch` copies of `op` concurrently on one io_context, to completion.
template <class Op>
void runBatch(asio::io_context& io, int batch, Op op) {
  int left = batch;
  for (int i = 0; i < batch; ++i) {
    asio::co_spawn(
        io,
        [&, i]() -> asio::awaitable<void> {
          co_await op(i);
          if (--left == 0) io.stop();
        },
        asio::detached);
  }
  io.restart();
  io.run();
}

void BM_MemoryCacheGetHit(benchmark::State& state) {
  asio::io_context io{1};
  auto cache = makeMemoryCache(64 << 20, 100'000);
  const std::string value(2048, 'x');
  runBatch(io, 1000, [&](int i) -> asio::awaitable<void> {
    auto put = cache->put("key-" + std::to_string(i), value, 60s);
    co_await std::move(put);
  });
  for (auto _ : state) {
    runBatch(io, 1000, [&](int i) -> asio::awaitable<void> {
      auto get = cache->get("key-" + std::to_string(i));
      auto got = co_await std::move(get);
      benchmark::DoNotOptimize(got);
    });
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_MemoryCacheGetHit);

void BM_MemoryReserve(benchmark::State& state) {
  asio::io_context io{1};
  auto counters = makeMemoryCounters();
  for (auto _ : state) {
    runBatch(io, 1000, [&](int i) -> asio::awaitable<void> {
      auto call = counters->reserve("key-" + std::to_string(i % 10), 0.001, 1e9, 3600s);
      auto got = co_await std::move(call);
      benchmark::DoNotOptimize(got);
    });
  }
  state.SetItemsProcessed(state.iterations() * 1000);
}
BENCHMARK(BM_MemoryReserve);

void BM_RedisGet(benchmark::State& state) {
  asio::io_context io{1};
  auto client = *RedisClient::fromUrl(server().url());
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    runBatch(io, batch, [&](int) -> asio::awaitable<void> {
      auto call = client->command({"GET", "bench-key"});
      auto got = co_await std::move(call);
      benchmark::DoNotOptimize(got);
    });
  }
  state.SetItemsProcessed(state.iterations() * batch);
  client->clear();
}
BENCHMARK(BM_RedisGet)->Arg(1)->Arg(16)->Arg(256)->UseRealTime();

void BM_RedisCacheGet2KiB(benchmark::State& state) {
  asio::io_context io{1};
  auto client = *RedisClient::fromUrl(server().url());
  auto cache = makeRedisCache(client, "bench:");
  const int batch = static_cast<int>(state.range(0));
  runBatch(io, 1, [&](int) -> asio::awaitable<void> {
    auto put = cache->put("k", std::string(2048, 'x'), 600s);
    co_await std::move(put);
  });
  for (auto _ : state) {
    runBatch(io, batch, [&](int) -> asio::awaitable<void> {
      auto get = cache->get("k");
      auto got = co_await std::move(get);
      benchmark::DoNotOptimize(got);
    });
  }
  state.SetItemsProcessed(state.iterations() * batch);
  client->clear();
}
BENCHMARK(BM_RedisCacheGet2KiB)->Arg(1)->Arg(64)->UseRealTime();

void BM_RedisReserve(benchmark::State& state) {
  asio::io_context io{1};
  auto client = *RedisClient::fromUrl(server().url());
  auto counters = makeRedisCounters(client, "bench:");
  const int batch = static_cast<int>(state.range(0));
  for (auto _ : state) {
    runBatch(io, batch, [&](int i) -> asio::awaitable<void> {
      auto call = counters->reserve("key-" + std::to_string(i % 10), 0.001, 1e9, 3600s);
      auto got = co_await std::move(call);
      benchmark::DoNotOptimize(got);
    });
  }
  state.SetItemsProcessed(state.iterations() * batch);
  client->clear();
}
BENCHMARK(BM_RedisReserve)->Arg(1)->Arg(64)->UseRealTime();

}  // namespace
