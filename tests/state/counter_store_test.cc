// CounterStore: the same tests over memory and Redis — budgets admit exactly what fits under
// concurrency from two I/O threads, settle up and down, windows roll over, amounts stay exact;
// rate limits refuse with a retry_after that is honoured. Then two Redis clients (two
// processes) sharing one budget.
#include "state/counter_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/use_future.hpp>
#include <future>

#include "state/test_util.h"

namespace pharos::state {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using ::testing::HasSubstr;
using testing::IoThreads;
using testing::runOn;

asio::awaitable<core::Result<Admission>> reserve(CounterStore& store, std::string key,
                                                 double amount, double limit, milliseconds period) {
  auto call = store.reserve(std::move(key), amount, limit, period);
  auto result = co_await std::move(call);
  co_return result;
}

asio::awaitable<core::Result<void>> settle(CounterStore& store, std::string key, double reserved,
                                           double actual, milliseconds period,
                                           std::int64_t window) {
  auto call = store.settle(std::move(key), reserved, actual, period, window);
  auto result = co_await std::move(call);
  co_return result;
}

asio::awaitable<core::Result<Admission>> acquire(CounterStore& store, std::string key,
                                                 double amount, double limit, milliseconds window) {
  auto call = store.acquire(std::move(key), amount, limit, window);
  auto result = co_await std::move(call);
  co_return result;
}

std::shared_ptr<RedisClient> sharedClient() {
  auto made = RedisClient::fromUrl(testing::sharedRedis().url());
  if (!made) throw std::runtime_error(made.error().message);
  return *made;
}

struct MemoryBackend {
  std::unique_ptr<CounterStore> make() { return makeMemoryCounters(); }
  void clear() {}
};

struct RedisBackend {
  std::shared_ptr<RedisClient> client;
  std::unique_ptr<CounterStore> make() {
    client = sharedClient();
    return makeRedisCounters(client, testing::uniquePrefix());
  }
  void clear() {
    if (client) client->clear();
  }
};

template <class Backend>
class CounterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = backend_.make(); }
  void TearDown() override { backend_.clear(); }

  Admission reserveOk(const std::string& key, double amount, double limit, milliseconds period) {
    auto result = runOn(io_, reserve(*store_, key, amount, limit, period));
    if (!result.ok()) throw std::runtime_error(result.error().message);
    return *result;
  }
  void settleOk(const std::string& key, double reserved, double actual, milliseconds period,
                std::int64_t window) {
    auto result = runOn(io_, settle(*store_, key, reserved, actual, period, window));
    if (!result.ok()) throw std::runtime_error(result.error().message);
  }
  Admission acquireOk(const std::string& key, double amount, double limit, milliseconds window) {
    auto result = runOn(io_, acquire(*store_, key, amount, limit, window));
    if (!result.ok()) throw std::runtime_error(result.error().message);
    return *result;
  }
  // Waits for the start of a fresh budget window, so a test's reserves all land in one window.
  void alignToWindow(milliseconds period) {
    const auto probe = reserveOk("align-probe", 1, 0, period);  // always refused
    std::this_thread::sleep_for(probe.retry_after + 5ms);
  }

  asio::io_context io_{1};
  Backend backend_;
  std::unique_ptr<CounterStore> store_;
};

using Backends = ::testing::Types<MemoryBackend, RedisBackend>;
TYPED_TEST_SUITE(CounterStoreTest, Backends);

TYPED_TEST(CounterStoreTest, BudgetAdmitsUntilTheLimitThenRefusesUntilTheWindowEnds) {
  const auto period = milliseconds(3'600'000);
  auto first = this->reserveOk("k", 4, 10, period);
  EXPECT_TRUE(first.admitted);
  EXPECT_DOUBLE_EQ(first.used_after, 4);
  EXPECT_DOUBLE_EQ(first.limit, 10);
  EXPECT_EQ(first.window_start_ms % period.count(), 0);
  auto second = this->reserveOk("k", 6, 10, period);  // exactly up to the limit
  EXPECT_TRUE(second.admitted);
  EXPECT_DOUBLE_EQ(second.used_after, 10);
  auto refused = this->reserveOk("k", 0.01, 10, period);
  EXPECT_FALSE(refused.admitted);
  EXPECT_DOUBLE_EQ(refused.used_after, 10);
  EXPECT_GT(refused.retry_after, 0ms);
  EXPECT_LE(refused.retry_after, period);
  EXPECT_EQ(refused.window_start_ms, first.window_start_ms);
  // Another key has its own budget.
  EXPECT_TRUE(this->reserveOk("other", 10, 10, period).admitted);
}

