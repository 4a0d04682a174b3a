#include "app/commands.h"

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cctype>

#include "app/gateway_audit.h"
#include "app/gateway_runs.h"
#include "app/ops_routes.h"
#include "app/run_sync.h"
#include "auth/api_key.h"
#include "auth/authenticator.h"
#include "core/log.h"
#include "core/names.h"
#include "core/time.h"
#include "eval/api/compare_routes.h"
#include "eval/api/eval_routes.h"
#include "gateway/gateway.h"
#include "http/server.h"
#include "state/cache_store.h"
#include "state/counter_store.h"
#include "state/redis_client.h"
#include "store/log/append_log.h"
#include "store/sqlite/sqlite_store.h"
#include "tracing/api/feedback_routes.h"
#include "tracing/api/langsmith_routes.h"
#include "tracing/api/otlp_grpc.h"
#include "tracing/api/otlp_routes.h"
#include "tracing/ingest/otlp_materializer.h"
#include "tracing/ingest/run_recorder.h"
#include "tracing/query/filter_validate.h"
#include "tracing/store/sql_functions.h"

namespace pharos::app {

namespace {

std::shared_ptr<store::sqlite::SqliteStore> openStore(const core::Settings& settings) {
  tracing::registerRunSqlFunctionsForEveryConnection();
  auto opened = store::sqlite::SqliteStore::open(settings.data.dir, settings.store);
  if (!opened) {
    throw std::runtime_error(fmt::format("cannot open the store in {}: {}",
                                         settings.data.dir.string(), opened.error().message));
  }
  return std::move(opened).value();
}

// The gateway's stages as the settings ask for them; `redis` is connected when a backend needs it.
gateway::GatewayOptions gatewayOptions(const core::Settings& settings,
                                       std::shared_ptr<const economics::PriceTable> prices,
                                       std::shared_ptr<state::RedisClient>& redis) {
  const auto redisClient = [&]() {
    if (!redis) {
      auto client = state::RedisClient::fromUrl(settings.redis.url, settings.redis.timeout);
      if (!client) throw core::SettingsError("redis.url", "configuration", client.error().message);
      redis = std::move(client).value();
    }
    return redis;
  };
  gateway::GatewayOptions options;
  options.default_project = settings.gateway.project;
  options.prices = std::move(prices);
  const core::CacheSettings& cache = settings.cache;
  if (cache.enabled) {
    options.cache_store = cache.backend == core::StateBackend::kRedis
                              ? state::makeRedisCache(redisClient(), "pharos:cache:")
                              : state::makeMemoryCache(cache.max_bytes, cache.max_entries);
    options.cache = {.ttl = cache.ttl,
                     .semantic = cache.semantic,
                     .semantic_model = cache.semantic_model,
                     .semantic_threshold = cache.semantic_threshold,
                     .semantic_max_entries = cache.semantic_max_entries};
    if (cache.semantic && cache.semantic_model.empty()) {
      throw core::SettingsError("cache.semantic_model", "configuration",
                                "the semantic cache needs an embedding model (a gateway model)");
    }
  } else if (cache.semantic) {
    throw core::SettingsError("cache.semantic", "configuration",
                              "the semantic cache needs cache.enabled = true");
  }
  const core::LimitsSettings& limits = settings.limits;
  options.limits_options = {.max_cost_per_query = limits.max_cost_per_query,
                            .key_budget_usd = limits.key_budget_usd,
                            .user_budget_usd = limits.user_budget_usd,
                            .budget_period = limits.budget_period,
                            .key_rpm = limits.key_rpm,
                            .key_tpm = limits.key_tpm,
                            .default_max_output_tokens = limits.default_max_output_tokens};
  options.counters = limits.backend == core::StateBackend::kRedis
                         ? state::makeRedisCounters(redisClient(), "pharos:limits:")
                         : state::makeMemoryCounters();
  return options;
}

std::shared_ptr<const economics::PriceTable> loadPrices(const core::Settings& settings) {
  auto prices = std::make_shared<economics::PriceTable>(economics::PriceTable::builtIn());
  if (!settings.tracing.pricing_file.empty()) {
    if (auto loaded = prices->loadFile(settings.tracing.pricing_file); !loaded) {
      throw core::SettingsError("tracing.pricing_file", settings.tracing.pricing_file.string(),
                                loaded.error().message);
    }
  }
  return prices;
}

http::Identity ensureIdentity(store::Store& store, const std::string& workspace,
                              std::string key_id) {
  auto ensured = runSync(store.ensureWorkspace(workspace));
  if (!ensured) {
    throw std::runtime_error(
        fmt::format("cannot create workspace \"{}\": {}", workspace, ensured.error().message));
  }
  return http::Identity{ensured->id, ensured->name, std::move(key_id)};
}

void validateWorkspaceName(const std::string& name) {
  if (!core::isValidWorkspaceName(name)) {
    throw std::runtime_error(
        fmt::format("workspace name \"{}\" is not valid: use {}", name, core::kWorkspaceNameRule));
  }
}

// A listener on 0.0.0.0 is reachable as this machine's address; tell the user a usable URL.
std::string publicBaseUrl(const core::ListenAddress& bound) {
  std::string host = bound.host;
  if (host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  core::ListenAddress shown{host, bound.port};
  return "http://" + shown.toString();
}

void printBanner(const core::Settings& settings, const core::ListenAddress& bound,
                 const std::optional<core::ListenAddress>& grpc_bound,
                 const gateway::GatewayConfig& gateway) {
  const std::string base = publicBaseUrl(bound);
  const char* auth_line = settings.auth.mode == core::AuthMode::kNone ? "off (auth.mode = none)"
                          : settings.keysRequired()
                              ? "required (x-api-key or Authorization: Bearer)"
                              : "optional on this loopback listener";
  fmt::print(
      "Pharos {} listening on {} (data in {})\n"
      "  LangSmith SDKs:  LANGSMITH_ENDPOINT={}/api/v1  LANGSMITH_TRACING=true\n"
      "  OpenAI SDKs:     base_url={}/v1 ({})\n"
      "  OpenTelemetry:   OTEL_EXPORTER_OTLP_ENDPOINT={} (http/protobuf, http/json){}\n"
      "  API keys:        {}; create one with `pharos keys create --workspace NAME`\n"
      "  Operations:      {}/healthz  {}/readyz  {}/metrics\n",
      kVersion, base, settings.data.dir.string(), base, base,
      gateway.empty()
          ? std::string("no providers configured: see pharos.example.toml")
          : fmt::format("{} model{}, {} provider{}", gateway.models().size(),
                        gateway.models().size() == 1 ? "" : "s", gateway.providers().size(),
                        gateway.providers().size() == 1 ? "" : "s"),
      base, grpc_bound ? "; gRPC on " + publicBaseUrl(*grpc_bound) : std::string(), auth_line, base,
      base, base);
  std::fflush(stdout);
}

}  // namespace

core::Settings loadSettingsFromCommandLine(const CommonOptions& options) {
  core::SettingsSources sources;
  if (options.config_file) sources.config_file = *options.config_file;
  if (options.env_file) sources.env_file = *options.env_file;
  sources.environment = core::processEnvironment();
  for (const std::string& set : options.sets) {
    const std::size_t eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw core::SettingsError(set, "flag --set", "expected --set path=value");
    }
    sources.overrides.emplace_back(set.substr(0, eq), set.substr(eq + 1));
  }
  if (options.listen) sources.overrides.emplace_back("server.listen", *options.listen);
  if (options.otlp_grpc_listen) {
    sources.overrides.emplace_back("server.otlp_grpc_listen", *options.otlp_grpc_listen);
  }
  if (options.data_dir) sources.overrides.emplace_back("data.dir", *options.data_dir);
  return core::loadSettings(sources);
}

int serveCommand(const CommonOptions& options) {
  // Every thread started from here on inherits the blocked stop signals; only sigwait below
  // receives them, so shutdown runs in one known place.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const core::Settings settings = loadSettingsFromCommandLine(options);
  core::log::init(settings.log.level);
  gateway::GatewayConfig gateway_config =
      gateway::GatewayConfig::fromSettings(settings.gateway, core::processEnvironment());

  std::shared_ptr<store::sqlite::SqliteStore> store = openStore(settings);
  const http::Identity fallback = ensureIdentity(*store, "default", "");
  const http::Identity bootstrap =
      settings.auth.bootstrap_key.empty()
          ? fallback
          : ensureIdentity(*store, settings.auth.bootstrap_workspace, "bootstrap");

  http::MetricsRegistry metrics;
  metrics.gauge("pharos_build_info", "Always 1; the version is a label", {"version"})
      .with({kVersion})
      .set(1);
  http::Router router;
  addOpsRoutes(router, store, metrics);
  const std::shared_ptr<const economics::PriceTable> prices = loadPrices(settings);
  auto runs = std::make_shared<tracing::RunStore>(store->database(), prices);
  auto experiments = std::make_shared<eval::ExperimentStore>(store->database());
  tracing::addLangSmithRoutes(router, runs, settings.tracing, kVersion,
                              [experiments](std::string workspace, tracing::Project project) {
                                return experiments->projectStatsFields(std::move(workspace),
                                                                       std::move(project.id));
                              });
  eval::addCompareRoutes(router, experiments);
  auto feedback = std::make_shared<tracing::FeedbackStore>(store->database());
  tracing::addFeedbackRoutes(router, feedback);
  eval::addEvalRoutes(router, std::make_shared<eval::DatasetStore>(store->database()));
  auto span_log =
      store::AppendLog::open({.dir = settings.data.dir / "otlp-log",
                              .max_backlog_bytes = settings.tracing.otlp_max_backlog_bytes,
                              .max_record_bytes = settings.server.max_inflated_body_bytes + 4096});
  if (!span_log) throw std::runtime_error("cannot open the span log: " + span_log.error().message);
  tracing::otlp::Materializer materializer(**span_log, runs, metrics);
  materializer.start();
  auto otlp_receiver = std::make_shared<tracing::otlp::Receiver>(**span_log, metrics);
  tracing::addOtlpRoutes(router, otlp_receiver);
  tracing::RunRecorder recorder(runs, metrics);
  recorder.start();
  GatewayRunSink run_sink(recorder);
  std::vector<gateway::CallSink*> call_sinks;
  if (settings.gateway.record_runs) call_sinks.push_back(&run_sink);
  std::unique_ptr<tracing::OtlpSpanExporter> span_exporter;
  std::unique_ptr<GatewaySpanSink> span_sink;
  if (!settings.gateway.otlp_endpoint.empty()) {
    try {
      span_exporter = std::make_unique<tracing::OtlpSpanExporter>(
          tracing::OtlpExporterOptions{.endpoint = settings.gateway.otlp_endpoint,
                                       .resource = {{"service.name", std::string("pharos-gateway")},
                                                    {"service.version", std::string(kVersion)}}},
          metrics);
    } catch (const std::invalid_argument& e) {
      throw core::SettingsError("gateway.otlp_endpoint", "configuration", e.what());
    }
    span_exporter->start();
    span_sink = std::make_unique<GatewaySpanSink>(*span_exporter);
    call_sinks.push_back(span_sink.get());
  }
  std::unique_ptr<policy::AuditLog> audit_log;
  std::unique_ptr<GatewayAuditSink> audit_sink;
  if (settings.audit.enabled) {
    const auto dir = settings.audit.dir.empty() ? settings.data.dir / "audit" : settings.audit.dir;
    auto opened = policy::AuditLog::open(
        {.dir = dir, .max_file_bytes = settings.audit.max_file_bytes}, metrics);
    if (!opened) throw std::runtime_error("cannot open the audit log: " + opened.error().message);
    audit_log = std::move(opened).value();
    audit_sink = std::make_unique<GatewayAuditSink>(*audit_log, settings.audit.include_query_text);
    call_sinks.push_back(audit_sink.get());
  }
  std::shared_ptr<state::RedisClient> redis;
  gateway::GatewayOptions gateway_options = gatewayOptions(settings, prices, redis);
  gateway::Gateway gateway(std::move(gateway_config), std::move(gateway_options), metrics,
                           call_sinks);
  gateway.addRoutes(router);
  auth::KeyAuthenticator authenticator(store, settings.auth, settings.keysRequired(), fallback,
                                       bootstrap);
  tracing::OtlpGrpcServer otlp_grpc(otlp_receiver, authenticator, settings.server.max_body_bytes);
  std::optional<core::ListenAddress> grpc_bound;
  if (settings.server.otlp_grpc_listen) {
    otlp_grpc.start(*settings.server.otlp_grpc_listen);
    grpc_bound = otlp_grpc.localAddress();
  }

  http::Server server({settings.server, settings.log.access_log}, router, metrics, &authenticator);
  server.start();
  const core::ListenAddress bound = server.localAddress();
  core::log::info("listening", {{"address", bound.toString()},
                                {"otlp_grpc", grpc_bound ? grpc_bound->toString() : "off"},
                                {"store", store->describe()},
                                {"keys_required", settings.keysRequired()}});
  printBanner(settings, bound, grpc_bound, gateway.config());

  int received = 0;
  sigwait(&stop_signals, &received);
  core::log::info("stop signal received", {{"signal", received == SIGINT ? "SIGINT" : "SIGTERM"}});
  otlp_grpc.shutdown(settings.server.shutdown_grace);
  server.shutdown();
  gateway.shutdown();
  if (redis) redis->clear();
  recorder.stop();
  if (span_exporter) span_exporter->stop();
  if (audit_log) audit_log->close();
  // Exports acknowledged and not yet stored as runs stay in the span log for the next start.
  materializer.stop();
  (*span_log)->close();
  // Before the server (and its I/O contexts) is destroyed: writes still queued for abandoned
  // requests complete by posting to those contexts.
  store->close();
  core::log::info("stopped");
  core::log::flush();
  return 0;
}

int auditVerifyCommand(const std::string& path) {
  std::error_code ec;
  const bool directory = std::filesystem::is_directory(path, ec);
  auto verified = directory ? policy::verifyAuditDirectory(path) : policy::verifyAuditFile(path);
  if (!verified) throw std::runtime_error(verified.error().message);
  if (verified->intact) {
    fmt::print("{}: intact, {} line{}; chain from {} to {}\n", path, verified->lines,
               verified->lines == 1 ? "" : "s", verified->first_prev, verified->last_hash);
    return 0;
  }
  fmt::print("{}: BROKEN at line {}{}: {}\n", path, verified->first_bad_line,
             directory ? " of " + verified->file.filename().string()
                       : fmt::format(" of {}", verified->lines),
             verified->reason);
  return 1;
}

int configShowCommand(const CommonOptions& options) {
  fmt::print("{}", core::renderSettingsToml(loadSettingsFromCommandLine(options)));
  return 0;
}

int keysCreateCommand(const CommonOptions& options, const std::string& workspace,
                      const std::string& label) {
  validateWorkspaceName(workspace);
  const core::Settings settings = loadSettingsFromCommandLine(options);
  std::shared_ptr<store::Store> store = openStore(settings);
  const http::Identity owner = ensureIdentity(*store, workspace, "");
  auth::NewKey key = auth::generateKey();
  store::ApiKeyRecord record;
  record.id = key.id;
  record.workspace_id = owner.workspace_id;
  record.secret_sha256 = key.secret_sha256;
  record.label = label;
  record.created_at = std::chrono::system_clock::now();
  if (auto inserted = runSync(store->insertApiKey(record)); !inserted) {
    throw std::runtime_error("cannot store the key: " + inserted.error().message);
  }
  fmt::print(
      "Created API key {} for workspace \"{}\". It is shown only this once:\n\n  {}\n\n"
      "Use it as LANGSMITH_API_KEY or OPENAI_API_KEY, or send it as x-api-key or "
      "Authorization: Bearer.\n",
      key.id, workspace, key.plaintext);
  return 0;
}

int keysListCommand(const CommonOptions& options, bool json) {
  const core::Settings settings = loadSettingsFromCommandLine(options);
  std::shared_ptr<store::Store> store = openStore(settings);
  auto keys = runSync(store->listApiKeys());
  if (!keys) throw std::runtime_error("cannot list keys: " + keys.error().message);
  if (json) {
    for (const store::ApiKeyRecord& key : *keys) {
      boost::json::object line = {{"id", key.id},
                                  {"workspace", key.workspace_name},
                                  {"label", key.label},
                                  {"created_at", core::formatIso8601(key.created_at)}};
      line["revoked_at"] = key.revoked_at ? boost::json::value(core::formatIso8601(*key.revoked_at))
                                          : boost::json::value(nullptr);
      fmt::print("{}\n", boost::json::serialize(line));
    }
    return 0;
  }
  if (keys->empty()) {
    fmt::print("No API keys yet. Create one with `pharos keys create --workspace NAME`.\n");
    return 0;
  }
  fmt::print("{:<14} {:<20} {:<24} {:<26} {}\n", "ID", "WORKSPACE", "LABEL", "CREATED", "STATUS");
  for (const store::ApiKeyRecord& key : *keys) {
    fmt::print("{:<14} {:<20} {:<24} {:<26} {}\n", key.id, key.workspace_name, key.label,
               core::formatIso8601(key.created_at),
               key.revoked_at ? "revoked " + core::formatIso8601(*key.revoked_at) : "active");
  }
  return 0;
}

int keysRevokeCommand(const CommonOptions& options, const std::string& id) {
  const core::Settings settings = loadSettingsFromCommandLine(options);
  std::shared_ptr<store::Store> store = openStore(settings);
  auto revoked = runSync(store->revokeApiKey(id, std::chrono::system_clock::now()));
  if (!revoked) {
    if (revoked.error().code == core::ErrorCode::kNotFound) {
      throw std::runtime_error(
          fmt::format("no API key has the id \"{}\" (see `pharos keys list`)", id));
    }
    throw std::runtime_error("cannot revoke the key: " + revoked.error().message);
  }
  fmt::print("Revoked API key {}. Running servers refuse it within auth.key_cache_ttl ({} ms).\n",
             id, settings.auth.key_cache_ttl.count());
  return 0;
}

namespace {

std::string column(const boost::json::value* value, std::size_t width) {
  std::string text;
  if (value == nullptr || value->is_null()) {
    text = "-";
  } else if (value->is_string()) {
    text = std::string(value->get_string());
  } else {
    text = boost::json::serialize(*value);
  }
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > width) text = text.substr(0, width - 1) + "~";
  return text;
}

}  // namespace

