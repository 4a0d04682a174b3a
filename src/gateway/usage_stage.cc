#include "gateway/usage_stage.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "gateway/openai_json.h"
#include "gateway/token_count.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

std::optional<std::int64_t> countAt(const json::object& o, std::string_view key) {
  auto n = integerAt(o, key);
  return n && *n >= 0 ? n : std::nullopt;
}

// Where a complete event ends: just after the last blank line in `text`, or 0.
std::size_t endOfLastEvent(std::string_view text) {
  const std::size_t lf = text.rfind("\n\n");
  const std::size_t crlf = text.rfind("\r\n\r\n");
  std::size_t end = 0;
  if (lf != std::string_view::npos) end = lf + 2;
  if (crlf != std::string_view::npos) end = std::max(end, crlf + 4);
  return end;
}

// The JSON of an event's data lines ("" for none), as SSE joins them.
std::string eventData(std::string_view event) {
  std::string data;
  bool first = true;
  while (!event.empty()) {
    const std::size_t newline = event.find('\n');
    std::string_view line = event.substr(0, newline);
    event = newline == std::string_view::npos ? std::string_view() : event.substr(newline + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.starts_with("data:")) continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (!first) data.push_back('\n');
    data.append(line);
    first = false;
  }
  return data;
}

// The event carries usage (chunks with "usage":null do not).
bool hasUsageObject(std::string_view text) {
  return hasMemberStartingWith(text, "usage", '{');
}

// Usage as Pharos counts it when the upstream reported none: the prompt, and the answer's text.
CallUsage countedUsage(Call& call, std::string_view completion) {
  CallUsage usage;
  usage.prompt_tokens = countedPromptTokens(call);
  usage.completion_tokens = countTextTokens(
      call.record.upstream_model.empty() ? call.record.model : call.record.upstream_model,
      completion);
  usage.counted = true;
  return usage;
}

// Follows a chat stream for its usage, and takes out the usage-only chunk the client did not ask
// for. Complete events pass at once; only an event still arriving is held.
class UsageFilter final : public StreamFilter {
 public:
  UsageFilter(Call& call, bool strip) : call_(call), strip_(strip) {
    text_.reserve(kTypicalStreamBytes);  // one allocation instead of a string of growths
  }

  void onData(std::string& bytes) override {
    if (!pending_.empty()) {
      pending_.append(bytes);
      bytes.swap(pending_);
      pending_.clear();
    }
    const std::size_t end = endOfLastEvent(bytes);
    pending_.assign(bytes, end);
    bytes.resize(end);
    process(bytes);
  }

  void onEnd(std::string& tail) override {
    std::string last = std::move(pending_);
    pending_.clear();
    process(last);
    tail += last;
    if (!call_.record.usage && call_.record.error_class.empty()) countLocally();
  }

 private:
  void process(std::string& events) {
    if (events.empty()) return;
    if (!call_.record.usage && text_.size() < kMaxTextBytes) text_.append(events);
    if (!hasUsageObject(events)) return;
    std::string kept;
    std::string_view rest = events;
    while (!rest.empty()) {
      std::size_t end = rest.find("\n\n");
      std::size_t crlf = rest.find("\r\n\r\n");
      std::size_t cut = rest.size();
      if (end != std::string_view::npos) cut = end + 2;
      if (crlf != std::string_view::npos && crlf + 4 < cut) cut = crlf + 4;
      const std::string_view event = rest.substr(0, cut);
      rest.remove_prefix(cut);
      if (hasUsageObject(event) && !keepUsageEvent(event)) continue;
      kept.append(event);
    }
    events.swap(kept);
  }

  // Notes the event's usage; false when the event is the usage-only chunk to take out.
  bool keepUsageEvent(std::string_view event) {
    boost::system::error_code ec;
    const json::value chunk = json::parse(eventData(event), ec);
    if (ec || !chunk.is_object()) return true;
    const json::object& object = chunk.get_object();
    const json::value* usage = object.if_contains("usage");
    if (usage != nullptr && usage->is_object())
      call_.record.usage = usageFromJson(usage->get_object());
    const json::value* choices = object.if_contains("choices");
    const bool usage_only =
        choices != nullptr && choices->is_array() && choices->get_array().empty();
    return !(strip_ && usage_only);
  }

  // The upstream reported no usage: count the prompt and the streamed text.
  void countLocally() {
    std::string completion;
    std::string_view rest = text_;
    while (!rest.empty()) {
      const std::size_t cut = rest.find("\n\n");
      const std::string_view event =
          rest.substr(0, cut == std::string_view::npos ? rest.size() : cut);
      rest = cut == std::string_view::npos ? std::string_view() : rest.substr(cut + 2);
      boost::system::error_code ec;
      const json::value chunk = json::parse(eventData(event), ec);
      if (ec || !chunk.is_object()) continue;
      completion += choicesText(chunk.get_object(), "delta");
    }
    call_.record.usage = countedUsage(call_, completion);
  }

  static constexpr std::size_t kMaxTextBytes = 16 * 1024 * 1024;
  static constexpr std::size_t kTypicalStreamBytes = 8 * 1024;
  Call& call_;
  bool strip_;
  std::string pending_;
  std::string text_;  // the events so far, until usage arrives (for counting without it)
};

}  // namespace

