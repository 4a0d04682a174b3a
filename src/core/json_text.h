// Text as a JSON (and TOML) string literal: the one escaper for log lines, error messages and
// rendered configuration. Output is always valid UTF-8: invalid bytes become U+FFFD.
#pragma once

#include <string>
#include <string_view>

namespace pharos::core {

// Appends `text` to `out` as a JSON string literal, quotes included.
void appendJsonString(std::string& out, std::string_view text);
// `text` as a JSON string literal.
std::string jsonString(std::string_view text);

}  // namespace pharos::core
