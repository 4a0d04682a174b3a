#include "http/server.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/pct_string_view.hpp>
#include <cerrno>
#include <chrono>
#include <list>
#include <random>
#include <sstream>
#include <thread>
#include <tuple>

#include "core/async.h"
#include "core/crypto.h"
#include "core/log.h"
#include "http/content_coding.h"
#include "http/request_head.h"

namespace pharos::http {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

namespace {

// Bodies that inflate to more than this are inflated on the blocking pool, not an I/O thread.
// Decided by output size: a small compressed body can inflate a thousandfold.
constexpr std::size_t kInlineInflateLimit = 1024 * 1024;
constexpr std::size_t kMaxRequestIdLength = 128;
constexpr std::size_t kMaxLingerBytes = 4 * 1024 * 1024;

bool isAcceptableRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxRequestIdLength) return false;
  for (unsigned char c : id) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  }
  return true;
}

// Request ids need to be unique, not secret: a per-thread generator seeded from the OS.
std::string newRequestId() {
  thread_local std::mt19937_64 generator = [] {
    const std::string seed = core::randomBytes(8);
    std::uint64_t value = 0;
    for (unsigned char c : seed) value = (value << 8) | c;
    return std::mt19937_64(value);
  }();
  const std::uint64_t a = generator();
  const std::uint64_t b = generator();
  std::string raw(16, '\0');
  for (int i = 0; i < 8; ++i) {
    raw[i] = static_cast<char>(a >> (8 * i));
    raw[8 + i] = static_cast<char>(b >> (8 * i));
  }
  return core::toHex(raw);
}

std::string statusLabel(unsigned status) {
  return std::to_string(status);
}

// The caller's x-request-id when it is usable, else a new one.
std::string requestIdFor(const RequestHead& head) {
  if (auto it = head.find("x-request-id"); it != head.end() && isAcceptableRequestId(it->value())) {
    return std::string(it->value());
  }
  return newRequestId();
}

Response authenticationRefusal(const core::Error& error) {
  if (error.code == core::ErrorCode::kUnauthenticated) {
    Response response = Response::error(401, "unauthorized", error.message);
    response.header("www-authenticate", "Bearer");
    return response;
  }
  return Response::error(503, "unavailable", error.message);
}

// Lets 10,000 idle connections exist: the default soft limit of open files is often 1024.
void raiseOpenFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

class Server::Impl {
 public:
  class Session;

