#include "gateway/openai_json.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "core/json_text.h"

namespace pharos::gateway {

namespace {

std::size_t skipSpace(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  return i;
}

// Index just past the string that starts at s[i] == '"'.
std::size_t skipString(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// Index just past the value that starts at s[i].
std::size_t skipValue(std::string_view s, std::size_t i) {
  if (i >= s.size()) return i;
  if (s[i] == '"') return skipString(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = skipString(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\r' && s[i] != '\t') {
    ++i;
  }
  return i;
}

// True when the raw key text (between its quotes) spells `key`; escapes are compared decoded.
bool keyEquals(std::string_view raw, std::string_view key) {
  if (raw.find('\\') == std::string_view::npos) return raw == key;
  std::string decoded;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 >= raw.size()) {
      decoded.push_back(raw[i]);
      continue;
    }
    const char e = raw[++i];
    if (e == 'u' && i + 4 < raw.size()) {
      const unsigned code = std::stoul(std::string(raw.substr(i + 1, 4)), nullptr, 16);
      if (code >= 0x80) return false;  // keys we look for are ASCII
      decoded.push_back(static_cast<char>(code));
      i += 4;
    } else {
      decoded.push_back(e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e);
    }
  }
  return decoded == key;
}

// A basic_parser handler that accepts everything: the parser alone checks the grammar.
struct Validator {
  using error_code = boost::system::error_code;
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_array_begin(error_code&) { return true; }
  bool on_array_end(std::size_t, error_code&) { return true; }
  bool on_object_begin(error_code&) { return true; }
  bool on_object_end(std::size_t, error_code&) { return true; }
  bool on_string_part(boost::json::string_view, std::size_t, error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, error_code&) { return true; }
  bool on_key_part(boost::json::string_view, std::size_t, error_code&) { return true; }
  bool on_key(boost::json::string_view, std::size_t, error_code&) { return true; }
  bool on_number_part(boost::json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, error_code&) { return true; }
  bool on_double(double, boost::json::string_view, error_code&) { return true; }
  bool on_bool(bool, error_code&) { return true; }
  bool on_null(error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, error_code&) { return true; }
  bool on_comment(boost::json::string_view, error_code&) { return true; }
};

}  // namespace

bool isJson(std::string_view text) {
  boost::json::basic_parser<Validator> parser{boost::json::parse_options{}};
  boost::system::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return false;
  // Trailing whitespace is fine; anything else after the value is not.
  return skipSpace(text, used) == text.size();
}

std::optional<std::pair<std::size_t, std::size_t>> findTopLevelValue(std::string_view s,
                                                                     std::string_view key) {
  std::size_t i = skipSpace(s, 0);
  if (i >= s.size() || s[i] != '{') return std::nullopt;
  ++i;
  std::optional<std::pair<std::size_t, std::size_t>> found;
  for (;;) {
    i = skipSpace(s, i);
    if (i >= s.size() || s[i] == '}') return found;
    if (s[i] != '"') return found;
    const std::size_t key_end = skipString(s, i);
    const std::string_view raw_key = s.substr(i + 1, key_end - i - 2);
    i = skipSpace(s, key_end);
    if (i >= s.size() || s[i] != ':') return found;
    i = skipSpace(s, i + 1);
    const std::size_t value_end = skipValue(s, i);
    // The last duplicate wins, as in the JSON parsers upstreams use.
    if (keyEquals(raw_key, key)) found = std::pair{i, value_end};
    i = skipSpace(s, value_end);
    if (i < s.size() && s[i] == ',') ++i;
  }
}

std::string withMember(std::string_view object, std::string_view key, std::string_view value_json) {
  std::string out;
  if (auto range = findTopLevelValue(object, key)) {
    out.reserve(object.size() + value_json.size());
    out.append(object.substr(0, range->first));
    out.append(value_json);
    out.append(object.substr(range->second));
    return out;
  }
  const std::size_t open = object.find('{');
  if (open == std::string_view::npos) return std::string(object);
  const std::size_t next = skipSpace(object, open + 1);
  const bool empty = next < object.size() && object[next] == '}';
  out.append(object.substr(0, open + 1));
  core::appendJsonString(out, key);
  out.push_back(':');
  out.append(value_json);
  if (!empty) out.push_back(',');
  out.append(object.substr(open + 1));
  return out;
}

std::string withModel(std::string_view object, std::string_view model) {
  std::string quoted;
  core::appendJsonString(quoted, model);
  return withMember(object, "model", quoted);
}

http::Response openAiError(unsigned status, std::string_view type, std::string_view message,
                           std::string_view code, std::string_view param) {
  boost::json::object error;
  error["message"] = message;
  error["type"] = type;
  error["param"] = param.empty() ? boost::json::value(nullptr) : boost::json::value(param);
  error["code"] = code.empty() ? boost::json::value(nullptr) : boost::json::value(code);
  boost::json::object body;
  body["error"] = std::move(error);
  return http::Response::json(status, boost::json::serialize(body));
}

bool hasMemberStartingWith(std::string_view text, std::string_view key, char value_start) {
  for (std::size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    if (at == 0 || text[at - 1] != '"' || at + key.size() >= text.size() ||
        text[at + key.size()] != '"') {
      continue;
    }
    std::size_t i = at + key.size() + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i >= text.size() || text[i] != ':') continue;
    ++i;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    if (i < text.size() && text[i] == value_start) return true;
  }
  return false;
}

std::optional<std::int64_t> integerAt(const boost::json::object& object, std::string_view key) {
  const boost::json::value* v = object.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

std::string choicesText(const boost::json::object& answer, std::string_view member) {
  std::string text;
  const boost::json::value* choices = answer.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return text;
  for (const boost::json::value& choice : choices->get_array()) {
    const boost::json::value* part =
        choice.is_object() ? choice.get_object().if_contains(member) : nullptr;
    if (part == nullptr || !part->is_object()) continue;
    if (const boost::json::value* content = part->get_object().if_contains("content");
        content != nullptr && content->is_string()) {
      text.append(content->get_string());
    }
  }
  return text;
}

}  // namespace pharos::gateway
