// An HTTP/1.1 client for calls Pharos makes to other services (LLM providers, OTLP collectors).
//
// Connections are kept alive and pooled per origin and per I/O context, so a coroutine always
// gets a connection bound to its own thread and no lock is held while one is used. HTTPS verifies
// the certificate chain and the host name. Every step runs against a deadline; a response body
// is read piece by piece as it arrives, so a stream can be passed on without buffering; an
// exchange can be cancelled from its own thread (a client that went away).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/fields.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "http/message.h"

namespace pharos::http {

using Clock = std::chrono::steady_clock;

// Where requests go: scheme, host and port, plus the path prefix of a base URL.
struct Origin {
  bool tls = false;
  std::string host;
  std::string port;       // always set: "80"/"443" when the URL names none
  std::string base_path;  // "/v1" of "https://api.openai.com/v1", without a trailing slash

  // "https://api.openai.com:443": the pool key.
  std::string key() const;
  // The Host header value: the port only when it is not the scheme's default.
  std::string hostHeader() const;
};

// Parses "http(s)://host[:port][/path]"; kInvalidArgument names what is wrong.
core::Result<Origin> parseBaseUrl(std::string_view url);

struct ClientTlsOptions {
  bool verify = true;   // false only for test rigs; the certificate chain and host are not checked
  std::string ca_file;  // extra trusted CA bundle (PEM); empty: the system's trust store
};

struct ClientRequest {
  Verb method = Verb::post;
  std::string target;  // origin-form: path and query
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct ClientResponseHead {
  unsigned status = 0;
  beast::http::fields headers;
};

class ClientPool;

// One request and its response on a leased connection. Not thread-safe: use it from the
// coroutine (thread) that created it. Errors: kUnavailable (connect, TLS, reset, closed early,
// malformed response), kTimeout (the deadline passed), kCancelled (cancel() was called).
class ClientExchange {
 public:
  explicit ClientExchange(ClientPool& pool);
  ~ClientExchange();
  ClientExchange(const ClientExchange&) = delete;
  ClientExchange& operator=(const ClientExchange&) = delete;

  // Sends the request and reads the response head. A pooled connection that the peer closed
  // while idle is replaced transparently (the request had not reached the peer).
  asio::awaitable<core::Result<ClientResponseHead>> begin(const Origin& origin,
                                                          const ClientRequest& request,
                                                          Clock::time_point deadline);
  // The next piece of the response body as it arrives; an empty view once the body is complete.
  // The view is valid until the next call.
  asio::awaitable<core::Result<std::string_view>> readSome(Clock::time_point deadline);
  // The rest of the body; kTooLarge beyond `max_bytes`.
  asio::awaitable<core::Result<std::string>> readAll(Clock::time_point deadline,
                                                     std::size_t max_bytes);
  // Aborts the operation in flight (it completes with kCancelled) and closes the connection.
  void cancel();
  // When the response has been read completely, the connection goes back to the pool.
  bool complete() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct ClientPoolOptions {
  ClientTlsOptions tls;
  std::size_t max_idle_per_origin = 256;  // per I/O context
  std::chrono::milliseconds max_idle_time{30'000};
  std::size_t max_response_head_bytes = 64 * 1024;
};

// Idle keep-alive connections, per (origin, I/O context). Thread-safe; outlives its exchanges.
class ClientPool {
 public:
  explicit ClientPool(ClientPoolOptions options = {});
  ~ClientPool();
  ClientPool(const ClientPool&) = delete;
  ClientPool& operator=(const ClientPool&) = delete;

  const ClientPoolOptions& options() const { return options_; }
  // Closes every idle connection; call before the I/O contexts they belong to are destroyed.
  void clear();
  // Connections opened and reused so far (for tests and metrics).
  std::uint64_t opened() const;
  std::uint64_t reused() const;

 private:
  friend class ClientExchange;
  struct Impl;
  ClientPoolOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::http
