// Graceful shutdown on SIGTERM/SIGINT: idle connections are closed at once, a request already
// under way is allowed to finish, and the process exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

bool hasMessage(const PharosServer& server, std::string_view msg) {
  return server.waitForLogMessage(msg, milliseconds(0)).has_value();
}

TEST(ShutdownTest, SigtermWithIdleKeepAliveConnectionExitsPromptly) {
  PharosServer server{ServeOptions{.sets = {"server.shutdown_grace=5s"}}};
  ASSERT_TRUE(server.start());
  HttpConnection idle(server.port());
  ASSERT_TRUE(idle.send(buildRequest("GET", "/healthz")));
  ASSERT_TRUE(idle.readResponse());

  const ExitStatus status = server.stop(seconds(10));
  ASSERT_TRUE(status.exited) << describe(status) << "\n" << server.stderrText();
  EXPECT_EQ(status.signal, 0) << describe(status);
  EXPECT_EQ(status.exit_code, 0) << server.stderrText();
  // The idle connection must not hold shutdown for the grace period.
  EXPECT_LT(status.elapsed, seconds(3)) << describe(status);
  EXPECT_TRUE(hasMessage(server, "stop signal received")) << server.stderrText();
  EXPECT_TRUE(hasMessage(server, "stopped")) << server.stderrText();
  const auto signal_line = server.waitForLogMessage("stop signal received", milliseconds(0));
  ASSERT_TRUE(signal_line);
  EXPECT_EQ(jsonText(*signal_line, "signal"), "SIGTERM");
  EXPECT_TRUE(idle.waitForClose(seconds(1)));
}

TEST(ShutdownTest, SigintAlsoStopsCleanly) {
  PharosServer server;
  ASSERT_TRUE(server.start());
  server.sendSignal(SIGINT);
  const ExitStatus status = server.waitForExit(seconds(10));
  ASSERT_TRUE(status.exited) << describe(status);
  EXPECT_EQ(status.exit_code, 0) << server.stderrText();
  const auto signal_line = server.waitForLogMessage("stop signal received", milliseconds(0));
  ASSERT_TRUE(signal_line) << server.stderrText();
  EXPECT_EQ(jsonText(*signal_line, "signal"), "SIGINT");
}

TEST(ShutdownTest, RequestHalfSentAtSigtermIsAllowedToFinish) {
  // /healthz ignores its body but the server reads a GET body like any other, so a GET with
  // Content-Length is a request that is "in flight" while its body is incomplete.
  PharosServer server{ServeOptions{.sets = {"server.shutdown_grace=5s"}}};
  ASSERT_TRUE(server.start());
  HttpConnection connection(server.port());
  // Expect: 100-continue makes the server say when it has parsed the head and is about to read
  // the body, so the signal is sure to land mid-body rather than before the request began
  // (then the connection would count as idle and be closed, which is right but another case).
  ASSERT_TRUE(
      connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: half-sent\r\n"
                      "Expect: 100-continue\r\nContent-Length: 10\r\n\r\n"));
  ASSERT_TRUE(connection.readUntil("\r\n\r\n")) << connection.lastError();
  ASSERT_EQ(connection.received().rfind("HTTP/1.1 100", 0), 0u) << connection.received();
  connection.consume(connection.received().find("\r\n\r\n") + 4);
  ASSERT_TRUE(connection.send("12345"));

  server.sendSignal(SIGTERM);
  ASSERT_TRUE(server.waitForLog(
      [](const boost::json::object& line) {
        return jsonText(line, "msg").starts_with("shutting down");
      },
      seconds(5)))
      << server.stderrText();
  // Draining: the listener is closed, so new clients are refused.
  EXPECT_TRUE(connectionRefused(server.port()));
  EXPECT_FALSE(connection.closedByPeer()) << "the request under way was cut off";

  ASSERT_TRUE(connection.send("67890"));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError() << "\n" << server.stderrText();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("x-request-id"), "half-sent");
  // The server is draining, so it says this connection ends here.
  EXPECT_EQ(response->header("connection"), "close");
  EXPECT_TRUE(connection.waitForClose(seconds(2)));

  const ExitStatus status = server.waitForExit(seconds(10));
  ASSERT_TRUE(status.exited) << describe(status);
  EXPECT_EQ(status.exit_code, 0) << server.stderrText();
  EXPECT_TRUE(hasMessage(server, "stopped")) << server.stderrText();
  EXPECT_FALSE(hasMessage(server, "shutdown grace period over; closing remaining connections"))
      << server.stderrText();
}

TEST(ShutdownTest, StalledRequestIsCutOffAfterTheGracePeriod) {
  // A client that never finishes its body may delay shutdown by shutdown_grace, no more.
  PharosServer server{ServeOptions{.sets = {"server.shutdown_grace=1s", "server.body_timeout=1m"}}};
  ASSERT_TRUE(server.start());
  HttpConnection connection(server.port());
  ASSERT_TRUE(
      connection.send("GET /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 10\r\n\r\n"));
  // The 100 Continue proves the head was parsed: the request is under way, not idle.
  ASSERT_TRUE(connection.readUntil("\r\n\r\n")) << connection.lastError();
  ASSERT_EQ(connection.received().rfind("HTTP/1.1 100", 0), 0u) << connection.received();
  ASSERT_TRUE(connection.send("1"));

  const ExitStatus status = server.stop(seconds(10));
  ASSERT_TRUE(status.exited) << describe(status);
  EXPECT_EQ(status.signal, 0) << describe(status) << "\n" << server.stderrText();
  EXPECT_EQ(status.exit_code, 0) << describe(status);
  EXPECT_GE(status.elapsed, milliseconds(900)) << "did not wait for the request under way";
  EXPECT_LT(status.elapsed, seconds(5));
  EXPECT_TRUE(hasMessage(server, "shutdown grace period over; closing remaining connections"))
      << server.stderrText();
  EXPECT_TRUE(connection.waitForClose(seconds(2)));
}

}  // namespace
}  // namespace pharos::testing
