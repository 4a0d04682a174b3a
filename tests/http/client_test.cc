// http::ClientExchange against a real http::Server on 127.0.0.1: keep-alive reuse, bodies read
// piece by piece, deadlines, cancellation, a pooled connection the server closed, and the
// server's disconnect watch seen from a client that goes away.
#include "http/client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "http/server.h"

namespace pharos::http {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

asio::awaitable<void> sleepFor(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add(Verb::post, "/echo", [this](Request& request) -> Awaitable<Response> {
      ++echo_calls_;
      co_return Response::json(200, request.body());
    });
    router_.add(Verb::get, "/slow", [](Request&) -> Awaitable<Response> {
      co_await sleepFor(1s);
      co_return Response::json(200, "{}");
    });
    router_.add(Verb::get, "/stream", [](Request&) -> Awaitable<Response> {
      co_return Response::eventStream([](StreamWriter& out) -> asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
          const std::string event = "data: " + std::to_string(i) + "\n\n";
          if (!co_await out.write(event)) co_return;
          co_await sleepFor(50ms);
        }
      });
    });
    router_.add(Verb::get, "/stall", [](Request&) -> Awaitable<Response> {
      co_return Response::eventStream([](StreamWriter& out) -> asio::awaitable<void> {
        (void)co_await out.write("data: first\n\n");
        co_await sleepFor(1s);
      });
    });
    router_.add(
        Verb::get, "/watched",
        [this](Request& request) -> Awaitable<Response> {
          auto gone = std::make_shared<bool>(false);
          request.disconnectWatch()->onGone([gone] { *gone = true; });
          for (int i = 0; i < 100 && !*gone; ++i) co_await sleepFor(20ms);
          watched_saw_gone_ = *gone;
          watched_done_.set_value();
          co_return Response::json(200, "{}");
        },
        RouteOptions{.watch_disconnect = true});

    ServerOptions options;
    options.settings.listen = {"127.0.0.1", 0};
    options.settings.io_threads = 1;
    options.settings.blocking_threads = 2;
    options.settings.idle_timeout = 200ms;
    options.access_log = false;
    server_ = std::make_unique<Server>(options, router_, metrics_, nullptr);
    server_->start();
    origin_.host = "127.0.0.1";
    origin_.port = std::to_string(server_->localAddress().port);
  }

  void TearDown() override { server_->shutdown(); }

  // Runs `body` as a coroutine on a private io_context, to completion. Idle pooled connections
  // belong to that context, so they are closed before it goes away.
  template <class T>
  T run(std::function<asio::awaitable<T>()> body) {
    asio::io_context io;
    auto future = asio::co_spawn(io, body(), asio::use_future);
    io.run();
    pool_.clear();
    return future.get();
  }

  Router router_;
  MetricsRegistry metrics_;
  std::unique_ptr<Server> server_;
  Origin origin_;
  ClientPool pool_;
  std::atomic<int> echo_calls_{0};
  bool watched_saw_gone_ = false;
  std::promise<void> watched_done_;
};

TEST_F(ClientTest, PostsAndReusesTheConnection) {
  const auto result = run<std::string>([&]() -> asio::awaitable<std::string> {
    std::string out;
    for (int i = 0; i < 3; ++i) {
      ClientExchange exchange(pool_);
      ClientRequest request{Verb::post,
                            "/echo",
                            {{"content-type", "application/json"}},
                            R"({"n":)" + std::to_string(i) + "}"};
      auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
      if (!head) co_return "begin failed: " + head.error().message;
      if (head->status != 200) co_return "status " + std::to_string(head->status);
      auto body = co_await exchange.readAll(Clock::now() + 5s, 1024);
      if (!body) co_return "read failed: " + body.error().message;
      if (!exchange.complete()) co_return "not complete";
      out += *body;
    }
    co_return out;
  });
  EXPECT_EQ(result, R"({"n":0}{"n":1}{"n":2})");
  EXPECT_EQ(pool_.opened(), 1u);
  EXPECT_EQ(pool_.reused(), 2u);
}

TEST_F(ClientTest, ReadsAStreamPieceByPiece) {
  const auto pieces =
      run<std::vector<std::string>>([&]() -> asio::awaitable<std::vector<std::string>> {
        std::vector<std::string> out;
        ClientExchange exchange(pool_);
        const ClientRequest request{Verb::get, "/stream", {}, ""};
        auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
        if (!head) co_return out;
        for (;;) {
          auto piece = co_await exchange.readSome(Clock::now() + 5s);
          if (!piece || piece->empty()) break;
          out.emplace_back(*piece);
        }
        co_return out;
      });
  std::string joined;
  for (const auto& p : pieces) joined += p;
  EXPECT_EQ(joined, "data: 0\n\ndata: 1\n\ndata: 2\n\n");
  // 50 ms apart on the server, so they cannot all arrive as one read.
  EXPECT_GE(pieces.size(), 3u);
}

TEST_F(ClientTest, DeadlineGivesTimeout) {
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::get, "/slow", {}, ""};
    auto head = co_await exchange.begin(origin_, request, Clock::now() + 100ms);
    co_return head ? core::Error{} : head.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kTimeout);
  EXPECT_THAT(error.message, HasSubstr("did not answer in time"));
}

