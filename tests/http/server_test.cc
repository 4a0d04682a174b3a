// http::Server in-process: a real listener on 127.0.0.1, test handlers, and a client on real
// sockets in the test thread. Every client read has a timeout, so a server bug fails a test
// instead of hanging it.
#include "http/server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/async.h"
#include "core/crypto.h"
#include "http/sse.h"
#include "http/zlib_util.h"

namespace pharos::http {
namespace {

namespace bhttp = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using HttpResponse = bhttp::response<bhttp::string_body>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// The client

// A blocking-style client over one connection; each operation runs on a private io_context for
// at most `timeout`.
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = 10s)
      : socket_(ctx_), timeout_(timeout) {
    socket_.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
  }

  void send(std::string_view data) {
    auto [ec, n] = run([&](auto handler) {
      asio::async_write(socket_, asio::buffer(data.data(), data.size()), std::move(handler));
    });
    if (ec) throw std::runtime_error("send failed: " + ec.message());
  }

  void sendRequest(Verb method, std::string_view target, std::string body = {},
                   const Headers& headers = {}) {
    bhttp::request<bhttp::string_body> request{method, target, 11};
    request.set(bhttp::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    request.body() = std::move(body);
    request.prepare_payload();
    auto [ec, n] =
        run([&](auto handler) { bhttp::async_write(socket_, request, std::move(handler)); });
    if (ec) throw std::runtime_error("sending the request failed: " + ec.message());
  }

  HttpResponse readResponse(bool head = false) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    parser.skip(head);  // a response to HEAD has no body, whatever Content-Length says
    auto [ec, n] =
        run([&](auto handler) { bhttp::async_read(socket_, buffer_, parser, std::move(handler)); });
    if (ec) throw std::runtime_error("reading the response failed: " + ec.message());
    return parser.release();
  }

  HttpResponse request(Verb method, std::string_view target, std::string body = {},
                       const Headers& headers = {}) {
    sendRequest(method, target, std::move(body), headers);
    return readResponse(method == Verb::head);
  }

  // Reads until `needle` has arrived; returns everything up to and including it (consumed).
  std::string readUntil(std::string_view needle) {
    while (true) {
      const std::string_view have = buffered();
      if (const auto pos = have.find(needle); pos != std::string_view::npos) {
        std::string out(have.substr(0, pos + needle.size()));
        buffer_.consume(out.size());
        return out;
      }
      if (auto ec = readSome()) {
        throw std::runtime_error("read failed (" + ec.message() + ") before \"" +
                                 std::string(needle) + "\"; got: " + std::string(buffered()));
      }
    }
  }

  // True when the server closes the connection within the timeout. Bytes that arrive first are
  // kept in received().
  bool waitForClose() {
    while (true) {
      const auto ec = readSome();
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      if (ec) return false;
    }
  }

  std::string_view buffered() const {
    return {static_cast<const char*>(buffer_.data().data()), buffer_.size()};
  }

 private:
  boost::system::error_code readSome() {
    auto [ec, n] = run([&](auto handler) {
      socket_.async_read_some(buffer_.prepare(64 * 1024), std::move(handler));
    });
    buffer_.commit(n);
    return ec;
  }

  // Starts one asynchronous operation and runs it to completion or the timeout.
  template <class Initiate>
  std::pair<boost::system::error_code, std::size_t> run(Initiate initiate) {
    boost::system::error_code result;
    std::size_t bytes = 0;
    bool done = false;
    ctx_.restart();
    initiate([&](boost::system::error_code ec, std::size_t n) {
      result = ec;
      bytes = n;
      done = true;
    });
    ctx_.run_for(timeout_);
    if (!done) {
      socket_.cancel();
      ctx_.restart();
      ctx_.run();
      return {asio::error::timed_out, bytes};
    }
    return {result, bytes};
  }

  asio::io_context ctx_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::chrono::milliseconds timeout_;
};

json::value parseJson(const std::string& text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) throw std::runtime_error("not JSON (" + ec.message() + "): " + text);
  return value;
}

// A string member of a JSON object; any other member as JSON text, so a mismatch shows it.
std::string stringField(const json::value& object, std::string_view key) {
  const json::value& member = object.at(key);
  return member.is_string() ? std::string(member.as_string()) : json::serialize(member);
}

std::string errorType(const HttpResponse& response) {
  return std::string(parseJson(response.body()).at("error").at("type").as_string());
}

std::string errorMessage(const HttpResponse& response) {
  return std::string(parseJson(response.body()).at("error").at("message").as_string());
}

