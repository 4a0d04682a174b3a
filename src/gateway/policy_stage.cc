#include "gateway/policy_stage.h"

#include <fmt/format.h>

#include "gateway/openai_json.h"
#include "policy/openai_output.h"

namespace pharos::gateway {

namespace {

// The policy the request phase chose for the call.
struct CallState {
  const GatewayPolicy* policy = nullptr;
};

// Sanitizes a chat stream's text on its way to the client.
class SanitizeFilter final : public StreamFilter {
 public:
  SanitizeFilter(PolicyStage& stage, Call& call, const policy::OutputSanitizer& sanitizer)
      : stage_(stage), call_(call), sanitizer_(sanitizer) {}
  ~SanitizeFilter() override {
    // A stream that broke off still redacted what it sent.
    if (!counted_) stage_.countRedactions(call_, sanitizer_.redactions());
  }
  void onData(std::string& bytes) override { bytes = sanitizer_.feed(bytes); }
  void onEnd(std::string& tail) override {
    std::string out = tail.empty() ? std::string() : sanitizer_.feed(tail);
    out += sanitizer_.finish();
    tail = std::move(out);
    stage_.countRedactions(call_, sanitizer_.redactions());
    counted_ = true;
  }

 private:
  PolicyStage& stage_;
  Call& call_;
  policy::ChatStreamSanitizer sanitizer_;
  bool counted_ = false;
};

}  // namespace

PolicyStage::PolicyStage(const GatewayConfig& config, http::MetricsRegistry& metrics)
    : config_(config),
      verdicts_(metrics.counter("pharos_gateway_policy_total",
                                "Input policy outcomes by policy and rule (rejected, flagged, "
                                "stripped)",
                                {"policy", "outcome", "rule"})),
      redactions_(metrics.counter("pharos_gateway_redactions_total",
                                  "What the output sanitizer redacted, by detector (ssn, card, "
                                  "email, phone, api_key, code_block)",
                                  {"detector"})) {}

asio::awaitable<std::optional<http::Response>> PolicyStage::onRequest(Call& call) {
  const GatewayPolicy* policy = config_.policyFor(call.record.key_id, call.plan.route);
  if (policy == nullptr) co_return std::nullopt;
  call.stateOf<CallState>(this).policy = policy;
  call.record.policy = policy->name;
  if (!policy->input || call.endpoint != Endpoint::kChat) co_return std::nullopt;
  policy::InputVerdict verdict = policy->input->apply(call.fields, call.record.user_id);
  for (std::string& flag : verdict.flags) {
    const std::string rule = flag.substr(0, flag.find(':'));
    verdicts_.with({policy->name, "flagged", rule}).inc();
    call.record.flags.push_back(std::move(flag));
  }
  if (verdict.rejected) {
    verdicts_.with({policy->name, "rejected", verdict.rule}).inc();
    const std::string message = fmt::format("refused by policy \"{}\", rule {}: {}", policy->name,
                                            verdict.rule, verdict.message);
    call.record.error = message;
    call.record.error_class = "policy_" + verdict.rule;
    co_return openAiError(400, "invalid_request_error", message, "policy_violation", verdict.rule);
  }
  if (verdict.modified) {
    verdicts_.with({policy->name, "stripped", "strip_chars"}).inc();
    call.setBody();
  }
  co_return std::nullopt;
}

void PolicyStage::onAnswer(Call& call, std::string& body) {
  const GatewayPolicy* policy = call.stateOf<CallState>(this).policy;
  if (policy == nullptr || !policy->output || call.endpoint != Endpoint::kChat) return;
  policy::Redactions redactions;
  if (auto sanitized = policy::sanitizeChatCompletion(*policy->output, body, &redactions)) {
    body = std::move(*sanitized);
  }
  countRedactions(call, redactions);
}

std::unique_ptr<StreamFilter> PolicyStage::streamFilter(Call& call) {
  const GatewayPolicy* policy = call.stateOf<CallState>(this).policy;
  if (policy == nullptr || !policy->output || call.endpoint != Endpoint::kChat) return nullptr;
  return std::make_unique<SanitizeFilter>(*this, call, *policy->output);
}

void PolicyStage::countRedactions(Call& call, const policy::Redactions& redactions) {
  if (!redactions.any()) return;
  for (std::size_t i = 0; i < policy::kDetectorCount; ++i) {
    const auto detector = static_cast<policy::Detector>(i);
    if (const std::uint64_t n = redactions.count(detector); n > 0) {
      const std::string name(policy::detectorName(detector));
      redactions_.with({name}).inc(n);
      call.record.redactions[name] += static_cast<unsigned>(n);
    }
  }
  if (redactions.code_blocks > 0) {
    redactions_.with({"code_block"}).inc(redactions.code_blocks);
    call.record.redactions["code_block"] += static_cast<unsigned>(redactions.code_blocks);
  }
}

}  // namespace pharos::gateway