  Impl(ServerOptions options, const Router& router, MetricsRegistry& metrics,
       Authenticator* authenticator)
      : options_(std::move(options)),
        settings_(options_.settings),
        router_(router),
        authenticator_(authenticator),
        blocking_(settings_.blocking_threads != 0
                      ? settings_.blocking_threads
                      : std::max(2u, std::thread::hardware_concurrency())),
        requests_total_(metrics.counter("pharos_http_requests_total",
                                        "HTTP requests answered, by route pattern and status",
                                        {"route", "method", "status"})),
        request_seconds_(metrics.histogram("pharos_http_request_duration_seconds",
                                           "Time from request head to response end, by route",
                                           {"route"})),
        in_flight_(
            metrics
                .gauge("pharos_http_requests_in_flight", "Requests received and not yet answered")
                .with({})),
        open_connections_(
            metrics.gauge("pharos_http_connections_open", "Open client connections").with({})),
        rejected_connections_(metrics
                                  .counter("pharos_http_connections_rejected_total",
                                           "Connections closed at once: over max_connections")
                                  .with({})) {
    const unsigned threads = settings_.io_threads != 0
                                 ? settings_.io_threads
                                 : std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 0; i < threads; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      // A context with no connection yet must keep running, not return from run().
      keep_running_.push_back(asio::make_work_guard(*contexts_.back()));
      sessions_.emplace_back();
    }
  }

  ~Impl() { shutdown(); }

  void start() {
    raiseOpenFileLimit();
    asio::io_context& accept_context = *contexts_.front();
    tcp::resolver resolver(accept_context);
    boost::system::error_code ec;
    auto results = resolver.resolve(settings_.listen.host, std::to_string(settings_.listen.port),
                                    tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || results.empty()) {
      throw std::runtime_error("cannot resolve listen address " + settings_.listen.toString() +
                               ": " + ec.message());
    }
    const tcp::endpoint endpoint = results.begin()->endpoint();
    acceptor_ = std::make_unique<tcp::acceptor>(accept_context);
    acceptor_->open(endpoint.protocol(), ec);
    if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_->bind(endpoint, ec);
    if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + settings_.listen.toString() + ": " +
                               ec.message() +
                               (ec == asio::error::address_in_use
                                    ? " (another process has the port; pick one with --listen)"
                                    : ""));
    }
    local_ = acceptor_->local_endpoint();
    asio::co_spawn(accept_context, acceptLoop(),
                   [](std::exception_ptr e) { logCrash(e, "accept"); });
    for (auto& context : contexts_) {
      threads_.emplace_back([&context] { context->run(); });
    }
    running_ = true;
  }

  core::ListenAddress localAddress() const {
    core::ListenAddress address;
    address.host = local_.address().to_string();
    address.port = local_.port();
    return address;
  }

  asio::any_io_executor blockingExecutor() { return blocking_.get_executor(); }

  void shutdown();

 private:
  static void logCrash(const std::exception_ptr& e, std::string_view where) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      core::log::error("unexpected exception", {{"where", where}, {"what", ex.what()}});
    } catch (...) {
      core::log::error("unexpected exception", {{"where", where}});
    }
  }

  asio::awaitable<void> acceptLoop();
  void closeIdleSessions(std::size_t context_index);
  // Decodes the body and runs the handler; never throws.
  asio::awaitable<Response> dispatch(const Route& route, Request& request);
  // One access-log line and the request metrics. `head` and `workspace` when known.
  void record(const RequestHead* head, std::string_view workspace, std::string_view method,
              std::string_view path, std::string_view route, unsigned status,
              Clock::time_point started, std::size_t bytes_in, std::size_t bytes_out,
              std::string_view remote, std::string_view request_id);

  ServerOptions options_;
  const core::ServerSettings& settings_;
  const Router& router_;
  Authenticator* authenticator_;
  // Sessions per I/O context, touched only on that context's thread. Declared before contexts_
  // so it outlives them: destroying a context destroys abandoned sessions, which unregister.
  std::vector<std::list<Session*>> sessions_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running_;
  std::vector<std::thread> threads_;
  asio::thread_pool blocking_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  tcp::endpoint local_;
  std::atomic<bool> draining_{false};
  bool running_ = false;
  std::atomic<std::size_t> connections_{0};
  std::size_t next_context_ = 0;

  CounterFamily& requests_total_;
  HistogramFamily& request_seconds_;
  Gauge& in_flight_;
  Gauge& open_connections_;
  Counter& rejected_connections_;
};

// One client connection: reads requests one after another (keep-alive), answers each.
class Server::Impl::Session {
 public:
  Session(Impl& server, std::size_t context_index, tcp::socket socket)
      : server_(server), context_index_(context_index), stream_(std::move(socket)) {
    boost::system::error_code ec;
    const auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
    stream_.socket().set_option(tcp::no_delay(true), ec);
  }

  asio::awaitable<void> run();

