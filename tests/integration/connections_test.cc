// Ten thousand idle connections must not starve a new client: the server is event-driven and
// raises its own open-file limit, so idle sockets cost it memory, not threads or refusals.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

constexpr std::size_t kConnections = 10'000;

// Our side needs one descriptor per connection too.
bool raiseOwnOpenFileLimit(rlim_t& limit_out) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  }
  limit_out = limit.rlim_cur;
  return true;
}

double openConnections(std::uint16_t port) {
  const HttpResponse metrics = get(port, "/metrics");
  return metricValue(metrics.body, "pharos_http_connections_open").value_or(-1);
}

TEST(ConnectionsTest, TenThousandIdleConnectionsDoNotStarveNewClients) {
  rlim_t limit = 0;
  if (!raiseOwnOpenFileLimit(limit) || limit < kConnections + 500) {
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is below " << kConnections + 500;
  }
  // Long timeouts: the connections must stay open for the whole test, partial heads included.
  PharosServer server{ServeOptions{.sets = {"server.idle_timeout=2m", "server.header_timeout=2m"}}};
  ASSERT_TRUE(server.start());

  std::vector<HttpConnection> connections;
  connections.reserve(kConnections);
  for (std::size_t i = 0; i < kConnections; ++i) {
    try {
      connections.emplace_back(server.port());
    } catch (const std::exception& e) {
      FAIL() << "connection " << i << ": " << e.what();
    }
    // Every tenth one starts a request and stalls half-way through its head.
    if (i % 10 == 0) {
      ASSERT_TRUE(connections.back().send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));
    }
  }

  // connect() returns once the kernel has queued the connection; wait for the server to accept.
  double open = 0;
  for (int i = 0; i < 200 && open < kConnections; ++i) {
    open = openConnections(server.port());
    if (open < kConnections) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(open, static_cast<double>(kConnections));
  EXPECT_TRUE(answersHealthz(server.port()));

  // None of them was dropped.
  std::size_t closed = 0;
  for (HttpConnection& connection : connections) closed += connection.closedByPeer() ? 1 : 0;
  EXPECT_EQ(closed, 0u);

  // A few of the idle ones still work as ordinary keep-alive connections.
  for (std::size_t i : {1u, 5'001u, 9'999u}) {
    ASSERT_TRUE(connections[i].send(buildRequest("GET", "/healthz")));
    const auto response = connections[i].readResponse();
    ASSERT_TRUE(response) << "connection " << i << ": " << connections[i].lastError();
    EXPECT_EQ(response->status, 200);
  }

  connections.clear();
  EXPECT_TRUE(answersHealthz(server.port()));
  for (int i = 0; i < 200 && open > 1; ++i) {
    open = openConnections(server.port());
    if (open > 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(open, 1) << "connections still counted open after all clients left";
  EXPECT_TRUE(answersHealthz(server.port()));
  EXPECT_EQ(server.stop().exit_code, 0);
}

TEST(ConnectionsTest, ConnectionsBeyondMaxConnectionsAreClosedAtOnce) {
  PharosServer server{ServeOptions{.sets = {"server.max_connections=4"}}};
  ASSERT_TRUE(server.start());
  std::vector<HttpConnection> held;
  for (int i = 0; i < 4; ++i) {
    held.emplace_back(server.port());
    // A round trip on each, so the server has surely accepted and counted it.
    ASSERT_TRUE(held.back().send(buildRequest("GET", "/healthz")));
    ASSERT_TRUE(held.back().readResponse()) << held.back().lastError();
  }
  HttpConnection extra(server.port());
  EXPECT_TRUE(extra.waitForClose()) << "a fifth connection was kept with max_connections=4";
  EXPECT_TRUE(extra.received().empty()) << extra.received();

  // The held ones are unaffected, and freeing one makes room again.
  ASSERT_TRUE(held[0].send(buildRequest("GET", "/healthz")));
  ASSERT_TRUE(held[0].readResponse()) << held[0].lastError();
  held.pop_back();
  std::optional<HttpResponse> metrics;
  for (int i = 0; i < 100 && !metrics; ++i) {
    try {
      metrics = get(server.port(), "/metrics");
    } catch (const std::exception&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // not yet released
    }
  }
  ASSERT_TRUE(metrics);
  EXPECT_GE(metricValue(metrics->body, "pharos_http_connections_rejected_total").value_or(0), 1)
      << metrics->body;
}

}  // namespace
}  // namespace pharos::testing
