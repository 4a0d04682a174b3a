#include "gateway/gateway.h"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

#include "core/json_text.h"
#include "gateway/openai_json.h"
#include "gateway/policy_stage.h"
#include "gateway/stream_assembler.h"
#include "gateway/usage_stage.h"
#include "http/sse.h"

namespace pharos::gateway {

namespace json = boost::json;

namespace {

std::string_view endpointName(Endpoint endpoint) {
  return endpoint == Endpoint::kChat ? "chat.completions" : "embeddings";
}
std::string_view endpointPath(Endpoint endpoint) {
  return endpoint == Endpoint::kChat ? "/chat/completions" : "/embeddings";
}

double millisecondsOf(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

std::string formatMs(double ms) {
  return fmt::format("{:.3f}", std::max(ms, 0.0));
}

// x-pharos-* overrides of the route's policy. Errors name the header.
core::Status applyOverrides(const http::Request& request, CallPlan& plan) {
  const auto number = [&](std::string_view header, std::int64_t min,
                          std::int64_t max) -> core::Result<std::optional<std::int64_t>> {
    auto value = request.header(header);
    if (!value) return std::optional<std::int64_t>{};
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
    if (ec != std::errc{} || end != value->data() + value->size() || n < min || n > max) {
      return core::Error::invalidArgument(fmt::format(
          "header {} must be a whole number from {} to {}, got \"{}\"", header, min, max, *value));
    }
    return std::optional<std::int64_t>{n};
  };
  ModelRoute& route = plan.route;
  constexpr std::int64_t kDay = 86'400'000;
  auto attempts = number("x-pharos-retry-attempts", 1, 100);
  if (!attempts) return attempts.error();
  if (*attempts) route.retry.attempts = static_cast<unsigned>(**attempts);
  struct MsOverride {
    std::string_view header;
    std::chrono::milliseconds* field;
  };
  for (const MsOverride& o :
       {MsOverride{"x-pharos-attempt-timeout-ms", &route.attempt_timeout},
        MsOverride{"x-pharos-total-timeout-ms", &route.total_timeout},
        MsOverride{"x-pharos-first-token-timeout-ms", &route.first_token_timeout}}) {
    auto ms = number(o.header, 1, kDay);
    if (!ms) return ms.error();
    if (*ms) *o.field = std::chrono::milliseconds(**ms);
  }
  auto min_wait = number("x-pharos-retry-min-wait-ms", 0, kDay);
  if (!min_wait) return min_wait.error();
  if (*min_wait) route.retry.min_wait_s = static_cast<double>(**min_wait) / 1000;
  auto max_wait = number("x-pharos-retry-max-wait-ms", 0, kDay);
  if (!max_wait) return max_wait.error();
  if (*max_wait) route.retry.max_wait_s = static_cast<double>(**max_wait) / 1000;
  if (route.retry.max_wait_s < route.retry.min_wait_s)
    route.retry.max_wait_s = route.retry.min_wait_s;
  if (auto fallback = request.header("x-pharos-fallback")) {
    if (*fallback == "off" || *fallback == "false" || *fallback == "0") {
      plan.fallback = false;
    } else if (*fallback != "on" && *fallback != "true" && *fallback != "1") {
      return core::Error::invalidArgument(
          fmt::format("header x-pharos-fallback must be on or off, got \"{}\"", *fallback));
    }
  }
  return {};
}

std::string projectFor(const http::Request& request, const std::string& default_project) {
  for (std::string_view header : {"x-pharos-project", "langsmith-project"}) {
    if (auto value = request.header(header); value && !value->empty()) return std::string(*value);
  }
  // The LangSmith SDKs put the project in W3C baggage next to langsmith-trace.
  if (auto baggage = request.header("baggage")) {
    std::string_view rest = *baggage;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      if (item.starts_with("langsmith-project=") && item.size() > 18) {
        return std::string(item.substr(18));
      }
    }
  }
  return default_project;
}

std::string errorEvent(std::string_view message, std::string_view code) {
  json::object error{
      {"message", message}, {"type", "upstream_error"}, {"param", nullptr}, {"code", code}};
  return http::formatSseEvent(json::serialize(json::object{{"error", std::move(error)}}));
}

}  // namespace

struct Gateway::Impl : std::enable_shared_from_this<Gateway::Impl> {
  Impl(GatewayConfig c, GatewayOptions o, http::MetricsRegistry& metrics, std::vector<CallSink*> s)
      : config(std::move(c)),
        options(std::move(o)),
        dispatcher(options.limits),
        sinks(std::move(s)),
        requests(metrics.counter("pharos_gateway_requests_total",
                                 "Gateway calls by endpoint, model and outcome (success, error, "
                                 "static, cancelled)",
                                 {"endpoint", "model", "outcome"})),
        errors(metrics.counter("pharos_gateway_errors_total",
                               "Gateway calls that failed, by the class of the last failure",
                               {"model", "class"})),
        attempts(metrics.counter("pharos_gateway_attempts_total",
                                 "Upstream attempts by target and result (ok or error class)",
                                 {"target", "result"})),
        fallbacks(metrics.counter("pharos_gateway_fallbacks_total",
                                  "Times a call moved on to its next target", {"model"})),
        upstream_latency(metrics.histogram("pharos_gateway_upstream_latency_seconds",
                                           "Duration of each upstream attempt (plain calls: the "
                                           "whole response; streams: until the first bytes)",
                                           {"target"})),
        overhead(metrics.histogram(
            "pharos_gateway_overhead_seconds",
            "Time a call spent in the gateway itself, not waiting for upstreams", {},
            {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1})),
        ttft(metrics.histogram("pharos_gateway_time_to_first_token_seconds",
                               "Streams: time from the request to the first bytes sent to the "
                               "client",
                               {"model"})) {}

