#include "app/server_client.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace pharos::app {

core::Result<std::unique_ptr<ServerClient>> connectToServer(const CommonOptions& common,
                                                            const RemoteOptions& remote) {
  std::string url = remote.url;
  if (url.empty()) {
    if (const char* env = std::getenv("PHAROS_URL"); env != nullptr && *env != '\0') url = env;
  }
  if (url.empty()) {
    core::ListenAddress listen = loadSettingsFromCommandLine(common).server.listen;
    // A server listening on every interface is reached on this machine's loopback.
    if (listen.host == "0.0.0.0") listen.host = "127.0.0.1";
    if (listen.host == "::") listen.host = "::1";
    url = "http://" + listen.toString();
  }
  auto origin = http::parseBaseUrl(url);
  if (!origin) {
    return core::Error::invalidArgument(fmt::format("--url: {}", origin.error().message));
  }
  auto client = std::make_unique<ServerClient>();
  client->origin = *origin;
  if (const char* key = std::getenv(remote.api_key_env.c_str()); key != nullptr && *key != '\0') {
    client->api_key = key;
  }
  eval::PharosApiOptions options;
  options.api_key = client->api_key;
  client->api = std::make_unique<eval::PharosApi>(client->pool, client->origin, options);
  return client;
}

std::string stringAt(const boost::json::value& object, std::string_view key) {
  if (!object.is_object()) return {};
  const boost::json::value* value = object.get_object().if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->get_string()) : std::string();
}

int reportFailure(const core::Error& error) {
  fmt::print(stderr, "pharos: {}\n", error.message);
  return 1;
}

core::Result<std::chrono::milliseconds> parseCommandDuration(std::string_view text,
                                                             std::string_view what) {
  double number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  const std::string_view unit(end, text.data() + text.size() - end);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60'000;
  if (unit == "h") scale = 3'600'000;
  if (ec != std::errc() || scale == 0 || number <= 0 || number * scale > 1e12) {
    return core::Error::invalidArgument(
        fmt::format("{}: expected a duration such as 60s, 500ms or 2m, got \"{}\"", what, text));
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(number * scale));
}

core::Result<std::string> readWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return core::Error::invalidArgument(fmt::format("cannot read {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return core::Error::invalidArgument(fmt::format("cannot read {}", path));
  return text.str();
}

}  // namespace pharos::app
