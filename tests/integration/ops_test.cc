// The operations endpoints, routing errors, request ids and the access log, seen from outside.
#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  PharosServer server_;
};

TEST_F(OpsTest, HealthzAnswersOk) {
  const HttpResponse response = get(port(), "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("content-type"), "application/json");
  EXPECT_EQ(response.json(), (boost::json::value{{"status", "ok"}}));
}

TEST_F(OpsTest, ReadyzReportsTheStoreReady) {
  const HttpResponse response = get(port(), "/readyz");
  ASSERT_EQ(response.status, 200) << response.body;
  const boost::json::value body = response.json();
  EXPECT_EQ(body.at("status"), "ready");
  EXPECT_TRUE(body.at("store").is_string());
}

TEST_F(OpsTest, MetricsCountRequestsByRouteAndStatus) {
  // The harness itself never calls /healthz, so the counter must be exactly what we sent.
  constexpr int kRequests = 7;
  for (int i = 0; i < kRequests; ++i) ASSERT_EQ(get(port(), "/healthz").status, 200);
  ASSERT_EQ(get(port(), "/no/such/route").status, 404);

  const HttpResponse metrics = get(port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.header("content-type").value_or("").find("text/plain"), 0u);
  const std::string text = metricsWhen(port(), [&](const std::string& page) {
    return metricValue(page, "pharos_http_requests_total", {{"status", "404"}}) == 1 &&
           metricValue(page, "pharos_http_requests_total", {{"route", "/healthz"}}) == kRequests &&
           metricValue(page, "pharos_http_requests_in_flight") == 1;
  });
  EXPECT_NE(text.find("# TYPE pharos_http_requests_total counter"), std::string::npos);
  EXPECT_EQ(metricValue(text, "pharos_http_requests_total",
                        {{"route", "/healthz"}, {"method", "GET"}, {"status", "200"}}),
            kRequests)
      << text;
  EXPECT_EQ(metricValue(text, "pharos_http_requests_total", {{"status", "404"}}), 1) << text;

  EXPECT_NE(text.find("# TYPE pharos_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_EQ(
      metricValue(text, "pharos_http_request_duration_seconds_count", {{"route", "/healthz"}}),
      kRequests)
      << text;
  EXPECT_EQ(metricValue(text, "pharos_http_request_duration_seconds_bucket",
                        {{"route", "/healthz"}, {"le", "+Inf"}}),
            kRequests)
      << text;
  const auto sum =
      metricValue(text, "pharos_http_request_duration_seconds_sum", {{"route", "/healthz"}});
  ASSERT_TRUE(sum.has_value()) << text;
  EXPECT_GT(*sum, 0.0);
  EXPECT_LT(*sum, 10.0);

  // The /metrics request itself is in flight while the page is rendered; every earlier one has
  // been counted out (a leak would keep this above 1 and fail the wait above).
  EXPECT_NE(text.find("# TYPE pharos_http_requests_in_flight gauge"), std::string::npos);
  EXPECT_EQ(metricValue(text, "pharos_http_requests_in_flight"), 1) << text;
  EXPECT_GE(metricValue(text, "pharos_http_connections_open").value_or(-1), 1) << text;
  EXPECT_EQ(metricValue(text, "pharos_build_info"), 1) << text;
}

TEST_F(OpsTest, UnknownRouteIs404JsonError) {
  const HttpResponse response = get(port(), "/definitely/not/here");
  EXPECT_TRUE(isJsonError(response, 404, "not_found"));
  EXPECT_NE(errorMessage(response).find("/definitely/not/here"), std::string::npos);
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(OpsTest, WrongMethodIs405WithAllowHeader) {
  const HttpResponse response = fetch(port(), "POST", "/healthz", {}, "{}");
  EXPECT_TRUE(isJsonError(response, 405, "method_not_allowed"));
  EXPECT_EQ(response.header("allow"), "GET, HEAD");
  EXPECT_TRUE(answersHealthz(port()));
}

TEST_F(OpsTest, HeadHasContentLengthButNoBody) {
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(buildRequest("HEAD", "/healthz")));
  const auto head = connection.readResponse(kDefaultTimeout, /*head_request=*/true);
  ASSERT_TRUE(head) << connection.lastError();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"),
            std::to_string(std::string(R"({"status":"ok"})").size()));
  EXPECT_TRUE(head->body.empty());

  // Had the server sent a body after the HEAD head, it would show up as the start of the next
  // response on this keep-alive connection.
  ASSERT_TRUE(connection.send(buildRequest("GET", "/healthz")));
  const auto next = connection.readResponse();
  ASSERT_TRUE(next) << connection.lastError() << "; unread: " << connection.received();
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, R"({"status":"ok"})");
  EXPECT_TRUE(connection.received().empty());
}

TEST_F(OpsTest, ValidRequestIdIsEchoed) {
  const HttpResponse response = get(port(), "/healthz", {{"X-Request-Id", "it-req_42.a:b"}});
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.header("x-request-id"), "it-req_42.a:b");
  EXPECT_EQ(response.headerCount("x-request-id"), 1u);
}