  GatewayConfig config;
  GatewayOptions options;
  Dispatcher dispatcher;
  std::vector<CallSink*> sinks;
  std::vector<std::unique_ptr<Stage>> stages;
  http::CounterFamily& requests;
  http::CounterFamily& errors;
  http::CounterFamily& attempts;
  http::CounterFamily& fallbacks;
  http::HistogramFamily& upstream_latency;
  http::HistogramFamily& overhead;
  http::HistogramFamily& ttft;

  asio::awaitable<http::Response> call(http::Request& request, Endpoint endpoint);
  http::Response models() const;
  http::Response staticAnswer(const std::string& model, const std::string& text, bool stream) const;

  // The pipeline, in request order: the input policy first (nothing else sees a refused or
  // unstripped prompt; its sanitizer, last on the way back, sees what every other stage passes
  // on), then limits (a refused call costs nothing further), then
  // usage (it must see what the cache serves to price it at zero), then the cache, nearest the
  // upstream, so it stores the upstream's own bytes.
  void buildStages(http::MetricsRegistry& metrics) {
    if (config.hasPolicies()) stages.push_back(std::make_unique<PolicyStage>(config, metrics));
    if (!options.prices)
      options.prices = std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn());
    options.limits_options.keys = config.keys();
    bool model_limits = false;
    for (const auto& [name, route] : config.models())
      model_limits |= route.max_cost_per_query.has_value();
    if (options.counters && (options.limits_options.any() || model_limits)) {
      stages.push_back(std::make_unique<LimitsStage>(options.limits_options, options.prices,
                                                     options.counters, metrics));
    }
    stages.push_back(std::make_unique<UsageStage>(options.prices, metrics));
    if (options.cache_store) {
      Embedder embedder = [this](Call& call, const std::string& text) { return embed(call, text); };
      stages.push_back(std::make_unique<CacheStage>(options.cache, options.cache_store,
                                                    std::move(embedder), metrics));
    }
  }

  asio::awaitable<core::Result<std::vector<float>>> embed(Call& call, const std::string& text);

