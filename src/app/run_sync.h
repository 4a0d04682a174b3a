// Command-line subcommands are synchronous; the store's API is coroutines. This runs one
// awaitable to completion on a private io_context.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

namespace pharos::app {

template <class T>
T runSync(boost::asio::awaitable<T> awaitable) {
  boost::asio::io_context context;
  auto future = boost::asio::co_spawn(context, std::move(awaitable), boost::asio::use_future);
  context.run();
  return future.get();
}

}  // namespace pharos::app