  // Called on this session's thread during shutdown.
  void closeIfIdle() {
    if (idle_) stream_.cancel();
  }
  // Called once the I/O threads have stopped, for sessions still open after the grace period.
  void forceClose() {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  class ChunkWriter;

  // Answers, then closes the connection (the rest of the request, if any, is not read).
  asio::awaitable<void> respondAndClose(Response response, std::string request_id,
                                        Clock::time_point started, std::string_view method,
                                        std::string_view target,
                                        std::string_view route_label = "invalid",
                                        std::string_view workspace = "");
  // Returns the body bytes written.
  asio::awaitable<std::size_t> writeResponse(std::string_view request_id, bool head_request,
                                             Response& response, bool keep_alive,
                                             bool& stream_failed);

  // Until the response is complete, learns of a client that closes its connection (a readable
  // socket with nothing to read) without consuming anything it sends.
  void watchForDisconnect(const std::shared_ptr<DisconnectWatch>& watch);

  Impl& server_;
  std::size_t context_index_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::string remote_;
  bool idle_ = true;
};

class Server::Impl::Session::ChunkWriter final : public StreamWriter {
 public:
  // `pending_head`: the serialized response head, when it goes out with the first chunk.
  ChunkWriter(beast::tcp_stream& stream, std::chrono::milliseconds timeout,
              std::string pending_head = {})
      : stream_(stream), timeout_(timeout), pending_head_(std::move(pending_head)) {}

  asio::awaitable<bool> write(std::string_view data) override {
    if (failed_) co_return false;
    if (data.empty()) co_return true;  // an empty chunk would end the body
    stream_.expires_after(timeout_);
    const auto chunk = bhttp::make_chunk(asio::const_buffer(data.data(), data.size()));
    boost::system::error_code ec;
    if (pending_head_.empty()) {
      std::tie(ec, std::ignore) = co_await asio::async_write(stream_, chunk, kNoThrow);
    } else {
      const auto head = asio::const_buffer(pending_head_.data(), pending_head_.size());
      std::tie(ec, std::ignore) =
          co_await asio::async_write(stream_, beast::buffers_cat(head, chunk), kNoThrow);
      pending_head_.clear();
    }
    if (ec) failed_ = true;
    bytes_ += data.size();
    co_return !failed_;
  }

  // The head, if no chunk has carried it yet: it must precede the last chunk.
  std::string takePendingHead() { return std::exchange(pending_head_, {}); }
  bool failed() const { return failed_; }
  std::size_t bytes() const { return bytes_; }

