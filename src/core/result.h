// Expected failures travel as values (the middle tier of the error rules in ARCHITECTURE.md):
// validation, not-found, overload and storage failures become a Result that a route turns into a
// clear 4xx/5xx. Exceptions are reserved for start-up and configuration.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace pharos::core {

enum class ErrorCode {
  kInvalidArgument,  // the caller sent something wrong; 400
  kUnauthenticated,  // no or bad credentials; 401
  kPermissionDenied,  // 403
  kNotFound,          // 404
  kAlreadyExists,     // 409
  kTooLarge,          // 413
  kOverloaded,        // back-pressure: retry later; 503 + Retry-After
  kUnavailable,       // a dependency (disk, upstream) is failing; 503
  kTimeout,           // 504
  kCancelled,
  kInternal,          // a bug or an invariant broken; 500
};

std::string_view errorCodeName(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;

  static Error invalidArgument(std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message)};
  }
  static Error notFound(std::string message) { return {ErrorCode::kNotFound, std::move(message)}; }
  static Error alreadyExists(std::string message) {
    return {ErrorCode::kAlreadyExists, std::move(message)};
  }
  static Error unavailable(std::string message) {
    return {ErrorCode::kUnavailable, std::move(message)};
  }
  static Error overloaded(std::string message) {
    return {ErrorCode::kOverloaded, std::move(message)};
  }
  static Error internal(std::string message) { return {ErrorCode::kInternal, std::move(message)}; }
};

// A value or an Error. Default-constructs to an internal error so that it can pass through
// Asio completion signatures, which need default-constructible arguments.
template <class T>
class [[nodiscard]] Result {
 public:
  Result() : state_(Error{ErrorCode::kInternal, "result was never set"}) {}
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& {
    assert(!ok());
    return std::get<1>(state_);
  }
  Error&& error() && {
    assert(!ok());
    return std::get<1>(std::move(state_));
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;  // success
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit by design

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const Error& error() const& {
    assert(failed_);
    return error_;
  }
  Error&& error() && {
    assert(failed_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace pharos::core
