#include "state/counter_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace pharos::state {

CounterStore::~CounterStore() = default;

namespace {

using std::chrono::milliseconds;

constexpr double kScale = 1e6;        // fixed point: 1e-6 units
constexpr double kMaxUnits = 9.2e12;  // what fits an int64 at that scale
constexpr double kSlackMicros = 1.0;  // GCRA: float rounding tolerance, in microseconds

std::int64_t toMicro(double units) {
  return static_cast<std::int64_t>(std::llround(units * kScale));
}
double fromMicro(std::int64_t micro) {
  return static_cast<double>(micro) / kScale;
}

core::Status checkAmount(std::string_view what, double value) {
  if (!std::isfinite(value) || value < 0 || value > kMaxUnits) {
    return core::Error::invalidArgument(
        fmt::format("the {} must be a number from 0 to {:g}, not {}", what, kMaxUnits, value));
  }
  return {};
}

core::Status checkPeriod(std::string_view what, milliseconds period) {
  if (period.count() < 1) {
    return core::Error::invalidArgument(
        fmt::format("the {} must be at least 1 ms, not {} ms", what, period.count()));
  }
  return {};
}

core::Status checkBudget(double amount, double limit, milliseconds period) {
  if (auto ok = checkAmount("amount", amount); !ok) return ok;
  if (auto ok = checkAmount("limit", limit); !ok) return ok;
  return checkPeriod("budget period", period);
}

core::Status checkRate(double amount, double limit, milliseconds window) {
  if (auto ok = checkAmount("amount", amount); !ok) return ok;
  if (auto ok = checkAmount("limit", limit); !ok) return ok;
  if (limit <= 0) return core::Error::invalidArgument("a rate limit must be more than 0");
  if (auto ok = checkPeriod("rate window", window); !ok) return ok;
  if (toMicro(amount) > toMicro(limit)) {
    return core::Error::invalidArgument(fmt::format(
        "{:g} units can never pass a rate limit of {:g} per {} ms", amount, limit, window.count()));
  }
  return {};
}

core::Status checkWindowStart(std::int64_t window_start_ms, milliseconds period) {
  if (window_start_ms < 0 || window_start_ms % period.count() != 0) {
    return core::Error::invalidArgument(
        fmt::format("{} is not the start of a {} ms budget window (pass the window_start_ms "
                    "reserve() returned)",
                    window_start_ms, period.count()));
  }
  return {};
}

std::int64_t epochMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double steadyMicros() {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count());
}

// ---- memory --------------------------------------------------------------------------------

class MemoryCounters final : public CounterStore {
 public:
  asio::awaitable<core::Result<Admission>> reserve(std::string key, double amount, double limit,
                                                   milliseconds period) override {
    if (auto ok = checkBudget(amount, limit, period); !ok) co_return ok.error();
    const std::int64_t now = epochMs();
    const std::int64_t start = now - now % period.count();
    const std::int64_t end = start + period.count();
    const std::int64_t micro = toMicro(amount);
    std::lock_guard lock(mutex_);
    maybeSweep(now);
    Budget& budget = budgets_[windowKey(key, start)];
    budget.end_ms = end;
    if (budget.used + micro > toMicro(limit)) {
      co_return Admission{false, fromMicro(budget.used), limit, milliseconds(end - now), start};
    }
    budget.used += micro;
    co_return Admission{true, fromMicro(budget.used), limit, milliseconds(0), start};
  }

  asio::awaitable<core::Result<void>> settle(std::string key, double reserved, double actual,
                                             milliseconds period,
                                             std::int64_t window_start_ms) override {
    if (auto ok = checkAmount("reserved amount", reserved); !ok) co_return ok.error();
    if (auto ok = checkAmount("actual amount", actual); !ok) co_return ok.error();
    if (auto ok = checkPeriod("budget period", period); !ok) co_return ok.error();
    if (auto ok = checkWindowStart(window_start_ms, period); !ok) co_return ok.error();
    std::lock_guard lock(mutex_);
    auto it = budgets_.find(windowKey(key, window_start_ms));
    if (it == budgets_.end() || it->second.end_ms <= epochMs()) co_return core::Status{};
    it->second.used =
        std::max<std::int64_t>(0, it->second.used - toMicro(reserved) + toMicro(actual));
    co_return core::Status{};
  }