std::int64_t countedPromptTokens(Call& call) {
  if (!call.counted_prompt_tokens) {
    call.counted_prompt_tokens =
        countRequestTokens(call.record.model, call.fields, call.endpoint == Endpoint::kChat);
  }
  return *call.counted_prompt_tokens;
}

std::optional<CallUsage> usageFromJson(const json::object& usage) {
  const bool responses_api = usage.contains("input_tokens");
  auto prompt = countAt(usage, responses_api ? "input_tokens" : "prompt_tokens");
  auto completion = countAt(usage, responses_api ? "output_tokens" : "completion_tokens");
  auto total = countAt(usage, "total_tokens");
  if (!prompt && !completion && !total) return std::nullopt;
  CallUsage out;
  out.prompt_tokens = prompt.value_or(0);
  out.completion_tokens =
      completion.value_or(total && prompt && *total >= *prompt ? *total - *prompt : 0);
  if (!prompt && total && completion && *total >= *completion)
    out.prompt_tokens = *total - *completion;
  const json::value* details =
      usage.if_contains(responses_api ? "input_tokens_details" : "prompt_tokens_details");
  if (details != nullptr && details->is_object()) {
    out.cached_prompt_tokens = countAt(details->get_object(), "cached_tokens").value_or(0);
  }
  return out;
}

UsageStage::UsageStage(std::shared_ptr<const economics::PriceTable> prices,
                       http::MetricsRegistry& metrics)
    : prices_(std::move(prices)),
      tokens_(metrics.counter("pharos_gateway_tokens_total",
                              "Tokens of gateway calls answered by an upstream, by model, API key, "
                              "end user and kind (prompt, cached_prompt, completion)",
                              {"model", "key", "user", "kind"})),
      cost_(metrics.floatCounter("pharos_gateway_cost_usd_total",
                                 "What gateway calls cost in USD, by model, API key and end user",
                                 {"model", "key", "user"})),
      unpriced_(metrics.counter("pharos_gateway_unpriced_calls_total",
                                "Gateway calls with tokens but no price for their model",
                                {"model"})) {}

asio::awaitable<std::optional<http::Response>> UsageStage::onRequest(Call& call) {
  if (call.endpoint != Endpoint::kChat || !call.stream) co_return std::nullopt;
  json::value* options = call.fields.if_contains("stream_options");
  if (options != nullptr && options->is_object()) {
    const json::value* include = options->get_object().if_contains("include_usage");
    if (include != nullptr && include->is_bool() && include->get_bool()) co_return std::nullopt;
    options->get_object()["include_usage"] = true;
    call.setBody();
  } else {
    call.fields["stream_options"] = json::object{{"include_usage", true}};
    call.body = withMember(call.body, "stream_options", R"({"include_usage":true})");
  }
  call.strip_stream_usage = true;
  co_return std::nullopt;
}

void UsageStage::onAnswer(Call& call, std::string& body) {
  if (const auto range = findTopLevelValue(body, "usage")) {
    boost::system::error_code ec;
    const json::value usage =
        json::parse(std::string_view(body).substr(range->first, range->second - range->first), ec);
    if (!ec && usage.is_object()) call.record.usage = usageFromJson(usage.get_object());
  }
  if (call.record.usage || call.endpoint != Endpoint::kChat) return;
  // No usage reported: count the prompt and the answer's text.
  boost::system::error_code ec;
  const json::value answer = json::parse(body, ec);
  if (ec || !answer.is_object()) return;
  call.record.usage = countedUsage(call, choicesText(answer.get_object(), "message"));
}

std::unique_ptr<StreamFilter> UsageStage::streamFilter(Call& call) {
  if (call.endpoint != Endpoint::kChat) return nullptr;
  return std::make_unique<UsageFilter>(call, call.strip_stream_usage);
}

void UsageStage::onComplete(Call& call) {
  CallRecord& record = call.record;
  if (!record.usage) return;
  const CallUsage& usage = *record.usage;
  if (record.cache_status == "hit" || record.cache_status == "semantic-hit") {
    record.cost = CallCost{};  // served by Pharos: no upstream tokens were paid for
    return;
  }
  const std::string& model = record.upstream_model.empty() ? record.model : record.upstream_model;
  const std::string& user = record.user_id;
  tokens_.with({record.model, record.key_id, user, "prompt"})
      .inc(static_cast<std::uint64_t>(usage.prompt_tokens));
  tokens_.with({record.model, record.key_id, user, "completion"})
      .inc(static_cast<std::uint64_t>(usage.completion_tokens));
  if (usage.cached_prompt_tokens > 0) {
    tokens_.with({record.model, record.key_id, user, "cached_prompt"})
        .inc(static_cast<std::uint64_t>(usage.cached_prompt_tokens));
  }
  const auto cost = prices_->cost(model, usage.prompt_tokens, usage.completion_tokens,
                                  usage.cached_prompt_tokens);
  if (!cost) {
    unpriced_.with({record.model}).inc();
    return;
  }
  record.cost = CallCost{cost->prompt, cost->completion};
  cost_.with({record.model, record.key_id, user}).add(cost->total());
}

}  // namespace pharos::gateway
