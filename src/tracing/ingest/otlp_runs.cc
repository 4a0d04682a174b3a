#include "tracing/ingest/otlp_runs.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <map>

#include "core/ids.h"
#include "core/time.h"
#include "tracing/json_text.h"

namespace pharos::tracing::otlp {

namespace {

namespace json = boost::json;

const json::value* attribute(const Span& span, std::string_view key) {
  const json::value* value = span.attributes.if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

const json::value* resourceAttribute(const Span& span, std::string_view key) {
  if (span.resource == nullptr) return nullptr;
  const json::value* value = span.resource->if_contains(key);
  return value == nullptr || value->is_null() ? nullptr : value;
}

std::optional<std::string> firstString(const Span& span,
                                       std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    const json::value* value = attribute(span, key);
    if (value != nullptr && value->is_string() && !value->get_string().empty()) {
      return std::string(value->get_string());
    }
  }
  return std::nullopt;
}

// A non-negative whole count: an integer, an integral double, or a decimal string.
std::optional<std::int64_t> asCount(const json::value& value) {
  if (value.is_int64() && value.get_int64() >= 0) return value.get_int64();
  if (value.is_uint64() && value.get_uint64() < (1ULL << 53)) {
    return static_cast<std::int64_t>(value.get_uint64());
  }
  if (value.is_double() && value.get_double() >= 0 && value.get_double() < 9e15 &&
      std::floor(value.get_double()) == value.get_double()) {
    return static_cast<std::int64_t>(value.get_double());
  }
  if (value.is_string()) {
    std::int64_t n = 0;
    const json::string& text = value.get_string();
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec == std::errc() && ptr == text.data() + text.size() && n >= 0) return n;
  }
  return std::nullopt;
}

std::optional<std::int64_t> firstCount(const Span& span,
                                       std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    if (const json::value* value = attribute(span, key)) {
      if (auto n = asCount(*value)) return n;
    }
  }
  return std::nullopt;
}

std::optional<double> firstCost(const Span& span, std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    const json::value* value = attribute(span, key);
    if (value != nullptr && value->is_number()) {
      const double d = value->to_number<double>();
      if (std::isfinite(d) && d >= 0) return d;
    }
  }
  return std::nullopt;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string runType(const Span& span, bool has_model) {
  if (auto kind = firstString(span, {"langsmith.span.kind"})) return lower(*kind);
  if (auto kind = firstString(span, {"openinference.span.kind"})) {
    static const std::map<std::string, std::string, std::less<>> kOpenInference = {
        {"llm", "llm"},
        {"embedding", "embedding"},
        {"chain", "chain"},
        {"retriever", "retriever"},
        {"reranker", "retriever"},
        {"tool", "tool"},
        {"agent", "chain"},
        {"guardrail", "chain"},
        {"evaluator", "chain"},
        {"prompt", "prompt"}};
    if (auto it = kOpenInference.find(lower(*kind)); it != kOpenInference.end()) return it->second;
  }
  if (auto op = firstString(span, {"gen_ai.operation.name"})) {
    const std::string name = lower(*op);
    if (name == "chat" || name == "text_completion" || name == "generate_content" ||
        name == "completion" || name == "generate") {
      return "llm";
    }
    if (name == "embeddings") return "embedding";
    if (name == "execute_tool") return "tool";
    if (name == "retrieval") return "retriever";
    return "chain";  // invoke_agent, create_agent, invoke_workflow, plan, memory operations
  }
  if (auto kind = firstString(span, {"traceloop.span.kind"})) {
    return lower(*kind) == "tool" ? "tool" : "chain";
  }
  if (firstString(span, {"gen_ai.tool.name", "gen_ai.tool.call.id"})) return "tool";
  return has_model ? "llm" : "chain";
}

// A JSON value sent as a string (content attributes MAY be JSON strings): parsed when it is.
json::value maybeJson(const json::value& value) {
  if (!value.is_string()) return value;
  boost::system::error_code ec;
  json::value parsed = parseRunJsonText(value.get_string(), ec);
  if (!ec && (parsed.is_object() || parsed.is_array())) return parsed;
  return value;
}

// Indexed flattened messages: "<prefix>.<i>.<field>" (a leading "message." in the field dropped,
// as OpenInference writes it), gathered into [{field: value}, ...] by index.
std::optional<json::array> flattenedMessages(const Span& span, std::string_view prefix) {
  std::map<std::size_t, json::object> messages;
  for (const auto& item : span.attributes) {
    const std::string_view key = item.key();
    if (!key.starts_with(prefix) || key.size() <= prefix.size() + 1 || key[prefix.size()] != '.') {
      continue;
    }
    const std::string_view rest = key.substr(prefix.size() + 1);
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    std::size_t index = 0;
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + dot, index);
    if (ec != std::errc() || ptr != rest.data() + dot || index > 10'000) continue;
    std::string_view field = rest.substr(dot + 1);
    if (field.starts_with("message.")) field.remove_prefix(8);
    messages[index][field] = item.value();
  }
  if (messages.empty()) return std::nullopt;
  json::array out;
  for (auto& [index, message] : messages) out.push_back(std::move(message));
  return out;
}