 private:
  beast::tcp_stream& stream_;
  std::chrono::milliseconds timeout_;
  std::string pending_head_;
  bool failed_ = false;
  std::size_t bytes_ = 0;
};

void Server::Impl::shutdown() {
  if (!running_ || draining_.exchange(true)) return;
  core::log::info("shutting down: no new connections; waiting for in-flight requests",
                  {{"in_flight", in_flight_.value()},
                   {"grace_ms", static_cast<std::int64_t>(settings_.shutdown_grace.count())}});
  asio::post(*contexts_.front(), [this] {
    boost::system::error_code ignored;
    acceptor_->close(ignored);
  });
  for (std::size_t i = 0; i < contexts_.size(); ++i) {
    asio::post(*contexts_[i], [this, i] { closeIdleSessions(i); });
  }
  const auto deadline = Clock::now() + settings_.shutdown_grace;
  while (connections_.load() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (connections_.load() > 0) {
    core::log::warn("shutdown grace period over; closing remaining connections",
                    {{"connections", connections_.load()}});
  }
  keep_running_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // No I/O thread runs now, so the listener and the sessions can be touched from here. The
  // close posted above may never have run if the contexts stopped first.
  boost::system::error_code ignored;
  acceptor_->close(ignored);
  for (auto& sessions : sessions_) {
    for (Session* session : sessions) session->forceClose();
  }
  blocking_.join();
  running_ = false;
}

asio::awaitable<void> Server::Impl::acceptLoop() {
  while (!draining_.load()) {
    const std::size_t index = next_context_;
    next_context_ = (next_context_ + 1) % contexts_.size();
    asio::io_context& target = *contexts_[index];
    auto [ec, socket] = co_await acceptor_->async_accept(target, kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || draining_.load()) co_return;
      // Out of file descriptors or a transient network error: back off instead of spinning.
      core::log::warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    if (connections_.load() >= settings_.max_connections) {
      rejected_connections_.inc();
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    connections_.fetch_add(1);
    open_connections_.add(1);
    asio::co_spawn(
        target,
        [this, index, socket = std::move(socket)]() mutable -> asio::awaitable<void> {
          Session session(*this, index, std::move(socket));
          co_await session.run();
        },
        [this](std::exception_ptr e) {
          connections_.fetch_sub(1);
          open_connections_.add(-1);
          logCrash(e, "session");
        });
  }
}

void Server::Impl::closeIdleSessions(std::size_t context_index) {
  for (Session* session : sessions_[context_index]) session->closeIfIdle();
}

asio::awaitable<void> Server::Impl::Session::run() {
  auto& registry = server_.sessions_[context_index_];
  registry.push_front(this);
  const auto registration = registry.begin();
  struct Unregister {
    std::list<Session*>& registry;
    std::list<Session*>::iterator it;
    ~Unregister() { registry.erase(it); }
  } unregister{registry, registration};

  const core::ServerSettings& settings = server_.settings_;
  while (!server_.draining_.load()) {
    idle_ = true;
    // The first byte of the next request gets the idle timeout; the rest of the head gets the
    // header timeout from then on, so trickling bytes cannot hold a connection forever.
    if (buffer_.size() == 0) {
      stream_.expires_after(settings.idle_timeout);
      auto [ec, n] = co_await stream_.async_read_some(buffer_.prepare(4096), kNoThrow);
      if (ec) break;  // closed by the client, idle timeout, or shutdown
      buffer_.commit(n);
    }
    const Clock::time_point started = Clock::now();
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(
        static_cast<std::uint32_t>(std::min<std::uint64_t>(settings.max_header_bytes, UINT32_MAX)));
    parser.body_limit(settings.max_body_bytes);
    stream_.expires_after(settings.header_timeout);
    auto [head_ec, head_n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kNoThrow);
    if (head_ec) {
      const auto& partial = parser.get();
      if (head_ec == bhttp::error::body_limit) {
        // Beast checks a declared Content-Length against the limit while parsing the head.
        co_await respondAndClose(
            Response::error(
                413, "body_too_large",
                fmt::format("request body of {} bytes exceeds the limit of {} bytes",
                            partial[bhttp::field::content_length], settings.max_body_bytes)),
            requestIdFor(partial), started, methodLabel(partial), partial.target());
      } else if (head_ec == bhttp::error::header_limit) {
        co_await respondAndClose(
            Response::error(431, "headers_too_large",
                            fmt::format("request head exceeds the limit of {} bytes",
                                        settings.max_header_bytes)),
            newRequestId(), started, "-", "");
      } else if (head_ec == beast::error::timeout) {
        // The stream closed the socket at the deadline; there is no one left to answer.
        server_.record(nullptr, "", "-", "-", "invalid", 408, started, 0, 0, remote_,
                       newRequestId());
      } else if (head_ec != bhttp::error::end_of_stream && head_ec != asio::error::eof &&
                 head_ec != asio::error::operation_aborted &&
                 head_ec != asio::error::connection_reset) {
        co_await respondAndClose(
            Response::error(400, "bad_request",
                            fmt::format("malformed HTTP request: {}", head_ec.message())),
            newRequestId(), started, "-", "");
      }
      break;
    }
    idle_ = false;
    const auto& head = parser.get();
    const std::string method(methodLabel(head));
    std::string request_id = requestIdFor(head);

    // Everything that can refuse a request on its head alone — framing, target, authentication,
    // routing — happens before 100 Continue and before a byte of the body is buffered.
    HeadDecision decision = examineHead(head, parser.chunked(), server_.router_);
    Identity identity;
    if (!decision.refusal && decision.needs_identity && server_.authenticator_ != nullptr) {
      core::Result<Identity> authenticated = co_await server_.authenticator_->authenticate(head);
      if (authenticated) {
        identity = std::move(authenticated).value();
      } else {
        decision.refusal = authenticationRefusal(authenticated.error());
      }
    }
    if (!decision.refusal && decision.route == nullptr) {
      decision.refusal = unroutable(decision, head.method_string());
    }
    if (decision.refusal) {
      if (decision.must_close || !parser.is_done() || !head.keep_alive() ||
          server_.draining_.load()) {
        co_await respondAndClose(std::move(*decision.refusal), request_id, started, method,
                                 head.target(), decision.route_label, identity.workspace_name);
        break;
      }
      bool failed = false;
      const std::size_t bytes_out = co_await writeResponse(request_id, head.method() == Verb::head,
                                                           *decision.refusal, true, failed);
      server_.record(&head, identity.workspace_name, method, decision.path, decision.route_label,
                     decision.refusal->status, started, 0, bytes_out, remote_, request_id);
      if (failed) break;
      continue;
    }

    if (beast::iequals(head[bhttp::field::expect], "100-continue")) {
      bhttp::response<bhttp::empty_body> proceed{bhttp::status::continue_, 11};
      stream_.expires_after(settings.body_timeout);
      auto [ec, n] = co_await bhttp::async_write(stream_, proceed, kNoThrow);
      if (ec) break;
    }
    if (!parser.is_done()) {
      stream_.expires_after(settings.body_timeout);
      auto [body_ec, body_n] = co_await bhttp::async_read(stream_, buffer_, parser, kNoThrow);
      if (body_ec) {
        if (body_ec == bhttp::error::body_limit) {
          co_await respondAndClose(
              Response::error(413, "body_too_large",
                              fmt::format("request body exceeds the limit of {} bytes",
                                          settings.max_body_bytes)),
              request_id, started, method, head.target(), decision.route_label,
              identity.workspace_name);
        } else if (body_ec == beast::error::timeout) {
          server_.record(&head, identity.workspace_name, method, decision.path,
                         decision.route_label, 408, started, 0, 0, remote_, request_id);
        } else if (body_ec != bhttp::error::partial_message && body_ec != asio::error::eof &&
                   body_ec != asio::error::connection_reset &&
                   body_ec != asio::error::operation_aborted) {
          co_await respondAndClose(
              Response::error(400, "bad_request",
                              fmt::format("malformed request body: {}", body_ec.message())),
              request_id, started, method, head.target(), decision.route_label,
              identity.workspace_name);
        }
        break;  // a client that vanished mid-body gets nothing; there is nobody to tell
      }
    }
    stream_.expires_never();

    const std::size_t bytes_in = head.body().size();
    Request request(parser.release(), std::move(request_id), remote_);
    (void)request.parseTarget();  // cannot fail: examineHead parsed the same target
    request.setParams(std::move(decision.params));
    request.setIdentity(std::move(identity));
    request.setBlockingExecutor(server_.blockingExecutor());

    std::shared_ptr<DisconnectWatch> watch;
    if (decision.route->options.watch_disconnect) {
      watch = std::make_shared<DisconnectWatch>();
      request.setDisconnectWatch(watch);
      watchForDisconnect(watch);
    }

    server_.in_flight_.add(1);
    Response response = co_await server_.dispatch(*decision.route, request);
    const bool keep_alive = request.message().keep_alive() && !server_.draining_.load();
    bool stream_failed = false;
    const std::size_t bytes_out = co_await writeResponse(
        request.requestId(), request.method() == Verb::head, response, keep_alive, stream_failed);
    if (watch) {
      watch->clear();
      boost::system::error_code ignored;
      stream_.socket().cancel(ignored);  // the pending wait; nothing else is in flight here
    }
    server_.in_flight_.add(-1);
    server_.record(&request.head(), request.identity().workspace_name, method, request.path(),
                   decision.route_label, response.status, started, bytes_in, bytes_out, remote_,
                   request.requestId());
    if (!keep_alive || stream_failed) break;
  }
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.close();
}

asio::awaitable<void> Server::Impl::Session::respondAndClose(
    Response response, std::string request_id, Clock::time_point started, std::string_view method,
    std::string_view target, std::string_view route_label, std::string_view workspace) {
  bool failed = false;
  const std::size_t bytes_out =
      co_await writeResponse(request_id, false, response, /*keep_alive=*/false, failed);
  // Lingering close: the client may still be sending (an oversized body, say). Closing with
  // unread data makes the kernel send a reset that can destroy the answer before the client
  // reads it, so stop sending, then read and discard for a moment until the client closes too.
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream_.expires_after(std::chrono::seconds(1));
  std::array<char, 16 * 1024> discard;
  for (std::size_t drained = 0; !failed && drained < kMaxLingerBytes;) {
    auto [read_ec, read] = co_await stream_.async_read_some(asio::buffer(discard), kNoThrow);
    if (read_ec) break;
    drained += read;
  }
  const std::string_view path = target.substr(0, target.find('?'));
  server_.record(nullptr, workspace, method, path.empty() ? "-" : path, route_label,
                 response.status, started, 0, bytes_out, remote_, request_id);
}

void Server::Impl::Session::watchForDisconnect(const std::shared_ptr<DisconnectWatch>& watch) {
  if (buffer_.size() > 0) return;  // the next request is already here (pipelining): cannot tell
  tcp::socket& socket = stream_.socket();
  const int fd = socket.native_handle();
  socket.async_wait(tcp::socket::wait_read, [watch, fd](boost::system::error_code ec) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) {
      char byte = 0;
      const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;  // more data
    }
    watch->fire();  // end of stream or a reset: the client is gone
  });
}

asio::awaitable<std::size_t> Server::Impl::Session::writeResponse(std::string_view request_id,
                                                                  bool head_request,
                                                                  Response& response,
                                                                  bool keep_alive,
                                                                  bool& stream_failed) {
  const core::ServerSettings& settings = server_.settings_;
  const auto fill = [&](auto& res) {
    res.set(bhttp::field::server, "pharos");
    res.set(bhttp::field::content_type, response.content_type);
    res.set("x-request-id", request_id);
    for (const auto& [name, value] : response.headers) res.insert(name, value);
    res.keep_alive(keep_alive);
  };
  if (response.stream) {
    bhttp::response<bhttp::empty_body> res{static_cast<bhttp::status>(response.status), 11};
    fill(res);
    res.chunked(true);
    std::string pending_head;
    if (response.head_with_first_write) {
      std::ostringstream head;
      head << res.base();
      pending_head = std::move(head).str();
    } else {
      bhttp::response_serializer<bhttp::empty_body> serializer{res};
      stream_.expires_after(settings.body_timeout);
      auto [ec, n] = co_await bhttp::async_write_header(stream_, serializer, kNoThrow);
      if (ec) {
        stream_failed = true;
        co_return 0;
      }
    }
    ChunkWriter writer(stream_, settings.body_timeout, std::move(pending_head));
    try {
      co_await response.stream(writer);
    } catch (...) {
      core::log::error("stream producer failed", {{"request_id", request_id}});
      stream_failed = true;  // no last chunk: the client sees a truncated body, not a clean end
      co_return writer.bytes();
    }
    if (writer.failed()) {
      stream_failed = true;
      co_return writer.bytes();
    }
    stream_.expires_after(settings.body_timeout);
    const std::string unsent_head = writer.takePendingHead();
    auto [last_ec, last_n] = co_await asio::async_write(
        stream_,
        beast::buffers_cat(asio::const_buffer(unsent_head.data(), unsent_head.size()),
                           bhttp::make_chunk_last()),
        kNoThrow);
    stream_failed = static_cast<bool>(last_ec);
    stream_.expires_never();
    co_return writer.bytes();
  }

  bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(response.status), 11};
  fill(res);
  const std::size_t size = response.body.size();
  res.body() = std::move(response.body);
  res.prepare_payload();
  if (head_request) res.body().clear();  // Content-Length stays the GET one
  stream_.expires_after(settings.body_timeout);
  auto [ec, n] = co_await bhttp::async_write(stream_, res, kNoThrow);
  stream_.expires_never();
  if (ec) stream_failed = true;
  co_return size;
}