  asio::awaitable<core::Result<Admission>> acquire(std::string key, double amount, double limit,
                                                   milliseconds window) override {
    if (auto ok = checkRate(amount, limit, window); !ok) co_return ok.error();
    const double now = steadyMicros();
    const double window_us = static_cast<double>(window.count()) * 1000;
    const double limit_micro = static_cast<double>(toMicro(limit));
    std::lock_guard lock(mutex_);
    double& stored = rates_[key];
    const double tat = std::max(stored, now);
    const double new_tat = tat + static_cast<double>(toMicro(amount)) * window_us / limit_micro;
    const double allow_at = new_tat - window_us;
    if (allow_at - now > kSlackMicros) {
      const auto fill =
          static_cast<std::int64_t>(std::llround((tat - now) * limit_micro / window_us));
      co_return Admission{
          false, fromMicro(fill), limit,
          milliseconds(static_cast<std::int64_t>(std::ceil((allow_at - now) / 1000))), 0};
    }
    stored = new_tat;
    const auto fill =
        static_cast<std::int64_t>(std::llround((new_tat - now) * limit_micro / window_us));
    co_return Admission{true, fromMicro(fill), limit, milliseconds(0), 0};
  }

  std::string_view backendName() const override { return "memory"; }

 private:
  struct Budget {
    std::int64_t used = 0;  // micro-units
    std::int64_t end_ms = 0;
  };

  static std::string windowKey(const std::string& key, std::int64_t start) {
    return fmt::format("{}\n{}", key, start);
  }

  // Drops windows that are over and buckets that have drained, now and then.
  void maybeSweep(std::int64_t now_ms) {
    if (++operations_ % 4096 != 0) return;
    std::erase_if(budgets_, [now_ms](const auto& entry) { return entry.second.end_ms <= now_ms; });
    const double now_us = steadyMicros();
    std::erase_if(rates_, [now_us](const auto& entry) { return entry.second <= now_us; });
  }

  std::mutex mutex_;
  std::unordered_map<std::string, Budget> budgets_;
  std::unordered_map<std::string, double> rates_;  // key -> theoretical arrival time (steady µs)
  std::uint64_t operations_ = 0;
};

// ---- redis ---------------------------------------------------------------------------------

// KEYS[1]: the budget's key; the window start (from the server's clock) is appended to it.
// ARGV: amount, limit (micro-units), period (ms). Returns {admitted, used, retry_after_ms, start}.
const char* const kReserveScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local period = tonumber(ARGV[3])
local start = now - (now % period)
local stop = start + period
local key = KEYS[1] .. ':' .. string.format('%d', start)
local used = tonumber(redis.call('GET', key) or '0')
if used + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
  return {0, used, stop - now, start}
end
used = redis.call('INCRBY', key, ARGV[1])
redis.call('PEXPIREAT', key, string.format('%d', stop))
return {1, used, 0, start}
)lua";

// KEYS[1]: the reservation's window. ARGV[1]: actual - reserved (micro-units). A window that is
// over has expired: nothing to adjust. Returns the new total, or -1.
const char* const kSettleScript = R"lua(
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used < 0 then
  redis.call('SET', KEYS[1], '0', 'KEEPTTL')
  used = 0
end
return used
)lua";

// GCRA. KEYS[1]: the bucket, holding its theoretical arrival time (µs, server clock).
// ARGV: amount, limit (micro-units), window (µs). Returns {admitted, fill, retry_after_ms}.
const char* const kAcquireScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + amount * window / limit
local allow_at = new_tat - window
if allow_at - now > 1 then
  return {0, math.floor((tat - now) * limit / window + 0.5), math.ceil((allow_at - now) / 1000)}
end
local ttl = math.ceil((new_tat - now) / 1000)
if ttl < 1 then ttl = 1 end
redis.call('SET', KEYS[1], string.format('%d', math.ceil(new_tat)), 'PX', string.format('%d', ttl))
return {1, math.floor((new_tat - now) * limit / window + 0.5), 0}
)lua";

// The integers of a script's array answer, or kUnavailable saying what came instead.
core::Result<std::vector<std::int64_t>> integers(const core::Result<RedisReply>& reply,
                                                 std::size_t count, std::string_view script) {
  if (!reply) return reply.error();
  bool ok = reply->kind == RedisReply::Kind::kArray && reply->elements.size() == count;
  std::vector<std::int64_t> values;
  for (std::size_t i = 0; ok && i < count; ++i) {
    ok = reply->elements[i].kind == RedisReply::Kind::kInteger;
    if (ok) values.push_back(reply->elements[i].integer);
  }
  if (!ok) {
    return core::Error::unavailable(
        fmt::format("the redis {} script answered {}", script, reply->describe()));
  }
  return values;
}