TYPED_TEST(CounterStoreTest, BudgetAmountsAreExactFixedPoint) {
  // 0.1 + 0.1 + 0.1 > 0.3 in doubles; in micro-units it is exactly 0.3.
  for (int i = 0; i < 3; ++i) {
    auto admission = this->reserveOk("cents", 0.1, 0.3, 3'600'000ms);
    EXPECT_TRUE(admission.admitted) << i;
  }
  EXPECT_FALSE(this->reserveOk("cents", 0.000001, 0.3, 3'600'000ms).admitted);
}

TYPED_TEST(CounterStoreTest, ExactlyMOfNConcurrentReservesAcrossTwoThreads) {
  constexpr int kCalls = 60;
  constexpr int kFits = 17;
  IoThreads threads(2);
  CounterStore& store = *this->store_;
  std::vector<std::future<core::Result<Admission>>> futures;
  for (int i = 0; i < kCalls; ++i) {
    futures.push_back(asio::co_spawn(threads[i % 2],
                                     reserve(store, "shared", 0.25, 0.25 * kFits, 3'600'000ms),
                                     asio::use_future));
  }
  int admitted = 0;
  for (auto& future : futures) {
    auto result = future.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    admitted += result->admitted;
  }
  EXPECT_EQ(admitted, kFits);
  this->backend_.clear();
  threads.stop();
}

TYPED_TEST(CounterStoreTest, SettleReplacesTheReservationDownAndUp) {
  const auto period = milliseconds(3'600'000);
  auto reservation = this->reserveOk("k", 5, 10, period);
  ASSERT_TRUE(reservation.admitted);
  this->settleOk("k", 5, 2, period, reservation.window_start_ms);  // used 2
  auto more = this->reserveOk("k", 8, 10, period);
  EXPECT_TRUE(more.admitted);
  EXPECT_DOUBLE_EQ(more.used_after, 10);
  this->settleOk("k", 8, 3, period, more.window_start_ms);    // used 5
  this->settleOk("k", 0, 4.5, period, more.window_start_ms);  // over: a settle is never refused
  auto refused = this->reserveOk("k", 1, 10, period);
  EXPECT_FALSE(refused.admitted);
  EXPECT_DOUBLE_EQ(refused.used_after, 9.5);
  // Down below zero is clamped (a reservation settled twice, say).
  this->settleOk("k", 50, 0, period, more.window_start_ms);
  auto after = this->reserveOk("k", 10, 10, period);
  EXPECT_TRUE(after.admitted);
  EXPECT_DOUBLE_EQ(after.used_after, 10);
}

TYPED_TEST(CounterStoreTest, WindowsRollOverAndALateSettleStaysInItsWindow) {
  const auto period = 400ms;
  this->alignToWindow(period);
  auto first = this->reserveOk("k", 3, 3, period);
  ASSERT_TRUE(first.admitted);
  auto refused = this->reserveOk("k", 1, 3, period);
  ASSERT_FALSE(refused.admitted);
  EXPECT_GT(refused.retry_after, 100ms);  // aligned: most of the window is left
  EXPECT_LE(refused.retry_after, period);
  std::this_thread::sleep_for(refused.retry_after + 10ms);
  // A new window: the old reservation, settled late and larger, does not charge it.
  this->settleOk("k", 3, 3000, period, first.window_start_ms);
  auto next = this->reserveOk("k", 1, 3, period);
  EXPECT_TRUE(next.admitted);
  EXPECT_DOUBLE_EQ(next.used_after, 1);
  EXPECT_EQ(next.window_start_ms, first.window_start_ms + period.count());
}