// Turns a chunked body ("5\r\nhello\r\n0\r\n\r\n") back into its payload.
std::string dechunk(std::string_view body) {
  std::string out;
  while (true) {
    const std::size_t line_end = body.find("\r\n");
    if (line_end == std::string_view::npos) throw std::runtime_error("bad chunk framing");
    const std::size_t size = std::stoul(std::string(body.substr(0, line_end)), nullptr, 16);
    body.remove_prefix(line_end + 2);
    if (size == 0) return out;
    out.append(body.substr(0, size));
    body.remove_prefix(size + 2);
  }
}

template <class Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (!predicate()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// The server side

// What handlers report to the test thread, and what the test thread tells handlers.
struct Probe {
  std::atomic<bool> slow_started{false};
  std::atomic<bool> slow_finished{false};
  std::atomic<bool> sse_client_saw_first{false};
  std::atomic<bool> sse_second_sending{false};
  std::atomic<bool> sse_gate_opened_by_client{false};
  std::chrono::milliseconds sse_delay{300};
};

class FakeAuthenticator final : public Authenticator {
 public:
  asio::awaitable<core::Result<Identity>> authenticate(const RequestHead& head) override {
    calls.fetch_add(1);
    const auto it = head.find("x-api-key");
    const std::string_view key =
        it == head.end() ? std::string_view() : std::string_view(it->value());
    if (key == "good") co_return Identity{"ws-1", "team", "key-1"};
    if (key == "down") co_return core::Error::unavailable("the key store is down");
    co_return core::Error{core::ErrorCode::kUnauthenticated, "a valid API key is required"};
  }
  std::atomic<int> calls{0};
};

Awaitable<Response> echo(Request& request) {
  json::object out;
  out["method"] = request.methodString();
  out["path"] = request.path();
  out["body"] = request.body();
  out["length"] = request.body().size();
  out["id"] = request.param("id");
  if (auto q = request.query("q")) {
    out["q"] = *q;
  } else {
    out["q"] = nullptr;
  }
  json::array all;
  for (const std::string& value : request.queryAll("q")) all.emplace_back(value);
  out["q_all"] = std::move(all);
  out["request_id"] = request.requestId();
  out["workspace"] = request.identity().workspace_name;
  Response response = Response::json(200, json::serialize(out));
  response.header("x-echo", "yes");
  co_return response;
}

// Only the size and digest: the body may be binary, which JSON cannot carry.
Awaitable<Response> digest(Request& request) {
  json::object out;
  out["length"] = request.body().size();
  out["sha256"] = core::toHex(core::sha256(request.body()));
  co_return Response::json(200, json::serialize(out));
}

Awaitable<Response> throwing(Request&) {
  throw std::runtime_error("secret internal detail");
  co_return Response{};
}

// Reports whether blocking work ran off the I/O thread and the handler resumed back on it.
Awaitable<Response> offloading(Request& request) {
  const std::thread::id io_thread = std::this_thread::get_id();
  const asio::any_io_executor io_executor = co_await asio::this_coro::executor;
  const asio::any_io_executor pool = request.blockingExecutor();
  auto work = core::offload(pool, [io_executor, pool] {
    const auto* io = io_executor.target<asio::io_context::executor_type>();
    const auto* blocking = pool.target<asio::thread_pool::executor_type>();
    json::object seen;
    seen["thread_differs"] = false;  // filled in below
    seen["on_io_thread"] = io != nullptr && io->running_in_this_thread();
    seen["on_blocking_pool"] = blocking != nullptr && blocking->running_in_this_thread();
    return std::make_pair(std::this_thread::get_id(), std::move(seen));
  });
  auto [worker_thread, seen] = co_await std::move(work);
  seen["thread_differs"] = worker_thread != io_thread;
  seen["resumed_on_io_thread"] = std::this_thread::get_id() == io_thread;
  co_return Response::json(200, json::serialize(seen));
}

StreamProducer sseProducer(Probe& probe) {
  return [&probe](StreamWriter& out) -> Awaitable<void> {
    SseWriter sse(out);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    co_await sse.send("first", "tick", "1");
    // Hold the second event until the client shows it has the first (bounded, so a server that
    // buffers makes the test fail rather than hang): the client can only have it if the first
    // event was flushed on its own.
    const auto deadline = Clock::now() + 5s;
    while (!probe.sse_client_saw_first && Clock::now() < deadline) {
      timer.expires_after(5ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    probe.sse_gate_opened_by_client = probe.sse_client_saw_first.load();
    timer.expires_after(probe.sse_delay);
    co_await timer.async_wait(asio::use_awaitable);
    probe.sse_second_sending = true;
    co_await sse.send("second\nline", {}, "2");
    timer.expires_after(probe.sse_delay);
    co_await timer.async_wait(asio::use_awaitable);
    co_await sse.send("third", "end", "3");
  };
}

class ServerTest : public ::testing::Test {
 protected:
  ServerTest() {
    router_.add(Verb::get, "/echo/{id}", echo);
    router_.add(Verb::post, "/echo/{id}", echo);
    router_.add(Verb::post, "/digest", digest);
    router_.add(Verb::get, "/throw", throwing);
    router_.add(Verb::get, "/throw-eagerly", [](Request&) -> Awaitable<Response> {
      // Not a coroutine: throws before any awaitable exists.
      throw std::logic_error("thrown while creating the awaitable");
    });
    router_.add(Verb::get, "/offload", offloading);
    router_.add(Verb::get, "/text", [](Request&) -> Awaitable<Response> {
      co_return Response::text(200, "hello world", "text/plain");
    });
    router_.add(Verb::get, "/slow", [this](Request& request) -> Awaitable<Response> {
      const int ms = std::stoi(request.query("ms").value_or("500"));
      probe_.slow_started = true;
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(ms));
      co_await timer.async_wait(asio::use_awaitable);
      probe_.slow_finished = true;
      co_return Response::json(200, R"({"slept":true})");
    });
    router_.add(Verb::get, "/events", [this](Request&) -> Awaitable<Response> {
      StreamProducer producer = sseProducer(probe_);
      co_return Response::eventStream(std::move(producer));
    });
    router_.add(
        Verb::get, "/healthz",
        [](Request&) -> Awaitable<Response> {
          co_return Response::json(200, R"({"status":"ok"})");
        },
        RouteOptions{.is_public = true});
  }

  void TearDown() override {
    if (server_) server_->shutdown();
    server_.reset();
  }

  static ServerOptions defaultOptions() {
    ServerOptions options;
    core::ServerSettings& s = options.settings;
    s.listen.host = "127.0.0.1";
    s.listen.port = 0;
    s.io_threads = 2;
    s.blocking_threads = 2;
    s.max_header_bytes = 8 * 1024;
    s.max_body_bytes = 1024 * 1024;
    s.max_inflated_body_bytes = 4 * 1024 * 1024;
    s.header_timeout = 5s;
    s.body_timeout = 5s;
    s.idle_timeout = 30s;
    s.shutdown_grace = 5s;
    options.access_log = false;
    return options;
  }

  void start(ServerOptions options = defaultOptions(), Authenticator* authenticator = nullptr) {
    server_ = std::make_unique<Server>(std::move(options), router_, metrics_, authenticator);
    server_->start();
    port_ = server_->localAddress().port;
    ASSERT_NE(port_, 0);
  }

  Probe probe_;
  Router router_;
  MetricsRegistry metrics_;
  FakeAuthenticator authenticator_;
  std::unique_ptr<Server> server_;  // declared last: stops before anything it uses goes away
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Basics

TEST_F(ServerTest, ReportsTheBoundPort) {
  start();
  EXPECT_EQ(server_->localAddress().host, "127.0.0.1");
  EXPECT_GT(server_->localAddress().port, 0);
}

TEST_F(ServerTest, EchoesBodyParamsAndRequestId) {
  start();
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/echo/abc?q=1", "hello body", {{"x-request-id", "req-42"}});
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  EXPECT_EQ(response[bhttp::field::server], "pharos");
  EXPECT_EQ(response["x-request-id"], "req-42");
  const json::value body = parseJson(response.body());
  EXPECT_EQ(stringField(body, "body"), "hello body");
  EXPECT_EQ(body.at("length").to_number<std::int64_t>(), 10);
  EXPECT_EQ(stringField(body, "id"), "abc");
  EXPECT_EQ(stringField(body, "q"), "1");
  EXPECT_EQ(stringField(body, "request_id"), "req-42");
  EXPECT_EQ(stringField(body, "workspace"), "");  // no authenticator: anonymous
}

TEST_F(ServerTest, HandlerSetHeadersAreSent) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x");
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(response["x-echo"], "yes");
}

TEST_F(ServerTest, GeneratesARequestIdWhenNoneOrAnUnacceptableOneIsSent) {
  start();
  Client client(port_);
  const HttpResponse none = client.request(Verb::get, "/echo/x");
  const std::string generated(none["x-request-id"]);
  EXPECT_EQ(generated.size(), 32u);
  EXPECT_EQ(generated.find_first_not_of("0123456789abcdef"), std::string::npos) << generated;
  EXPECT_EQ(stringField(parseJson(none.body()), "request_id"), generated);

  const HttpResponse bad =
      client.request(Verb::get, "/echo/x", "", {{"x-request-id", "has spaces; and <html>"}});
  EXPECT_NE(bad["x-request-id"], "has spaces; and <html>");
  EXPECT_EQ(bad["x-request-id"].size(), 32u);

  const HttpResponse too_long =
      client.request(Verb::get, "/echo/x", "", {{"x-request-id", std::string(129, 'a')}});
  EXPECT_EQ(too_long["x-request-id"].size(), 32u);
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  Client client(port_);
  for (int i = 0; i < 5; ++i) {
    const HttpResponse response = client.request(Verb::get, "/echo/" + std::to_string(i));
    ASSERT_EQ(response.result_int(), 200u);
    EXPECT_TRUE(response.keep_alive());
    EXPECT_EQ(stringField(parseJson(response.body()), "id"), std::to_string(i));
  }
}

TEST_F(ServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  Client client(port_);
  client.send(
      "GET /echo/one HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /echo/two HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(stringField(parseJson(client.readResponse().body()), "id"), "one");
  EXPECT_EQ(stringField(parseJson(client.readResponse().body()), "id"), "two");
}

TEST_F(ServerTest, ConnectionCloseIsHonoured) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x", "", {{"connection", "close"}});
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.waitForClose());
}

// ---------------------------------------------------------------------------------------------
// Routing answers

TEST_F(ServerTest, UnknownPathIs404Json) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/nope");
  EXPECT_EQ(response.result_int(), 404u);
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  EXPECT_EQ(errorType(response), "not_found");
  EXPECT_THAT(errorMessage(response), HasSubstr("/nope"));
}

