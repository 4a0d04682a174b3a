// What a route handler sees and returns. Handlers are coroutines on an I/O thread: they must not
// block (await the store, or core::offload blocking work to the server's blocking pool).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace pharos::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using Verb = beast::http::verb;
// A request's method, target and headers: all that is known before its body is read.
using RequestHead = beast::http::request_header<>;

// Whether the client is still there while its response is being produced (routes with
// RouteOptions::watch_disconnect). Lives on the request's I/O thread; not thread-safe.
class DisconnectWatch {
 public:
  bool gone() const { return gone_; }
  // `callback` runs once, on the I/O thread, when the client closes its connection before the
  // response is complete; at once if it already has.
  void onGone(std::function<void()> callback) {
    if (gone_) {
      callback();
      return;
    }
    on_gone_ = std::move(callback);
  }
  // Forgets the callback (its owner is going away).
  void clear() { on_gone_ = nullptr; }
  void fire() {
    if (gone_) return;
    gone_ = true;
    if (auto callback = std::move(on_gone_)) callback();
  }

 private:
  bool gone_ = false;
  std::function<void()> on_gone_;
};

// Who is calling, as established by the Authenticator. Every data access is scoped by it.
struct Identity {
  std::string workspace_id;
  std::string workspace_name;
  std::string key_id;  // empty when the caller sent no key and keys are optional
};

class Request {
 public:
  Request(beast::http::request<beast::http::string_body> message, std::string request_id,
          std::string remote_address);

  Verb method() const { return message_.method(); }
  std::string_view methodString() const { return message_.method_string(); }
  std::string_view target() const { return message_.target(); }
  // The percent-decoded path, without the query.
  const std::string& path() const { return path_; }
  // The path as sent (percent-encoded); routing matches on this so "%2F" stays inside a segment.
  const std::string& encodedPath() const { return encoded_path_; }
  // The raw query string without '?', or "".
  std::string_view rawQuery() const { return raw_query_; }
  // The first value of a query parameter, percent-decoded.
  std::optional<std::string> query(std::string_view name) const;
  std::vector<std::string> queryAll(std::string_view name) const;
  // A header's value, or nullopt (names are case-insensitive).
  std::optional<std::string_view> header(std::string_view name) const;
  // The decoded body: gzip/deflate already inflated by the server.
  const std::string& body() const { return message_.body(); }
  std::string& mutableBody() { return message_.body(); }

  // A `{name}` segment of the matched route pattern, percent-decoded; "" if absent.
  std::string_view param(std::string_view name) const;
  void setParams(std::vector<std::pair<std::string, std::string>> params) {
    params_ = std::move(params);
  }

  const std::string& requestId() const { return request_id_; }
  const std::string& remoteAddress() const { return remote_address_; }
  const Identity& identity() const { return identity_; }
  void setIdentity(Identity identity) { identity_ = std::move(identity); }

  // Where to run blocking work: a thread pool, never an I/O thread.
  const asio::any_io_executor& blockingExecutor() const { return blocking_; }
  void setBlockingExecutor(asio::any_io_executor executor) { blocking_ = std::move(executor); }

  // Set by the server for routes that watch for disconnects; null otherwise.
  const std::shared_ptr<DisconnectWatch>& disconnectWatch() const { return disconnect_watch_; }
  void setDisconnectWatch(std::shared_ptr<DisconnectWatch> watch) {
    disconnect_watch_ = std::move(watch);
  }

  const beast::http::request<beast::http::string_body>& message() const { return message_; }
  const RequestHead& head() const { return message_; }

  // Parses path and query from the target; false when the target is not a valid origin-form.
  bool parseTarget();

 private:
  beast::http::request<beast::http::string_body> message_;
  std::string path_;
  std::string encoded_path_;
  std::string raw_query_;
  std::vector<std::pair<std::string, std::string>> params_;
  std::string request_id_;
  std::string remote_address_;
  Identity identity_;
  asio::any_io_executor blocking_;
  std::shared_ptr<DisconnectWatch> disconnect_watch_;
};

// Writes a streamed (chunked) response body. Every write is flushed to the socket at once.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // False once the client is gone; the producer should then stop (and cancel upstream work).
  virtual asio::awaitable<bool> write(std::string_view data) = 0;
};

using StreamProducer = std::function<asio::awaitable<void>(StreamWriter&)>;

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When set, `body` is ignored: headers go out at once, then the producer writes chunks.
  StreamProducer stream;
  // Streams only: hold the headers back and send them with the producer's first write (one
  // send instead of two), for producers that have their first bytes in hand at once.
  bool head_with_first_write = false;

  static Response json(unsigned status, std::string body);
  static Response text(unsigned status, std::string body, std::string content_type);
  // {"error":{"type":..., "message":...}}: the one error shape for Pharos's own routes.
  static Response error(unsigned status, std::string_view type, std::string_view message);
  // The error shape for a failed Result: kInvalidArgument -> 400, kNotFound -> 404,
  // kAlreadyExists -> 409, kTooLarge -> 413, kOverloaded -> 503 + Retry-After, and so on.
  static Response fromError(const core::Error& error);
  // An SSE response: text/event-stream, no caching; the producer writes events (see sse.h).
  static Response eventStream(StreamProducer producer);

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

template <class T>
using Awaitable = asio::awaitable<T>;
using Handler = std::function<Awaitable<Response>(Request&)>;

}  // namespace pharos::http
