#include "http/client.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <cerrno>
#include <map>
#include <mutex>
#include <stdexcept>

namespace pharos::http {

namespace {

namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<beast::tcp_stream>;
using OutgoingMessage = bhttp::request<bhttp::span_body<const char>>;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

// The peer closed a connection we had kept idle: the request never reached it.
bool closedByPeer(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

}  // namespace

std::string Origin::key() const {
  return fmt::format("{}://{}:{}", tls ? "https" : "http", host, port);
}

std::string Origin::hostHeader() const {
  const bool default_port = (tls && port == "443") || (!tls && port == "80");
  const std::string host_part = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return default_port ? host_part : fmt::format("{}:{}", host_part, port);
}

core::Result<Origin> parseBaseUrl(std::string_view url) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    return core::Error::invalidArgument(
        fmt::format("\"{}\" is not an absolute URL like https://api.openai.com/v1", url));
  }
  Origin origin;
  const std::string scheme(parsed->scheme());
  if (scheme == "https") {
    origin.tls = true;
  } else if (scheme != "http") {
    return core::Error::invalidArgument(
        fmt::format("\"{}\": the scheme must be http or https, not {}", url, scheme));
  }
  if (parsed->has_userinfo() || parsed->has_query() || parsed->has_fragment()) {
    return core::Error::invalidArgument(
        fmt::format("\"{}\": a base URL has no user, query or fragment", url));
  }
  origin.host = std::string(parsed->host_name().empty() ? parsed->encoded_host_address()
                                                        : parsed->host_name());
  if (origin.host.empty()) {
    return core::Error::invalidArgument(fmt::format("\"{}\" names no host", url));
  }
  if (parsed->host_type() == boost::urls::host_type::ipv6) {
    origin.host = std::string(parsed->host_address());
  }
  origin.port = parsed->has_port() ? std::string(parsed->port()) : (origin.tls ? "443" : "80");
  origin.base_path = std::string(parsed->encoded_path());
  while (!origin.base_path.empty() && origin.base_path.back() == '/') origin.base_path.pop_back();
  return origin;
}

// ---- pool ----------------------------------------------------------------------------------

namespace {

struct Connection {
  std::unique_ptr<beast::tcp_stream> tcp;  // exactly one of tcp and tls
  std::unique_ptr<TlsStream> tls;
  beast::flat_buffer buffer;
  Clock::time_point idle_since;

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *tcp; }
};

using PoolKey = std::pair<std::string, const void*>;  // origin, I/O context

