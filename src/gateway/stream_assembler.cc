#include "gateway/stream_assembler.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "gateway/openai_json.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

// `"finish_reason"` followed by a string value: a choice finished (without parsing the chunk).
bool hasFinishReason(std::string_view data) {
  return hasMemberStartingWith(data, "finish_reason", '"');
}

std::string_view stringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

}  // namespace

void StreamAssembler::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    const std::size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      line_.append(bytes);
      return;
    }
    if (line_.empty()) {
      onLine(bytes.substr(0, newline));
    } else {
      line_.append(bytes.substr(0, newline));
      onLine(line_);
      line_.clear();
    }
    bytes.remove_prefix(newline + 1);
  }
}

void StreamAssembler::onLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty()) {
    if (has_data_) onEvent(data_);
    data_.clear();
    has_data_ = false;
    return;
  }
  if (!line.starts_with("data:")) return;  // event:, id:, retry: and comments carry nothing here
  line.remove_prefix(5);
  if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
  if (has_data_) data_.push_back('\n');
  data_.append(line);
  has_data_ = true;
}

void StreamAssembler::onEvent(std::string_view data) {
  ++events_;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  if (!assemble_) {
    if (hasFinishReason(data)) finished_ = true;
    // Only a chunk that mentions "error" can be an error event; only those are parsed.
    if (data.find("\"error\"") == std::string_view::npos) return;
  }
  boost::system::error_code ec;
  json::value event = json::parse(data, ec);
  if (ec || !event.is_object()) return;
  const json::object& chunk = event.get_object();
  if (const json::value* error = chunk.if_contains("error");
      error != nullptr && !error->is_null()) {
    error_ = true;
    if (error->is_object()) error_body_ = error->get_object();
    return;
  }
  if (id_.empty()) id_ = std::string(stringAt(chunk, "id"));
  if (model_.empty()) model_ = std::string(stringAt(chunk, "model"));
  if (!created_) created_ = integerAt(chunk, "created");
  if (const json::value* usage = chunk.if_contains("usage");
      usage != nullptr && usage->is_object()) {
    usage_ = usage->get_object();
  }
  const json::value* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (const json::value& item : choices->get_array()) {
    if (!item.is_object()) continue;
    const json::object& c = item.get_object();
    Choice& choice = choices_[integerAt(c, "index").value_or(0)];
    if (const json::value* reason = c.if_contains("finish_reason");
        reason != nullptr && reason->is_string()) {
      choice.finish_reason = std::string(reason->get_string());
      finished_ = true;
    }
    const json::value* delta = c.if_contains("delta");
    if (delta == nullptr || !delta->is_object()) continue;
    const json::object& d = delta->get_object();
    if (auto role = stringAt(d, "role"); !role.empty()) choice.role = std::string(role);
    if (const json::value* content = d.if_contains("content");
        content != nullptr && content->is_string()) {
      choice.content.append(content->get_string());
      choice.has_content = true;
    }
    if (const json::value* calls = d.if_contains("tool_calls");
        calls != nullptr && calls->is_array()) {
      for (const json::value& call_value : calls->get_array()) {
        if (!call_value.is_object()) continue;
        const json::object& call = call_value.get_object();
        ToolCall& tool = choice.tool_calls[integerAt(call, "index").value_or(0)];
        if (auto id = stringAt(call, "id"); !id.empty()) tool.id = std::string(id);
        if (auto type = stringAt(call, "type"); !type.empty()) tool.type = std::string(type);
        if (const json::value* fn = call.if_contains("function");
            fn != nullptr && fn->is_object()) {
          if (auto name = stringAt(fn->get_object(), "name"); !name.empty()) {
            tool.name.append(name);
          }
          tool.arguments.append(stringAt(fn->get_object(), "arguments"));
        }
      }
    }
  }
}

json::object StreamAssembler::assembled() const {
  json::object out;
  out["id"] = id_;
  out["object"] = "chat.completion";
  if (created_) out["created"] = *created_;
  out["model"] = model_;
  json::array choices;
  for (const auto& [index, choice] : choices_) {
    json::object message;
    message["role"] = choice.role.empty() ? "assistant" : choice.role;
    message["content"] = choice.has_content ? json::value(choice.content) : json::value(nullptr);
    if (!choice.tool_calls.empty()) {
      json::array calls;
      for (const auto& [call_index, call] : choice.tool_calls) {
        json::object function{{"name", call.name}, {"arguments", call.arguments}};
        calls.push_back(json::object{{"id", call.id},
                                     {"type", call.type.empty() ? "function" : call.type},
                                     {"function", std::move(function)}});
      }
      message["tool_calls"] = std::move(calls);
    }
    json::object c{{"index", index}, {"message", std::move(message)}};
    c["finish_reason"] =
        choice.finish_reason ? json::value(*choice.finish_reason) : json::value(nullptr);
    choices.push_back(std::move(c));
  }
  out["choices"] = std::move(choices);
  if (usage_) out["usage"] = *usage_;
  if (error_body_) out["error"] = *error_body_;
  return out;
}

}  // namespace pharos::gateway
