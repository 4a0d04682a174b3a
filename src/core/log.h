// Structured logging: one JSON object per line on stderr. Lines are appended to a buffer that a
// background thread flushes, so an I/O thread never waits on the terminal or a pipe. If the sink
// stalls and the buffer fills, lines are dropped and counted rather than blocking requests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "core/json_text.h"
#include "core/settings.h"

namespace pharos::core::log {

struct Field {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <class Int>
  requires std::is_integral_v<Int> Field(std::string_view k, Int v)
      : key(k),
        value(std::is_signed_v<Int> ? Value(static_cast<std::int64_t>(v))
                                    : Value(static_cast<std::uint64_t>(v))) {}
};

// Sets the minimum level and starts the flusher. Before init, lines go straight to stderr.
void init(LogLevel level);
// Writes everything buffered; call before exit.
void flush();
bool enabled(LogLevel level);

void write(LogLevel level, std::string_view message, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(LogLevel::kDebug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(LogLevel::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(LogLevel::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(LogLevel::kError, m, f);
}

// Formats one line (no trailing newline) — exposed for tests.
std::string formatLine(LogLevel level, std::string_view message,
                       std::initializer_list<Field> fields);
using core::appendJsonString;  // kept here for callers that format log lines
// "2026-11-26T21:10:41.123Z"
std::string isoTimestampNow();

}  // namespace pharos::core::log
