// Fuzzes the OTLP trace decoders (tracing/ingest/otlp_decode): the first byte picks the encoding —
// even: protobuf, odd: the OTLP JSON mapping. Invariants beyond "no crash, no UB": an unreadable
// body is kInvalidArgument with a message; otherwise every decoded span has well-formed ids
// (32 and 16 lower-case hex digits, not all zeros, a parent likewise when present), the rejection
// count covers the reasons given, and shared resource/scope objects are always set. For protobuf,
// validateProtobuf (the acknowledgement path) must agree with decodeProtobuf exactly: same error,
// same accepted and rejected counts, same reasons.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tracing/ingest/otlp_decode.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

bool isHexId(std::string_view id, std::size_t digits) {
  if (id.size() != digits) return false;
  bool zero = true;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    zero = zero && c == '0';
  }
  return !zero;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  namespace otlp = pharos::tracing::otlp;
  const bool protobuf = (data[0] & 1) == 0;
  auto decoded = protobuf ? otlp::decodeProtobuf(body) : otlp::decodeJson(body);
  if (protobuf) {
    auto counts = otlp::validateProtobuf(body);
    check(counts.ok() == decoded.ok());
    if (counts.ok()) {
      check(counts->accepted == static_cast<std::int64_t>(decoded->spans.size()));
      check(counts->rejected == decoded->rejected);
      check(counts->reasons == decoded->reasons);
    }
  }
  if (!decoded.ok()) {
    check(decoded.error().code == pharos::core::ErrorCode::kInvalidArgument);
    check(!decoded.error().message.empty());
    return 0;
  }
  check(decoded->rejected >= static_cast<std::int64_t>(decoded->reasons.size()));
  for (const otlp::Span& span : decoded->spans) {
    check(isHexId(span.trace_id, 32));
    check(isHexId(span.span_id, 16));
    if (span.parent_span_id) check(isHexId(*span.parent_span_id, 16));
    check(span.resource != nullptr && span.scope != nullptr);
  }
  return 0;
}
