#include "tracing/store/run_row.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "core/json_text.h"
#include "tracing/json_text.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;

constexpr std::size_t kMaxTextDepth = 32;

const json::object* objectAt(const json::value* value, std::string_view key) {
  if (value == nullptr || !value->is_object()) return nullptr;
  const json::value* child = value->get_object().if_contains(key);
  return child != nullptr && child->is_object() ? &child->get_object() : nullptr;
}

std::optional<double> costAt(const json::object* object, std::string_view key) {
  if (object == nullptr) return std::nullopt;
  const json::value* value = object->if_contains(key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  const double number = value->to_number<double>();
  if (!std::isfinite(number) || number < 0) return std::nullopt;
  return number;
}

// The conversation a run belongs to: LangSmith groups runs into threads by one of these metadata
// keys, in this order.
std::optional<std::string> threadIdOf(const json::object* metadata) {
  if (metadata == nullptr) return std::nullopt;
  for (std::string_view key : {"thread_id", "session_id", "conversation_id"}) {
    const json::value* value = metadata->if_contains(key);
    if (value != nullptr && value->is_string() && !value->get_string().empty()) {
      return std::string(value->get_string());
    }
  }
  return std::nullopt;
}

std::string_view sourceName(FigureSource source) {
  return source == FigureSource::kReported ? "reported" : "computed";
}

void priceRun(RunRow& row, const economics::PriceTable& prices) {
  const RunFields& run = row.fields;
  if (run.run_type != "llm") return;
  // Costs the client reported itself win (usage_metadata.input_cost/output_cost/total_cost).
  const json::value* outputs = run.outputs ? &*run.outputs : nullptr;
  const json::object* metadata = runMetadata(run);
  const json::value* metadata_usage =
      metadata != nullptr ? metadata->if_contains("usage_metadata") : nullptr;
  for (const json::object* usage :
       {objectAt(outputs, "usage_metadata"),
        metadata_usage != nullptr && metadata_usage->is_object() ? &metadata_usage->get_object()
                                                                 : nullptr}) {
    if (usage == nullptr) continue;
    auto prompt = costAt(usage, "input_cost");
    auto completion = costAt(usage, "output_cost");
    auto total = costAt(usage, "total_cost");
    if (!prompt && !completion && !total) continue;
    row.prompt_cost = prompt;
    row.completion_cost = completion;
    row.total_cost =
        total ? total
              : (prompt && completion ? std::optional(*prompt + *completion) : std::nullopt);
    row.figure_sources.append(",\"cost\":\"reported\"");
    return;
  }
  if (!run.model || (!run.prompt_tokens && !run.completion_tokens)) return;
  const auto cost = prices.cost(*run.model, run.prompt_tokens ? run.prompt_tokens->value : 0,
                                run.completion_tokens ? run.completion_tokens->value : 0);
  if (!cost) return;
  row.prompt_cost = cost->prompt;
  row.completion_cost = cost->completion;
  row.total_cost = cost->total();
  row.figure_sources.append(",\"cost\":\"computed\"");
}

std::optional<StoredJson> stored(const std::optional<json::value>& value) {
  if (!value) return std::nullopt;
  return encodeStoredJson(json::serialize(*value));
}

void collectStrings(const json::value& value, std::string& out, std::size_t depth) {
  if (out.size() >= kMaxIndexedTextBytes || depth > kMaxTextDepth) return;
  switch (value.kind()) {
    case json::kind::string:
      out.append(value.get_string().data(), value.get_string().size());
      out.push_back('\n');
      return;
    case json::kind::array:
      for (const json::value& item : value.get_array()) collectStrings(item, out, depth + 1);
      return;
    case json::kind::object:
      for (const auto& item : value.get_object()) collectStrings(item.value(), out, depth + 1);
      return;
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      // Numbers are searchable too (an order number, a user id).
      out.append(json::serialize(value)).push_back('\n');
      return;
    default:
      return;
  }
}

// Cuts at a UTF-8 character boundary so the tokenizer never sees half a character.
void truncateUtf8(std::string& text, std::size_t limit) {
  if (text.size() <= limit) return;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
}

}  // namespace

std::string metadataIndexValue(const json::value& value) {
  if (value.is_string()) return std::string(value.get_string());
  return json::serialize(value);
}

RunRow buildRunRow(RunFields merged, const economics::PriceTable& prices) {
  RunRow row;
  row.fields = std::move(merged);
  const RunFields& run = row.fields;
  row.status = std::string(runStatusName(run.status));
  row.is_root = !run.parent_run_id.has_value();
  const json::object* metadata = runMetadata(run);
  row.thread_id = threadIdOf(metadata);

  std::string sources;
  const auto addSource = [&sources](std::string_view name, const std::optional<TokenFigure>& f) {
    if (!f) return;
    sources += fmt::format(",\"{}\":\"{}\"", name, sourceName(f->source));
  };
  addSource("prompt_tokens", run.prompt_tokens);
  addSource("completion_tokens", run.completion_tokens);
  addSource("total_tokens", run.total_tokens);
  row.figure_sources = std::move(sources);
  priceRun(row, prices);
  if (!row.figure_sources.empty()) row.figure_sources = "{" + row.figure_sources.substr(1) + "}";

  if (run.tags && !run.tags->empty()) {
    json::array tags;
    for (const std::string& tag : *run.tags) tags.emplace_back(tag);
    row.tags_json = json::serialize(tags);
  }
  row.inputs = stored(run.inputs);
  row.outputs = stored(run.outputs);
  row.events = stored(run.events);
  row.extra = stored(run.extra);
  row.serialized = stored(run.serialized);
  row.metadata = indexedMetadata(run);
  return row;
}

std::vector<std::pair<std::string, std::string>> indexedMetadata(const RunFields& run) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::object* metadata = runMetadata(run);
  if (metadata == nullptr) return out;
  for (const auto& item : *metadata) {
    if (out.size() >= kMaxIndexedMetadata) break;
    std::string value = metadataIndexValue(item.value());
    if (value.size() > kMaxIndexedMetadataValueBytes) continue;
    out.emplace_back(std::string(item.key()), std::move(value));
  }
  return out;
}

std::string searchableText(const RunFields& payload) {
  std::string text;
  if (payload.name) text.append(*payload.name).push_back('\n');
  if (payload.error) text.append(*payload.error).push_back('\n');
  if (payload.inputs) collectStrings(*payload.inputs, text, 0);
  if (payload.outputs) collectStrings(*payload.outputs, text, 0);
  truncateUtf8(text, kMaxIndexedTextBytes);
  return text;
}

core::Result<json::value> loadStoredJson(std::string_view bytes, bool compressed) {
  std::string inflated;
  if (compressed) {
    auto text = decompressStoredJson(bytes);
    if (!text) return std::move(text).error();
    inflated = std::move(text).value();
    bytes = inflated;
  }
  boost::system::error_code ec;
  json::value value = parseRunJsonText(bytes, ec);
  if (ec) return core::Error::internal("stored run JSON does not parse: " + ec.message());
  return value;
}

}  // namespace pharos::tracing