TEST_F(ServerTest, WrongMethodIs405WithAllow) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::delete_, "/echo/x");
  EXPECT_EQ(response.result_int(), 405u);
  EXPECT_EQ(errorType(response), "method_not_allowed");
  EXPECT_EQ(response[bhttp::field::allow], "GET, POST, HEAD");

  const HttpResponse text = client.request(Verb::post, "/text");
  EXPECT_EQ(text.result_int(), 405u);
  EXPECT_EQ(text[bhttp::field::allow], "GET, HEAD");
}

TEST_F(ServerTest, PercentEncodedSlashStaysInOneParameterAndIsDecoded) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/a%2Fb%20c");
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "id"), "a/b c");
}

TEST_F(ServerTest, AbsoluteFormTargetIs400) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "http://example.com/echo/x");
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_EQ(errorType(response), "bad_request");
}

TEST_F(ServerTest, MalformedRequestIs400JsonAndClosed) {
  start();
  Client client(port_);
  client.send("THIS IS NOT HTTP\r\n\r\n");
  const HttpResponse response = client.readResponse();
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_EQ(errorType(response), "bad_request");
  EXPECT_FALSE(response.keep_alive());
  EXPECT_TRUE(client.waitForClose());
}

// ---------------------------------------------------------------------------------------------
// Query strings

