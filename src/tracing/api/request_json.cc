#include "tracing/api/request_json.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "core/ids.h"
#include "core/json_text.h"
#include "tracing/json_text.h"
#include "tracing/query/filter_validate.h"

namespace pharos::tracing {

namespace json = boost::json;
using core::Error;
using core::Result;
using http::Request;

Result<json::value> parseBody(const Request& request) {
  boost::system::error_code ec;
  json::value value = parseRunJsonText(request.body(), ec);
  if (ec) return Error::invalidArgument("body: not valid JSON: " + ec.message());
  return value;
}

Result<json::object> parseObjectBody(const Request& request) {
  auto value = parseBody(request);
  if (!value) return std::move(value).error();
  if (!value->is_object()) return Error::invalidArgument("body: expected a JSON object");
  return std::move(value->get_object());
}

// Where the caller reached us, for links in responses (attachment downloads).
std::string baseUrl(const Request& request) {
  auto host = request.header("host");
  return fmt::format("http://{}", host ? *host : std::string_view("127.0.0.1"));
}

std::string lowerUuid(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Result<std::string> uuidParam(const Request& request, std::string_view name) {
  const std::string_view value = request.param(name);
  if (!core::isUuid(value)) {
    return Error::invalidArgument(fmt::format("{}: not a UUID: {}", name, core::jsonString(value)));
  }
  return lowerUuid(value);
}

// ---- typed access to JSON body members; absent and null are the same ----

const json::value* present(const json::object& body, std::string_view key) {
  const json::value* value = body.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

Result<std::optional<std::string>> optionalString(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  if (value == nullptr) return std::optional<std::string>();
  if (!value->is_string()) return Error::invalidArgument(fmt::format("{}: expected a string", key));
  return std::optional<std::string>(std::string(value->get_string()));
}

Result<std::optional<std::string>> optionalUuid(const json::object& body, std::string_view key) {
  auto text = optionalString(body, key);
  if (!text || !*text) return text;
  if (!core::isUuid(**text)) {
    return Error::invalidArgument(fmt::format("{}: not a UUID: {}", key, core::jsonString(**text)));
  }
  return std::optional<std::string>(lowerUuid(**text));
}

Result<std::optional<bool>> optionalBool(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  if (value == nullptr) return std::optional<bool>();
  if (!value->is_bool())
    return Error::invalidArgument(fmt::format("{}: expected true or false", key));
  return std::optional<bool>(value->get_bool());
}

// A string or an array of strings (the JS SDK sends some list keys as scalars).
Result<std::vector<std::string>> stringList(const json::object& body, std::string_view key) {
  std::vector<std::string> out;
  const json::value* value = present(body, key);
  if (value == nullptr) return out;
  if (value->is_string()) {
    out.emplace_back(value->get_string());
    return out;
  }
  if (!value->is_array()) {
    return Error::invalidArgument(fmt::format("{}: expected a string or an array of strings", key));
  }
  for (const json::value& item : value->get_array()) {
    if (!item.is_string()) {
      return Error::invalidArgument(fmt::format("{}: expected an array of strings", key));
    }
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<std::vector<std::string>> uuidList(const json::object& body, std::string_view key) {
  auto list = stringList(body, key);
  if (!list) return list;
  for (std::string& id : *list) {
    if (!core::isUuid(id)) {
      return Error::invalidArgument(fmt::format("{}: not a UUID: {}", key, core::jsonString(id)));
    }
    id = lowerUuid(id);
  }
  return list;
}

Result<std::optional<std::int64_t>> optionalTime(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  if (value == nullptr) return std::optional<std::int64_t>();
  if (value->is_string()) {
    auto micros = query::parseTimestampMicros(value->get_string());
    if (!micros) {
      return Error::invalidArgument(
          fmt::format("{}: not an ISO-8601 time: {}", key, core::jsonString(value->get_string())));
    }
    return std::optional<std::int64_t>(*micros);
  }
  if (value->is_number()) {
    const double ms = value->to_number<double>();
    if (ms >= 0 && ms < 253402300800000.0) {
      return std::optional<std::int64_t>(static_cast<std::int64_t>(ms * 1000));
    }
  }
  return Error::invalidArgument(
      fmt::format("{}: expected an ISO-8601 string or epoch milliseconds", key));
}

Result<std::optional<std::size_t>> optionalCount(const json::object& body, std::string_view key,
                                                 std::size_t max) {
  const json::value* value = present(body, key);
  if (value == nullptr) return std::optional<std::size_t>();
  std::int64_t n = -1;
  if (value->is_int64()) n = value->get_int64();
  if (value->is_uint64() && value->get_uint64() <= max)
    n = static_cast<std::int64_t>(value->get_uint64());
  if (value->is_double()) {
    const double d = value->get_double();
    if (d >= 1 && d <= static_cast<double>(max) && d == std::floor(d)) {
      n = static_cast<std::int64_t>(d);
    }
  }
  if (n < 1 || static_cast<std::size_t>(n) > max) {
    return Error::invalidArgument(
        fmt::format("{}: expected a whole number from 1 to {}", key, max));
  }
  return std::optional<std::size_t>(static_cast<std::size_t>(n));
}

Result<std::optional<std::size_t>> queryCount(const Request& request, std::string_view key,
                                              std::size_t max) {
  auto text = request.query(key);
  if (!text) return std::optional<std::size_t>();
  std::size_t n = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || ptr != text->data() + text->size() || n > max) {
    return Error::invalidArgument(fmt::format("{}: expected a whole number up to {}", key, max));
  }
  return std::optional<std::size_t>(n);
}

}  // namespace pharos::tracing