asio::awaitable<Response> Server::Impl::dispatch(const Route& route, Request& request) {
  if (auto encoding = request.header("content-encoding"); encoding && !request.body().empty()) {
    core::Result<ContentCoding> coding = parseContentCoding(*encoding);
    if (!coding) co_return Response::error(415, "unsupported_media_type", coding.error().message);
    if (*coding != ContentCoding::kIdentity) {
      const std::size_t limit = settings_.max_inflated_body_bytes;
      core::Result<std::string> inflated =
          inflate(request.body(), *coding, std::min(limit, kInlineInflateLimit));
      if (!inflated && inflated.error().code == core::ErrorCode::kTooLarge &&
          limit > kInlineInflateLimit) {
        // Too big for an I/O thread: start again on the blocking pool with the real limit.
        auto inflateBody = [&request, coding = *coding, limit] {
          return inflate(request.body(), coding, limit);
        };
        // Named first: GCC 12 destroys a lambda temporary inside a co_await expression twice.
        auto offloaded = core::offload(request.blockingExecutor(), inflateBody);
        inflated = co_await std::move(offloaded);
      }
      if (!inflated) {
        const bool too_large = inflated.error().code == core::ErrorCode::kTooLarge;
        co_return Response::error(too_large ? 413 : 400,
                                  too_large ? "body_too_large" : "bad_request",
                                  inflated.error().message);
      }
      request.mutableBody() = std::move(inflated).value();
    }
  }

  try {
    co_return co_await route.handler(request);
  } catch (const std::exception& e) {
    core::log::error(
        "handler failed",
        {{"request_id", request.requestId()}, {"route", route.pattern}, {"what", e.what()}});
  } catch (...) {
    core::log::error("handler failed",
                     {{"request_id", request.requestId()}, {"route", route.pattern}});
  }
  co_return Response::error(500, "internal_error",
                            "internal error; the server log has details under this request id");
}

