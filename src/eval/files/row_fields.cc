#include "eval/files/row_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parser.hpp>
#include <cctype>
#include <cmath>

#include "core/ids.h"
#include "core/json_text.h"

namespace pharos::eval {

std::string toString(const RowError& error) {
  if (error.line == 0) return error.message;
  return fmt::format("line {}: {}", error.line, error.message);
}

namespace files {

std::string_view stripBom(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  return text;
}

bool isUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t extra = 0;
    unsigned min = 0;
    unsigned code = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1, min = 0x80, code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, min = 0x800, code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, min = 0x10000, code = c & 0x07;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= extra) return false;
    for (std::size_t i = 1; i <= extra; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      code = (code << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    p += extra + 1;
  }
  return true;
}

std::string_view kindName(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::object:
      return "an object";
    case boost::json::kind::array:
      return "an array";
    case boost::json::kind::string:
      return "a string";
    case boost::json::kind::bool_:
      return "a boolean";
    case boost::json::kind::null:
      return "null";
    default:
      return "a number";
  }
}

namespace {

// Boost.JSON reads 1e309 as infinity and would write it back as `Infinity`, which is not JSON:
// such a number is refused where it is read. Depth is bounded by kMaxJsonDepth.
bool allFinite(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::double_:
      return std::isfinite(value.get_double());
    case boost::json::kind::array:
      return std::all_of(value.get_array().begin(), value.get_array().end(),
                         [](const auto& item) { return allFinite(item); });
    case boost::json::kind::object:
      return std::all_of(value.get_object().begin(), value.get_object().end(),
                         [](const auto& member) { return allFinite(member.value()); });
    default:
      return true;
  }
}

}  // namespace

std::optional<boost::json::value> parseJson(std::string_view text, std::string& error) {
  boost::json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::json::parser parser({}, options);
  boost::system::error_code ec;
  const std::size_t used = parser.write(text.data(), text.size(), ec);
  if (ec) {
    error = fmt::format("not JSON: {} (at byte {})", ec.message(), used + 1);
    return std::nullopt;
  }
  boost::json::value value = parser.release();
  if (!allFinite(value)) {
    error = "a number is too large for a double (beyond ±1.8e308)";
    return std::nullopt;
  }
  return value;
}

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

}  // namespace

bool addSplit(std::string_view name, std::vector<std::string>& splits, std::string& error) {
  const std::string_view trimmed = trim(name);
  if (trimmed.empty()) {
    error = "a split name is empty";
    return false;
  }
  if (trimmed.find(';') != std::string_view::npos) {
    error = fmt::format("split name {} holds ';' (the CSV split separator)", quoted(trimmed));
    return false;
  }
  if (!contains(splits, trimmed)) splits.emplace_back(trimmed);
  return true;
}

std::optional<std::string> normaliseId(std::string_view text, std::string& error) {
  if (!core::isUuid(text)) {
    error = fmt::format("id {} is not a UUID", quoted(text));
    return std::nullopt;
  }
  std::string id(text);
  std::transform(id.begin(), id.end(), id.begin(), [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  });
  return id;
}

std::string checkMapping(const KeyMapping& mapping) {
  for (const auto& key : mapping.input_keys) {
    if (contains(mapping.output_keys, key)) {
      return fmt::format("key {} is listed both as an input key and as an output key", quoted(key));
    }
  }
  return {};
}

bool contains(const std::vector<std::string>& keys, std::string_view key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 60;
  if (text.size() <= kShown) return core::jsonString(text);
  std::size_t cut = kShown;
  // Do not cut a UTF-8 sequence in half (the escaper would turn it into U+FFFD).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return core::jsonString(text.substr(0, cut)) + "…";
}

}  // namespace files
}  // namespace pharos::eval