class RedisCounters final : public CounterStore {
 public:
  RedisCounters(std::shared_ptr<RedisClient> client, std::string prefix)
      : client_(std::move(client)),
        prefix_(std::move(prefix)),
        reserve_(kReserveScript),
        settle_(kSettleScript),
        acquire_(kAcquireScript) {}

  asio::awaitable<core::Result<Admission>> reserve(std::string key, double amount, double limit,
                                                   milliseconds period) override {
    if (auto ok = checkBudget(amount, limit, period); !ok) co_return ok.error();
    std::vector<std::string> keys{budgetKey(key)};
    std::vector<std::string> args{std::to_string(toMicro(amount)), std::to_string(toMicro(limit)),
                                  std::to_string(period.count())};
    auto call = client_->evalScript(reserve_, std::move(keys), std::move(args));
    auto reply = co_await std::move(call);
    auto values = integers(reply, 4, "budget reserve");
    if (!values) co_return values.error();
    const auto& v = *values;
    co_return Admission{v[0] == 1, fromMicro(v[1]), limit, milliseconds(v[2]), v[3]};
  }

  asio::awaitable<core::Result<void>> settle(std::string key, double reserved, double actual,
                                             milliseconds period,
                                             std::int64_t window_start_ms) override {
    if (auto ok = checkAmount("reserved amount", reserved); !ok) co_return ok.error();
    if (auto ok = checkAmount("actual amount", actual); !ok) co_return ok.error();
    if (auto ok = checkPeriod("budget period", period); !ok) co_return ok.error();
    if (auto ok = checkWindowStart(window_start_ms, period); !ok) co_return ok.error();
    const std::int64_t delta = toMicro(actual) - toMicro(reserved);
    if (delta == 0) co_return core::Status{};
    std::vector<std::string> keys{fmt::format("{}:{}", budgetKey(key), window_start_ms)};
    std::vector<std::string> args{std::to_string(delta)};
    auto call = client_->evalScript(settle_, std::move(keys), std::move(args));
    auto reply = co_await std::move(call);
    if (!reply) co_return reply.error();
    if (reply->kind != RedisReply::Kind::kInteger) {
      co_return core::Error::unavailable(
          fmt::format("the redis budget settle script answered {}", reply->describe()));
    }
    co_return core::Status{};
  }

  asio::awaitable<core::Result<Admission>> acquire(std::string key, double amount, double limit,
                                                   milliseconds window) override {
    if (auto ok = checkRate(amount, limit, window); !ok) co_return ok.error();
    std::vector<std::string> keys{fmt::format("{}r:{{{}}}", prefix_, key)};
    std::vector<std::string> args{std::to_string(toMicro(amount)), std::to_string(toMicro(limit)),
                                  std::to_string(window.count() * 1000)};
    auto call = client_->evalScript(acquire_, std::move(keys), std::move(args));
    auto reply = co_await std::move(call);
    auto values = integers(reply, 3, "rate limit");
    if (!values) co_return values.error();
    const auto& v = *values;
    co_return Admission{v[0] == 1, fromMicro(v[1]), limit, milliseconds(v[2]), 0};
  }

  std::string_view backendName() const override { return "redis"; }

 private:
  // The hash tag keeps a budget's windows in one slot of a Redis Cluster: the reserve script
  // derives the window's key itself, from the server's clock.
  std::string budgetKey(const std::string& key) const {
    return fmt::format("{}b:{{{}}}", prefix_, key);
  }

  std::shared_ptr<RedisClient> client_;
  std::string prefix_;
  RedisScript reserve_;
  RedisScript settle_;
  RedisScript acquire_;
};

}  // namespace

std::unique_ptr<CounterStore> makeMemoryCounters() {
  return std::make_unique<MemoryCounters>();
}

std::unique_ptr<CounterStore> makeRedisCounters(std::shared_ptr<RedisClient> client,
                                                std::string key_prefix) {
  return std::make_unique<RedisCounters>(std::move(client), std::move(key_prefix));
}

}  // namespace pharos::state
