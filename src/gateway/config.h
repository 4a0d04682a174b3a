// The gateway's routing table, built once at start from [gateway.providers.NAME] and
// [gateway.models."NAME"]: providers (OpenAI-compatible upstreams), and for each model name the
// ordered targets it may be served by and how hard to try each (retries, backoff, timeouts, which
// failures move on to the next target, a last-resort static answer).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/secret.h"
#include "core/settings.h"
#include "http/client.h"
#include "policy/input_validation.h"
#include "policy/output_sanitizer.h"

namespace pharos::gateway {

// Why an upstream attempt failed; retries and fallbacks are configured per class.
enum class ErrorClass : std::uint8_t {
  kRateLimit,    // 429
  kServerError,  // 5xx
  kTimeout,      // no answer (or no first byte) within the attempt's time
  kConnection,   // connect, TLS, reset, closed early
  kMalformed,    // a 2xx whose body is not what the API promises
  kClientError,  // other 4xx: the request itself is wrong; retrying cannot help
};
inline constexpr std::size_t kErrorClassCount = 6;
std::string_view errorClassName(ErrorClass error_class);  // "rate_limit", ...
std::optional<ErrorClass> parseErrorClass(std::string_view name);

class ErrorClassSet {
 public:
  constexpr ErrorClassSet() = default;
  constexpr ErrorClassSet(std::initializer_list<ErrorClass> classes) {
    for (ErrorClass c : classes) add(c);
  }
  constexpr void add(ErrorClass c) { bits_ |= 1u << static_cast<unsigned>(c); }
  constexpr bool contains(ErrorClass c) const { return (bits_ >> static_cast<unsigned>(c)) & 1u; }
  std::string toString() const;  // "rate_limit, server_error"

 private:
  std::uint32_t bits_ = 0;
};

// Exponential backoff as tenacity's wait_exponential: before retry n (n = 1 after the first
// failure) wait clamp(multiplier * 2^(n-1), min_wait, max_wait), plus up to `jitter` at random.
struct RetryPolicy {
  unsigned attempts = 3;  // per target, the first try included
  double multiplier = 0.5;
  double min_wait_s = 0.5;
  double max_wait_s = 10;
  double jitter_s = 0;  // none unless asked for, so a policy means exactly what it says

  // random01 in [0, 1).
  std::chrono::microseconds waitBeforeRetry(unsigned retry_number, double random01) const;
};

struct Provider {
  std::string name;
  http::Origin origin;
  core::Secret api_key;  // from api_key_env; empty: no Authorization header
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers on every call
  std::shared_ptr<http::ClientPool> pool;  // its own, so TLS options are per provider
};

struct Target {
  const Provider* provider = nullptr;
  std::string model;  // the upstream's name for it
  std::string label;  // "provider/model"
};

struct ModelRoute {
  std::string name;
  std::vector<Target> targets;
  RetryPolicy retry;
  std::chrono::milliseconds attempt_timeout{60'000};
  std::chrono::milliseconds total_timeout{300'000};
  std::chrono::milliseconds first_token_timeout{30'000};
  ErrorClassSet retry_on{ErrorClass::kRateLimit, ErrorClass::kServerError, ErrorClass::kTimeout,
                         ErrorClass::kConnection};
  ErrorClassSet fallback_on{ErrorClass::kRateLimit, ErrorClass::kServerError, ErrorClass::kTimeout,
                            ErrorClass::kConnection, ErrorClass::kMalformed};
  std::optional<std::string> static_response;
  std::optional<double> max_cost_per_query;  // USD, over [limits] and the key's
  std::string policy;                        // [gateway.policies.NAME]; "": the key's or default
  bool cache = true;                         // false: never cached, whatever [cache] says
};

// [gateway.policies.NAME]: what calls may ask (input) and what answers may say (output).
struct GatewayPolicy {
  std::string name;
  std::optional<policy::InputValidator> input;
  std::shared_ptr<const policy::OutputSanitizer> output;  // null: answers pass as they are
};

// [gateway.keys."KEY_ID"]: what one API key may do, over the [limits] defaults.
struct KeyLimits {
  std::optional<double> budget_usd;
  std::optional<double> max_cost_per_query;
  std::optional<unsigned> rpm;
  std::optional<unsigned> tpm;
  std::string policy;  // [gateway.policies.NAME] for this key's calls
};

class GatewayConfig {
 public:
  // Validates the gateway tables; throws core::SettingsError naming the key, file and line.
  // `environment` supplies the api_key_env variables.
  static GatewayConfig fromSettings(const core::GatewaySettings& settings,
                                    const std::map<std::string, std::string>& environment);

  // The configured route for a model name; else, for "provider/model" with a known provider, a
  // route straight to it with default policies; else nullopt.
  std::optional<ModelRoute> route(std::string_view model) const;
  const std::map<std::string, ModelRoute>& models() const { return models_; }
  const std::map<std::string, std::unique_ptr<Provider>>& providers() const { return providers_; }
  const std::map<std::string, KeyLimits, std::less<>>& keys() const { return keys_; }
  // The policy of a call: its key's, else its model's, else the default (gateway.policy); null
  // when none applies.
  const GatewayPolicy* policyFor(std::string_view key_id, const ModelRoute& route) const;
  bool hasPolicies() const { return !policies_.empty(); }
  bool empty() const { return providers_.empty(); }

 private:
  std::map<std::string, std::unique_ptr<Provider>> providers_;  // stable addresses
  std::map<std::string, ModelRoute> models_;
  std::map<std::string, KeyLimits, std::less<>> keys_;
  std::map<std::string, GatewayPolicy, std::less<>> policies_;
  std::string default_policy_;
};

}  // namespace pharos::gateway