TEST_F(ServerTest, QueryParametersArePercentDecoded) {
  start();
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::get, "/echo/x?q=J%C3%BCrgen&other=1&q=a%26b%3Dc&q=%20sp");
  ASSERT_EQ(response.result_int(), 200u);
  const json::value body = parseJson(response.body());
  EXPECT_EQ(stringField(body, "q"), "J\xC3\xBCrgen");
  EXPECT_EQ(body.at("q_all").as_array(), (json::array{"J\xC3\xBCrgen", "a&b=c", " sp"}));
}

TEST_F(ServerTest, QueryParameterNamesArePercentDecoded) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x?%71=named");  // %71 is 'q'
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(stringField(parseJson(response.body()), "q"), "named");
}

TEST_F(ServerTest, PlusInQueryIsASpace) {
  // Form encoding (URLSearchParams in JS, urlencode in Python) sends spaces as '+'.
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x?q=my+run");
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(stringField(parseJson(response.body()), "q"), "my run");
}

TEST_F(ServerTest, QueryParameterWithoutValueIsEmpty) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x?q");
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(stringField(parseJson(response.body()), "q"), "");
}

TEST_F(ServerTest, TrailingBareQuestionMarkIsTolerated) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x?");
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const json::value body = parseJson(response.body());
  EXPECT_EQ(stringField(body, "id"), "x");
  EXPECT_EQ(stringField(body, "path"), "/echo/x");
  EXPECT_TRUE(body.at("q").is_null());
}

