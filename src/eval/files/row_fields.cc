#include "eval/files/row_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value_stack.hpp>
#include <cctype>
#include <charconv>
#include <cmath>

#include "core/ids.h"
#include "core/json_text.h"

namespace pharos::eval {

namespace json = boost::json;

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

// Boost.JSON's own handler (detail/handler.hpp), except for doubles: Boost 1.81 reads some
// 17-digit numbers one ulp off ("1.0000000000000001E90", which is how it writes one double, reads
// back as its neighbour), so a value read, written and read again would change. std::from_chars
// rounds correctly. Numbers beyond a double's range are flagged: Boost would read them as
// infinity and write `Infinity`, which is not JSON.
struct PreciseHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // the text of a number split across buffers
  bool outOfRange = false;

  PreciseHandler() { st.reset(); }

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) { return st.push_object(n), true; }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) { return st.push_array(n), true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    return st.push_chars(s), true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) { return st.push_key(s), true; }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    return st.push_chars(s), true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    return st.push_string(s), true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, json::error_code&) {
    number.clear();
    return st.push_int64(i), true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    return st.push_uint64(u), true;
  }
  bool on_double(double d, json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    if (!std::isfinite(d)) {
      outOfRange = true;
    } else {
      double exact = 0;
      const char* first = number.data();
      const char* last = first + number.size();
      // JSON's number grammar is a subset of from_chars's. On underflow from_chars reports out
      // of range and Boost's 0 (or denormal) stays.
      if (const auto [end, ec] = std::from_chars(first, last, exact);
          ec == std::errc() && end == last) {
        d = exact;
      }
    }
    number.clear();
    return st.push_double(d), true;
  }
  bool on_bool(bool b, json::error_code&) { return st.push_bool(b), true; }
  bool on_null(json::error_code&) { return st.push_null(), true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

std::size_t depth(const json::value& value) {
  std::size_t deepest = 0;
  if (value.is_array()) {
    for (const auto& item : value.get_array()) deepest = std::max(deepest, depth(item));
    return deepest + 1;
  }
  if (value.is_object()) {
    for (const auto& member : value.get_object())
      deepest = std::max(deepest, depth(member.value()));
    return deepest + 1;
  }
  return 0;
}

}  // namespace

std::optional<json::value> parseJson(std::string_view text, std::string& error) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth + 2;  // a JSONL row and its inputs; fields: checkDepth()
  json::basic_parser<PreciseHandler> parser(options);
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (ec) {
    error = fmt::format("not JSON: {} (at byte {})", ec.message(), used + 1);
    return std::nullopt;
  }
  if (parser.handler().outOfRange) {
    error = "a number is too large for a double (beyond ±1.8e308)";
    return std::nullopt;
  }
  return parser.handler().st.release();
}

std::string checkDepth(const ExampleRow& row) {
  for (const auto* fields : {&row.inputs, &row.outputs, &row.metadata}) {
    for (const auto& member : *fields) {
      if (depth(member.value()) > kMaxJsonDepth) {
        return fmt::format("{} {} nests deeper than {} levels",
                           fields == &row.inputs    ? "inputs"
                           : fields == &row.outputs ? "outputs"
                                                    : "metadata",
                           quoted(member.key()), kMaxJsonDepth);
      }
    }
  }
  return {};
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
