// Atomic admission for budgets and rate limits, in this process's memory or in a Redis that
// several Pharos processes share.
//
// Amounts (dollars, tokens, requests) are doubles at the interface and fixed-point integers of
// 1e-6 units inside both backends (micro-dollars, micro-tokens), so sums are exact and a Redis
// budget never drifts from float rounding; Redis keeps them with INCRBY. A budget can count up
// to ~9.2e12 units per window this way.
//
// Time: the Redis backend takes "now" from the Redis server (TIME inside the scripts), so all
// processes sharing it agree on windows whatever their own clocks say; the memory backend uses
// this host's clock.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "state/redis_client.h"

namespace pharos::state {

struct Admission {
  bool admitted = false;
  double used_after = 0;  // budget: used in the window after this call; rate: current fill
  double limit = 0;
  std::chrono::milliseconds retry_after{0};  // when refused: how long until it could pass
  // Budget only: the start of the window (ms since the Unix epoch) the reservation was counted
  // in, to be passed to settle().
  std::int64_t window_start_ms = 0;
};

class CounterStore {
 public:
  virtual ~CounterStore();

  // Budget over fixed, calendar-free windows [floor(now/period)*period, +period) counted from
  // the Unix epoch (a 1-day period rolls over at 00:00 UTC). Atomically: if used + amount >
  // limit the call is refused (retry_after = time to the window's end; note that an amount
  // larger than the limit is refused in every window), else amount is added and admitted.
  // kInvalidArgument for a negative amount or limit, or a period under 1 ms.
  virtual asio::awaitable<core::Result<Admission>> reserve(std::string key, double amount,
                                                           double limit,
                                                           std::chrono::milliseconds period) = 0;

  // Replaces a reservation by the actual amount (smaller or larger; never refused), in the
  // window the reservation was counted in (`window_start_ms` from reserve()). When that window
  // is already over the adjustment is dropped: it can no longer change any admission, and the
  // next window is not charged for a call admitted in the one before.
  virtual asio::awaitable<core::Result<void>> settle(std::string key, double reserved,
                                                     double actual,
                                                     std::chrono::milliseconds period,
                                                     std::int64_t window_start_ms) = 0;

  // Rate limit by GCRA (the generic cell rate algorithm, a leaky bucket kept as one timestamp):
  // `limit` units per `window`, refilled continuously, with a burst of up to `limit` units at
  // once. `amount` is 1 for requests, N for tokens. Refused → retry_after = the time until
  // enough capacity has drained back. kInvalidArgument when amount > limit (it could never
  // pass), for a negative amount, a limit ≤ 0 or a window under 1 ms.
  virtual asio::awaitable<core::Result<Admission>> acquire(std::string key, double amount,
                                                           double limit,
                                                           std::chrono::milliseconds window) = 0;

  // "memory" or "redis".
  virtual std::string_view backendName() const = 0;
};

std::unique_ptr<CounterStore> makeMemoryCounters();

// Lua scripts (EVALSHA) for atomicity across processes. Keys: `key_prefix` + "b:{key}:" + window
// start for budgets, `key_prefix` + "r:{key}" for rate limits; each expires when its window
// (or its bucket) is over. Errors: those of RedisClient (kUnavailable, kTimeout), and
// kUnavailable for an unexpected answer.
std::unique_ptr<CounterStore> makeRedisCounters(std::shared_ptr<RedisClient> client,
                                                std::string key_prefix);

}  // namespace pharos::state
