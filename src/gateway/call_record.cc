#include "gateway/call_record.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>

#include "core/crypto.h"
#include "core/ids.h"

namespace pharos::gateway {

namespace {

bool isLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string hexFromUuid(std::string_view uuid) {
  std::string out;
  for (char c : uuid) {
    if (c != '-') out.push_back(c);
  }
  return lower(out);
}

// "00-<32 hex>-<16 hex>-<2 hex>": the W3C trace context; all-zero ids are invalid.
bool parseTraceparent(std::string_view value, std::string& trace, std::string& parent) {
  if (value.size() < 55 || value[2] != '-' || value[35] != '-' || value[52] != '-') return false;
  const std::string version = lower(value.substr(0, 2));
  if (!isLowerHex(version) || version == "ff") return false;
  trace = lower(value.substr(3, 32));
  parent = lower(value.substr(36, 16));
  if (!isLowerHex(trace) || !isLowerHex(parent)) return false;
  return trace != std::string(32, '0') && parent != std::string(16, '0');
}

// "<22-char timestamp><uuid>[.<timestamp><uuid>]...": the LangSmith dotted order of the parent.
bool parseDottedOrder(std::string_view dotted, std::string& trace_id, std::string& parent_id) {
  constexpr std::size_t kStamp = 22;  // 20240101T000000000000Z
  constexpr std::size_t kSegment = kStamp + 36;
  std::size_t start = 0;
  bool first = true;
  while (start < dotted.size()) {
    const std::size_t end = std::min(dotted.find('.', start), dotted.size());
    const std::string_view segment = dotted.substr(start, end - start);
    if (segment.size() != kSegment || segment[kStamp - 1] != 'Z') return false;
    const std::string_view id = segment.substr(kStamp);
    if (!core::isUuid(id)) return false;
    if (first) trace_id = lower(id);
    parent_id = lower(id);
    first = false;
    start = end + 1;
  }
  return !first;
}
// The dotted order of a run under the one whose dotted order is `parent`.
std::string dottedChild(std::string_view parent, std::chrono::system_clock::time_point start,
                        std::string_view run_id) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(start.time_since_epoch()).count();
  const auto seconds =
      std::chrono::system_clock::time_point(std::chrono::seconds(micros / 1'000'000));
  return fmt::format("{}.{:%Y%m%dT%H%M%S}{:06d}Z{}", parent, seconds, micros % 1'000'000, run_id);
}

}  // namespace

TraceLink traceLinkFor(const http::Request& request, std::chrono::system_clock::time_point start) {
  TraceLink link;
  link.span_hex = core::toHex(core::randomBytes(8));
  std::string trace, parent;
  if (auto dotted = request.header("langsmith-trace");
      dotted && parseDottedOrder(*dotted, trace, parent)) {
    link.trace_id = trace;
    link.trace_hex = hexFromUuid(trace);
    link.parent_run_id = parent;
    link.parent_span_hex = hexFromUuid(parent).substr(16);
    link.run_id = core::uuidFromHex(link.trace_hex.substr(0, 16) + link.span_hex);
    link.dotted_order = dottedChild(*dotted, start, link.run_id);
    return link;
  }
  if (auto header = request.header("traceparent");
      header && parseTraceparent(*header, trace, parent)) {
    link.trace_hex = trace;
    link.parent_span_hex = parent;
    link.parent_run_id = core::uuidFromHex(trace.substr(0, 16) + parent);
  } else {
    // A new trace gets a time-ordered id (UUIDv7), so its run's id, which starts with the same
    // 16 digits, lands at the end of the store's indexes instead of at a random page.
    link.trace_hex = hexFromUuid(core::newUuidV7(start));
  }
  link.trace_id = core::uuidFromHex(link.trace_hex);
  link.run_id = core::uuidFromHex(link.trace_hex.substr(0, 16) + link.span_hex);
  return link;
}

TraceLink childLink(const TraceLink& parent, std::chrono::system_clock::time_point start) {
  TraceLink link;
  link.span_hex = core::toHex(core::randomBytes(8));
  link.trace_hex = parent.trace_hex;
  link.trace_id = parent.trace_id;
  link.parent_span_hex = parent.span_hex;
  link.parent_run_id = parent.run_id;
  link.run_id = core::uuidFromHex(link.trace_hex.substr(0, 16) + link.span_hex);
  if (parent.dotted_order)
    link.dotted_order = dottedChild(*parent.dotted_order, start, link.run_id);
  return link;
}

}  // namespace pharos::gateway