// ---------------------------------------------------------------------------------------------
// Request bodies: chunked, encoded, limits, Expect

TEST_F(ServerTest, ChunkedRequestBodyArrivesIntact) {
  start();
  Client client(port_);
  client.send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  client.send("5;name=value\r\nhello\r\n");
  client.send("2\r\n, \r\n");
  client.send("B;a=b;flag\r\nchunked wor\r\n");
  client.send("2\r\nld\r\n0\r\n\r\n");
  const HttpResponse response = client.readResponse();
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const json::value body = parseJson(response.body());
  EXPECT_EQ(stringField(body, "body"), "hello, chunked world");
  EXPECT_EQ(body.at("length").to_number<std::int64_t>(), 20);
}

TEST_F(ServerTest, ChunkedRequestBodyWithTrailerArrivesIntact) {
  start();
  Client client(port_);
  client.send(
      "POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\nX-Trailer: yes\r\n\r\n");
  const HttpResponse response = client.readResponse();
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "body"), "abc");
  // The connection is still usable afterwards.
  EXPECT_EQ(client.request(Verb::get, "/echo/after").result_int(), 200u);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  start();
  Client client(port_);
  client.send("POST /echo/c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string chunk(256 * 1024, 'x');
  try {
    for (int i = 0; i < 5; ++i) client.send("40000\r\n" + chunk + "\r\n");  // 1.25 MiB in all
    client.send("0\r\n\r\n");
  } catch (const std::exception&) {
    // The server may close before the client has sent everything; the answer is already there.
  }
  const HttpResponse response = client.readResponse();
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_EQ(errorType(response), "body_too_large");
}

TEST_F(ServerTest, ContentLengthOverTheLimitIs413WithoutReadingTheBody) {
  start();
  Client client(port_);
  client.send("POST /echo/c HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  const HttpResponse response = client.readResponse();
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_EQ(errorType(response), "body_too_large");
  EXPECT_THAT(errorMessage(response), HasSubstr("2000000"));
}

TEST_F(ServerTest, GzipBodyIsInflatedBeforeTheHandler) {
  start();
  Client client(port_);
  const std::string text = "a gzip-encoded request body, repeated. a gzip-encoded request body";
  const HttpResponse response =
      client.request(Verb::post, "/echo/g", test_util::gzip(text), {{"content-encoding", "gzip"}});
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const json::value body = parseJson(response.body());
  EXPECT_EQ(stringField(body, "body"), text);
  EXPECT_EQ(body.at("length").to_number<std::size_t>(), text.size());
}

TEST_F(ServerTest, DeflateBodyIsInflatedBeforeTheHandler) {
  start();
  Client client(port_);
  const std::string text = "a deflate-encoded request body";
  const HttpResponse response = client.request(Verb::post, "/echo/d", test_util::zlibDeflate(text),
                                               {{"content-encoding", "deflate"}});
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "body"), text);
}

TEST_F(ServerTest, ChunkedGzipBodyIsInflated) {
  start();
  Client client(port_);
  const std::string encoded = test_util::gzip("chunked and gzipped");
  const std::size_t half = encoded.size() / 2;
  client.send(
      "POST /echo/cg HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Encoding: gzip\r\n\r\n");
  client.send(fmt::format("{:x}\r\n", half) + encoded.substr(0, half) + "\r\n");
  client.send(fmt::format("{:x}\r\n", encoded.size() - half) + encoded.substr(half) +
              "\r\n0\r\n\r\n");
  const HttpResponse response = client.readResponse();
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "body"), "chunked and gzipped");
}

TEST_F(ServerTest, LargeGzipBodyIsInflatedOffTheIoThread) {
  // Compressed bodies above 256 KiB are inflated on the blocking pool; the result must be the
  // same. Random letters compress to about 3/4, so 600 KiB stays above that threshold.
  start();
  std::string text = test_util::incompressible(600 * 1024);
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  for (char& c : text) c = kAlphabet[static_cast<unsigned char>(c) % kAlphabet.size()];
  const std::string encoded = test_util::gzip(text);
  ASSERT_GT(encoded.size(), 256u * 1024);
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/digest", encoded, {{"content-encoding", "gzip"}});
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const json::value body = parseJson(response.body());
  EXPECT_EQ(body.at("length").to_number<std::size_t>(), text.size());
  EXPECT_EQ(stringField(body, "sha256"), core::toHex(core::sha256(text)));
}

