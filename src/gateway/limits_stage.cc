#include "gateway/limits_stage.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "gateway/openai_json.h"
#include "gateway/usage_stage.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

std::optional<std::int64_t> positiveIntegerAt(const json::object& o, std::string_view key) {
  auto n = integerAt(o, key);
  return n && *n > 0 ? n : std::nullopt;
}

std::string money(double usd) {
  return usd >= 0.01 || usd == 0 ? fmt::format("${:.4f}", usd) : fmt::format("${:.6f}", usd);
}

http::Response tooMany(std::string_view type, std::string_view code, const std::string& message,
                       std::chrono::milliseconds retry_after, bool should_retry) {
  http::Response response = openAiError(429, type, message, code);
  const auto ms = std::max<std::int64_t>(retry_after.count(), 1);
  response.header("retry-after", std::to_string((ms + 999) / 1000));
  response.header("retry-after-ms", std::to_string(ms));
  // The openai SDKs retry a 429 on their own unless told not to: a spent budget stays spent.
  if (!should_retry) response.header("x-should-retry", "false");
  return response;
}

}  // namespace

bool LimitsOptions::any() const {
  if (max_cost_per_query > 0 || key_budget_usd > 0 || user_budget_usd > 0 || key_rpm > 0 ||
      key_tpm > 0) {
    return true;
  }
  for (const auto& [id, key] : keys) {
    if (key.budget_usd || key.max_cost_per_query || key.rpm || key.tpm) return true;
  }
  return false;
}

LimitsStage::LimitsStage(LimitsOptions options, std::shared_ptr<const economics::PriceTable> prices,
                         std::shared_ptr<state::CounterStore> counters,
                         http::MetricsRegistry& metrics)
    : options_(std::move(options)),
      prices_(std::move(prices)),
      counters_(std::move(counters)),
      refusals_(metrics.counter("pharos_gateway_limit_refusals_total",
                                "Gateway calls refused by a limit (max_cost_per_query, key_budget, "
                                "user_budget, rpm, tpm, unavailable)",
                                {"limit"})) {}

