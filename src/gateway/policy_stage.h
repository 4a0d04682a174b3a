// The security practices of the seed at the gateway: a call's input is checked against its
// policy (message schema and sizes, the user id's format, characters stripped or refused, prompt
// injection phrases flagged or refused; a refusal is a 400 naming the rule) and the answer's text
// is sanitized (SSNs, card numbers, emails, phone numbers and secrets redacted, forbidden code
// blocks removed), streams included, however their chunks split a match. Which policy applies:
// the API key's, else the model's, else gateway.policy.
#pragma once

#include "gateway/config.h"
#include "gateway/stage.h"
#include "http/metrics.h"

namespace pharos::gateway {

class PolicyStage final : public Stage {
 public:
  PolicyStage(const GatewayConfig& config, http::MetricsRegistry& metrics);

  std::string_view name() const override { return "policy"; }
  asio::awaitable<std::optional<http::Response>> onRequest(Call& call) override;
  void onAnswer(Call& call, std::string& body) override;
  std::unique_ptr<StreamFilter> streamFilter(Call& call) override;

  // Counts what the sanitizer redacted for a call.
  void countRedactions(Call& call, const policy::Redactions& redactions);

 private:
  const GatewayConfig& config_;
  http::CounterFamily& verdicts_;
  http::CounterFamily& redactions_;
};

}  // namespace pharos::gateway
