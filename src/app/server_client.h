// The commands that talk to a running Pharos (`pharos eval`, `pharos datasets`): where the
// server is and which key to send.
#pragma once

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

// Prints "pharos: <message>" to stderr; returns exit code 1.
int reportFailure(const core::Error& error);

// Runs one command coroutine against the server, closing its connections before the I/O
// context that owns them goes away.
template <class Options>
int runAgainstServer(const CommonOptions& common, const Options& options,
                     asio::awaitable<int> (*body)(ServerClient&, Options)) {
  auto client = connectToServer(common, options.remote);
  if (!client) return reportFailure(client.error());
  const int code = runSync([&]() -> asio::awaitable<int> {
    auto run = body(**client, options);
    const int result = co_await std::move(run);
    (*client)->pool.clear();
    co_return result;
  }());
  return code;
}

}  // namespace pharos::app