// The run's inputs or outputs from the first recognised attribute, as an object.
std::optional<json::value> content(
    const Span& span, std::initializer_list<std::pair<std::string_view, std::string_view>> sources,
    std::initializer_list<std::string_view> flattened_prefixes) {
  for (const auto& [key, wrap] : sources) {
    const json::value* value = attribute(span, key);
    if (value == nullptr) continue;
    json::value parsed = maybeJson(*value);
    if (parsed.is_object() && wrap != "messages") return parsed;
    return json::value(json::object{{wrap, std::move(parsed)}});
  }
  for (std::string_view prefix : flattened_prefixes) {
    if (auto messages = flattenedMessages(span, prefix)) {
      return json::value(json::object{{"messages", std::move(*messages)}});
    }
  }
  return std::nullopt;
}

std::string exceptionText(const Span& span) {
  for (const json::value& event : span.events) {
    const json::object& e = event.as_object();
    if (e.at("name") != "exception") continue;
    const json::object& attributes = e.at("attributes").as_object();
    const json::value* type = attributes.if_contains("exception.type");
    const json::value* message = attributes.if_contains("exception.message");
    std::string text;
    if (type != nullptr && type->is_string()) text = std::string(type->get_string());
    if (message != nullptr && message->is_string()) {
      if (!text.empty()) text += ": ";
      text += std::string(message->get_string());
    }
    if (!text.empty()) return text;
  }
  return {};
}

}  // namespace

