#include "gateway/dispatch.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>
#include <random>

#include "gateway/openai_json.h"

namespace pharos::gateway {

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

double uniform01() {
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

std::optional<double> parseDecimal(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  return value;
}

UpstreamFailure failureFrom(const core::Error& error) {
  UpstreamFailure failure;
  failure.message = error.message;
  failure.error_class = error.code == core::ErrorCode::kTimeout    ? ErrorClass::kTimeout
                        : error.code == core::ErrorCode::kTooLarge ? ErrorClass::kMalformed
                                                                   : ErrorClass::kConnection;
  return failure;
}

// One attempt against one target: success (exchange, head, body or first piece) or a failure.
struct Attempt {
  std::unique_ptr<http::ClientExchange> exchange;
  http::ClientResponseHead head;
  std::string body;
  std::optional<UpstreamFailure> failure;
  bool cancelled = false;
};

}  // namespace

void CallControl::cancel() {
  cancelled_ = true;
  if (exchange_ != nullptr) exchange_->cancel();
  if (timer_ != nullptr) timer_->cancel();
}

ErrorClass classifyStatus(unsigned status) {
  if (status == 429) return ErrorClass::kRateLimit;
  if (status == 408) return ErrorClass::kTimeout;
  if (status >= 500 && status <= 599) return ErrorClass::kServerError;
  if (status >= 400 && status <= 499) return ErrorClass::kClientError;
  return ErrorClass::kMalformed;  // 1xx/3xx: not what an API answers
}

std::optional<std::chrono::microseconds> parseRetryAfter(
    const boost::beast::http::fields& headers, std::chrono::system_clock::time_point now) {
  if (auto it = headers.find("retry-after-ms"); it != headers.end()) {
    if (auto ms = parseDecimal(it->value())) {
      return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(*ms * 1000)));
    }
  }
  auto it = headers.find("retry-after");
  if (it == headers.end()) return std::nullopt;
  const std::string_view value = it->value();
  if (auto seconds = parseDecimal(value)) {
    return std::chrono::microseconds(
        static_cast<std::int64_t>(std::llround(std::min(*seconds, 86'400.0) * 1e6)));
  }
  // An HTTP date: "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  // In whole seconds, as time_t: a date centuries ahead must not overflow a nanosecond clock.
  const std::time_t at = timegm(&tm);
  const std::time_t current = std::chrono::system_clock::to_time_t(now);
  if (at == static_cast<std::time_t>(-1) || at <= current) return std::chrono::microseconds(0);
  const std::time_t seconds = std::min<std::time_t>(at - current, 86'400);
  return std::chrono::microseconds(static_cast<std::int64_t>(seconds) * 1'000'000);
}

asio::awaitable<DispatchResult> Dispatcher::dispatch(const CallPlan& plan, std::string_view path,
                                                     const std::string& body, bool stream,
                                                     Clock::time_point started,
                                                     CallControl& control) const {
  DispatchResult result;
  const ModelRoute& route = plan.route;
  result.deadline = started + route.total_timeout;
  const std::size_t target_count = plan.fallback ? route.targets.size() : 1;
  asio::steady_timer timer(co_await asio::this_coro::executor);

  for (std::size_t t = 0; t < target_count; ++t) {
    const Target& target = route.targets[t];
    if (t > 0) ++result.fallbacks;
    const std::string upstream_body =
        target.model == route.name ? body : withModel(body, target.model);
    http::ClientRequest request;
    request.target = target.provider->origin.base_path + std::string(path);
    request.headers.emplace_back("content-type", "application/json");
    request.headers.emplace_back("accept", stream ? "text/event-stream" : "application/json");
    if (!target.provider->api_key.empty()) {
      request.headers.emplace_back("authorization",
                                   "Bearer " + std::string(target.provider->api_key.reveal()));
    }
    for (const auto& header : target.provider->headers) request.headers.push_back(header);
    request.body = upstream_body;

    for (unsigned attempt_number = 1;; ++attempt_number) {
      if (control.cancelled()) {
        result.cancelled = true;
        co_return result;
      }
      const Clock::time_point attempt_started = Clock::now();
      if (attempt_started >= result.deadline) {
        result.deadline_exceeded = true;
        co_return result;
      }
      ++result.attempts;
      const Clock::time_point attempt_deadline =
          std::min(attempt_started + route.attempt_timeout, result.deadline);
      // A stream's head and first bytes must come within the first-token timeout.
      const Clock::time_point first_byte_deadline =
          stream ? std::min(attempt_started + route.first_token_timeout, attempt_deadline)
                 : attempt_deadline;

      Attempt attempt;
      attempt.exchange = std::make_unique<http::ClientExchange>(*target.provider->pool);
      control.attach(attempt.exchange.get());
      auto head =
          co_await attempt.exchange->begin(target.provider->origin, request, first_byte_deadline);
      if (!head) {
        attempt.cancelled = head.error().code == core::ErrorCode::kCancelled;
        attempt.failure = failureFrom(head.error());
      } else if (head->status < 200 || head->status > 299) {
        UpstreamFailure failure;
        failure.status = head->status;
        failure.error_class = classifyStatus(head->status);
        failure.retry_after = parseRetryAfter(head->headers, std::chrono::system_clock::now());
        if (auto type = head->headers.find("content-type"); type != head->headers.end()) {
          failure.content_type = std::string(type->value());
        }
        auto error_body =
            co_await attempt.exchange->readAll(attempt_deadline, limits_.max_error_body_bytes);
        if (error_body) failure.body = std::move(error_body).value();
        failure.message = fmt::format("{} answered HTTP {}", target.label, head->status);
        attempt.failure = std::move(failure);
      } else if (stream) {
        auto content_type = head->headers.find("content-type");
        const bool is_event_stream = content_type != head->headers.end() &&
                                     content_type->value().starts_with("text/event-stream");
        auto first = co_await attempt.exchange->readSome(first_byte_deadline);
        if (!first) {
          attempt.cancelled = first.error().code == core::ErrorCode::kCancelled;
          attempt.failure = failureFrom(first.error());
          if (first.error().code == core::ErrorCode::kTimeout) {
            attempt.failure->message =
                fmt::format("{} sent no stream data within the first-token timeout", target.label);
          }
        } else if (first->empty() || !is_event_stream) {
          UpstreamFailure failure;
          failure.error_class = ErrorClass::kMalformed;
          failure.status = head->status;
          failure.message =
              first->empty()
                  ? fmt::format("{} ended the stream before sending any data", target.label)
                  : fmt::format("{} answered a stream request with {} instead of an event stream",
                                target.label,
                                content_type == head->headers.end()
                                    ? std::string("no content type")
                                    : std::string(content_type->value()));
          attempt.failure = std::move(failure);
        } else {
          attempt.head = std::move(head).value();
          attempt.body = std::string(*first);
        }
      } else {
        auto whole =
            co_await attempt.exchange->readAll(attempt_deadline, limits_.max_response_bytes);
        if (!whole) {
          attempt.cancelled = whole.error().code == core::ErrorCode::kCancelled;
          attempt.failure = failureFrom(whole.error());
        } else {
          if (!isJson(*whole)) {
            UpstreamFailure failure;
            failure.error_class = ErrorClass::kMalformed;
            failure.status = head->status;
            failure.message = fmt::format("{} answered HTTP {} with a body that is not JSON",
                                          target.label, head->status);
            attempt.failure = std::move(failure);
          } else {
            attempt.head = std::move(head).value();
            attempt.body = std::move(whole).value();
          }
        }
      }
      control.attach(static_cast<http::ClientExchange*>(nullptr));
      const Clock::time_point attempt_ended = Clock::now();
      result.upstream_time += attempt_ended - attempt_started;

      AttemptRecord record;
      record.target = target.label;
      record.seconds = std::chrono::duration<double>(attempt_ended - attempt_started).count();
      if (!attempt.failure) {
        record.status = attempt.head.status;
        result.log.push_back(std::move(record));
        result.target = &target;
        result.exchange = std::move(attempt.exchange);
        result.head = std::move(attempt.head);
        result.body = std::move(attempt.body);
        result.failure.reset();
        co_return result;
      }
      record.status = attempt.failure->status;
      record.error = attempt.failure->error_class;
      record.message = attempt.failure->message;
      result.log.push_back(std::move(record));
      if (attempt.cancelled || control.cancelled()) {
        result.cancelled = true;
        co_return result;
      }
      const ErrorClass error_class = attempt.failure->error_class;
      const auto retry_after = attempt.failure->retry_after;
      result.failure = std::move(attempt.failure);
      if (Clock::now() >= result.deadline) {
        result.deadline_exceeded = true;
        co_return result;
      }
      if (!route.retry_on.contains(error_class) || attempt_number >= route.retry.attempts) break;

      // Back off: the policy's wait, or longer if the upstream asked for it. A wait that would
      // outlast the deadline is not worth starting; move on instead.
      auto wait = route.retry.waitBeforeRetry(attempt_number, uniform01());
      if (retry_after && *retry_after > wait) wait = *retry_after;
      if (Clock::now() + wait >= result.deadline) break;
      const Clock::time_point wait_started = Clock::now();
      timer.expires_after(wait);
      control.attach(&timer);
      co_await timer.async_wait(kNoThrow);
      control.attach(static_cast<asio::steady_timer*>(nullptr));
      result.upstream_time += Clock::now() - wait_started;
      if (control.cancelled()) {
        result.cancelled = true;
        co_return result;
      }
    }
    if (!route.fallback_on.contains(result.failure->error_class)) co_return result;
  }
  co_return result;
}

}  // namespace pharos::gateway
