// The HTTP/1.1 server: Beast on Asio C++20 coroutines, one I/O thread per core.
//
// Per connection: keep-alive; the request head must arrive within header_timeout and the body
// within body_timeout (a slowloris client is cut off), an idle keep-alive connection is closed
// after idle_timeout; chunked and gzip/deflate request bodies; size limits answered with 413/431;
// malformed requests with a 400 JSON body. Per request: x-request-id in and out, one JSON
// access-log line, metrics by route and status. Shutdown is graceful: stop accepting, close idle
// connections, let in-flight requests finish within shutdown_grace.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>

#include "core/result.h"
#include "core/settings.h"
#include "http/message.h"
#include "http/metrics.h"
#include "http/router.h"

namespace pharos::http {

// Establishes who is calling for every non-public route (implemented by the auth module).
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Called with the head only, before the body is read, so an unauthenticated caller never
  // gets a body buffered. A kUnauthenticated error answers 401 with its message; other errors
  // answer 503.
  virtual asio::awaitable<core::Result<Identity>> authenticate(const RequestHead& head) = 0;
};

struct ServerOptions {
  core::ServerSettings settings;
  bool access_log = true;
};

class Server {
 public:
  // `router`, `metrics` and `authenticator` (may be null: every caller anonymous) must outlive
  // the server.
  Server(ServerOptions options, const Router& router, MetricsRegistry& metrics,
         Authenticator* authenticator);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listener and starts the I/O and blocking threads. Throws std::runtime_error with
  // a message naming the address when the port cannot be bound.
  void start();
  // The bound address (the real port when the configured one was 0).
  core::ListenAddress localAddress() const;
  // Executor of the blocking-work pool (never an I/O thread).
  asio::any_io_executor blockingExecutor() const;
  // Stops accepting, closes idle connections, waits up to shutdown_grace for in-flight requests,
  // then stops every thread. Blocks until done; safe to call more than once.
  void shutdown();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::http