TEST_F(OpsTest, MissingRequestIdIsGenerated) {
  const HttpResponse first = get(port(), "/healthz");
  const HttpResponse second = get(port(), "/healthz");
  const std::regex hex("[0-9a-f]{32}");
  ASSERT_TRUE(first.header("x-request-id"));
  ASSERT_TRUE(second.header("x-request-id"));
  EXPECT_TRUE(std::regex_match(*first.header("x-request-id"), hex))
      << *first.header("x-request-id");
  EXPECT_NE(first.header("x-request-id"), second.header("x-request-id"));
}

TEST_F(OpsTest, UnacceptableRequestIdIsReplaced) {
  // Spaces, quotes and over-long ids would let a client inject text into the log.
  for (const std::string& bad :
       {std::string("has space"), std::string("quote\"d"), std::string(200, 'a')}) {
    const HttpResponse response = get(port(), "/healthz", {{"X-Request-Id", bad}});
    EXPECT_EQ(response.status, 200);
    ASSERT_TRUE(response.header("x-request-id"));
    EXPECT_NE(*response.header("x-request-id"), bad);
    EXPECT_TRUE(std::regex_match(*response.header("x-request-id"), std::regex("[0-9a-f]{32}")));
  }
}

TEST_F(OpsTest, RequestIdOfTheMaximumLengthIsKept) {
  const std::string longest(128, 'x');
  EXPECT_EQ(get(port(), "/healthz", {{"X-Request-Id", longest}}).header("x-request-id"), longest);
  const std::string too_long(129, 'x');
  EXPECT_NE(get(port(), "/healthz", {{"X-Request-Id", too_long}}).header("x-request-id"), too_long);
}

TEST_F(OpsTest, ConcurrentClientsAreAllAnsweredAndCounted) {
  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half on one keep-alive connection each, half with a new connection per request.
      if (t % 2 == 0) {
        HttpConnection connection(port());
        for (int i = 0; i < kPerThread; ++i) {
          if (!connection.send(buildRequest("GET", "/healthz"))) return;
          const auto response = connection.readResponse();
          if (response && response->status == 200) ++ok;
        }
      } else {
        for (int i = 0; i < kPerThread; ++i) {
          try {
            if (get(port(), "/healthz").status == 200) ++ok;
          } catch (const std::exception&) {
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  const std::string metrics = metricsWhen(port(), [&](const std::string& page) {
    return metricValue(page, "pharos_http_requests_total", {{"route", "/healthz"}}) >=
           kThreads * kPerThread;
  });
  EXPECT_EQ(metricValue(metrics, "pharos_http_requests_total",
                        {{"route", "/healthz"}, {"status", "200"}}),
            kThreads * kPerThread);
}

TEST_F(OpsTest, AccessLogLineMatchesTheRequest) {
  const HttpResponse echoed = get(port(), "/healthz?probe=1", {{"X-Request-Id", "access-log-1"}});
  ASSERT_EQ(echoed.status, 200);
  const HttpResponse generated = get(port(), "/nowhere");
  ASSERT_EQ(generated.status, 404);
  const std::string generated_id = generated.header("x-request-id").value_or("");
  ASSERT_FALSE(generated_id.empty());

  auto byId = [](std::string id) {
    return [id](const boost::json::object& line) {
      return jsonText(line, "msg") == "request" && jsonText(line, "request_id") == id;
    };
  };
  const auto first = server_.waitForLog(byId("access-log-1"));
  ASSERT_TRUE(first) << server_.stderrText();
  EXPECT_EQ(jsonText(*first, "level"), "info");
  EXPECT_EQ(jsonText(*first, "method"), "GET");
  EXPECT_EQ(jsonText(*first, "path"), "/healthz");
  EXPECT_EQ(jsonText(*first, "route"), "/healthz");
  EXPECT_EQ(first->at("status"), 200);
  ASSERT_TRUE(first->contains("duration_ms"));
  EXPECT_TRUE(first->at("duration_ms").is_number());
  EXPECT_GE(first->at("duration_ms").to_number<double>(), 0.0);
  EXPECT_LT(first->at("duration_ms").to_number<double>(), 5000.0);
  EXPECT_TRUE(first->contains("ts"));

  const auto second = server_.waitForLog(byId(generated_id));
  ASSERT_TRUE(second) << server_.stderrText();
  EXPECT_EQ(jsonText(*second, "path"), "/nowhere");
  EXPECT_EQ(second->at("status"), 404);
}

TEST_F(OpsTest, UnknownMethodsShareOneMetricsLabel) {
  // Any token is a valid method to the parser; if each became its own label, a client could
  // grow /metrics without bound.
  for (const char* method : {"FROBNICATE", "XYZZY"}) {
    HttpConnection connection(port());
    ASSERT_TRUE(connection.send(std::string(method) + " /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto response = connection.readResponse();
    ASSERT_TRUE(response) << connection.lastError();
    EXPECT_EQ(response->status, 405);
  }
  const std::string page = metricsWhen(port(), [](const std::string& text) {
    return text.find("method=\"other\",status=\"405\"} 2") != std::string::npos;
  });
  EXPECT_NE(page.find("method=\"other\",status=\"405\"} 2"), std::string::npos) << page;
  EXPECT_EQ(page.find("FROBNICATE"), std::string::npos) << page;
}

}  // namespace
}  // namespace pharos::testing
