// Server-sent events over a streamed response: each event is written and flushed at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

#include "http/message.h"

namespace pharos::http {

// Formats one event: optional "event:" and "id:" lines, one "data:" line per line of `data`.
std::string formatSseEvent(std::string_view data, std::string_view event = {},
                           std::string_view id = {});

class SseWriter {
 public:
  explicit SseWriter(StreamWriter& out) : out_(out) {}
  // False once the client has gone away.
  asio::awaitable<bool> send(std::string_view data, std::string_view event = {},
                             std::string_view id = {}) {
    co_return co_await out_.write(formatSseEvent(data, event, id));
  }
  // A comment line keeps idle proxies from closing the stream.
  asio::awaitable<bool> keepAlive() { co_return co_await out_.write(": keep-alive\n\n"); }

 private:
  StreamWriter& out_;
};

}  // namespace pharos::http
