// A deliberately small HTTP/1.1 client on raw POSIX sockets, for driving `pharos` the way any
// client (well-behaved or not) can: arbitrary bytes out, one parsed response in, and a clear
// answer to "did the server close the connection?". Every read has a deadline so a test that
// expects a response it never gets fails instead of hanging.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pharos::testing {

using Milliseconds = std::chrono::milliseconds;
inline constexpr Milliseconds kDefaultTimeout{5'000};

// Header names are stored lower-cased; values as received (leading/trailing blanks trimmed).
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  std::string reason;
  Headers headers;
  std::string body;
  bool chunked = false;  // the body arrived with Transfer-Encoding: chunked

  // The first header with this name (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
  std::size_t headerCount(std::string_view name) const;
  // The body parsed as JSON; throws std::exception when it is not JSON.
  boost::json::value json() const;
};

// How a connection ended, as far as the client can tell.
enum class CloseKind { kOpen, kEof, kReset };

class HttpConnection {
 public:
  // Connects to 127.0.0.1:port (blocking; loopback connects complete at once). Throws
  // std::runtime_error on failure.
  explicit HttpConnection(std::uint16_t port);
  HttpConnection(HttpConnection&& other) noexcept;
  HttpConnection& operator=(HttpConnection&& other) noexcept;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;
  ~HttpConnection();

  // Sends all of `bytes`; false (never SIGPIPE) when the peer has gone.
  bool send(std::string_view bytes);

  // Reads one complete response (interim 1xx responses are skipped). `head_request`: the request
  // was HEAD, so no body follows whatever Content-Length says. nullopt on timeout, on a close
  // before the response was complete, or on an unparsable response; lastError() says which.
  std::optional<HttpResponse> readResponse(Milliseconds timeout = kDefaultTimeout,
                                           bool head_request = false);

  // Reads until `marker` has arrived (it and what precedes it stay in received() until
  // consumed with consume()). For what readResponse() hides, such as a 100 Continue.
  bool readUntil(std::string_view marker, Milliseconds timeout = kDefaultTimeout);
  void consume(std::size_t bytes) { buffer_.erase(0, bytes); }

  // Waits for the server to close the connection (EOF or reset), discarding anything it sends
  // meanwhile into received(). True when it closed within `timeout`.
  bool waitForClose(Milliseconds timeout = kDefaultTimeout);

  // True when the server has already closed: a zero-wait probe (consumes pending bytes into
  // received()).
  bool closedByPeer();

  // Closes with an RST instead of a FIN (SO_LINGER 0), like a crashed or impatient client.
  void resetAndClose();
  void close();

  int fd() const { return fd_; }
  CloseKind closeKind() const { return close_kind_; }
  const std::string& lastError() const { return last_error_; }
  // Bytes read and not consumed by a response (e.g. what arrived before a close).
  const std::string& received() const { return buffer_; }

 private:
  // Reads what is available, waiting until `deadline`. false on timeout or close.
  bool fill(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  std::string buffer_;
  CloseKind close_kind_ = CloseKind::kOpen;
  std::string last_error_;
};

// Bytes of one request: "METHOD target HTTP/1.1", Host, the given headers, Content-Length when
// there is a body, and the body.
std::string buildRequest(std::string_view method, std::string_view target,
                         const Headers& headers = {}, std::string_view body = {});

// One request on a fresh connection (with Connection: close). Throws std::runtime_error when no
// complete response arrives, so a test fails with the reason rather than hanging.
HttpResponse fetch(std::uint16_t port, std::string_view method, std::string_view target,
                   const Headers& headers = {}, std::string_view body = {});
inline HttpResponse get(std::uint16_t port, std::string_view target, const Headers& headers = {}) {
  return fetch(port, "GET", target, headers);
}

// True when nothing listens on 127.0.0.1:port any more (connect refused).
bool connectionRefused(std::uint16_t port);

}  // namespace pharos::testing
