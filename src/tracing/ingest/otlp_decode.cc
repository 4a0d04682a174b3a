#include "tracing/ingest/otlp_decode.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <boost/json/value.hpp>
#include <charconv>
#include <cmath>

#include "core/json_text.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tracing/json_text.h"

namespace pharos::tracing::otlp {

namespace {

namespace json = boost::json;
namespace pb = opentelemetry::proto;
using core::Error;

// Distinct rejection reasons kept for the response; the count is always exact.
constexpr std::size_t kMaxReasons = 5;

// A span's problem: the first one found rejects it.
struct Rejection {
  std::string message;
};

void reject(DecodedSpans& out, std::string_view span_name, const std::string& why) {
  ++out.rejected;
  if (out.reasons.size() < kMaxReasons) {
    out.reasons.push_back(
        fmt::format("span {}: {}", core::jsonString(span_name.substr(0, 128)), why));
  }
}

constexpr char kHex[] = "0123456789abcdef";

// Lower-case hex of a binary id, or a rejection when its length is wrong or it is all zeros.
std::optional<std::string> hexId(std::string_view bytes, std::size_t length, std::string& why,
                                 std::string_view field) {
  if (bytes.size() != length) {
    why = fmt::format("{}: expected {} bytes, got {}", field, length, bytes.size());
    return std::nullopt;
  }
  std::string out;
  out.reserve(length * 2);
  bool zero = true;
  for (unsigned char c : bytes) {
    zero = zero && c == 0;
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  if (zero) {
    why = fmt::format("{}: all zeros is not a valid id", field);
    return std::nullopt;
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// ---- protobuf ----
// Checking and converting are separate passes over the generated message, so that validation
// alone (the acknowledgement path) and full decoding (materialization) apply the very same rules.

bool checkAnyValue(const pb::common::v1::AnyValue& in, std::size_t depth, std::string& why);

bool checkKeyValues(const google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>& in,
                    std::size_t depth, std::string& why) {
  for (const auto& kv : in) {
    if (!checkAnyValue(kv.value(), depth + 1, why)) {
      why = fmt::format("attribute {}: {}", core::jsonString(kv.key().substr(0, 128)), why);
      return false;
    }
  }
  return true;
}

bool checkSize(std::size_t size, std::string& why) {
  if (size <= kMaxAttributeValueBytes) return true;
  why = fmt::format("value of {} bytes is over the {}-byte limit", size, kMaxAttributeValueBytes);
  return false;
}

bool checkAnyValue(const pb::common::v1::AnyValue& in, std::size_t depth, std::string& why) {
  if (depth > kMaxAttributeDepth) {
    why = fmt::format("nested deeper than {} levels", kMaxAttributeDepth);
    return false;
  }
  using V = pb::common::v1::AnyValue;
  switch (in.value_case()) {
    case V::kStringValue:
      return checkSize(in.string_value().size(), why);
    case V::kBytesValue:
      return checkSize(in.bytes_value().size(), why);
    case V::kArrayValue:
      for (const auto& item : in.array_value().values()) {
        if (!checkAnyValue(item, depth + 1, why)) return false;
      }
      return true;
    case V::kKvlistValue:
      return checkKeyValues(in.kvlist_value().values(), depth, why);
    default:
      return true;
  }
}

json::object convertKeyValues(
    const google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>& in);

json::value convertAnyValue(const pb::common::v1::AnyValue& in) {
  using V = pb::common::v1::AnyValue;
  switch (in.value_case()) {
    case V::kStringValue:
      return json::string(in.string_value());
    case V::kBoolValue:
      return in.bool_value();
    case V::kIntValue:
      return in.int_value();
    case V::kDoubleValue:
      // JSON has no NaN or infinity; keep them readable rather than dropping the attribute.
      if (!std::isfinite(in.double_value())) {
        return json::string(fmt::format("{}", in.double_value()));
      }
      return in.double_value();
    case V::kArrayValue: {
      json::array array;
      array.reserve(static_cast<std::size_t>(in.array_value().values_size()));
      for (const auto& item : in.array_value().values()) array.push_back(convertAnyValue(item));
      return array;
    }
    case V::kKvlistValue:
      return convertKeyValues(in.kvlist_value().values());
    case V::kBytesValue:
      return json::string(base64(in.bytes_value()));
    case V::VALUE_NOT_SET:
      break;
  }
  return nullptr;
}

json::object convertKeyValues(
    const google::protobuf::RepeatedPtrField<pb::common::v1::KeyValue>& in) {
  json::object out;
  out.reserve(static_cast<std::size_t>(in.size()));
  for (const auto& kv : in) out[kv.key()] = convertAnyValue(kv.value());
  return out;
}

// The span's ids in hex (parent empty for a root), or false with the reason it is rejected.
bool checkSpanIds(const pb::trace::v1::Span& in, std::string& trace_id, std::string& span_id,
                  std::string& parent_id, std::string& why) {
  auto trace = hexId(in.trace_id(), 16, why, "trace_id");
  if (!trace) return false;
  auto span = hexId(in.span_id(), 8, why, "span_id");
  if (!span) return false;
  trace_id = std::move(*trace);
  span_id = std::move(*span);
  parent_id.clear();
  if (!in.parent_span_id().empty()) {
    std::string parent_why;
    auto parent = hexId(in.parent_span_id(), 8, parent_why, "parent_span_id");
    if (!parent && in.parent_span_id().size() != 8) {
      why = parent_why;
      return false;
    }
    if (parent) parent_id = std::move(*parent);  // all zeros: a root, as some SDKs send it
  }
  return true;
}

bool checkSpan(const pb::trace::v1::Span& in, std::string& trace_id, std::string& span_id,
               std::string& parent_id, std::string& why) {
  if (!checkSpanIds(in, trace_id, span_id, parent_id, why)) return false;
  if (!checkKeyValues(in.attributes(), 0, why)) return false;
  for (const auto& event : in.events()) {
    if (!checkKeyValues(event.attributes(), 0, why)) {
      why = fmt::format("event {}: {}", core::jsonString(event.name().substr(0, 128)), why);
      return false;
    }
  }
  return true;
}

void convertSpan(const pb::trace::v1::Span& in, Span& out) {
  out.name = in.name();
  out.kind = static_cast<int>(in.kind());
  out.start_time_unix_nano = in.start_time_unix_nano();
  out.end_time_unix_nano = in.end_time_unix_nano();
  const int code = static_cast<int>(in.status().code());
  out.status_code = code == 1   ? StatusCode::kOk
                    : code == 2 ? StatusCode::kError
                                : StatusCode::kUnset;
  out.status_message = in.status().message();
  out.attributes = convertKeyValues(in.attributes());
  for (const auto& event : in.events()) {
    out.events.push_back(json::object{{"name", event.name()},
                                      {"time_unix_nano", event.time_unix_nano()},
                                      {"attributes", convertKeyValues(event.attributes())}});
  }
}

// Parses the export on an arena and calls on_span(span, ids…) for every span that passes the
// checks, rejecting the others into `counts`. on_scope(resource_spans, scope_spans) runs before
// the spans of each scope that can be used at all.
template <class OnScope, class OnSpan>
core::Result<bool> walkProtobuf(std::string_view body, DecodedSpans& counts, OnScope on_scope,
                                OnSpan on_span) {
  google::protobuf::Arena arena;
  auto* request =
      google::protobuf::Arena::CreateMessage<pb::collector::trace::v1::ExportTraceServiceRequest>(
          &arena);
  if (!request->ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Error::invalidArgument(
        "body: not an OTLP ExportTraceServiceRequest in protobuf (truncated or not protobuf)");
  }
  std::string trace_id, span_id, parent_id;
  for (const auto& resource_spans : request->resource_spans()) {
    std::string resource_why;
    const bool resource_ok =
        checkKeyValues(resource_spans.resource().attributes(), 0, resource_why);
    for (const auto& scope_spans : resource_spans.scope_spans()) {
      std::string scope_why;
      const bool scope_ok = checkKeyValues(scope_spans.scope().attributes(), 0, scope_why);
      if (resource_ok && scope_ok) on_scope(resource_spans, scope_spans);
      for (const auto& in : scope_spans.spans()) {
        if (!resource_ok) {
          reject(counts, in.name(), "resource " + resource_why);
          continue;
        }
        if (!scope_ok) {
          reject(counts, in.name(), "scope " + scope_why);
          continue;
        }
        std::string why;
        if (!checkSpan(in, trace_id, span_id, parent_id, why)) {
          reject(counts, in.name(), why);
          continue;
        }
        on_span(in, trace_id, span_id, parent_id);
      }
    }
  }
  return true;
}

// ---- JSON ----

const json::value* field(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const json::array* arrayField(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  return value != nullptr && value->is_array() ? &value->get_array() : nullptr;
}

const json::object* objectField(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  return value != nullptr && value->is_object() ? &value->get_object() : nullptr;
}

// A 64-bit unsigned integer sent as a decimal string or a JSON number.
std::optional<std::uint64_t> unsignedField(const json::object& object, std::string_view key) {
  const json::value* value = field(object, key);
  if (value == nullptr) return std::uint64_t{0};
  if (value->is_uint64()) return value->get_uint64();
  if (value->is_int64() && value->get_int64() >= 0) {
    return static_cast<std::uint64_t>(value->get_int64());
  }
  if (value->is_double() && value->get_double() >= 0 && value->get_double() < 1.8e19) {
    return static_cast<std::uint64_t>(value->get_double());
  }
  if (value->is_string()) {
    const json::string& text = value->get_string();
    std::uint64_t n = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && ptr == text.data() + text.size()) return n;
  }
  return std::nullopt;
}

std::optional<std::string> hexIdField(const json::object& object, std::string_view key,
                                      std::size_t bytes, bool optional, std::string& why) {
  const json::value* value = field(object, key);
  if (value == nullptr || (value->is_string() && value->get_string().empty())) {
    if (optional) return std::string();
    why = fmt::format("{}: missing", key);
    return std::nullopt;
  }
  if (!value->is_string() || value->get_string().size() != bytes * 2) {
    why = fmt::format("{}: expected {} hex digits", key, bytes * 2);
    return std::nullopt;
  }
  std::string out;
  bool zero = true;
  for (char c : value->get_string()) {
    const char lower = static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
    if (!((lower >= '0' && lower <= '9') || (lower >= 'a' && lower <= 'f'))) {
      why = fmt::format("{}: expected {} hex digits", key, bytes * 2);
      return std::nullopt;
    }
    zero = zero && lower == '0';
    out.push_back(lower);
  }
  if (zero) {
    if (optional) return std::string();  // an all-zero parent: a root
    why = fmt::format("{}: all zeros is not a valid id", key);
    return std::nullopt;
  }
  return out;
}

bool jsonKeyValues(const json::array* in, json::object& out, std::size_t depth, std::string& why);

bool jsonAnyValue(const json::object& in, json::value& out, std::size_t depth, std::string& why) {
  if (depth > kMaxAttributeDepth) {
    why = fmt::format("nested deeper than {} levels", kMaxAttributeDepth);
    return false;
  }
  if (const json::value* v = field(in, "stringValue")) {
    if (!v->is_string()) return why = "stringValue: expected a string", false;
    if (v->get_string().size() > kMaxAttributeValueBytes) {
      why = fmt::format("value of {} bytes is over the {}-byte limit", v->get_string().size(),
                        kMaxAttributeValueBytes);
      return false;
    }
    out = v->get_string();
    return true;
  }
  if (const json::value* v = field(in, "boolValue")) {
    if (!v->is_bool()) return why = "boolValue: expected true or false", false;
    out = v->get_bool();
    return true;
  }
  if (const json::value* v = field(in, "intValue")) {
    if (v->is_int64()) {
      out = v->get_int64();
      return true;
    }
    if (v->is_string()) {
      std::int64_t n = 0;
      const json::string& text = v->get_string();
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && ptr == text.data() + text.size()) {
        out = n;
        return true;
      }
    }
    return why = "intValue: expected a 64-bit integer", false;
  }
  if (const json::value* v = field(in, "doubleValue")) {
    if (v->is_number()) {
      out = v->to_number<double>();
      return true;
    }
    // proto3 JSON spells non-finite doubles as strings.
    if (v->is_string()) {
      out = v->get_string();
      return true;
    }
    return why = "doubleValue: expected a number", false;
  }
  if (const json::value* v = field(in, "arrayValue")) {
    if (!v->is_object()) return why = "arrayValue: expected an object with values", false;
    json::array array;
    if (const json::array* values = arrayField(v->get_object(), "values")) {
      for (const json::value& item : *values) {
        if (!item.is_object()) return why = "arrayValue.values: expected AnyValue objects", false;
        json::value value;
        if (!jsonAnyValue(item.get_object(), value, depth + 1, why)) return false;
        array.push_back(std::move(value));
      }
    }
    out = std::move(array);
    return true;
  }
  if (const json::value* v = field(in, "kvlistValue")) {
    if (!v->is_object()) return why = "kvlistValue: expected an object with values", false;
    json::object object;
    if (!jsonKeyValues(arrayField(v->get_object(), "values"), object, depth + 1, why)) {
      return false;
    }
    out = std::move(object);
    return true;
  }
  if (const json::value* v = field(in, "bytesValue")) {
    if (!v->is_string()) return why = "bytesValue: expected a base64 string", false;
    out = v->get_string();
    return true;
  }
  out = nullptr;
  return true;
}

bool jsonKeyValues(const json::array* in, json::object& out, std::size_t depth, std::string& why) {
  if (in == nullptr) return true;
  for (const json::value& item : *in) {
    if (!item.is_object()) {
      why = "attributes: expected a list of {key, value} objects";
      return false;
    }
    const json::value* key = field(item.get_object(), "key");
    if (key == nullptr || !key->is_string()) {
      why = "attributes: an attribute has no key";
      return false;
    }
    json::value value;
    if (const json::object* any = objectField(item.get_object(), "value")) {
      if (!jsonAnyValue(*any, value, depth + 1, why)) {
        why = fmt::format("attribute {}: {}",
                          core::jsonString(std::string(key->get_string()).substr(0, 128)), why);
        return false;
      }
    }
    out[key->get_string()] = std::move(value);
  }
  return true;
}

bool jsonSpan(const json::object& in, Span& out, std::string& why) {
  auto trace_id = hexIdField(in, "traceId", 16, false, why);
  if (!trace_id) return false;
  auto span_id = hexIdField(in, "spanId", 8, false, why);
  if (!span_id) return false;
  auto parent = hexIdField(in, "parentSpanId", 8, true, why);
  if (!parent) return false;
  out.trace_id = std::move(*trace_id);
  out.span_id = std::move(*span_id);
  if (!parent->empty()) out.parent_span_id = std::move(*parent);
  if (const json::value* name = field(in, "name")) {
    if (!name->is_string()) return why = "name: expected a string", false;
    out.name = name->get_string();
  }
  if (const json::value* kind = field(in, "kind")) {
    if (!kind->is_int64() || kind->get_int64() < 0 || kind->get_int64() > 5) {
      return why = "kind: expected an integer from 0 to 5", false;
    }
    out.kind = static_cast<int>(kind->get_int64());
  }
  auto start = unsignedField(in, "startTimeUnixNano");
  auto end = unsignedField(in, "endTimeUnixNano");
  if (!start) return why = "startTimeUnixNano: expected nanoseconds", false;
  if (!end) return why = "endTimeUnixNano: expected nanoseconds", false;
  out.start_time_unix_nano = *start;
  out.end_time_unix_nano = *end;
  if (const json::object* status = objectField(in, "status")) {
    if (const json::value* code = field(*status, "code")) {
      if (!code->is_int64()) return why = "status.code: expected an integer", false;
      const std::int64_t c = code->get_int64();
      out.status_code = c == 1 ? StatusCode::kOk : c == 2 ? StatusCode::kError : StatusCode::kUnset;
    }
    if (const json::value* message = field(*status, "message"); message && message->is_string()) {
      out.status_message = message->get_string();
    }
  }
  // Attributes sent as a JSON object (a common exporter bug) would silently vanish: refuse them.
  if (const json::value* attributes = field(in, "attributes");
      attributes && !attributes->is_array()) {
    return why = "attributes: expected a list of {key, value} objects", false;
  }
  if (!jsonKeyValues(arrayField(in, "attributes"), out.attributes, 0, why)) return false;
  if (const json::array* events = arrayField(in, "events")) {
    for (const json::value& event : *events) {
      if (!event.is_object()) return why = "events: expected objects", false;
      const json::object& e = event.get_object();
      json::object attributes;
      if (!jsonKeyValues(arrayField(e, "attributes"), attributes, 0, why)) return false;
      auto time = unsignedField(e, "timeUnixNano");
      if (!time) return why = "events.timeUnixNano: expected nanoseconds", false;
      const json::value* name = field(e, "name");
      out.events.push_back(json::object{
          {"name", name != nullptr && name->is_string() ? json::value(name->get_string())
                                                        : json::value("")},
          {"time_unix_nano", *time},
          {"attributes", std::move(attributes)}});
    }
  }
  return true;
}

}  // namespace

core::Result<DecodedSpans> decodeProtobuf(std::string_view body) {
  DecodedSpans out;
  std::shared_ptr<json::object> resource;
  std::shared_ptr<json::object> scope;
  const void* resource_of = nullptr;
  auto walked = walkProtobuf(
      body, out,
      [&](const pb::trace::v1::ResourceSpans& resource_spans,
          const pb::trace::v1::ScopeSpans& scope_spans) {
        if (resource_of != &resource_spans) {
          resource = std::make_shared<json::object>(
              convertKeyValues(resource_spans.resource().attributes()));
          resource_of = &resource_spans;
        }
        scope = std::make_shared<json::object>(
            json::object{{"name", scope_spans.scope().name()},
                         {"version", scope_spans.scope().version()},
                         {"attributes", convertKeyValues(scope_spans.scope().attributes())}});
      },
      [&](const pb::trace::v1::Span& in, std::string& trace_id, std::string& span_id,
          std::string& parent_id) {
        Span& span = out.spans.emplace_back();
        span.trace_id = std::move(trace_id);
        span.span_id = std::move(span_id);
        if (!parent_id.empty()) span.parent_span_id = std::move(parent_id);
        convertSpan(in, span);
        span.resource = resource;
        span.scope = scope;
      });
  if (!walked) return walked.error();
  return out;
}

core::Result<SpanCounts> validateProtobuf(std::string_view body) {
  DecodedSpans counts;
  std::int64_t accepted = 0;
  auto walked = walkProtobuf(
      body, counts, [](const auto&, const auto&) {},
      [&](const auto&, const auto&, const auto&, const auto&) { ++accepted; });
  if (!walked) return walked.error();
  return SpanCounts{accepted, counts.rejected, std::move(counts.reasons)};
}

core::Result<DecodedSpans> decodeJson(std::string_view body) {
  boost::system::error_code ec;
  const json::value root = parseRunJsonText(body, ec);
  if (ec) return Error::invalidArgument("body: not valid JSON: " + ec.message());
  if (!root.is_object()) {
    return Error::invalidArgument("body: expected an ExportTraceServiceRequest object");
  }
  DecodedSpans out;
  const json::value* list = field(root.get_object(), "resourceSpans");
  if (list == nullptr) {
    for (std::string_view other : {"resourceLogs", "resourceMetrics", "resourceProfiles"}) {
      if (root.get_object().contains(other)) {
        return Error::invalidArgument(fmt::format(
            "body: this is an OTLP {} export, not traces; send it to its own path, not /v1/traces",
            other.substr(8)));
      }
    }
    return out;  // an empty export: nothing to store
  }
  if (!list->is_array()) return Error::invalidArgument("resourceSpans: expected an array");
  for (const json::value& rs : list->get_array()) {
    if (!rs.is_object()) return Error::invalidArgument("resourceSpans: expected objects");
    auto resource = std::make_shared<json::object>();
    std::string why;
    bool resource_ok = true;
    if (const json::object* r = objectField(rs.get_object(), "resource")) {
      resource_ok = jsonKeyValues(arrayField(*r, "attributes"), *resource, 0, why);
    }
    const json::array* scope_list = arrayField(rs.get_object(), "scopeSpans");
    if (scope_list == nullptr) continue;
    for (const json::value& ss : *scope_list) {
      if (!ss.is_object()) return Error::invalidArgument("scopeSpans: expected objects");
      auto scope = std::make_shared<json::object>();
      json::object scope_attributes;
      std::string scope_why;
      bool scope_ok = true;
      std::string scope_name, scope_version;
      if (const json::object* s = objectField(ss.get_object(), "scope")) {
        scope_ok = jsonKeyValues(arrayField(*s, "attributes"), scope_attributes, 0, scope_why);
        if (const json::value* n = field(*s, "name"); n && n->is_string()) {
          scope_name = n->get_string();
        }
        if (const json::value* v = field(*s, "version"); v && v->is_string()) {
          scope_version = v->get_string();
        }
      }
      (*scope)["name"] = scope_name;
      (*scope)["version"] = scope_version;
      (*scope)["attributes"] = std::move(scope_attributes);
      const json::array* spans = arrayField(ss.get_object(), "spans");
      if (spans == nullptr) continue;
      for (const json::value& item : *spans) {
        std::string name;
        if (item.is_object()) {
          if (const json::value* n = field(item.get_object(), "name"); n && n->is_string()) {
            name = n->get_string();
          }
        }
        if (!item.is_object()) {
          reject(out, name, "expected a span object");
          continue;
        }
        if (!resource_ok) {
          reject(out, name, "resource " + why);
          continue;
        }
        if (!scope_ok) {
          reject(out, name, "scope " + scope_why);
          continue;
        }
        Span span;
        std::string span_why;
        if (!jsonSpan(item.get_object(), span, span_why)) {
          reject(out, name, span_why);
          continue;
        }
        span.resource = resource;
        span.scope = scope;
        out.spans.push_back(std::move(span));
      }
    }
  }
  return out;
}

}  // namespace pharos::tracing::otlp