TYPED_TEST(CounterStoreTest, BadArgumentsAreNamed) {
  auto negative = runOn(this->io_, reserve(*this->store_, "k", -1, 10, 1000ms));
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_THAT(negative.error().message, HasSubstr("amount"));
  auto no_period = runOn(this->io_, reserve(*this->store_, "k", 1, 10, 0ms));
  ASSERT_FALSE(no_period.ok());
  EXPECT_THAT(no_period.error().message, HasSubstr("period"));
  auto bad_window = runOn(this->io_, settle(*this->store_, "k", 1, 1, 1000ms, 1234));
  ASSERT_FALSE(bad_window.ok());
  EXPECT_THAT(bad_window.error().message, HasSubstr("not the start of a 1000 ms budget window"));
  auto never = runOn(this->io_, acquire(*this->store_, "k", 11, 10, 1000ms));
  ASSERT_FALSE(never.ok());
  EXPECT_EQ(never.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_THAT(never.error().message, HasSubstr("can never pass"));
  auto zero_limit = runOn(this->io_, acquire(*this->store_, "k", 0, 0, 1000ms));
  ASSERT_FALSE(zero_limit.ok());
}

TYPED_TEST(CounterStoreTest, RateLimitRefusesWithARetryAfterThatIsHonoured) {
  const auto window = 1000ms;  // 5 per second: one every 200 ms, a burst of 5
  for (int i = 0; i < 5; ++i) {
    auto admission = this->acquireOk("rpm", 1, 5, window);
    EXPECT_TRUE(admission.admitted) << i;
  }
  auto refused = this->acquireOk("rpm", 1, 5, window);
  ASSERT_FALSE(refused.admitted);
  EXPECT_GT(refused.retry_after, 100ms);  // less only if the machine stalled
  EXPECT_LE(refused.retry_after, 201ms);
  EXPECT_NEAR(refused.used_after, 5, 0.1);
  std::this_thread::sleep_for(refused.retry_after + 15ms);
  EXPECT_TRUE(this->acquireOk("rpm", 1, 5, window).admitted);
  EXPECT_FALSE(this->acquireOk("rpm", 1, 5, window).admitted);
}

TYPED_TEST(CounterStoreTest, RateLimitCountsTokens) {
  const auto window = 1000ms;  // 5000 tokens per second
  auto first = this->acquireOk("tpm", 3000, 5000, window);
  EXPECT_TRUE(first.admitted);
  EXPECT_NEAR(first.used_after, 3000, 5);
  auto refused = this->acquireOk("tpm", 3000, 5000, window);
  ASSERT_FALSE(refused.admitted);
  // 1000 tokens must drain first: 200 ms.
  EXPECT_GT(refused.retry_after, 100ms);  // less only if the machine stalled
  EXPECT_LE(refused.retry_after, 201ms);
  EXPECT_TRUE(this->acquireOk("tpm", 1500, 5000, window).admitted);  // fits what is left
}

TYPED_TEST(CounterStoreTest, RateLimitAdmitsExactlyTheBurstUnderConcurrency) {
  IoThreads threads(2);
  CounterStore& store = *this->store_;
  std::vector<std::future<core::Result<Admission>>> futures;
  // 12 per 10 minutes: nothing drains back during the test.
  for (int i = 0; i < 50; ++i) {
    futures.push_back(asio::co_spawn(threads[i % 2], acquire(store, "burst", 1, 12, 600'000ms),
                                     asio::use_future));
  }
  int admitted = 0;
  for (auto& future : futures) {
    auto result = future.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    admitted += result->admitted;
  }
  EXPECT_EQ(admitted, 12);
  this->backend_.clear();
  threads.stop();
}

// Two clients, each with its own connection and I/O thread, stand for two Pharos processes.
TEST(RedisCountersTest, TwoProcessesShareOneBudget) {
  auto a = sharedClient();
  auto b = sharedClient();
  const std::string prefix = testing::uniquePrefix();
  auto store_a = makeRedisCounters(a, prefix);
  auto store_b = makeRedisCounters(b, prefix);
  IoThreads threads(2);
  std::vector<std::future<core::Result<Admission>>> futures;
  constexpr int kFits = 23;
  for (int i = 0; i < 100; ++i) {
    CounterStore& store = i % 2 == 0 ? *store_a : *store_b;
    futures.push_back(asio::co_spawn(
        threads[i % 2], reserve(store, "team", 1.5, 1.5 * kFits, 3'600'000ms), asio::use_future));
  }
  int admitted = 0;
  double max_used = 0;
  for (auto& future : futures) {
    auto result = future.get();
    ASSERT_TRUE(result.ok()) << result.error().message;
    admitted += result->admitted;
    max_used = std::max(max_used, result->used_after);
  }
  EXPECT_EQ(admitted, kFits);
  EXPECT_DOUBLE_EQ(max_used, 1.5 * kFits);
  EXPECT_GE(a->stats().commands, 50u);
  EXPECT_GE(b->stats().commands, 50u);
  a->clear();
  b->clear();
  threads.stop();
}

TEST(RedisCountersTest, RedisDownIsAnErrorNotAnAdmission) {
  asio::io_context io{1};
  int port = 0;
  {
    testing::RedisServer server;
    port = server.port();
  }
  auto client = *RedisClient::fromUrl("redis://127.0.0.1:" + std::to_string(port), 200ms);
  auto store = makeRedisCounters(client, "p:");
  auto result = runOn(io, reserve(*store, "k", 1, 10, 1000ms));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, core::ErrorCode::kUnavailable);
  client->clear();
}

}  // namespace
}  // namespace pharos::state
