// Pharos's configuration: one typed, immutable object, validated once at start.
//
// Layers, lowest first: built-in defaults < pharos.toml < .env file < environment (PHAROS_*) <
// command-line flags. Every setting has a dotted path ("server.max_body_bytes"); its TOML key is
// that path, its environment variable is PHAROS_ + the path upper-cased with '.' -> '_'
// (PHAROS_SERVER_MAX_BODY_BYTES). An unknown key or a bad value throws SettingsError naming the
// key's path, where it came from, and the reason — start-up stops there.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/secret.h"

namespace pharos::core {

struct ListenAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;

  // "127.0.0.1:8080", "[::1]:8080"
  std::string toString() const;
  // True for 127.0.0.0/8, ::1 and "localhost": only this machine can connect.
  bool isLoopback() const;
};

enum class AuthMode {
  kAuto,      // keys optional on a loopback listener, required otherwise
  kRequired,  // every request outside /healthz, /readyz, /metrics needs a valid key
  kNone,      // keys ignored; everything is the default workspace
};

enum class LogLevel { kDebug, kInfo, kWarn, kError };

// Where state shared by calls lives: in this process, or in Redis for several processes.
enum class StateBackend { kMemory, kRedis };

struct ServerSettings {
  ListenAddress listen;
  // The OTLP/gRPC receiver's own listener (gRPC needs HTTP/2); nullopt: switched off.
  std::optional<ListenAddress> otlp_grpc_listen = ListenAddress{"127.0.0.1", 4317};
  unsigned io_threads = 0;        // 0: one per core
  unsigned blocking_threads = 0;  // 0: one per core, at least 2
  std::uint64_t max_header_bytes = 64 * 1024;
  std::uint64_t max_body_bytes = 64 * 1024 * 1024;
  std::uint64_t max_inflated_body_bytes = 256 * 1024 * 1024;  // after gzip
  std::chrono::milliseconds header_timeout{10'000};  // the whole request head must arrive in this
  std::chrono::milliseconds body_timeout{60'000};    // the whole body must arrive in this
  std::chrono::milliseconds idle_timeout{75'000};    // keep-alive connection with no request
  std::chrono::milliseconds shutdown_grace{10'000};  // in-flight requests get this long to end
  unsigned max_connections = 20'000;
};

struct DataSettings {
  std::filesystem::path dir = "./data";
};

struct StoreSettings {
  unsigned reader_threads = 2;
  unsigned max_batch = 1024;              // writes per group commit
  unsigned max_pending_writes = 100'000;  // beyond this, writes answer kOverloaded
  std::chrono::milliseconds busy_timeout{5'000};
};

struct AuthSettings {
  AuthMode mode = AuthMode::kAuto;
  // A key accepted for `bootstrap_workspace` without being stored (containers, first start).
  Secret bootstrap_key;
  std::string bootstrap_workspace = "default";
  // How long a verified key is trusted before it is checked again (revocation takes this long).
  std::chrono::milliseconds key_cache_ttl{2'000};
};

struct TracingSettings {
  // What GET /api/v1/info tells the LangSmith SDKs: batch to /runs/multipart (else /runs/batch),
  // and gzip those multipart bodies.
  bool multipart_ingest = true;
  bool gzip_ingest = true;
  // A TOML file of model prices that extends and overrides the built-in table; empty: none.
  std::filesystem::path pricing_file;
  // OTLP exports acknowledged (durable in the span log) but not yet stored as runs, at most.
  std::uint64_t otlp_max_backlog_bytes = 1024ull * 1024 * 1024;
};

struct TomlTree;  // core/toml_tree.h

struct GatewaySettings {
  // The project gateway calls are recorded in, unless a request names one (x-pharos-project).
  std::string project = "gateway";
  bool record_runs = true;
  // An OTLP/HTTP endpoint (".../v1/traces") the gateway's own spans are exported to; empty: none.
  std::string otlp_endpoint;
  // The input/output policy of calls whose model and key name none; "": no policy.
  std::string policy;
  // [gateway.providers.NAME], [gateway.models."NAME"], [gateway.policies.NAME] and
  // [gateway.keys."KEY_ID"] as parsed; the gateway validates them.
  std::shared_ptr<const TomlTree> providers;
  std::shared_ptr<const TomlTree> models;
  std::shared_ptr<const TomlTree> policies;
  std::shared_ptr<const TomlTree> keys;
};

struct CacheSettings {
  bool enabled = false;  // the exact cache of chat completions
  StateBackend backend = StateBackend::kMemory;
  std::chrono::milliseconds ttl{3'600'000};
  std::uint64_t max_bytes = 256ull * 1024 * 1024;  // memory backend
  unsigned max_entries = 100'000;                  // memory backend
  bool semantic = false;
  std::string semantic_model;  // a gateway model (or provider/model) that makes embeddings
  double semantic_threshold = 0.95;
  unsigned semantic_max_entries = 10'000;  // per workspace and model
};

struct LimitsSettings {
  StateBackend backend = StateBackend::kMemory;
  double max_cost_per_query = 0;  // USD; 0: none
  double key_budget_usd = 0;      // per API key and period; 0: none
  double user_budget_usd = 0;     // per end user and period; 0: none
  std::chrono::milliseconds budget_period{86'400'000};
  unsigned key_rpm = 0;                       // requests per minute per key; 0: none
  unsigned key_tpm = 0;                       // tokens per minute per key; 0: none
  unsigned default_max_output_tokens = 4096;  // a request without max_tokens, unknown model
};

struct RedisSettings {
  std::string url = "redis://127.0.0.1:6379";
  std::chrono::milliseconds timeout{1000};
};

struct AuditSettings {
  bool enabled = false;
  std::filesystem::path dir;  // empty: DATA_DIR/audit
  std::uint64_t max_file_bytes = 64 * 1024 * 1024;
  bool include_query_text = false;  // else only the query's SHA-256
};

struct LogSettings {
  LogLevel level = LogLevel::kInfo;
  bool access_log = true;
};

struct Settings {
  ServerSettings server;
  DataSettings data;
  StoreSettings store;
  AuthSettings auth;
  TracingSettings tracing;
  GatewaySettings gateway;
  CacheSettings cache;
  LimitsSettings limits;
  RedisSettings redis;
  AuditSettings audit;
  LogSettings log;

  // True when requests must carry a valid API key (auth.mode, resolved against the listener).
  bool keysRequired() const;
};

class SettingsError : public std::runtime_error {
 public:
  // key: the setting's path ("server.max_body_bytes") or a file; source: where the value came
  // from ("pharos.toml:12", "environment PHAROS_SERVER_LISTEN", "flag --listen").
  SettingsError(std::string key, std::string source, std::string reason);
  const std::string& key() const { return key_; }
  const std::string& source() const { return source_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string key_, source_, reason_;
};

// Where settings come from. Tests build one by hand; `pharos` builds it from argv and environ.
struct SettingsSources {
  // --config FILE; when unset, PHAROS_CONFIG from the environment; when unset, ./pharos.toml if
  // it exists. A file named explicitly must exist.
  std::optional<std::filesystem::path> config_file;
  // --env-file FILE; when unset, ./.env if it exists.
  std::optional<std::filesystem::path> env_file;
  // The process environment (only PHAROS_* entries matter).
  std::map<std::string, std::string> environment;
  // Flags, applied last, in order: setting path -> value as typed ("server.listen" ->
  // "0.0.0.0:80").
  std::vector<std::pair<std::string, std::string>> overrides;
  // Directory against which the default ./pharos.toml and ./.env are looked up.
  std::filesystem::path working_dir = ".";
};

// Builds and validates the settings; throws SettingsError on the first problem.
Settings loadSettings(const SettingsSources& sources);

// The process environment as a map, for SettingsSources::environment.
std::map<std::string, std::string> processEnvironment();

// The effective configuration as TOML, secrets masked (`pharos config show`).
std::string renderSettingsToml(const Settings& settings);

// One line per setting for docs and `--help`: path, env var, default, description.
struct SettingInfo {
  std::string path;
  std::string env_var;
  std::string default_value;
  std::string description;
};
std::vector<SettingInfo> describeSettings();

}  // namespace pharos::core
