// Synthetic OTLP trace exports for the span ingest benchmark (otlp_load): what an OpenTelemetry-
// instrumented LLM app sends — traces of an agent span, LLM spans with GenAI attributes (model,
// provider, token usage, a prompt and a completion of a few hundred characters), retrieval and tool
// spans, one in twenty failing with an exception event — as ExportTraceServiceRequest protobuf.
// Every trace id in a body sits at a recorded offset, so a load generator can give each request
// fresh ids without serializing again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pharos::bench {

struct OtlpBody {
  std::string bytes;  // a serialized ExportTraceServiceRequest
  std::size_t spans = 0;
  std::vector<std::size_t> trace_id_offsets;  // 16-byte trace ids, every occurrence
};

// `spans` spans in traces of about eight, from a deterministic generator seeded with `seed`.
OtlpBody makeOtlpBody(std::size_t spans, std::uint64_t seed);

// Rewrites the trace ids in `body` (a copy of tpl.bytes) so that its spans become runs no other
// (stream, counter) produces; parent links are unchanged.
void freshOtlpIds(const OtlpBody& tpl, std::string& body, std::uint64_t stream,
                  std::uint64_t counter);

}  // namespace pharos::bench
