#include "app/gateway_runs.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "core/time.h"

namespace pharos::app {

namespace json = boost::json;

namespace {

std::int64_t micros(std::chrono::system_clock::time_point at) {
  return std::chrono::duration_cast<std::chrono::microseconds>(at.time_since_epoch()).count();
}

json::value parsedOr(const std::string& text, std::string_view key) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (!ec && parsed.is_object()) return parsed;
  return json::object{{key, text}};
}

}  // namespace

tracing::RunFields runForCall(const gateway::CallRecord& call) {
  tracing::RunFields run;
  run.id = call.link.run_id;
  run.trace_id = call.link.trace_id;
  run.parent_run_id = call.link.parent_run_id;
  run.dotted_order = call.link.dotted_order;
  const bool chat = call.endpoint == "chat.completions";
  // As OpenTelemetry's GenAI conventions name spans: "{operation} {model}".
  run.name = (chat ? "chat " : "embeddings ") + call.model;
  run.run_type = chat ? "llm" : "embedding";
  run.session_name = call.project;
  run.start_time = micros(call.start);
  run.end_time = std::max(micros(call.end), *run.start_time);
  if (call.error) run.error = *call.error;
  run.inputs = parsedOr(call.request_body, "body");
  if (!call.error || call.static_response) run.outputs = parsedOr(call.response_body, "body");

  json::object metadata;
  metadata["ls_provider"] = call.provider;
  metadata["ls_model_name"] = call.upstream_model.empty() ? call.model : call.upstream_model;
  metadata["ls_model_type"] = chat ? "chat" : "embedding";
  metadata["pharos_model"] = call.model;
  metadata["pharos_target"] = call.target;
  metadata["pharos_attempts"] = call.attempts;
  metadata["pharos_fallbacks"] = call.fallbacks;
  metadata["pharos_stream"] = call.stream;
  metadata["pharos_static_response"] = call.static_response;
  metadata["pharos_status"] = call.status;
  metadata["pharos_overhead_ms"] = call.overhead_ms;
  if (call.ttft_seconds) metadata["pharos_ttft_ms"] = *call.ttft_seconds * 1000;
  if (!call.error_class.empty()) metadata["pharos_error_class"] = call.error_class;
  json::array attempts;
  for (const gateway::AttemptRecord& attempt : call.attempt_log) {
    json::object a{{"target", attempt.target}, {"status", attempt.status},
                   {"seconds", attempt.seconds}};
    if (attempt.error) {
      a["error_class"] = gateway::errorClassName(*attempt.error);
      a["message"] = attempt.message;
    }
    attempts.push_back(std::move(a));
  }
  metadata["pharos_attempt_log"] = std::move(attempts);
  json::object invocation{{"model", call.upstream_model}, {"stream", call.stream}};
  run.extra = json::object{{"metadata", std::move(metadata)},
                           {"invocation_params", std::move(invocation)}};
  if (call.ttft_seconds) {
    // LangSmith derives time-to-first-token from the first new_token event.
    const auto first_token = *run.start_time + static_cast<std::int64_t>(*call.ttft_seconds * 1e6);
    run.events = json::array{
        json::object{{"name", "new_token"}, {"time", core::formatIso8601Micros(first_token)}}};
  }
  run.posted = true;
  return run;
}

void GatewayRunSink::record(const gateway::CallRecord& call) {
  recorder_.submit(call.workspace_id, [call]() { return runForCall(call); });
}

}  // namespace pharos::app