void Server::Impl::record(const RequestHead* head, std::string_view workspace,
                          std::string_view method, std::string_view path, std::string_view route,
                          unsigned status, Clock::time_point started, std::size_t bytes_in,
                          std::size_t bytes_out, std::string_view remote,
                          std::string_view request_id) {
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  requests_total_.with({route, method, statusLabel(status)}).inc();
  request_seconds_.with({route}).observe(seconds);
  if (!options_.access_log || !core::log::enabled(core::LogLevel::kInfo)) return;
  std::string_view user_agent;
  if (head != nullptr) {
    if (auto it = head->find(bhttp::field::user_agent); it != head->end()) {
      user_agent = std::string_view(it->value()).substr(0, 200);
    }
  }
  core::log::info("request", {{"request_id", request_id},
                              {"method", method},
                              {"path", path},
                              {"route", route},
                              {"status", status},
                              {"duration_ms", seconds * 1000.0},
                              {"bytes_in", bytes_in},
                              {"bytes_out", bytes_out},
                              {"remote", remote},
                              {"workspace", workspace},
                              {"user_agent", user_agent}});
}

Server::Server(ServerOptions options, const Router& router, MetricsRegistry& metrics,
               Authenticator* authenticator)
    : impl_(std::make_unique<Impl>(std::move(options), router, metrics, authenticator)) {}
Server::~Server() = default;
void Server::start() {
  impl_->start();
}
core::ListenAddress Server::localAddress() const {
  return impl_->localAddress();
}
asio::any_io_executor Server::blockingExecutor() const {
  return impl_->blockingExecutor();
}
void Server::shutdown() {
  impl_->shutdown();
}

}  // namespace pharos::http