TEST_F(ClientTest, DeadlineBetweenStreamPieces) {
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::get, "/stall", {}, ""};
    auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
    if (!head) co_return head.error();
    auto first = co_await exchange.readSome(Clock::now() + 5s);
    if (!first || *first != "data: first\n\n") co_return core::Error::internal("no first piece");
    auto second = co_await exchange.readSome(Clock::now() + 100ms);
    co_return second ? core::Error{} : second.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kTimeout);
}

TEST_F(ClientTest, RefusedConnectionIsUnavailable) {
  Origin closed = origin_;
  {
    // A port that was free a moment ago: nothing listens there.
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    closed.port = std::to_string(acceptor.local_endpoint().port());
  }
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::get, "/", {}, ""};
    auto head = co_await exchange.begin(closed, request, Clock::now() + 2s);
    co_return head ? core::Error{} : head.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(error.message, HasSubstr("http://127.0.0.1:" + closed.port));
}

TEST_F(ClientTest, CancelAbortsARead) {
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::get, "/stall", {}, ""};
    auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
    if (!head) co_return head.error();
    (void)co_await exchange.readSome(Clock::now() + 5s);
    asio::steady_timer timer(co_await asio::this_coro::executor, 50ms);
    timer.async_wait([&](boost::system::error_code) { exchange.cancel(); });
    auto next = co_await exchange.readSome(Clock::now() + 5s);
    co_return next ? core::Error{} : next.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kCancelled);
}

TEST_F(ClientTest, ReplacesAPooledConnectionTheServerClosed) {
  const auto result = run<std::string>([&]() -> asio::awaitable<std::string> {
    std::string out;
    for (int i = 0; i < 2; ++i) {
      if (i == 1) co_await sleepFor(500ms);  // past the server's 200 ms idle timeout
      ClientExchange exchange(pool_);
      const ClientRequest request{Verb::post, "/echo", {}, "{}"};
      auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
      if (!head) co_return head.error().message;
      auto body = co_await exchange.readAll(Clock::now() + 5s, 1024);
      if (!body) co_return body.error().message;
      out += *body;
    }
    co_return out;
  });
  EXPECT_EQ(result, "{}{}");
  EXPECT_EQ(echo_calls_.load(), 2);
}

TEST_F(ClientTest, ResponseOverTheLimitIsTooLarge) {
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::post, "/echo", {}, std::string(4096, 'x')};
    auto head = co_await exchange.begin(origin_, request, Clock::now() + 5s);
    if (!head) co_return head.error();
    auto body = co_await exchange.readAll(Clock::now() + 5s, 100);
    co_return body ? core::Error{} : body.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kTooLarge);
}

TEST_F(ClientTest, HttpsAgainstAPlainServerFailsTheHandshake) {
  Origin tls = origin_;
  tls.tls = true;
  const auto error = run<core::Error>([&]() -> asio::awaitable<core::Error> {
    ClientExchange exchange(pool_);
    const ClientRequest request{Verb::get, "/", {}, ""};
    auto head = co_await exchange.begin(tls, request, Clock::now() + 2s);
    co_return head ? core::Error{} : head.error();
  });
  EXPECT_EQ(error.code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(error.message, HasSubstr("TLS handshake"));
}

TEST_F(ClientTest, ServerTellsTheHandlerWhenTheClientLeaves) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::address_v4::loopback(), server_->localAddress().port});
  const std::string request = "GET /watched HTTP/1.1\r\nHost: x\r\n\r\n";
  asio::write(socket, asio::buffer(request));
  std::this_thread::sleep_for(100ms);
  socket.close();
  ASSERT_EQ(watched_done_.get_future().wait_for(5s), std::future_status::ready);
  EXPECT_TRUE(watched_saw_gone_);
}

TEST(ParseBaseUrl, AcceptsHttpAndHttps) {
  auto a = parseBaseUrl("https://api.openai.com/v1/");
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->host, "api.openai.com");
  EXPECT_EQ(a->port, "443");
  EXPECT_EQ(a->base_path, "/v1");
  EXPECT_EQ(a->hostHeader(), "api.openai.com");
  auto b = parseBaseUrl("http://127.0.0.1:18001/v1");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, "18001");
  EXPECT_EQ(b->hostHeader(), "127.0.0.1:18001");
  EXPECT_EQ(b->key(), "http://127.0.0.1:18001");
  auto c = parseBaseUrl("http://[::1]:8000");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->base_path, "");
  EXPECT_EQ(c->hostHeader(), "[::1]:8000");
}

TEST(ParseBaseUrl, NamesWhatIsWrong) {
  EXPECT_THAT(parseBaseUrl("ftp://x/v1").error().message, HasSubstr("http or https"));
  EXPECT_THAT(parseBaseUrl("localhost:8000").error().message, HasSubstr("scheme"));
  EXPECT_THAT(parseBaseUrl("api.openai.com/v1").error().message, HasSubstr("absolute URL"));
  EXPECT_THAT(parseBaseUrl("https://u:p@h/v1").error().message, HasSubstr("no user"));
}

}  // namespace
}  // namespace pharos::http
