#include "policy/openai_output.h"

#include <boost/json.hpp>

namespace pharos::policy {

namespace json = boost::json;

namespace {

std::optional<json::object> parseObject(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

}  // namespace

std::optional<std::string> sanitizeChatCompletion(const OutputSanitizer& sanitizer,
                                                  std::string_view body, Redactions* redactions) {
  auto object = parseObject(body);
  if (!object) return std::nullopt;
  auto* choices = object->if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return std::nullopt;
  bool changed = false;
  for (auto& choice : choices->as_array()) {
    auto* message = choice.is_object() ? choice.as_object().if_contains("message") : nullptr;
    if (message == nullptr || !message->is_object()) continue;
    auto* content = message->as_object().if_contains("content");
    if (content == nullptr || !content->is_string()) continue;
    const json::string& text = content->as_string();
    std::string clean = sanitizer.sanitize(std::string_view(text.data(), text.size()), redactions);
    if (clean != std::string_view(text.data(), text.size())) {
      *content = clean;
      changed = true;
    }
  }
  if (!changed) return std::nullopt;
  return json::serialize(*object);
}

std::string ChatStreamSanitizer::feed(std::string_view bytes) {
  std::string out;
  if (done_) {
    out.append(bytes);  // after [DONE] nothing is ours to rewrite
    return out;
  }
  pending_.append(bytes);
  std::size_t event_start = 0;
  std::size_t nl;
  while ((nl = pending_.find('\n', line_start_)) != std::string::npos) {
    std::size_t line_end = nl;
    if (line_end > line_start_ && pending_[line_end - 1] == '\r') --line_end;
    const bool blank = line_end == line_start_;
    line_start_ = nl + 1;
    if (!blank) continue;
    onEvent(std::string_view(pending_).substr(event_start, nl + 1 - event_start), out);
    event_start = nl + 1;
    if (done_) {
      out.append(pending_, event_start);
      pending_.clear();
      line_start_ = 0;
      return out;
    }
  }
  pending_.erase(0, event_start);
  line_start_ -= event_start;
  return out;
}

std::string ChatStreamSanitizer::finish() {
  std::string out;
  if (!pending_.empty()) {
    std::string last = std::move(pending_);
    pending_.clear();
    line_start_ = 0;
    onEvent(last, out);
  }
  if (!done_) flushAll(out, "\n");
  done_ = true;
  return out;
}

Redactions ChatStreamSanitizer::redactions() const {
  Redactions sum = finished_;
  for (const auto& [index, stream] : streams_) sum += stream.redactions();
  return sum;
}

void ChatStreamSanitizer::onEvent(std::string_view raw, std::string& out) {
  // The event's data (data: lines joined by \n) and its other lines (kept when rewritten).
  std::string data, other;
  bool has_data = false;
  std::size_t start = 0;
  while (start < raw.size()) {
    std::size_t end = raw.find('\n', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    start = end + 1;
    if (line.empty()) continue;
    if (line.starts_with("data:")) {
      line.remove_prefix(5);
      if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
      if (has_data) data += '\n';
      data.append(line);
      has_data = true;
    } else {
      other.append(line).append("\n");
    }
  }
  const std::string_view eol = raw.find("\r\n") != std::string_view::npos ? "\r\n" : "\n";
  if (has_data && data == "[DONE]") {
    flushAll(out, eol);
    done_ = true;
    out.append(raw);
    return;
  }
  // Fast path: nothing we rewrite in this event.
  if (!has_data || (data.find("\"content\"") == std::string::npos &&
                    data.find("\"finish_reason\"") == std::string::npos)) {
    out.append(raw);
    return;
  }
  auto object = parseObject(data);
  auto* choices = object ? object->if_contains("choices") : nullptr;
  if (choices == nullptr || !choices->is_array()) {
    out.append(raw);
    return;
  }
  if (auto* id = object->if_contains("id"); id != nullptr && id->is_string()) {
    id_ = std::string(id->as_string());
  }
  if (auto* model = object->if_contains("model"); model != nullptr && model->is_string()) {
    model_ = std::string(model->as_string());
  }
  if (auto* created = object->if_contains("created"); created != nullptr && created->is_int64()) {
    created_ = created->as_int64();
  }
  bool changed = false;
  std::int64_t position = 0;
  for (auto& item : choices->as_array()) {
    const std::int64_t fallback_index = position++;
    if (!item.is_object()) continue;
    auto& choice = item.as_object();
    std::int64_t index = fallback_index;
    if (auto* i = choice.if_contains("index"); i != nullptr && i->is_int64()) index = i->as_int64();
    auto* delta_value = choice.if_contains("delta");
    json::object* delta =
        delta_value != nullptr && delta_value->is_object() ? &delta_value->as_object() : nullptr;
    auto* finish = choice.if_contains("finish_reason");
    const bool finishing = finish != nullptr && !finish->is_null();
    json::value* content = delta != nullptr ? delta->if_contains("content") : nullptr;
    const bool has_text = content != nullptr && content->is_string();
    auto it = streams_.find(index);
    if (!has_text && !(finishing && it != streams_.end())) continue;
    if (it == streams_.end()) it = streams_.emplace(index, sanitizer_.stream()).first;
    std::string text;
    if (has_text) {
      const json::string& original = content->as_string();
      text = it->second.feed(std::string_view(original.data(), original.size()));
      if (text != std::string_view(original.data(), original.size())) changed = true;
    }
    if (finishing) {
      const std::string rest = it->second.finish();
      if (!rest.empty()) {
        text += rest;
        changed = true;
      }
      finished_ += it->second.redactions();
      streams_.erase(it);
    }
    if (changed && delta != nullptr && (has_text || !text.empty())) (*delta)["content"] = text;
    if (changed && delta == nullptr && !text.empty())
      choice["delta"] = json::object{{"content", text}};
  }
  if (!changed) {
    out.append(raw);
    return;
  }
  out.append(other);
  out.append("data: ").append(json::serialize(*object)).append(eol).append(eol);
}

void ChatStreamSanitizer::flushAll(std::string& out, std::string_view eol) {
  json::array choices;
  for (auto& [index, stream] : streams_) {
    std::string rest = stream.finish();
    finished_ += stream.redactions();
    if (rest.empty()) continue;
    choices.push_back(json::object{
        {"index", index}, {"delta", json::object{{"content", rest}}}, {"finish_reason", nullptr}});
  }
  streams_.clear();
  if (choices.empty()) return;
  json::object chunk{{"id", id_}, {"object", "chat.completion.chunk"}};
  if (created_) chunk["created"] = *created_;
  chunk["model"] = model_;
  chunk["choices"] = std::move(choices);
  out.append("data: ").append(json::serialize(chunk)).append(eol).append(eol);
}

}  // namespace pharos::policy
