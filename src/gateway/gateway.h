// The OpenAI-compatible gateway: POST /v1/chat/completions (plain and streamed), POST
// /v1/embeddings and GET /v1/models, routed to the configured upstreams with retries, fallbacks
// and deadlines (dispatch.h), streams relayed chunk by chunk as they arrive, a static last-resort
// answer when a model has one, every call handed to the call sinks (run store, OTLP export) and
// counted in /metrics. Calls pass through a pipeline of stages first (stage.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "gateway/cache_stage.h"
#include "gateway/call_record.h"
#include "gateway/config.h"
#include "gateway/dispatch.h"
#include "gateway/limits_stage.h"
#include "gateway/stage.h"
#include "http/metrics.h"
#include "http/router.h"

namespace pharos::gateway {

struct GatewayOptions {
  std::string default_project = "gateway";
  DispatchLimits limits;
  std::shared_ptr<const economics::PriceTable> prices;  // null: the built-in prices
  // The response cache (cache_stage.h); null: no cache.
  std::shared_ptr<state::CacheStore> cache_store;
  CacheOptions cache;
  // Budgets and rate limits (limits_stage.h); null or nothing limited: no limits stage.
  std::shared_ptr<state::CounterStore> counters;
  LimitsOptions limits_options;
};

class Gateway {
 public:
  // `metrics` and the sinks must outlive the gateway. Calls pass through the stages the options
  // ask for (stage.h) before routing: limits, usage and cost, cache.
  Gateway(GatewayConfig config, GatewayOptions options, http::MetricsRegistry& metrics,
          std::vector<CallSink*> sinks);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void addRoutes(http::Router& router);
  // Closes idle upstream connections; call after the server has stopped, before it is destroyed.
  void shutdown();
  const GatewayConfig& config() const;

 private:
  friend class StreamRelay;
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace pharos::gateway