TEST_F(ServerTest, InvalidGzipIs400NamingGzip) {
  start();
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/echo/g", "definitely not gzip", {{"content-encoding", "gzip"}});
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  EXPECT_EQ(errorType(response), "bad_request");
  EXPECT_THAT(errorMessage(response), HasSubstr("gzip"));
}

TEST_F(ServerTest, TruncatedGzipIs400) {
  start();
  Client client(port_);
  const std::string encoded = test_util::gzip(std::string(5000, 'x') + "tail");
  const HttpResponse response = client.request(
      Verb::post, "/echo/g", encoded.substr(0, encoded.size() - 6), {{"content-encoding", "gzip"}});
  EXPECT_EQ(response.result_int(), 400u);
  EXPECT_THAT(errorMessage(response), HasSubstr("gzip"));
}

TEST_F(ServerTest, GzipBombIs413) {
  start();
  // 64 MiB of zeros in about 64 KiB: under max_body_bytes, far over max_inflated_body_bytes.
  const std::string bomb = test_util::compressRepeated(std::string(1024 * 1024, '\0'), 64,
                                                       test_util::Wrapper::kGzip, 9, Z_RLE);
  ASSERT_LT(bomb.size(), defaultOptions().settings.max_body_bytes);
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/digest", bomb, {{"content-encoding", "gzip"}});
  EXPECT_EQ(response.result_int(), 413u);
  EXPECT_EQ(errorType(response), "body_too_large");
  EXPECT_THAT(errorMessage(response), HasSubstr("4194304"));
}

TEST_F(ServerTest, UnknownContentEncodingIs415NamingTheCoding) {
  start();
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/echo/b", "xxxx", {{"content-encoding", "br"}});
  EXPECT_EQ(response.result_int(), 415u);
  EXPECT_EQ(errorType(response), "unsupported_media_type");
  EXPECT_THAT(errorMessage(response), HasSubstr("br"));
}

TEST_F(ServerTest, IdentityContentEncodingPassesTheBodyThrough) {
  start();
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/echo/i", "plain", {{"content-encoding", "identity"}});
  ASSERT_EQ(response.result_int(), 200u);
  EXPECT_EQ(stringField(parseJson(response.body()), "body"), "plain");
}

TEST_F(ServerTest, ExpectContinueGets100BeforeTheBodyIsSent) {
  start();
  Client client(port_);
  client.send(
      "POST /echo/e HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
  // Nothing of the body has been sent yet: the interim response must come first.
  const std::string interim = client.readUntil("\r\n\r\n");
  EXPECT_THAT(interim, StartsWith("HTTP/1.1 100 Continue\r\n"));
  client.send("hello there");
  const HttpResponse response = client.readResponse();
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "body"), "hello there");
}

TEST_F(ServerTest, ExpectContinueOverTheLimitIs413Without100) {
  start();
  Client client(port_);
  client.send(
      "POST /echo/e HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n"
      "Expect: 100-continue\r\n\r\n");
  const HttpResponse response = client.readResponse();
  EXPECT_EQ(response.result_int(), 413u);
}

// ---------------------------------------------------------------------------------------------
// Responses: HEAD, streaming, errors

