// Helpers for the state tests: run a coroutine to completion on an io_context whose Redis
// connection keeps it busy forever, I/O threads, a shared redis-server, unique key prefixes.
#pragma once

#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "state/redis_server.h"

namespace pharos::state::testing {

namespace asio = boost::asio;

// Runs `task` on `io` until it completes (the io_context may still have other work pending,
// e.g. a connection's reader, which is why run() alone would never return).
template <class T>
T runOn(asio::io_context& io, asio::awaitable<T> task) {
  std::optional<T> out;
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    out.emplace(std::move(value));
    io.stop();
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::move(*out);
}

inline void runOn(asio::io_context& io, asio::awaitable<void> task) {
  std::exception_ptr failure;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
    failure = e;
    io.stop();
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
}

inline asio::awaitable<void> sleepFor(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

// I/O threads, one io_context each, as in Pharos. stop() before the contexts die (and after
// RedisClient::clear()).
class IoThreads {
 public:
  explicit IoThreads(int count) {
    for (int i = 0; i < count; ++i) {
      contexts_.push_back(std::make_unique<asio::io_context>(1));
      guards_.emplace_back(contexts_.back()->get_executor());
    }
    for (auto& context : contexts_) threads_.emplace_back([&io = *context] { io.run(); });
  }
  ~IoThreads() { stop(); }
  asio::io_context& operator[](std::size_t i) { return *contexts_[i]; }
  std::size_t size() const { return contexts_.size(); }
  void stop() {
    guards_.clear();
    for (auto& context : contexts_) context->stop();
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
};

// One redis-server for the whole test process, started on first use.
inline RedisServer& sharedRedis() {
  static RedisServer server;
  return server;
}

// Keys of one test never meet another's, even on a shared server.
inline std::string uniquePrefix() {
  static std::atomic<int> counter{0};
  return "test:" + std::to_string(::getpid()) + ":" + std::to_string(counter++) + ":";
}

}  // namespace pharos::state::testing