// An idle connection the peer has closed (or sent something on, which no request asked for)
// must not carry a request: once a request is written, a failure can no longer be told apart
// from one the peer acted on, and a POST must not be sent twice.
bool stillOpen(Connection& connection) {
  char byte = 0;
  const ssize_t n =
      ::recv(connection.lowest().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

struct ClientPool::Impl {
  asio::ssl::context ssl{asio::ssl::context::tls_client};
  std::mutex mutex;
  std::map<PoolKey, std::vector<std::unique_ptr<Connection>>> idle;
  std::atomic<std::uint64_t> opened{0};
  std::atomic<std::uint64_t> reused{0};

  std::unique_ptr<Connection> lease(const PoolKey& key, std::chrono::milliseconds max_idle) {
    std::lock_guard lock(mutex);
    auto it = idle.find(key);
    if (it == idle.end()) return nullptr;
    const auto now = Clock::now();
    while (!it->second.empty()) {
      std::unique_ptr<Connection> connection = std::move(it->second.back());
      it->second.pop_back();
      if (now - connection->idle_since <= max_idle && stillOpen(*connection)) {
        reused.fetch_add(1, std::memory_order_relaxed);
        return connection;
      }
    }
    return nullptr;
  }

  void release(const PoolKey& key, std::unique_ptr<Connection> connection, std::size_t max) {
    connection->idle_since = Clock::now();
    std::lock_guard lock(mutex);
    auto& list = idle[key];
    if (list.size() < max) list.push_back(std::move(connection));
  }
};

ClientPool::ClientPool(ClientPoolOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  auto& ssl = impl_->ssl;
  ssl.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                  asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                  asio::ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  ssl.set_default_verify_paths(ec);
  if (!options_.tls.ca_file.empty()) {
    ssl.load_verify_file(options_.tls.ca_file, ec);
    if (ec) {
      throw std::runtime_error(
          fmt::format("cannot load the CA file {}: {}", options_.tls.ca_file, ec.message()));
    }
  }
  ssl.set_verify_mode(options_.tls.verify ? asio::ssl::verify_peer : asio::ssl::verify_none);
}

ClientPool::~ClientPool() = default;

void ClientPool::clear() {
  std::lock_guard lock(impl_->mutex);
  impl_->idle.clear();
}

std::uint64_t ClientPool::opened() const {
  return impl_->opened.load();
}
std::uint64_t ClientPool::reused() const {
  return impl_->reused.load();
}

// ---- exchange ------------------------------------------------------------------------------

struct ClientExchange::State {
  explicit State(ClientPool& p) : pool(p) {}

  ClientPool& pool;
  PoolKey key;
  std::unique_ptr<Connection> connection;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser;
  std::array<char, 16 * 1024> piece{};
  bool cancelled = false;
  bool keep_alive = false;
  bool complete = false;

  core::Error failure(const boost::system::error_code& ec, std::string_view during) const {
    if (cancelled || ec == asio::error::operation_aborted) {
      return {core::ErrorCode::kCancelled, "the request was cancelled"};
    }
    if (ec == beast::error::timeout) {
      return {core::ErrorCode::kTimeout,
              fmt::format("{} did not answer in time ({})", key.first, during)};
    }
    return core::Error::unavailable(fmt::format("{} {}: {}", key.first, during, ec.message()));
  }

  void drop() {
    if (!connection) return;
    boost::system::error_code ignored;
    connection->lowest().socket().close(ignored);
    connection.reset();
  }

  void finish() {
    complete = true;
    parser.reset();
    if (connection && keep_alive) {
      pool.impl_->release(key, std::move(connection), pool.options().max_idle_per_origin);
    }
    drop();
  }

  asio::awaitable<core::Result<std::unique_ptr<Connection>>> connect(const Origin& origin,
                                                                     Clock::time_point deadline) {
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    auto [resolve_ec, endpoints] =
        co_await resolver.async_resolve(origin.host, origin.port, kNoThrow);
    if (cancelled) co_return core::Error{core::ErrorCode::kCancelled, "the request was cancelled"};
    if (resolve_ec) {
      co_return core::Error::unavailable(
          fmt::format("cannot resolve {}: {}", origin.host, resolve_ec.message()));
    }
    auto connection = std::make_unique<Connection>();
    if (origin.tls) {
      connection->tls = std::make_unique<TlsStream>(executor, pool.impl_->ssl);
    } else {
      connection->tcp = std::make_unique<beast::tcp_stream>(executor);
    }
    // A connection being opened can be cancelled too.
    this->connection = std::move(connection);
    auto& lowest = this->connection->lowest();
    lowest.expires_at(deadline);
    auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, kNoThrow);
    if (connect_ec) co_return failure(connect_ec, "connect");
    boost::system::error_code ignored;
    lowest.socket().set_option(tcp::no_delay(true), ignored);
    if (origin.tls) {
      TlsStream& tls = *this->connection->tls;
      if (SSL_set_tlsext_host_name(tls.native_handle(), origin.host.c_str()) != 1) {
        co_return core::Error::unavailable(
            fmt::format("cannot set the TLS server name {}", origin.host));
      }
      if (pool.options().tls.verify) {
        tls.set_verify_callback(asio::ssl::host_name_verification(origin.host));
      }
      auto [handshake_ec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kNoThrow);
      if (handshake_ec) co_return failure(handshake_ec, "TLS handshake");
    }
    pool.impl_->opened.fetch_add(1, std::memory_order_relaxed);
    co_return std::move(this->connection);
  }

  // The error, and whether it happened while writing the request (so the peer has not seen all
  // of it and cannot have acted on it).
  template <class Stream>
  asio::awaitable<std::pair<boost::system::error_code, bool>> exchangeHead(
      Stream& stream, OutgoingMessage& message) {
    auto [write_ec, written] = co_await bhttp::async_write(stream, message, kNoThrow);
    if (write_ec) co_return std::pair{write_ec, true};
    parser.emplace();
    parser->header_limit(static_cast<std::uint32_t>(pool.options().max_response_head_bytes));
    parser->body_limit(boost::none);  // readAll enforces its own limit
    auto [read_ec, read] =
        co_await bhttp::async_read_header(stream, connection->buffer, *parser, kNoThrow);
    co_return std::pair{read_ec, false};
  }

  template <class Stream>
  asio::awaitable<boost::system::error_code> readPiece(Stream& stream) {
    auto [ec, n] = co_await bhttp::async_read_some(stream, connection->buffer, *parser, kNoThrow);
    co_return ec;
  }
};

ClientExchange::ClientExchange(ClientPool& pool) : state_(std::make_unique<State>(pool)) {}

ClientExchange::~ClientExchange() {
  state_->drop();
}

bool ClientExchange::complete() const {
  return state_->complete;
}

void ClientExchange::cancel() {
  state_->cancelled = true;
  if (state_->connection) {
    boost::system::error_code ignored;
    state_->connection->lowest().socket().cancel(ignored);
  }
}

asio::awaitable<core::Result<ClientResponseHead>> ClientExchange::begin(
    const Origin& origin, const ClientRequest& request, Clock::time_point deadline) {
  State& s = *state_;
  auto executor = co_await asio::this_coro::executor;
  s.key = {origin.key(), &asio::query(executor, asio::execution::context)};

  OutgoingMessage message{request.method, request.target, 11};
  message.set(bhttp::field::host, origin.hostHeader());
  message.set(bhttp::field::user_agent, "pharos");
  for (const auto& [name, value] : request.headers) message.set(name, value);
  message.body() = {request.body.data(), request.body.size()};
  message.keep_alive(true);
  message.prepare_payload();

  // A second round only when a pooled connection turned out to be closed by the peer before it
  // got the whole request.
  for (int round = 0; round < 2; ++round) {
    if (s.cancelled)
      co_return core::Error{core::ErrorCode::kCancelled, "the request was cancelled"};
    s.connection = s.pool.impl_->lease(s.key, s.pool.options().max_idle_time);
    const bool reused = s.connection != nullptr;
    if (!reused) {
      auto connected = co_await s.connect(origin, deadline);
      if (!connected) {
        s.drop();
        co_return connected.error();
      }
      s.connection = std::move(connected).value();
    }
    s.connection->buffer.clear();
    s.connection->lowest().expires_at(deadline);
    const auto [ec, while_writing] = s.connection->tls
                                         ? co_await s.exchangeHead(*s.connection->tls, message)
                                         : co_await s.exchangeHead(*s.connection->tcp, message);
    if (!ec) {
      ClientResponseHead head;
      const auto& response = s.parser->get();
      head.status = response.result_int();
      for (const auto& field : response) head.headers.insert(field.name_string(), field.value());
      s.keep_alive = response.keep_alive();
      co_return head;
    }
    s.drop();
    s.parser.reset();
    if (reused && while_writing && !s.cancelled && closedByPeer(ec)) continue;
    co_return s.failure(ec, "request");
  }
  co_return core::Error::unavailable(
      fmt::format("{} closed the connection before answering", origin.key()));
}

asio::awaitable<core::Result<std::string_view>> ClientExchange::readSome(
    Clock::time_point deadline) {
  State& s = *state_;
  if (s.complete) co_return std::string_view();
  if (!s.parser || !s.connection) {
    co_return core::Error::internal("readSome without a response in progress");
  }
  for (;;) {
    if (s.parser->is_done()) {
      s.finish();
      co_return std::string_view();
    }
    auto& body = s.parser->get().body();
    body.data = s.piece.data();
    body.size = s.piece.size();
    s.connection->lowest().expires_at(deadline);
    boost::system::error_code ec = s.connection->tls ? co_await s.readPiece(*s.connection->tls)
                                                     : co_await s.readPiece(*s.connection->tcp);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      s.drop();
      s.parser.reset();
      co_return s.failure(ec, "response body");
    }
    std::size_t got = s.piece.size() - s.parser->get().body().size;
    // Whatever else has already arrived (the rest of a burst of chunks) is parsed into the same
    // piece without another read, so the caller passes a burst on in one write.
    while (got > 0 && got < s.piece.size() && !s.parser->is_done() &&
           s.connection->buffer.size() > 0) {
      auto& more = s.parser->get().body();
      more.data = s.piece.data() + got;
      more.size = s.piece.size() - got;
      boost::system::error_code put_ec;
      const std::size_t used = s.parser->put(s.connection->buffer.data(), put_ec);
      s.connection->buffer.consume(used);
      got = s.piece.size() - more.size;
      // need_more: a partial chunk is waiting for its rest; anything else surfaces on the next
      // read, which parses the same bytes again.
      if (put_ec || used == 0) break;
    }
    if (got > 0) co_return std::string_view(s.piece.data(), got);
  }
}

asio::awaitable<core::Result<std::string>> ClientExchange::readAll(Clock::time_point deadline,
                                                                   std::size_t max_bytes) {
  std::string body;
  for (;;) {
    auto piece = co_await readSome(deadline);
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return body;
    if (body.size() + piece->size() > max_bytes) {
      cancel();
      co_return core::Error{core::ErrorCode::kTooLarge,
                            fmt::format("the response body exceeds {} bytes", max_bytes)};
    }
    body.append(*piece);
  }
}

}  // namespace pharos::http