int runsListCommand(const CommonOptions& options, const RunsListOptions& list) {
  validateWorkspaceName(list.workspace);
  const core::Settings settings = loadSettingsFromCommandLine(options);
  std::shared_ptr<store::sqlite::SqliteStore> store = openStore(settings);
  auto workspaces = runSync(store->listWorkspaces());
  if (!workspaces)
    throw std::runtime_error("cannot read workspaces: " + workspaces.error().message);
  auto workspace =
      std::find_if(workspaces->begin(), workspaces->end(),
                   [&](const store::Workspace& w) { return w.name == list.workspace; });
  if (workspace == workspaces->end()) {
    throw std::runtime_error(fmt::format("no workspace is called \"{}\"", list.workspace));
  }
  tracing::RunStore runs(store->database(), loadPrices(settings));
  tracing::ProjectListQuery by_name;
  by_name.name = list.project;
  auto projects = runSync(runs.listProjects(workspace->id, by_name));
  if (!projects) throw std::runtime_error("cannot read projects: " + projects.error().message);
  if (projects->empty()) {
    throw std::runtime_error(fmt::format("no project is called \"{}\" in workspace \"{}\"",
                                         list.project, list.workspace));
  }
  tracing::RunQuery query;
  query.session_ids = {projects->front().id};
  auto filter = tracing::query::parseAndValidateFilter(list.filter);
  if (!filter) throw std::runtime_error(filter.error().message);
  query.filter = std::move(filter).value();
  query.select.inputs = list.json;
  query.select.outputs = list.json;
  query.select.events = list.json;
  query.select.extra = list.json;

  if (!list.json) {
    fmt::print("{:<27} {:<8} {:<10} {:<28} {:>9} {:>7} {:<36} {}\n", "START", "STATUS", "TYPE",
               "NAME", "LATENCY", "TOKENS", "ID", "ERROR");
  }
  std::size_t printed = 0;
  while (printed < list.limit) {
    query.limit = std::min<std::size_t>(100, list.limit - printed);
    auto page = runSync(runs.queryRuns(workspace->id, query, ""));
    if (!page) throw std::runtime_error("cannot read runs: " + page.error().message);
    for (const std::string& text : page->runs) {
      ++printed;
      if (list.json) {
        fmt::print("{}\n", text);
        continue;
      }
      const boost::json::value run = boost::json::parse(text);
      const boost::json::object& o = run.as_object();
      const boost::json::value* latency = o.if_contains("latency");
      fmt::print("{:<27} {:<8} {:<10} {:<28} {:>9} {:>7} {:<36} {}\n",
                 column(o.if_contains("start_time"), 27), column(o.if_contains("status"), 8),
                 column(o.if_contains("run_type"), 10), column(o.if_contains("name"), 28),
                 latency != nullptr && latency->is_number()
                     ? fmt::format("{:.3f}s", latency->to_number<double>())
                     : std::string("-"),
                 column(o.if_contains("total_tokens"), 7), column(o.if_contains("id"), 36),
                 column(o.if_contains("error"), 60));
    }
    if (!page->next_cursor) break;
    query.cursor = page->next_cursor;
  }
  if (printed == 0 && !list.json) fmt::print("(no runs)\n");
  return 0;
}

}  // namespace pharos::app