TEST_F(ServerTest, HeadOnGetRouteSendsHeadersWithContentLengthAndNoBody) {
  start();
  Client client(port_);
  const HttpResponse head = client.request(Verb::head, "/text");
  EXPECT_EQ(head.result_int(), 200u);
  EXPECT_EQ(head[bhttp::field::content_length], "11");
  EXPECT_EQ(head[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(head.body(), "");
  // Had the server sent the body, it would now be read as the start of the next response.
  const HttpResponse get = client.request(Verb::get, "/text");
  EXPECT_EQ(get.result_int(), 200u);
  EXPECT_EQ(get.body(), "hello world");
  EXPECT_EQ(client.buffered(), "");
}

TEST_F(ServerTest, SseEventsAreFlushedOneByOne) {
  start();
  Client client(port_);
  client.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string head = client.readUntil("\r\n\r\n");
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(head, HasSubstr("Content-Type: text/event-stream\r\n"));
  EXPECT_THAT(head, HasSubstr("cache-control: no-cache\r\n"));
  EXPECT_THAT(head, HasSubstr("Transfer-Encoding: chunked\r\n"));

  // The first event arrives while the handler is still holding the second back.
  const std::string first = client.readUntil("data: first\n\n");
  EXPECT_FALSE(probe_.sse_second_sending) << "the second event was produced before the client "
                                             "had the first: events are not flushed one by one";
  probe_.sse_client_saw_first = true;

  const std::string rest = client.readUntil("\r\n0\r\n\r\n");
  EXPECT_TRUE(probe_.sse_gate_opened_by_client);
  EXPECT_EQ(dechunk(first + rest),
            "event: tick\nid: 1\ndata: first\n\n"
            "id: 2\ndata: second\ndata: line\n\n"
            "event: end\nid: 3\ndata: third\n\n");

  // After a cleanly ended stream the connection is kept alive.
  const HttpResponse after = client.request(Verb::get, "/echo/after");
  EXPECT_EQ(after.result_int(), 200u);
}

TEST_F(ServerTest, ThrowingHandlerIs500JsonAndTheServerKeepsServing) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/throw", "", {{"x-request-id", "t-1"}});
  EXPECT_EQ(response.result_int(), 500u);
  EXPECT_EQ(response[bhttp::field::content_type], "application/json");
  EXPECT_EQ(errorType(response), "internal_error");
  EXPECT_EQ(response["x-request-id"], "t-1");
  // The exception's text stays in the server log.
  EXPECT_THAT(response.body(), Not(HasSubstr("secret internal detail")));

  const HttpResponse eager = client.request(Verb::get, "/throw-eagerly");
  EXPECT_EQ(eager.result_int(), 500u);

  // Same connection, and a new one.
  EXPECT_EQ(client.request(Verb::get, "/echo/ok").result_int(), 200u);
  Client other(port_);
  EXPECT_EQ(other.request(Verb::get, "/echo/ok").result_int(), 200u);
}

TEST_F(ServerTest, OffloadedWorkRunsOnTheBlockingPoolNotAnIoThread) {
  start();
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/offload");
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  const json::value seen = parseJson(response.body());
  EXPECT_TRUE(seen.at("thread_differs").as_bool());
  EXPECT_FALSE(seen.at("on_io_thread").as_bool());
  EXPECT_TRUE(seen.at("on_blocking_pool").as_bool());
  EXPECT_TRUE(seen.at("resumed_on_io_thread").as_bool());
}

TEST_F(ServerTest, RequestsAreCountedByRoutePatternAndStatus) {
  start();
  Client client(port_);
  ASSERT_EQ(client.request(Verb::post, "/echo/a1", "x").result_int(), 200u);
  ASSERT_EQ(client.request(Verb::post, "/echo/a2", "x").result_int(), 200u);
  ASSERT_EQ(client.request(Verb::get, "/nope").result_int(), 404u);
  // The count is recorded just after the response is written.
  const std::string expected =
      "pharos_http_requests_total{route=\"/echo/{id}\",method=\"POST\",status=\"200\"} 2\n";
  EXPECT_TRUE(eventually([&] { return metrics_.render().find(expected) != std::string::npos; }))
      << metrics_.render();
  EXPECT_TRUE(eventually([&] {
    return metrics_.render().find("route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n") !=
           std::string::npos;
  })) << metrics_.render();
}

// ---------------------------------------------------------------------------------------------
// Authentication hook

TEST_F(ServerTest, UnauthenticatedIs401WithWwwAuthenticate) {
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x");
  EXPECT_EQ(response.result_int(), 401u);
  EXPECT_EQ(response[bhttp::field::www_authenticate], "Bearer");
  EXPECT_EQ(errorType(response), "unauthorized");
  EXPECT_EQ(errorMessage(response), "a valid API key is required");
  EXPECT_EQ(authenticator_.calls.load(), 1);
}

TEST_F(ServerTest, AuthenticatedIdentityReachesTheHandler) {
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x", "", {{"x-api-key", "good"}});
  ASSERT_EQ(response.result_int(), 200u) << response.body();
  EXPECT_EQ(stringField(parseJson(response.body()), "workspace"), "team");
}

TEST_F(ServerTest, AuthenticatorFailureOtherThanUnauthenticatedIs503) {
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/echo/x", "", {{"x-api-key", "down"}});
  EXPECT_EQ(response.result_int(), 503u);
  EXPECT_EQ(errorType(response), "unavailable");
  EXPECT_THAT(errorMessage(response), HasSubstr("key store is down"));
}

TEST_F(ServerTest, PublicRoutesSkipTheAuthenticator) {
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/healthz");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(authenticator_.calls.load(), 0);
}

TEST_F(ServerTest, UnknownPathsAreAuthenticatedBefore404) {
  // An unknown path is not public: without a valid key a caller cannot probe which routes exist.
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response = client.request(Verb::get, "/nope");
  EXPECT_EQ(response.result_int(), 401u);
  EXPECT_EQ(authenticator_.calls.load(), 1);
}

TEST_F(ServerTest, ContentEncodingErrorsComeAfterAuthentication) {
  // An unauthenticated caller learns nothing about body handling.
  start(defaultOptions(), &authenticator_);
  Client client(port_);
  const HttpResponse response =
      client.request(Verb::post, "/echo/x", "junk", {{"content-encoding", "gzip"}});
  EXPECT_EQ(response.result_int(), 401u);
}

// ---------------------------------------------------------------------------------------------
// Shutdown

TEST_F(ServerTest, ShutdownLetsAnInFlightRequestFinish) {
  start();
  Client client(port_);
  client.sendRequest(Verb::get, "/slow?ms=500");
  ASSERT_TRUE(eventually([&] { return probe_.slow_started.load(); }));

  std::atomic<bool> finished_when_shutdown_returned{false};
  Clock::duration shutdown_took{};
  std::thread stopper([&] {
    const auto started = Clock::now();
    server_->shutdown();
    shutdown_took = Clock::now() - started;
    finished_when_shutdown_returned = probe_.slow_finished.load();
  });
  const HttpResponse response = client.readResponse();
  stopper.join();

  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_TRUE(parseJson(response.body()).at("slept").as_bool());
  EXPECT_FALSE(response.keep_alive()) << "a draining server must answer Connection: close";
  EXPECT_EQ(response[bhttp::field::connection], "close");
  EXPECT_TRUE(finished_when_shutdown_returned);
  EXPECT_LT(shutdown_took, 4s);  // well inside the 5 s grace: it returned once the request ended
  EXPECT_TRUE(client.waitForClose());
}

TEST_F(ServerTest, ShutdownClosesIdleKeepAliveConnectionsPromptly) {
  start();  // grace 5 s: closing idle connections must not wait for it
  Client used(port_);
  ASSERT_EQ(used.request(Verb::get, "/echo/x").result_int(), 200u);
  Client silent(port_);
  // Make sure the silent connection has been accepted before shutting down.
  Client probe(port_);
  ASSERT_EQ(probe.request(Verb::get, "/echo/y").result_int(), 200u);

  const auto started = Clock::now();
  server_->shutdown();
  const auto took = Clock::now() - started;
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(used.waitForClose());
  EXPECT_TRUE(silent.waitForClose());
  EXPECT_TRUE(probe.waitForClose());
  EXPECT_EQ(used.buffered(), "");
}

TEST_F(ServerTest, ShutdownStopsAcceptingConnections) {
  start();
  const std::uint16_t port = port_;
  server_->shutdown();
  asio::io_context ctx;
  tcp::socket socket(ctx);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port), ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
}

