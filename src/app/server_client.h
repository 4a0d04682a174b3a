// The commands that talk to a running Pharos (`pharos eval`, `pharos datasets`): where the
// server is and which key to send.
#pragma once

#include <boost/json/value.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "app/commands.h"
#include "app/run_sync.h"
#include "core/result.h"
#include "eval/runner/pharos_api.h"
#include "http/client.h"

namespace pharos::app {

namespace asio = boost::asio;

struct ServerClient {
  http::ClientPool pool;
  http::Origin origin;
  std::optional<std::string> api_key;
  std::unique_ptr<eval::PharosApi> api;
};

// kInvalidArgument for a URL that does not parse; settings errors throw like other commands.
core::Result<std::unique_ptr<ServerClient>> connectToServer(const CommonOptions& common,
                                                            const RemoteOptions& remote);

// "60s", "1.5s", "500ms", "2m", "1h"; a bare number is seconds. kInvalidArgument names `what`.
core::Result<std::chrono::milliseconds> parseCommandDuration(std::string_view text,
                                                             std::string_view what);

// A whole file; kInvalidArgument naming it when it cannot be read.
core::Result<std::string> readWholeFile(const std::string& path);

// The string member `key` of a server answer, or "" when `object` is not an object or the member
// is missing or not a string: answers are read defensively, an odd one is an error, not a crash.
std::string stringAt(const boost::json::value& object, std::string_view key);

// Prints "pharos: <message>" to stderr; returns exit code 1.
int reportFailure(const core::Error& error);

// Runs one command coroutine against the server, closing its connections before the I/O
// context that owns them goes away.
template <class Options>
int runAgainstServer(const CommonOptions& common, const Options& options,
                     asio::awaitable<int> (*body)(ServerClient&, Options)) {
  auto client = connectToServer(common, options.remote);
  if (!client) return reportFailure(client.error());
  // The pool's idle connections belong to runSync's I/O context: they are closed while it still
  // exists, whether the command returns or throws.
  const int code = runSync([&]() -> asio::awaitable<int> {
    std::exception_ptr failure;
    int result = 1;
    try {
      auto run = body(**client, options);
      result = co_await std::move(run);
    } catch (...) {
      failure = std::current_exception();
    }
    (*client)->pool.clear();
    if (failure) std::rethrow_exception(failure);
    co_return result;
  }());
  return code;
}

}  // namespace pharos::app
