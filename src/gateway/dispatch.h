// Sends one API call to a model's targets with the route's resilience rules: each target is tried
// up to retry.attempts times on the retryable error classes, with exponential backoff that
// honours Retry-After; then the next target on the fallback classes; every attempt bounded by
// the attempt timeout (streams: the first byte by the first-token timeout) and the whole call by
// the total deadline. A stream counts as started only once its first body bytes have arrived, so
// anything that fails before that is retried or falls back without the client seeing it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/config.h"
#include "http/client.h"

namespace pharos::gateway {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

// What a request may change about its route (x-pharos-* headers).
struct CallPlan {
  ModelRoute route;
  bool fallback = true;  // false: only the first target
};

struct AttemptRecord {
  std::string target;
  unsigned status = 0;  // upstream HTTP status; 0 when none arrived
  std::optional<ErrorClass> error;
  std::string message;
  double seconds = 0;
};

struct UpstreamFailure {
  ErrorClass error_class = ErrorClass::kConnection;
  unsigned status = 0;  // the upstream's HTTP status, when it answered with one
  std::string message;
  std::string body;  // the upstream's error body, passed on for HTTP failures
  std::string content_type;
  std::optional<std::chrono::microseconds> retry_after;
};

// Cancellation shared between a call and whoever learns that the client went away.
class CallControl {
 public:
  bool cancelled() const { return cancelled_; }
  // From the call's own thread: aborts the attempt or the backoff wait in progress.
  void cancel();
  // What cancel() must abort, while it is in progress; null when done.
  void attach(http::ClientExchange* exchange) { exchange_ = exchange; }
  void attach(asio::steady_timer* timer) { timer_ = timer; }

 private:
  bool cancelled_ = false;
  http::ClientExchange* exchange_ = nullptr;
  asio::steady_timer* timer_ = nullptr;
};

struct DispatchResult {
  // Set on success: the target that answered, its response head, and the exchange (for a stream,
  // still reading the body).
  const Target* target = nullptr;
  std::unique_ptr<http::ClientExchange> exchange;
  http::ClientResponseHead head;
  std::string body;  // plain: the whole body; stream: the first piece

  std::optional<UpstreamFailure> failure;  // set when no target succeeded
  bool deadline_exceeded = false;
  bool cancelled = false;

  unsigned attempts = 0;
  unsigned fallbacks = 0;
  std::vector<AttemptRecord> log;
  Clock::duration upstream_time{};  // inside attempts and backoff waits (not gateway overhead)
  Clock::time_point deadline;
};

struct DispatchLimits {
  std::size_t max_response_bytes = 64 * 1024 * 1024;
  std::size_t max_error_body_bytes = 1024 * 1024;
};

class Dispatcher {
 public:
  explicit Dispatcher(DispatchLimits limits = {}) : limits_(limits) {}

  // `path` is the API path below the provider's base URL ("/chat/completions"); `body` the JSON
  // request whose "model" is replaced by each target's upstream model name.
  asio::awaitable<DispatchResult> dispatch(const CallPlan& plan, std::string_view path,
                                           const std::string& body, bool stream,
                                           Clock::time_point started, CallControl& control) const;

 private:
  DispatchLimits limits_;
};

// Retry-After as a delay: `retry-after-ms` (OpenAI), `retry-after` in seconds or an HTTP date.
std::optional<std::chrono::microseconds> parseRetryAfter(const boost::beast::http::fields& headers,
                                                         std::chrono::system_clock::time_point now);

// The class of an upstream HTTP status that is not a success.
ErrorClass classifyStatus(unsigned status);

}  // namespace pharos::gateway
