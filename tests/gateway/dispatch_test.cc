#include "gateway/dispatch.h"

#include <gtest/gtest.h>

namespace pharos::gateway {
namespace {

using namespace std::chrono_literals;

std::optional<std::chrono::microseconds> retryAfter(
    std::string_view name, std::string_view value, std::chrono::system_clock::time_point now = {}) {
  boost::beast::http::fields headers;
  headers.insert(name, value);
  return parseRetryAfter(headers, now);
}

TEST(RetryAfter, SecondsMillisecondsAndDates) {
  EXPECT_EQ(retryAfter("Retry-After", "2"), std::chrono::microseconds(2s));
  EXPECT_EQ(retryAfter("retry-after", "0.5"), std::chrono::microseconds(500ms));
  EXPECT_EQ(retryAfter("retry-after-ms", "250"), std::chrono::microseconds(250ms));
  const auto now = std::chrono::system_clock::from_time_t(1445412470);  // 07:27:50 GMT
  EXPECT_EQ(retryAfter("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT", now),
            std::chrono::microseconds(10s));
  EXPECT_EQ(retryAfter("retry-after", "Wed, 21 Oct 2015 07:27:00 GMT", now),
            std::chrono::microseconds(0));
  // Found by fuzzing: a date centuries ahead overflowed the nanosecond clock. A day at most.
  EXPECT_EQ(retryAfter("retry-after", "Wed, 21 Oct 4030 07:28:00 GMT", now),
            std::chrono::microseconds(24h));
}

TEST(RetryAfter, GarbageIsIgnored) {
  EXPECT_FALSE(retryAfter("retry-after", "soon"));
  EXPECT_FALSE(retryAfter("retry-after", "-3"));
  EXPECT_FALSE(retryAfter("retry-after", ""));
  EXPECT_FALSE(retryAfter("x-other", "3"));
  // A day at most, however long the upstream asks for.
  EXPECT_EQ(retryAfter("retry-after", "999999999"), std::chrono::microseconds(24h));
}

TEST(ClassifyStatus, Classes) {
  EXPECT_EQ(classifyStatus(429), ErrorClass::kRateLimit);
  EXPECT_EQ(classifyStatus(500), ErrorClass::kServerError);
  EXPECT_EQ(classifyStatus(503), ErrorClass::kServerError);
  EXPECT_EQ(classifyStatus(408), ErrorClass::kTimeout);
  EXPECT_EQ(classifyStatus(400), ErrorClass::kClientError);
  EXPECT_EQ(classifyStatus(404), ErrorClass::kClientError);
  EXPECT_EQ(classifyStatus(302), ErrorClass::kMalformed);
}

TEST(ErrorClassNames, RoundTrip) {
  for (std::size_t i = 0; i < kErrorClassCount; ++i) {
    const auto c = static_cast<ErrorClass>(i);
    EXPECT_EQ(parseErrorClass(errorClassName(c)), c);
  }
  EXPECT_FALSE(parseErrorClass("nope"));
}

}  // namespace
}  // namespace pharos::gateway
