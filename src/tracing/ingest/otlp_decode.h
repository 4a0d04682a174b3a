// Decoding OTLP trace exports (`ExportTraceServiceRequest`) from their two HTTP encodings —
// binary protobuf (application/x-protobuf) and the OTLP JSON mapping (application/json: hex ids,
// 64-bit integers as strings or numbers, enums as integers) — into one neutral span form, with
// the checks every receiver owes its callers (spec: otlp-genai.md §1.2–1.4):
//  * ids of the wrong length or all zeros reject the span (a logs export sent to the traces path
//    decodes as spans without ids, so it is rejected span by span, never stored as garbage);
//  * attribute values above kMaxAttributeValueBytes, or nested deeper than kMaxAttributeDepth,
//    reject the span;
// A span rejected is counted with its reason; the others go on (OTLP partial success). Only a
// body that cannot be read at all is an error.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::tracing::otlp {

inline constexpr std::size_t kMaxAttributeValueBytes = 1024 * 1024;
inline constexpr std::size_t kMaxAttributeDepth = 32;

enum class StatusCode { kUnset = 0, kOk = 1, kError = 2 };

struct Span {
  std::string trace_id;                       // 32 lower-case hex digits
  std::string span_id;                        // 16 lower-case hex digits
  std::optional<std::string> parent_span_id;  // absent for a root (empty or all-zero on the wire)
  std::string name;
  int kind = 0;  // SpanKind as sent (0 unspecified .. 5 consumer)
  std::uint64_t start_time_unix_nano = 0;
  std::uint64_t end_time_unix_nano = 0;
  StatusCode status_code = StatusCode::kUnset;
  std::string status_message;
  // Attribute values as JSON: strings, booleans, int64, doubles, arrays, objects (kvlist);
  // bytes as base64 strings.
  boost::json::object attributes;
  boost::json::array events;  // each {"name", "time_unix_nano", "attributes"}
  // Shared by every span of one ResourceSpans / ScopeSpans.
  std::shared_ptr<const boost::json::object> resource;  // resource attributes
  std::shared_ptr<const boost::json::object> scope;     // {"name", "version", "attributes"}
};

struct DecodedSpans {
  std::vector<Span> spans;
  std::int64_t rejected = 0;
  // Why spans were rejected: up to a few distinct reasons, each naming the span.
  std::vector<std::string> reasons;
};

struct SpanCounts {
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::vector<std::string> reasons;  // as in DecodedSpans
};

// kInvalidArgument when the body is not an ExportTraceServiceRequest at all.
core::Result<DecodedSpans> decodeProtobuf(std::string_view body);
// What decodeProtobuf would accept and reject, by the same rules, without building the spans:
// the cheap check that lets an export be acknowledged before it is decoded in full.
core::Result<SpanCounts> validateProtobuf(std::string_view body);
core::Result<DecodedSpans> decodeJson(std::string_view body);

}  // namespace pharos::tracing::otlp