RunFields spanToRun(const Span& span, std::string_view project_override) {
  RunFields run;
  const std::string trace_prefix = span.trace_id.substr(0, 16);
  run.id = core::uuidFromHex(trace_prefix + span.span_id);
  run.trace_id = core::uuidFromHex(span.trace_id);
  if (span.parent_span_id)
    run.parent_run_id = core::uuidFromHex(trace_prefix + *span.parent_span_id);
  run.name = span.name.empty() ? std::string("span") : span.name;
  run.posted = true;
  if (span.start_time_unix_nano > 0) {
    run.start_time = static_cast<std::int64_t>(span.start_time_unix_nano / 1000);
  }
  if (span.end_time_unix_nano > 0) {
    run.end_time = static_cast<std::int64_t>(span.end_time_unix_nano / 1000);
  }

  // Project.
  std::optional<std::string> project =
      firstString(span, {"pharos.project", "langsmith.project", "langsmith.trace.session_name"});
  if (!project && !project_override.empty()) project = std::string(project_override);
  if (!project) {
    const json::value* service = resourceAttribute(span, "service.name");
    if (service != nullptr && service->is_string() && !service->get_string().empty()) {
      project = std::string(service->get_string());
    }
  }
  run.session_name = project.value_or("default");

  // Metadata: resource, scope, then span attributes (the span's own win).
  json::object metadata;
  if (span.resource != nullptr) {
    for (const auto& item : *span.resource) metadata[item.key()] = item.value();
  }
  if (span.scope != nullptr) {
    if (const json::value* name = span.scope->if_contains("name");
        name != nullptr && name->is_string() && !name->get_string().empty()) {
      metadata["otel.scope.name"] = *name;
    }
    if (const json::value* version = span.scope->if_contains("version");
        version != nullptr && version->is_string() && !version->get_string().empty()) {
      metadata["otel.scope.version"] = *version;
    }
  }
  for (const auto& item : span.attributes) metadata[item.key()] = item.value();
  metadata["otel.span_kind"] = span.kind;

  const std::optional<std::string> model =
      firstString(span, {"gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                         "llm.request.model_name", "ai.model.id", "model"});
  run.run_type = runType(span, model.has_value());
  if (model) metadata["ls_model_name"] = *model;
  if (auto provider = firstString(span, {"gen_ai.provider.name", "gen_ai.system", "llm.provider",
                                         "llm.system", "ai.model.provider"})) {
    metadata["ls_provider"] = *provider;
  }
  if (auto thread = firstString(span, {"gen_ai.conversation.id", "session.id"})) {
    metadata["thread_id"] = *thread;
  }

  // Usage: OTel's input count already includes cached tokens (and output includes reasoning), so
  // the details are recorded beside the counts, never added to them.
  json::object usage;
  if (auto n = firstCount(
          span, {"gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens",
                 "llm.token_count.prompt", "ai.usage.promptTokens", "ai.usage.inputTokens"})) {
    usage["input_tokens"] = *n;
  }
  if (auto n = firstCount(span, {"gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                                 "llm.token_count.completion", "ai.usage.completionTokens",
                                 "ai.usage.outputTokens"})) {
    usage["output_tokens"] = *n;
  }
  if (auto n = firstCount(span, {"llm.token_count.total", "llm.usage.total_tokens",
                                 "ai.usage.totalTokens", "tokens.total"})) {
    usage["total_tokens"] = *n;
  }
  json::object input_details;
  if (auto n = firstCount(
          span, {"gen_ai.usage.cache_read.input_tokens",
                 "llm.token_count.prompt_details.cache_read", "ai.usage.cachedInputTokens"})) {
    input_details["cache_read"] = *n;
  }
  if (auto n = firstCount(span, {"gen_ai.usage.cache_creation.input_tokens",
                                 "llm.token_count.prompt_details.cache_write"})) {
    input_details["cache_creation"] = *n;
  }
  if (!input_details.empty()) usage["input_token_details"] = std::move(input_details);
  if (auto n = firstCount(
          span, {"gen_ai.usage.reasoning.output_tokens",
                 "llm.token_count.completion_details.reasoning", "ai.usage.reasoningTokens"})) {
    usage["output_token_details"] = json::object{{"reasoning", *n}};
  }
  if (auto cost = firstCost(span, {"llm.cost.prompt"})) usage["input_cost"] = *cost;
  if (auto cost = firstCost(span, {"llm.cost.completion"})) usage["output_cost"] = *cost;
  if (auto cost = firstCost(span, {"llm.cost.total", "gen_ai.usage.cost"})) {
    usage["total_cost"] = *cost;
  }
  if (!usage.empty()) metadata["usage_metadata"] = std::move(usage);

  // Inputs and outputs.
  run.inputs = content(span,
                       {{"gen_ai.input.messages", "messages"},
                        {"gen_ai.prompt", "input"},
                        {"input.value", "input"},
                        {"ai.prompt.messages", "messages"},
                        {"ai.prompt", "input"},
                        {"traceloop.entity.input", "input"}},
                       {"gen_ai.prompt", "llm.input_messages"})
                   .value_or(json::value(json::object{}));
  if (const json::value* system = attribute(span, "gen_ai.system_instructions")) {
    if (run.inputs->is_object()) run.inputs->get_object()["system"] = maybeJson(*system);
  }
  run.outputs = content(span,
                        {{"gen_ai.output.messages", "messages"},
                         {"gen_ai.completion", "output"},
                         {"output.value", "output"},
                         {"ai.response.text", "output"},
                         {"traceloop.entity.output", "output"}},
                        {"gen_ai.completion", "llm.output_messages"});

  // Status: an ERROR status is the run's error, worded from the exception event when present.
  if (span.status_code == StatusCode::kError) {
    std::string error = span.status_message;
    if (error.empty()) error = exceptionText(span);
    run.error = error.empty() ? std::string("error") : error;
  }

  // Events, as LangSmith writes them: {name, time, kwargs}.
  json::array events;
  for (const json::value& event : span.events) {
    const json::object& e = event.as_object();
    const std::uint64_t nanos = e.at("time_unix_nano").to_number<std::uint64_t>();
    events.push_back(
        json::object{{"name", e.at("name")},
                     {"time", core::formatIso8601Micros(static_cast<std::int64_t>(nanos / 1000))},
                     {"kwargs", e.at("attributes")}});
  }
  if (!events.empty()) run.events = json::value(std::move(events));

  // Tags: OpenInference tag.tags, LangSmith's langsmith.span.tags (a list or comma-separated).
  std::vector<std::string> tags;
  for (std::string_view key : {"tag.tags", "langsmith.span.tags"}) {
    const json::value* value = attribute(span, key);
    if (value == nullptr) continue;
    if (value->is_array()) {
      for (const json::value& tag : value->get_array()) {
        if (tag.is_string() && !tag.get_string().empty()) tags.emplace_back(tag.get_string());
      }
    } else if (value->is_string()) {
      std::string_view text = value->get_string();
      while (!text.empty()) {
        const std::size_t comma = std::min(text.find(','), text.size());
        std::string_view tag = text.substr(0, comma);
        while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
        while (!tag.empty() && tag.back() == ' ') tag.remove_suffix(1);
        if (!tag.empty()) tags.emplace_back(tag);
        text.remove_prefix(std::min(comma + 1, text.size()));
      }
    }
  }
  if (!tags.empty()) run.tags = std::move(tags);

  run.extra = json::value(json::object{{"metadata", std::move(metadata)},
                                       {"runtime", json::object{{"sdk", "opentelemetry"}}}});
  return run;
}

}  // namespace pharos::tracing::otlp
