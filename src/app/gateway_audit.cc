#include "app/gateway_audit.h"

#include "core/crypto.h"

namespace pharos::app {

namespace {

std::int64_t micros(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
}

policy::AuditEvent common(const gateway::CallRecord& call, bool include_text) {
  policy::AuditEvent e;
  e.trace_id = call.link.trace_id;
  e.workspace_id = call.workspace_id;
  e.key_id = call.key_id;
  e.user_id = call.user_id;
  e.query_sha256 = core::toHex(core::sha256(call.request_body));
  if (include_text) e.query_text = call.request_body;
  e.model = call.model;
  e.cache_status = call.cache_status;
  return e;
}

}  // namespace

policy::AuditEvent receivedEvent(const gateway::CallRecord& call, bool include_text) {
  policy::AuditEvent e = common(call, include_text);
  e.event = "query_received";
  e.time_us = micros(call.start);
  return e;
}

policy::AuditEvent finishedEvent(const gateway::CallRecord& call, bool include_text) {
  policy::AuditEvent e = common(call, include_text);
  e.event = call.error ? "query_failed" : "query_completed";
  e.time_us = micros(call.end);
  e.target = call.target;
  e.latency_ms = std::chrono::duration<double, std::milli>(call.end - call.start).count();
  e.error_type = call.error_class;
  if (call.usage) {
    e.prompt_tokens = call.usage->prompt_tokens;
    e.completion_tokens = call.usage->completion_tokens;
  }
  if (call.cost) e.cost_usd = call.cost->total();
  return e;
}

void GatewayAuditSink::received(const gateway::CallRecord& call) {
  // Only what the event needs is copied; hashing happens on the log's thread.
  gateway::CallRecord copy;
  copy.link.trace_id = call.link.trace_id;
  copy.workspace_id = call.workspace_id;
  copy.key_id = call.key_id;
  copy.user_id = call.user_id;
  copy.request_body = call.request_body;
  copy.model = call.model;
  copy.start = call.start;
  copy.cache_status = call.cache_status;
  log_.append(
      [copy = std::move(copy), include = include_text_] { return receivedEvent(copy, include); });
}

void GatewayAuditSink::record(std::shared_ptr<const gateway::CallRecord> call) {
  if (call->internal) return;  // calls Pharos made itself are not queries
  log_.append(
      [call = std::move(call), include = include_text_] { return finishedEvent(*call, include); });
}

}  // namespace pharos::app
