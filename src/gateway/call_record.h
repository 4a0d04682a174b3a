// What the gateway knows about a finished call, handed to whoever records it (app/ stores it as
// an llm run; the OTLP exporter turns it into a span). The gateway does not know about runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateway/dispatch.h"
#include "http/message.h"

namespace pharos::gateway {

// Where a call sits in its caller's trace, from a W3C traceparent or a LangSmith langsmith-trace
// header; a new trace otherwise. Run ids follow Pharos's OTLP mapping: trace id = the UUID of the
// 32 hex digits, run id = the UUID of the trace's first 16 hex digits + the span's 16.
struct TraceLink {
  std::string trace_hex;  // 32 lower-case hex digits
  std::string span_hex;   // 16: this call's span
  std::optional<std::string> parent_span_hex;
  std::string run_id;
  std::string trace_id;
  std::optional<std::string> parent_run_id;
  std::optional<std::string> dotted_order;  // set when the caller sent langsmith-trace
};

TraceLink traceLinkFor(const http::Request& request, std::chrono::system_clock::time_point start);

// A link for a call made on behalf of `parent`: same trace, a new span under it.
TraceLink childLink(const TraceLink& parent, std::chrono::system_clock::time_point start);

// Tokens of a call: as the upstream reported them, or counted by Pharos when it reported none.
struct CallUsage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_prompt_tokens = 0;  // part of prompt_tokens
  bool counted = false;                   // by Pharos's tokenizer, not reported
};

struct CallCost {
  double prompt_usd = 0;
  double completion_usd = 0;
  double total() const { return prompt_usd + completion_usd; }
};

struct CallRecord {
  std::string workspace_id;
  // Shared state (cache, budgets in Redis) is keyed by name: several Pharos processes with their
  // own stores agree on names, not on generated ids.
  std::string workspace_name;
  std::string key_id;   // the Pharos API key that called; "" without one
  std::string user_id;  // the request's `user`, else the x-pharos-user header
  std::string project;
  TraceLink link;
  std::string endpoint;  // "chat.completions", "embeddings"
  std::string model;     // as requested
  std::string target;    // "provider/model" that answered, or the last one tried
  std::string provider;
  std::string upstream_model;
  unsigned attempts = 0;
  unsigned fallbacks = 0;
  bool stream = false;
  bool static_response = false;
  std::chrono::system_clock::time_point start;
  std::chrono::system_clock::time_point end;
  std::optional<double> ttft_seconds;  // streams: first byte to the client, from the start
  double overhead_ms = 0;
  unsigned status = 0;  // what the client was answered
  std::optional<std::string> error;
  std::string error_class;    // "" on success
  std::string request_body;   // JSON text as the client sent it
  std::string response_body;  // JSON text: the answer, the assembled stream, or the error
  std::vector<AttemptRecord> attempt_log;
  // "none" (no cache for this call), "miss", "hit", "semantic-hit", "bypass" (x-pharos-cache).
  std::string cache_status = "none";
  std::optional<CallUsage> usage;
  std::optional<CallCost> cost;  // nullopt: no price for the model; a cache hit costs 0
  std::string policy;            // the input/output policy applied; "" when none
  // Policy findings that did not refuse the call ("injection_phrase"), and what the output
  // sanitizer redacted ("ssn" -> 2).
  std::vector<std::string> flags;
  std::map<std::string, unsigned> redactions;
  // The semantic cache: the similarity of the nearest cached prompt, when one was looked up.
  std::optional<double> semantic_similarity;
  // Calls the pipeline made for this one (the semantic cache's embedding): recorded under it.
  std::vector<CallRecord> children;
  bool internal = false;  // a call Pharos made itself (a child), not a client's query
};

class CallSink {
 public:
  virtual ~CallSink() = default;
  // Called on an I/O thread once a call is accepted (routed, before any upstream attempt), with
  // what is known then; must not block.
  virtual void received(const CallRecord& /*call*/) {}
  // Called on an I/O thread once per call when it is over; must not block. The record is shared
  // by every sink.
  virtual void record(std::shared_ptr<const CallRecord> record) = 0;
};

}  // namespace pharos::gateway
