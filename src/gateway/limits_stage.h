// Cost limits, budgets and rate limits, checked before the upstream is asked. A call's worst case
// is its counted prompt tokens at the input price plus its max_tokens (or the model's output
// limit) at the output price: over max_cost_per_query it is refused with 400; otherwise that
// amount is reserved against the API key's and the end user's budgets for the period (atomically,
// so concurrent calls cannot overspend) and settled to the actual cost once the call is over.
// Requests and tokens per minute per key are a rate limit answered with 429 and Retry-After.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "economics/pricing.h"
#include "gateway/config.h"
#include "gateway/stage.h"
#include "http/metrics.h"
#include "state/counter_store.h"

namespace pharos::gateway {

struct LimitsOptions {
  double max_cost_per_query = 0;  // 0: none
  double key_budget_usd = 0;
  double user_budget_usd = 0;
  std::chrono::milliseconds budget_period{86'400'000};
  unsigned key_rpm = 0;
  unsigned key_tpm = 0;
  unsigned default_max_output_tokens = 4096;
  std::map<std::string, KeyLimits, std::less<>> keys;

  // Whether anything is limited at all (else the stage is not in the pipeline).
  bool any() const;
};

class LimitsStage final : public Stage {
 public:
  LimitsStage(LimitsOptions options, std::shared_ptr<const economics::PriceTable> prices,
              std::shared_ptr<state::CounterStore> counters, http::MetricsRegistry& metrics);

  std::string_view name() const override { return "limits"; }
  asio::awaitable<std::optional<http::Response>> onRequest(Call& call) override;
  void onComplete(Call& call) override;

 private:
  struct Reservation {
    std::string key;
    double amount = 0;
    std::int64_t window_start_ms = 0;
  };
  struct CallState {
    std::vector<Reservation> reservations;
  };
  // Replaces each reservation by `actual` (0: the call is refused or cost nothing). Static, so a
  // settle started when a call completes owns everything it needs.
  static asio::awaitable<void> settle(std::shared_ptr<state::CounterStore> counters,
                                      std::chrono::milliseconds period,
                                      std::vector<Reservation> reservations, double actual);

  LimitsOptions options_;
  std::shared_ptr<const economics::PriceTable> prices_;
  std::shared_ptr<state::CounterStore> counters_;
  http::CounterFamily& refusals_;
};

}  // namespace pharos::gateway
