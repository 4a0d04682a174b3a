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

  // Metadata is indexed for filtering, so it holds what a person filters by (provider, model,
  // target, attempts, failure class); per-call figures (overhead, time to first token, each
  // attempt) go in extra.pharos, where they are kept without an index row each.
  json::object metadata;
  metadata["ls_provider"] = call.provider;
  metadata["ls_model_name"] = call.upstream_model.empty() ? call.model : call.upstream_model;
  metadata["ls_model_type"] = chat ? "chat" : "embedding";
  metadata["pharos_model"] = call.model;
  metadata["pharos_target"] = call.target;
  metadata["pharos_attempts"] = call.attempts;
  if (call.fallbacks > 0) metadata["pharos_fallbacks"] = call.fallbacks;
  if (call.stream) metadata["pharos_stream"] = true;
  if (call.static_response) metadata["pharos_static_response"] = true;
  if (!call.error_class.empty()) metadata["pharos_error_class"] = call.error_class;
  if (call.cache_status != "none") metadata["pharos_cache_status"] = call.cache_status;
  if (!call.policy.empty()) metadata["pharos_policy"] = call.policy;
  if (!call.flags.empty()) {
    json::array flags;
    for (const std::string& flag : call.flags) flags.push_back(json::value(flag));
    metadata["pharos_policy_flags"] = std::move(flags);
  }
  if (call.internal) metadata["pharos_internal"] = true;
  if (call.usage) {
    // LangSmith's usage_metadata: the run's tokens and cost as Pharos accounted them (the run
    // store takes these over the answer's own usage).
    const gateway::CallUsage& usage = *call.usage;
    json::object usage_metadata{{"input_tokens", usage.prompt_tokens},
                                {"output_tokens", usage.completion_tokens},
                                {"total_tokens", usage.prompt_tokens + usage.completion_tokens}};
    if (usage.cached_prompt_tokens > 0) {
      usage_metadata["input_token_details"] =
          json::object{{"cache_read", usage.cached_prompt_tokens}};
    }
    if (call.cost) {
      usage_metadata["input_cost"] = call.cost->prompt_usd;
      usage_metadata["output_cost"] = call.cost->completion_usd;
      usage_metadata["total_cost"] = call.cost->total();
    }
    metadata["usage_metadata"] = std::move(usage_metadata);
    if (usage.counted) metadata["pharos_tokens_counted"] = true;
  }
  json::object figures;
  figures["status"] = call.status;
  figures["overhead_ms"] = call.overhead_ms;
  if (call.ttft_seconds) figures["ttft_ms"] = *call.ttft_seconds * 1000;
  json::array attempts;
  for (const gateway::AttemptRecord& attempt : call.attempt_log) {
    json::object a{
        {"target", attempt.target}, {"status", attempt.status}, {"seconds", attempt.seconds}};
    if (attempt.error) {
      a["error_class"] = gateway::errorClassName(*attempt.error);
      a["message"] = attempt.message;
    }
    attempts.push_back(std::move(a));
  }
  figures["attempts"] = std::move(attempts);
  if (call.semantic_similarity) figures["semantic_similarity"] = *call.semantic_similarity;
  if (!call.redactions.empty()) {
    json::object redactions;
    for (const auto& [detector, count] : call.redactions) redactions[detector] = count;
    figures["redactions"] = std::move(redactions);
  }
  json::object invocation{{"model", call.upstream_model}, {"stream", call.stream}};
  run.extra = json::object{{"metadata", std::move(metadata)},
                           {"invocation_params", std::move(invocation)},
                           {"pharos", std::move(figures)}};
  if (call.ttft_seconds) {
    // LangSmith derives time-to-first-token from the first new_token event.
    const auto first_token = *run.start_time + static_cast<std::int64_t>(*call.ttft_seconds * 1e6);
    run.events = json::array{
        json::object{{"name", "new_token"}, {"time", core::formatIso8601Micros(first_token)}}};
  }
  run.posted = true;
  return run;
}

void GatewayRunSink::record(std::shared_ptr<const gateway::CallRecord> call) {
  const std::string workspace = call->workspace_id;
  // The record is shared with the other sinks; what it holds is mostly the two bodies.
  const std::size_t bytes = call->request_body.size() + call->response_body.size() + 2048;
  recorder_.submit(
      workspace, [call = std::move(call)]() { return runForCall(*call); }, bytes);
}

tracing::ExportSpan spanForCall(const gateway::CallRecord& call) {
  tracing::ExportSpan span;
  span.trace_id_hex = call.link.trace_hex;
  span.span_id_hex = call.link.span_hex;
  span.parent_span_id_hex = call.link.parent_span_hex.value_or("");
  const bool chat = call.endpoint == "chat.completions";
  span.name = (chat ? "chat " : "embeddings ") + call.model;
  const auto nanos = [](std::chrono::system_clock::time_point at) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count());
  };
  span.start_unix_nano = nanos(call.start);
  span.end_unix_nano = std::max(nanos(call.end), span.start_unix_nano);
  auto& a = span.attributes;
  a.emplace_back("gen_ai.operation.name", chat ? "chat" : "embeddings");
  a.emplace_back("gen_ai.provider.name", call.provider);
  a.emplace_back("gen_ai.request.model", call.model);
  if (!call.upstream_model.empty()) a.emplace_back("gen_ai.response.model", call.upstream_model);
  a.emplace_back("pharos.project", call.project);
  a.emplace_back("pharos.target", call.target);
  a.emplace_back("pharos.attempts", static_cast<std::int64_t>(call.attempts));
  a.emplace_back("pharos.fallbacks", static_cast<std::int64_t>(call.fallbacks));
  a.emplace_back("pharos.stream", call.stream);
  a.emplace_back("pharos.overhead_ms", call.overhead_ms);
  a.emplace_back("http.response.status_code", static_cast<std::int64_t>(call.status));
  if (call.ttft_seconds) a.emplace_back("pharos.ttft_ms", *call.ttft_seconds * 1000);
  if (call.static_response) a.emplace_back("pharos.static_response", true);
  if (call.usage) {
    a.emplace_back("gen_ai.usage.input_tokens", call.usage->prompt_tokens);
    a.emplace_back("gen_ai.usage.output_tokens", call.usage->completion_tokens);
  }
  if (call.cost) a.emplace_back("pharos.cost_usd", call.cost->total());
  if (call.cache_status != "none") a.emplace_back("pharos.cache_status", call.cache_status);
  if (call.error) {
    span.error = true;
    span.status_message = *call.error;
    a.emplace_back("error.type", call.error_class);
  }
  return span;
}

void GatewaySpanSink::record(std::shared_ptr<const gateway::CallRecord> call) {
  exporter_.submit([call = std::move(call)]() { return spanForCall(*call); });
}

}  // namespace pharos::app