  // The call is over: the stages that saw it settle (in reverse order), then it is counted and
  // handed to the sinks.
  void complete(Call& call, std::size_t entered, std::string_view outcome) {
    for (std::size_t i = entered; i-- > 0;) stages[i]->onComplete(call);
    CallRecord& record = call.record;
    for (const AttemptRecord& attempt : record.attempt_log) {
      attempts.with({attempt.target, attempt.error ? errorClassName(*attempt.error) : "ok"}).inc();
      upstream_latency.with({attempt.target}).observe(attempt.seconds);
    }
    if (record.fallbacks > 0) fallbacks.with({record.model}).inc(record.fallbacks);
    requests.with({record.endpoint, record.model, outcome}).inc();
    if (!record.error_class.empty()) errors.with({record.model, record.error_class}).inc();
    overhead.with({}).observe(record.overhead_ms / 1000);
    if (record.ttft_seconds) ttft.with({record.model}).observe(*record.ttft_seconds);
    if (sinks.empty()) return;
    std::vector<CallRecord> children = std::move(record.children);
    auto shared = std::make_shared<const CallRecord>(std::move(record));
    for (CallSink* sink : sinks) sink->record(shared);
    for (CallRecord& child : children) {
      auto shared_child = std::make_shared<const CallRecord>(std::move(child));
      for (CallSink* sink : sinks) sink->record(shared_child);
    }
  }

  // The filters of a successful stream, nearest the upstream first.
  std::vector<std::unique_ptr<StreamFilter>> streamFilters(Call& call, std::size_t entered) {
    std::vector<std::unique_ptr<StreamFilter>> filters;
    for (std::size_t i = entered; i-- > 0;) {
      if (auto filter = stages[i]->streamFilter(call)) filters.push_back(std::move(filter));
    }
    return filters;
  }
};

// Passes an event stream to the client as it arrives, through the stages' filters: from the
// upstream (owning the exchange meanwhile) or from an answer a stage held.
class StreamRelay {
 public:
  StreamRelay(std::shared_ptr<Gateway::Impl> gateway, std::shared_ptr<CallControl> control,
              std::shared_ptr<Call> call, std::size_t entered, std::optional<DispatchResult> result,
              std::string first_bytes, std::chrono::milliseconds idle_timeout)
      : gateway_(std::move(gateway)),
        control_(std::move(control)),
        call_(std::move(call)),
        entered_(entered),
        result_(std::move(result)),
        first_bytes_(std::move(first_bytes)),
        idle_timeout_(idle_timeout),
        filters_(gateway_->streamFilters(*call_, entered_)) {}