asio::awaitable<std::optional<http::Response>> LimitsStage::onRequest(Call& call) {
  CallRecord& record = call.record;
  const KeyLimits* key_limits = nullptr;
  if (auto it = options_.keys.find(record.key_id); it != options_.keys.end()) {
    key_limits = &it->second;
  }
  const auto pick = [&](auto KeyLimits::*field, auto fallback) {
    if (key_limits != nullptr && (key_limits->*field)) return *(key_limits->*field);
    return fallback;
  };
  const double max_cost = call.plan.route.max_cost_per_query.value_or(
      pick(&KeyLimits::max_cost_per_query, options_.max_cost_per_query));
  const double key_budget = pick(&KeyLimits::budget_usd, options_.key_budget_usd);
  const double user_budget = record.user_id.empty() ? 0 : options_.user_budget_usd;
  const unsigned rpm = pick(&KeyLimits::rpm, options_.key_rpm);
  const unsigned tpm = pick(&KeyLimits::tpm, options_.key_tpm);
  if (max_cost <= 0 && key_budget <= 0 && user_budget <= 0 && rpm == 0 && tpm == 0) {
    co_return std::nullopt;
  }

  const auto refuse = [&](std::string_view limit, std::string message, http::Response response) {
    refusals_.with({limit}).inc();
    record.error = std::move(message);
    record.error_class = fmt::format("limit_{}", limit);
    return std::optional<http::Response>(std::move(response));
  };
  const auto unavailable = [&](const core::Error& error) {
    std::string message =
        fmt::format("the limits store cannot be reached ({}); try again", error.message);
    http::Response response = openAiError(503, "server_error", message, "limits_unavailable");
    response.header("retry-after", "1");
    return refuse("unavailable", std::move(message), std::move(response));
  };

  // The worst case: every prompt token at the input price, the longest answer allowed.
  const std::string& priced_model =
      call.plan.route.targets.empty() ? record.model : call.plan.route.targets.front().model;
  const economics::ModelPrice* price = prices_->find(priced_model);
  if (price == nullptr) price = prices_->find(record.model);
  const std::int64_t prompt_tokens = countedPromptTokens(call);
  std::optional<std::int64_t> asked_output =
      positiveIntegerAt(call.fields, "max_completion_tokens");
  if (!asked_output) asked_output = positiveIntegerAt(call.fields, "max_tokens");
  std::int64_t output_tokens = 0;
  if (call.endpoint == Endpoint::kChat) {
    output_tokens = asked_output.value_or(price != nullptr && price->max_output_tokens > 0
                                              ? price->max_output_tokens
                                              : options_.default_max_output_tokens);
  }
  std::optional<double> estimate;
  if (price != nullptr) {
    estimate = static_cast<double>(prompt_tokens) * price->input_per_million / 1e6 +
               static_cast<double>(output_tokens) * price->output_per_million / 1e6;
  }

  if (max_cost > 0 && estimate && *estimate > max_cost) {
    std::string message = fmt::format(
        "this request could cost up to {} ({} prompt tokens at {} and {} output tokens{} at {} "
        "per million), above max_cost_per_query of {}; lower max_tokens or shorten the prompt",
        money(*estimate), prompt_tokens, money(price->input_per_million), output_tokens,
        asked_output ? "" : " (the model's limit: the request sets no max_tokens)",
        money(price->output_per_million), money(max_cost));
    http::Response response =
        openAiError(400, "invalid_request_error", message, "cost_limit_exceeded", "max_tokens");
    co_return refuse("max_cost_per_query", std::move(message), std::move(response));
  }

  using namespace std::chrono_literals;
  if (rpm > 0) {
    auto acquire = counters_->acquire("rpm:" + record.key_id, 1, rpm, 60'000ms);
    auto admission = co_await std::move(acquire);
    if (!admission) co_return unavailable(admission.error());
    if (!admission->admitted) {
      std::string message =
          fmt::format("rate limit reached: {} requests per minute for this API key; retry in {} ms",
                      rpm, admission->retry_after.count());
      co_return refuse(
          "rpm", message,
          tooMany("requests", "rate_limit_exceeded", message, admission->retry_after, true));
    }
  }
  if (tpm > 0) {
    const std::int64_t tokens = prompt_tokens + asked_output.value_or(0);
    if (tokens > static_cast<std::int64_t>(tpm)) {
      std::string message =
          fmt::format("this request needs {} tokens, more than this API key's {} tokens per minute",
                      tokens, tpm);
      co_return refuse("tpm", message,
                       openAiError(400, "invalid_request_error", message, "tokens_exceed_tpm"));
    }
    auto acquire =
        counters_->acquire("tpm:" + record.key_id, static_cast<double>(tokens), tpm, 60'000ms);
    auto admission = co_await std::move(acquire);
    if (!admission) co_return unavailable(admission.error());
    if (!admission->admitted) {
      std::string message =
          fmt::format("rate limit reached: {} tokens per minute for this API key; retry in {} ms",
                      tpm, admission->retry_after.count());
      co_return refuse(
          "tpm", message,
          tooMany("tokens", "rate_limit_exceeded", message, admission->retry_after, true));
    }
  }

  if (!estimate) co_return std::nullopt;  // no price: nothing to hold against a budget
  CallState& state = call.stateOf<CallState>(this);
  struct Budget {
    std::string_view limit;
    std::string key;
    double usd;
    std::string_view whose;
  };
  const Budget budgets[] = {
      {"key_budget", "key:" + record.key_id, key_budget, "this API key"},
      {"user_budget", fmt::format("user:{}:{}", record.workspace_name, record.user_id), user_budget,
       "this user"},
  };
  for (const Budget& budget : budgets) {
    if (budget.usd <= 0) continue;
    auto reserve = counters_->reserve(budget.key, *estimate, budget.usd, options_.budget_period);
    auto admission = co_await std::move(reserve);
    if (!admission || !admission->admitted) {
      // What this call already holds goes back before it is refused.
      auto released = settle(counters_, options_.budget_period, std::move(state.reservations), 0);
      co_await std::move(released);
      state.reservations.clear();
      if (!admission) co_return unavailable(admission.error());
      std::string message = fmt::format(
          "budget exceeded: {} has spent {} of {} in this period and this request could cost up "
          "to {}; the period ends in {} s",
          budget.whose, money(admission->used_after), money(budget.usd), money(*estimate),
          (admission->retry_after.count() + 999) / 1000);
      co_return refuse(
          budget.limit, message,
          tooMany("insufficient_quota", "budget_exceeded", message, admission->retry_after, false));
    }
    state.reservations.push_back({budget.key, *estimate, admission->window_start_ms});
  }
  co_return std::nullopt;
}

asio::awaitable<void> LimitsStage::settle(std::shared_ptr<state::CounterStore> counters,
                                          std::chrono::milliseconds period,
                                          std::vector<Reservation> reservations, double actual) {
  for (const Reservation& r : reservations) {
    auto settled = counters->settle(r.key, r.amount, actual, period, r.window_start_ms);
    (void)co_await std::move(settled);
  }
}

void LimitsStage::onComplete(Call& call) {
  CallState& state = call.stateOf<CallState>(this);
  if (state.reservations.empty()) return;
  const double actual = call.record.cost ? call.record.cost->total() : 0;
  asio::co_spawn(call.executor,
                 settle(counters_, options_.budget_period, std::move(state.reservations), actual),
                 asio::detached);
  state.reservations.clear();
}

}  // namespace pharos::gateway