TEST_F(ServerTest, ShutdownIsIdempotent) {
  start();
  server_->shutdown();
  server_->shutdown();
}

TEST_F(ServerTest, ShutdownWithoutStartIsANoOp) {
  Server server(defaultOptions(), router_, metrics_, nullptr);
  server.shutdown();
}

TEST_F(ServerTest, StartOnAPortInUseThrowsNamingTheAddress) {
  start();
  ServerOptions options = defaultOptions();
  options.settings.listen.port = port_;
  MetricsRegistry other_metrics;
  Server second(options, router_, other_metrics, nullptr);
  try {
    second.start();
    FAIL() << "a second listener on the same port started";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port_)));
  }
}

// Last in the file: when this fails by crashing, the tests before it have already run.
TEST_F(ServerTest, ShutdownGivesUpOnARequestThatOutlivesTheGrace) {
  ServerOptions options = defaultOptions();
  options.settings.shutdown_grace = 200ms;
  start(options);
  Client client(port_, 1s);
  client.sendRequest(Verb::get, "/slow?ms=5000");
  ASSERT_TRUE(eventually([&] { return probe_.slow_started.load(); }));

  const auto started = Clock::now();
  server_->shutdown();
  const auto took = Clock::now() - started;
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 2s);  // about the grace, nowhere near the handler's 5 s
  EXPECT_FALSE(probe_.slow_finished);
  // Once shutdown() has returned, nothing serves the connection any more; left open, the client
  // would wait for an answer that never comes.
  EXPECT_TRUE(client.waitForClose()) << "shutdown() returned with the abandoned connection open";

  server_.reset();  // the abandoned request's coroutine is destroyed with the server
  EXPECT_TRUE(client.waitForClose());
  EXPECT_EQ(client.buffered(), "");
}

}  // namespace
}  // namespace pharos::http