  asio::awaitable<void> run(http::StreamWriter& out) {
    CallRecord& record = call_->record;
    // The message is assembled only when someone records it.
    StreamAssembler assembler(!gateway_->sinks.empty());
    bool client_ok = co_await pass(out, assembler, first_bytes_);
    std::optional<std::string> failure;
    bool ended = result_ == std::nullopt;  // a held answer is whole
    while (!ended && client_ok && !control_->cancelled()) {
      http::ClientExchange& exchange = *result_->exchange;
      const Clock::time_point deadline = std::min(result_->deadline, Clock::now() + idle_timeout_);
      control_->attach(&exchange);
      auto piece = co_await exchange.readSome(deadline);
      control_->attach(static_cast<http::ClientExchange*>(nullptr));
      if (!piece) {
        if (piece.error().code != core::ErrorCode::kCancelled) {
          failure = piece.error().code == core::ErrorCode::kTimeout
                        ? fmt::format("{} stopped sending the stream (no data within {} ms)",
                                      record.target, idle_timeout_.count())
                        : fmt::format("{} broke off the stream: {}", record.target,
                                      piece.error().message);
        }
        break;
      }
      if (piece->empty()) {
        if (!upstream_state_.sawDone() && !upstream_state_.sawFinish() &&
            !upstream_state_.sawError()) {
          failure = fmt::format("{} ended the stream before it was complete", record.target);
        }
        ended = true;
        break;
      }
      std::string bytes(*piece);
      client_ok = co_await pass(out, assembler, bytes);
    }
    if (ended && failure == std::nullopt && client_ok && !control_->cancelled()) {
      // Whatever the filters still hold goes out now, each filter's tail through the next ones.
      std::string tail;
      for (auto& filter : filters_) {
        if (!tail.empty()) filter->onData(tail);
        filter->onEnd(tail);
      }
      if (!tail.empty()) {
        assembler.feed(tail);
        client_ok = co_await out.write(tail);
      }
    }
    std::string outcome = "success";
    if (!client_ok || control_->cancelled()) {
      if (result_) result_->exchange->cancel();  // the client is gone: stop the upstream
      record.error = "the client disconnected before the stream ended";
      record.error_class = "cancelled";
      record.status = 499;
      outcome = "cancelled";
    } else if (failure) {
      // Never a normal finish: the client's SDK raises on an error event.
      const std::string event = errorEvent(*failure, "stream_interrupted");  // named: GCC 12
      (void)co_await out.write(event);
      record.error = *failure;
      record.error_class = "stream_interrupted";
      outcome = "error";
    } else if (upstream_state_.sawError()) {
      record.error = fmt::format("{} sent an error event in the stream", record.target);
      record.error_class = "upstream_error_event";
      outcome = "error";
    }
    record.end = std::chrono::system_clock::now();
    record.response_body = json::serialize(assembler.assembled());
    gateway_->complete(*call_, entered_, outcome);
  }

 private:
  // One piece of the stream through the filters (which may change it) to the client. False once
  // the client is gone. By reference: GCC 12 mishandles temporaries in co_await expressions.
  asio::awaitable<bool> pass(http::StreamWriter& out, StreamAssembler& assembler,
                             std::string& bytes) {
    upstream_state_.feed(bytes);
    for (auto& filter : filters_) {
      if (bytes.empty()) break;
      filter->onData(bytes);
    }
    if (bytes.empty()) co_return true;
    const bool ok = co_await out.write(bytes);
    if (!call_->record.ttft_seconds) {
      call_->record.ttft_seconds =
          std::chrono::duration<double>(Clock::now() - call_->started).count();
    }
    assembler.feed(bytes);
    co_return ok;
  }

  std::shared_ptr<Gateway::Impl> gateway_;
  std::shared_ptr<CallControl> control_;
  std::shared_ptr<Call> call_;
  std::size_t entered_;
  std::optional<DispatchResult> result_;  // nullopt: the stream is first_bytes_, held by a stage
  std::string first_bytes_;
  std::chrono::milliseconds idle_timeout_;
  std::vector<std::unique_ptr<StreamFilter>> filters_;
  StreamAssembler upstream_state_{false};  // [DONE], finish and error as the upstream sent them
};

