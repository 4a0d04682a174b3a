// Tokens and cost of every call. Streams ask the upstream for usage (stream_options.
// include_usage) and the extra usage chunk is taken out again when the client did not ask for it;
// when an upstream reports no usage, Pharos counts the tokens itself (tiktoken's encodings). The
// cost comes from the price table (cached prompt tokens at their own price; a cache hit costs
// nothing) and goes on the call's record and into /metrics by model, key and user.
#pragma once

#include <memory>

#include "economics/pricing.h"
#include "gateway/stage.h"
#include "http/metrics.h"

namespace pharos::gateway {

// The prompt tokens of a chat request as Pharos counts them (OpenAI's per-message accounting),
// counted once per call.
std::int64_t countedPromptTokens(Call& call);

// Usage as an OpenAI response reports it ({"prompt_tokens", "completion_tokens",
// "prompt_tokens_details": {"cached_tokens"}}, or the Responses API's input/output names).
std::optional<CallUsage> usageFromJson(const boost::json::object& usage);

class UsageStage final : public Stage {
 public:
  UsageStage(std::shared_ptr<const economics::PriceTable> prices, http::MetricsRegistry& metrics);

  std::string_view name() const override { return "usage"; }
  asio::awaitable<std::optional<http::Response>> onRequest(Call& call) override;
  void onAnswer(Call& call, std::string& body) override;
  std::unique_ptr<StreamFilter> streamFilter(Call& call) override;
  void onComplete(Call& call) override;

 private:
  std::shared_ptr<const economics::PriceTable> prices_;
  http::CounterFamily& tokens_;
  http::FloatCounterFamily& cost_;
  http::CounterFamily& unpriced_;
};

}  // namespace pharos::gateway
