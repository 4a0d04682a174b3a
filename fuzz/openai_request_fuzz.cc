// Fuzzes what the gateway does with a client's request before it goes upstream: the body's
// top-level "model" found and replaced in place (gateway/openai_json, so every other byte passes
// through as sent) and the trace headers and Retry-After read from arbitrary header values.
// Invariants: for any body that is a JSON object, the value findTopLevelValue locates is the
// parser's own "model" value, and withModel gives an object that parses, has the new model, and
// keeps every other member equal.
#include <boost/beast/http/fields.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/call_record.h"
#include "gateway/dispatch.h"
#include "gateway/openai_json.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  boost::system::error_code ec;
  const boost::json::value parsed = boost::json::parse(text, ec);
  if (!ec && parsed.is_object()) {
    const boost::json::object& object = parsed.get_object();
    const auto range = pharos::gateway::findTopLevelValue(text, "model");
    check(range.has_value() == object.contains("model"));
    if (range) {
      const auto located =
          boost::json::parse(text.substr(range->first, range->second - range->first), ec);
      check(!ec && located == object.at("model"));
    }
    const std::string replaced = pharos::gateway::withModel(text, "fuzz-model");
    const boost::json::value again = boost::json::parse(replaced, ec);
    check(!ec && again.is_object());
    check(again.get_object().at("model") == "fuzz-model");
    for (const auto& member : object) {
      if (member.key() == "model") continue;
      check(again.get_object().at(member.key()) == member.value());
    }
    check(again.get_object().size() == object.size() + (object.contains("model") ? 0 : 1));
  }

  // Header values: the trace context and Retry-After.
  const std::string value(text.substr(0, std::min<std::size_t>(text.size(), 8192)));
  boost::beast::http::request<boost::beast::http::string_body> message{
      boost::beast::http::verb::post, "/v1/chat/completions", 11};
  boost::beast::http::fields fields;
  try {
    message.set("traceparent", value);
    message.set("langsmith-trace", value);
    fields.set("retry-after", value);
    fields.set("retry-after-ms", value);
  } catch (const std::exception&) {
    return 0;  // Beast refuses some bytes in a header value; a server never hands those on
  }
  pharos::http::Request request(std::move(message), "fuzz", "127.0.0.1");
  const auto link = pharos::gateway::traceLinkFor(request, std::chrono::system_clock::now());
  check(link.trace_hex.size() == 32 && link.span_hex.size() == 16 && link.run_id.size() == 36);
  if (link.dotted_order) check(link.dotted_order->ends_with(link.run_id));
  (void)pharos::gateway::parseRetryAfter(fields, std::chrono::system_clock::now());
  return 0;
}