asio::awaitable<http::Response> Gateway::Impl::call(http::Request& request, Endpoint endpoint) {
  auto call = std::make_shared<Call>();
  call->started = Clock::now();
  call->executor = co_await asio::this_coro::executor;
  call->endpoint = endpoint;
  call->request = &request;
  CallRecord& record = call->record;
  record.start = std::chrono::system_clock::now();
  record.endpoint = std::string(endpointName(endpoint));

  const std::string& body = request.body();
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec) {
    co_return openAiError(400, "invalid_request_error",
                          fmt::format("the request body is not valid JSON: {}", ec.message()));
  }
  if (!parsed.is_object()) {
    co_return openAiError(400, "invalid_request_error", "the request body must be a JSON object");
  }
  call->fields = std::move(parsed.get_object());
  const json::object& fields = call->fields;
  const json::value* model_value = fields.if_contains("model");
  if (model_value == nullptr || !model_value->is_string() || model_value->get_string().empty()) {
    co_return openAiError(400, "invalid_request_error",
                          "you must provide a model parameter (a non-empty string)",
                          "missing_required_parameter", "model");
  }
  record.model = std::string(model_value->get_string());
  bool stream = false;
  if (endpoint == Endpoint::kChat) {
    const json::value* messages = fields.if_contains("messages");
    if (messages == nullptr || !messages->is_array()) {
      co_return openAiError(400, "invalid_request_error", "'messages' must be an array",
                            "invalid_type", "messages");
    }
    if (const json::value* s = fields.if_contains("stream"); s != nullptr && !s->is_null()) {
      if (!s->is_bool()) {
        co_return openAiError(400, "invalid_request_error", "'stream' must be a boolean",
                              "invalid_type", "stream");
      }
      stream = s->get_bool();
    }
  } else if (fields.if_contains("input") == nullptr) {
    co_return openAiError(400, "invalid_request_error", "you must provide an input parameter",
                          "missing_required_parameter", "input");
  }

  std::optional<ModelRoute> route = config.route(record.model);
  if (!route) {
    std::string known;
    for (const auto& [name, _] : config.models()) known += (known.empty() ? "" : ", ") + name;
    co_return openAiError(
        404, "invalid_request_error",
        fmt::format("The model `{}` does not exist in this gateway (configured models: {}; or "
                    "name a target as provider/model)",
                    record.model, known.empty() ? "none" : known),
        "model_not_found", "model");
  }
  call->plan = CallPlan{std::move(*route)};
  CallPlan& plan = call->plan;
  if (auto applied = applyOverrides(request, plan); !applied) {
    co_return openAiError(400, "invalid_request_error", applied.error().message);
  }

  record.workspace_id = request.identity().workspace_id;
  record.workspace_name = request.identity().workspace_name;
  record.key_id = request.identity().key_id;
  if (const json::value* user = fields.if_contains("user"); user != nullptr && user->is_string()) {
    record.user_id = std::string(user->get_string());
  } else if (auto header = request.header("x-pharos-user")) {
    record.user_id = std::string(*header);
  }
  record.project = projectFor(request, options.default_project);
  record.link = traceLinkFor(request, record.start);
  record.stream = stream;
  call->stream = stream;
  call->body = body;
  if (!sinks.empty()) record.request_body = body;

  for (CallSink* sink : sinks) sink->received(record);

  const Clock::time_point started = call->started;
  const auto decorate = [&](http::Response& response, const DispatchResult* result) {
    const Clock::duration upstream_time =
        result != nullptr ? result->upstream_time : Clock::duration{};
    record.overhead_ms = millisecondsOf(Clock::now() - started - upstream_time);
    response.header("x-pharos-attempts", std::to_string(record.attempts));
    if (!record.target.empty()) response.header("x-pharos-target", record.target);
    response.header("x-pharos-overhead-ms", formatMs(record.overhead_ms));
    for (const auto& [name, value] : call->response_headers) response.header(name, value);
  };

  // The request phase: each stage may refuse the call or answer it from what it holds.
  std::size_t entered = 0;
  while (entered < stages.size()) {
    Stage& stage = *stages[entered++];
    std::optional<http::Response> refusal = co_await stage.onRequest(*call);
    if (refusal) {
      http::Response response = std::move(*refusal);
      call->request = nullptr;
      decorate(response, nullptr);
      record.status = response.status;
      if (record.error_class.empty()) record.error_class = std::string(stage.name());
      if (!record.error) record.error = fmt::format("refused by the {} stage", stage.name());
      record.response_body = response.body;
      record.end = std::chrono::system_clock::now();
      complete(*call, entered, "refused");
      co_return response;
    }
    if (call->stored_answer) break;
  }
  call->request = nullptr;

  if (call->stored_answer) {
    StoredAnswer& answer = *call->stored_answer;
    record.status = 200;
    if (answer.stream) {
      http::Response response = http::Response::eventStream(nullptr);
      decorate(response, nullptr);
      std::string events = std::move(answer.body);
      auto relay = std::make_shared<StreamRelay>(
          shared_from_this(), std::make_shared<CallControl>(), call, entered, std::nullopt,
          std::move(events), plan.route.attempt_timeout);
      response.stream = [relay](http::StreamWriter& out) { return relay->run(out); };
      co_return response;
    }
    http::Response response;
    response.status = 200;
    response.content_type = answer.content_type;
    response.body = std::move(answer.body);
    for (std::size_t i = entered; i-- > 0;) stages[i]->onAnswer(*call, response.body);
    decorate(response, nullptr);
    if (!sinks.empty()) record.response_body = response.body;
    record.end = std::chrono::system_clock::now();
    complete(*call, entered, "success");
    co_return response;
  }

  auto control = std::make_shared<CallControl>();
  if (const auto& watch = request.disconnectWatch()) {
    watch->onGone([control] { control->cancel(); });
  }
  DispatchResult result = co_await dispatcher.dispatch(plan, endpointPath(endpoint), call->body,
                                                       stream, started, *control);

  record.attempts = result.attempts;
  record.fallbacks = result.fallbacks;
  record.attempt_log = result.log;
  const Target* answered = result.target;
  const Target* last_tried = answered;
  if (last_tried == nullptr && !result.log.empty()) {
    for (const Target& t : plan.route.targets) {
      if (t.label == result.log.back().target) last_tried = &t;
    }
  }
  if (last_tried != nullptr) {
    record.target = last_tried->label;
    record.provider = last_tried->provider->name;
    record.upstream_model = last_tried->model;
  }

  if (answered != nullptr && stream) {
    http::Response response = http::Response::eventStream(nullptr);
    response.head_with_first_write = true;  // the first bytes are in hand
    record.status = result.head.status;
    decorate(response, &result);
    std::string first = std::move(result.body);
    auto relay =
        std::make_shared<StreamRelay>(shared_from_this(), control, call, entered, std::move(result),
                                      std::move(first), plan.route.attempt_timeout);
    response.stream = [relay](http::StreamWriter& out) { return relay->run(out); };
    co_return response;
  }
  if (answered != nullptr) {
    http::Response response;
    response.status = result.head.status;
    if (auto type = result.head.headers.find("content-type"); type != result.head.headers.end()) {
      response.content_type = std::string(type->value());
    }
    response.body = std::move(result.body);
    for (std::size_t i = entered; i-- > 0;) stages[i]->onAnswer(*call, response.body);
    decorate(response, &result);
    record.status = response.status;
    if (!sinks.empty()) record.response_body = response.body;
    record.end = std::chrono::system_clock::now();
    complete(*call, entered, "success");
    co_return response;
  }
  // Every target failed (or the client left, or time ran out).
  http::Response response;
  std::string outcome = "error";
  if (result.cancelled) {
    response = openAiError(499, "cancelled", "the client disconnected", "client_disconnected");
    record.error = "the client disconnected before an answer arrived";
    record.error_class = "cancelled";
    outcome = "cancelled";
  } else {
    const UpstreamFailure* failure = result.failure ? &*result.failure : nullptr;
    const std::string attempts_text = fmt::format(
        "{} attempt{} across {} target{}", result.attempts, result.attempts == 1 ? "" : "s",
        result.fallbacks + 1, result.fallbacks == 0 ? "" : "s");
    record.error_class = result.deadline_exceeded ? "deadline_exceeded"
                         : failure != nullptr ? std::string(errorClassName(failure->error_class))
                                              : "deadline_exceeded";
    record.error = fmt::format("{} ({})",
                               result.deadline_exceeded || failure == nullptr
                                   ? fmt::format("no answer within the total timeout of {} ms",
                                                 plan.route.total_timeout.count())
                                   : failure->message,
                               attempts_text);
    if (plan.route.static_response && endpoint == Endpoint::kChat) {
      response = staticAnswer(record.model, *plan.route.static_response, stream);
      response.header("x-pharos-static-response", "true");
      record.static_response = true;
      record.response_body = json::serialize(
          json::object{{"static_response", *plan.route.static_response}, {"cause", *record.error}});
      outcome = "static";
    } else if (result.deadline_exceeded || failure == nullptr) {
      response = openAiError(504, "timeout", *record.error, "deadline_exceeded");
    } else if (failure->status != 0 && failure->error_class != ErrorClass::kMalformed) {
      // The upstream's own answer is the most useful error: pass it on as it was.
      if (!failure->body.empty() && failure->content_type.starts_with("application/json")) {
        response.status = failure->status;
        response.body = failure->body;
      } else {
        response = openAiError(failure->status, "upstream_error", *record.error);
      }
      if (failure->retry_after) {
        response.header("retry-after",
                        std::to_string((failure->retry_after->count() + 999'999) / 1'000'000));
      }
    } else if (failure->error_class == ErrorClass::kTimeout) {
      response = openAiError(504, "timeout", *record.error, "upstream_timeout");
    } else {
      response =
          openAiError(502, "upstream_error", *record.error,
                      failure->error_class == ErrorClass::kMalformed ? "upstream_malformed"
                                                                     : "upstream_unavailable");
    }
  }
  decorate(response, &result);
  record.status = response.status;
  if (record.response_body.empty()) record.response_body = response.body;
  record.end = std::chrono::system_clock::now();
  complete(*call, entered, outcome);
  co_return response;
}

http::Response Gateway::Impl::staticAnswer(const std::string& model, const std::string& text,
                                           bool stream) const {
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const std::string id = fmt::format("chatcmpl-pharos-static-{}", created);
  if (!stream) {
    json::object message{{"role", "assistant"}, {"content", text}};
    json::object choice{{"index", 0}, {"message", std::move(message)}, {"finish_reason", "stop"}};
    json::object body{
        {"id", id},
        {"object", "chat.completion"},
        {"created", created},
        {"model", model},
        {"choices", json::array{std::move(choice)}},
        {"usage",
         json::object{{"prompt_tokens", 0}, {"completion_tokens", 0}, {"total_tokens", 0}}}};
    return http::Response::json(200, json::serialize(body));
  }
  const auto chunk = [&](json::object delta, json::value finish) {
    json::object choice{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", finish}};
    return http::formatSseEvent(
        json::serialize(json::object{{"id", id},
                                     {"object", "chat.completion.chunk"},
                                     {"created", created},
                                     {"model", model},
                                     {"choices", json::array{std::move(choice)}}}));
  };
  std::string events = chunk(json::object{{"role", "assistant"}, {"content", text}}, nullptr) +
                       chunk(json::object{}, "stop") + http::formatSseEvent("[DONE]");
  return http::Response::eventStream(
      [events = std::move(events)](http::StreamWriter& out) -> asio::awaitable<void> {
        (void)co_await out.write(events);
      });
}

http::Response Gateway::Impl::models() const {
  json::array data;
  for (const auto& [name, route] : config.models()) {
    data.push_back(
        json::object{{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "pharos"}});
  }
  return http::Response::json(
      200, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
}

Gateway::Gateway(GatewayConfig config, GatewayOptions options, http::MetricsRegistry& metrics,
                 std::vector<CallSink*> sinks)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(options), metrics,
                                   std::move(sinks))) {
  impl_->buildStages(metrics);
}

asio::awaitable<core::Result<std::vector<float>>> Gateway::Impl::embed(Call& call,
                                                                       const std::string& text) {
  const std::string& model = options.cache.semantic_model;
  CallRecord child;
  child.internal = true;
  child.start = std::chrono::system_clock::now();
  child.endpoint = "embeddings";
  child.model = model;
  child.workspace_id = call.record.workspace_id;
  child.key_id = call.record.key_id;
  child.user_id = call.record.user_id;
  child.project = call.record.project;
  child.link = childLink(call.record.link, child.start);
  const std::string body = json::serialize(json::object{{"model", model}, {"input", text}});
  if (!sinks.empty()) child.request_body = body;
  std::optional<ModelRoute> route = config.route(model);
  if (!route) {
    co_return core::Error::invalidArgument(
        fmt::format("cache.semantic_model \"{}\" is not a gateway model", model));
  }
  const CallPlan plan{std::move(*route)};
  CallControl control;
  const Clock::time_point started = Clock::now();
  auto dispatch = dispatcher.dispatch(plan, "/embeddings", body, false, started, control);
  DispatchResult result = co_await std::move(dispatch);
  child.end = std::chrono::system_clock::now();
  child.attempts = result.attempts;
  child.fallbacks = result.fallbacks;
  child.attempt_log = result.log;
  if (!result.log.empty()) child.target = result.log.back().target;
  if (result.target != nullptr) {
    child.provider = result.target->provider->name;
    child.upstream_model = result.target->model;
  }
  std::optional<std::vector<float>> embedding;
  if (result.target != nullptr) {
    child.status = result.head.status;
    child.response_body = result.body;
    boost::system::error_code ec;
    const json::value answer = json::parse(result.body, ec);
    const json::object* object = !ec && answer.is_object() ? &answer.get_object() : nullptr;
    const json::value* data = object != nullptr ? object->if_contains("data") : nullptr;
    if (data != nullptr && data->is_array() && !data->get_array().empty() &&
        data->get_array()[0].is_object()) {
      const json::value* values = data->get_array()[0].get_object().if_contains("embedding");
      if (values != nullptr && values->is_array()) {
        embedding.emplace();
        for (const json::value& v : values->get_array()) {
          if (!v.is_number()) {
            embedding.reset();
            break;
          }
          embedding->push_back(static_cast<float>(v.to_number<double>()));
        }
      }
    }
    if (const json::value* usage = object != nullptr ? object->if_contains("usage") : nullptr;
        usage != nullptr && usage->is_object()) {
      child.usage = usageFromJson(usage->get_object());
      if (child.usage) {
        if (auto cost = options.prices->cost(child.upstream_model, child.usage->prompt_tokens, 0)) {
          child.cost = CallCost{cost->prompt, 0};
        }
      }
    }
    if (!embedding) {
      child.error = fmt::format("{} answered without an embedding", child.target);
      child.error_class = "malformed";
    }
  } else {
    child.status = result.failure ? result.failure->status : 504;
    child.error = result.failure ? result.failure->message : "no answer within the deadline";
    child.error_class =
        result.failure ? std::string(errorClassName(result.failure->error_class)) : "timeout";
  }
  std::optional<std::string> error = child.error;
  call.record.children.push_back(std::move(child));
  if (!embedding) co_return core::Error::unavailable(*error);
  co_return std::move(*embedding);
}

void Call::setBody() {
  body = json::serialize(fields);
}

Gateway::~Gateway() = default;

const GatewayConfig& Gateway::config() const {
  return impl_->config;
}

void Gateway::shutdown() {
  for (const auto& [name, provider] : impl_->config.providers()) provider->pool->clear();
}

void Gateway::addRoutes(http::Router& router) {
  const http::RouteOptions watched{.watch_disconnect = true};
  router.add(
      http::Verb::post, "/v1/chat/completions",
      [impl = impl_](http::Request& request) { return impl->call(request, Endpoint::kChat); },
      watched);
  router.add(
      http::Verb::post, "/v1/embeddings",
      [impl = impl_](http::Request& request) { return impl->call(request, Endpoint::kEmbeddings); },
      watched);
  router.add(http::Verb::get, "/v1/models",
             [impl = impl_](http::Request&) -> asio::awaitable<http::Response> {
               co_return impl->models();
             });
}

}  // namespace pharos::gateway
