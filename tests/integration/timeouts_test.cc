// Slow and idle clients are cut off: a slowloris trickling its head, a body that never finishes,
// a keep-alive connection left idle. Timeouts are 1 s; assertions allow up to 5 s, since only
// "the connection does not stay open for ever" matters, not the exact moment.
#include <gtest/gtest.h>

#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class TimeoutsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  PharosServer server_{ServeOptions{
      .sets = {"server.header_timeout=1s", "server.body_timeout=1s", "server.idle_timeout=1s"}}};
};

// A 408 JSON error before the close is fine; so is a bare close. Anything else is not.
void expectNothingButMaybe408(const HttpConnection& connection) {
  if (connection.received().empty()) return;
  EXPECT_EQ(connection.received().rfind("HTTP/1.1 408", 0), 0u)
      << "unexpected bytes before close: " << connection.received();
}

TEST_F(TimeoutsTest, SlowlorisHeadIsCutOff) {
  HttpConnection connection(port());
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
  const auto started = Clock::now();
  bool closed = false;
  // One byte every 100 ms, then padding forever: each byte arrives well within any per-read
  // timeout, so only a deadline for the whole head stops this.
  for (std::size_t i = 0; !closed && Clock::now() - started < std::chrono::seconds(5); ++i) {
    const char byte = i < head.size() ? head[i] : 'z';
    if (!connection.send(std::string_view(&byte, 1))) break;
    closed = connection.waitForClose(milliseconds(100));
  }
  closed = closed || connection.waitForClose(milliseconds(100));
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(closed) << "a head trickled for 5 s was never cut off";
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  EXPECT_GE(elapsed, milliseconds(900)) << "closed before the 1 s header timeout";
  expectNothingButMaybe408(connection);
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(TimeoutsTest, UnfinishedBodyIsCutOff) {
  HttpConnection connection(port());
  const auto started = Clock::now();
  ASSERT_TRUE(connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
                              std::string(10, 'b')));
  ASSERT_TRUE(connection.waitForClose(std::chrono::seconds(5)))
      << "a body stuck at 10 of 100 bytes kept the connection for 5 s";
  EXPECT_GE(Clock::now() - started, milliseconds(900));
  expectNothingButMaybe408(connection);
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(TimeoutsTest, TrickledBodyIsCutOff) {
  // The body timeout covers the whole body, not each read.
  HttpConnection connection(port());
  const auto started = Clock::now();
  ASSERT_TRUE(connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
  bool closed = false;
  while (!closed && Clock::now() - started < std::chrono::seconds(5)) {
    if (!connection.send("b")) break;
    closed = connection.waitForClose(milliseconds(100));
  }
  closed = closed || connection.waitForClose(milliseconds(100));
  ASSERT_TRUE(closed) << "a body trickled for 5 s was never cut off";
  expectNothingButMaybe408(connection);
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(TimeoutsTest, IdleKeepAliveConnectionIsClosed) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz")));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  ASSERT_EQ(response->status, 200);
  EXPECT_NE(response->header("connection"), "close");
  const auto started = Clock::now();
  ASSERT_TRUE(connection.waitForClose(std::chrono::seconds(5)))
      << "an idle keep-alive connection outlived a 1 s idle timeout by 4 s";
  EXPECT_GE(Clock::now() - started, milliseconds(900));
  EXPECT_TRUE(connection.received().empty()) << connection.received();
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(TimeoutsTest, ConnectionThatNeverSpeaksIsClosed) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.waitForClose(std::chrono::seconds(5)));
  EXPECT_TRUE(connection.received().empty()) << connection.received();
}

TEST_F(TimeoutsTest, ActiveKeepAliveConnectionIsNotCutOff) {
  // Requests every 300 ms for 2.5 s: each gap is under the idle timeout, so the connection
  // must survive although its total life exceeds every timeout.
  HttpConnection connection(port());
  const auto started = Clock::now();
  while (Clock::now() - started < milliseconds(2500)) {
    ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz")));
    const auto response = connection.readResponse();
    ASSERT_TRUE(response) << connection.lastError();
    EXPECT_EQ(response->status, 200);
    std::this_thread::sleep_for(milliseconds(300));
  }
}

}  // namespace
}  // namespace pharos::testing
