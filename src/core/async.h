// Bridges between the I/O threads' coroutines and work done on other threads (the store's writer
// and readers, the blocking pool). A coroutine suspends, the other thread does the work, and the
// coroutine resumes on its own executor with the result; the I/O thread never blocks meanwhile.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <type_traits>
#include <utility>

namespace pharos::core {

namespace asio = boost::asio;

// A move-only, call-once handle that resumes a suspended coroutine with a T, from any thread.
// While it lives it keeps the coroutine's io_context from running out of work.
template <class T>
class Completion {
 public:
  template <class Handler>
  explicit Completion(Handler&& handler)
      : work_(asio::prefer(asio::get_associated_executor(handler),
                           asio::execution::outstanding_work.tracked)),
        handler_(std::forward<Handler>(handler)) {}

  Completion(Completion&&) noexcept = default;
  Completion& operator=(Completion&&) noexcept = default;

  void operator()(T value) {
    auto executor = std::move(work_);
    asio::post(executor, [handler = std::move(handler_), value = std::move(value)]() mutable {
      std::move(handler)(std::move(value));
    });
  }

 private:
  asio::any_io_executor work_;
  asio::any_completion_handler<void(T)> handler_;
};

// Suspends the calling coroutine until `initiate(Completion<T>)` (or whoever it hands the
// completion to) calls it. `initiate` runs on the calling thread and must not block.
template <class T, class Initiate>
asio::awaitable<T> suspendUntil(Initiate initiate) {
  static_assert(std::is_default_constructible_v<T>, "Asio awaitables need a default T");
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [initiate = std::move(initiate)](auto handler) mutable {
        initiate(Completion<T>(std::move(handler)));
      },
      asio::use_awaitable);
}

// Runs blocking `work` on `pool` (an executor of a thread pool, not an I/O thread) and resumes
// with its return value.
template <class Executor, class Work>
auto offload(Executor pool, Work work) -> asio::awaitable<std::invoke_result_t<Work&>> {
  using T = std::invoke_result_t<Work&>;
  return suspendUntil<T>([pool, work = std::move(work)](Completion<T> done) mutable {
    asio::post(pool, [work = std::move(work), done = std::move(done)]() mutable {
      done(work());
    });
  });
}

}  // namespace pharos::core
