#include "core/settings.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "core/dotenv.h"
#include "core/json_text.h"
#include "core/names.h"
#include "core/result.h"
#include "core/toml_tree.h"

namespace pharos::core {
namespace {

constexpr std::string_view kEnvPrefix = "PHAROS_";
constexpr std::string_view kConfigEnvVar = "PHAROS_CONFIG";

char asciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) { return asciiLower(c); });
  return out;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool allDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), isDigit);
}

// A TOML basic string; also how error messages quote what they got, so odd bytes stay visible.
// TOML basic strings escape like JSON ones.
std::string tomlString(std::string_view s) {
  return jsonString(s);
}

Error invalid(std::string_view expected, std::string_view got) {
  return Error::invalidArgument(fmt::format("expected {}, got {}", expected, tomlString(got)));
}

// ---- Value types: each parses text into one C++ type and renders it back as a TOML value. ----

// "12" or "1.5": whole part plus fraction / scale. Sizes and durations both allow decimals so that
// "1.5s" and "1.5GiB" work; the product with the unit must still be whole.
struct Decimal {
  std::uint64_t whole = 0;
  std::uint64_t fraction = 0;
  std::uint64_t scale = 1;  // 10^(fraction digits)
};

struct NumberAndUnit {
  Decimal number;
  std::string_view unit;  // may be empty
};

std::optional<NumberAndUnit> splitNumberAndUnit(std::string_view text) {
  std::size_t end = 0;
  while (end < text.size() && (isDigit(text[end]) || text[end] == '.')) ++end;
  const std::string_view number = text.substr(0, end);
  std::string_view unit = text.substr(end);
  while (unit.starts_with(' ')) unit.remove_prefix(1);

  NumberAndUnit out;
  const std::size_t point = number.find('.');
  const std::string_view whole = number.substr(0, point);
  if (!allDigits(whole)) return std::nullopt;
  if (std::from_chars(whole.data(), whole.data() + whole.size(), out.number.whole).ec !=
      std::errc{}) {
    return std::nullopt;
  }
  if (point != std::string_view::npos) {
    const std::string_view fraction = number.substr(point + 1);
    // Nine digits keep fraction * unit inside 64 bits for every unit used here.
    if (!allDigits(fraction) || fraction.size() > 9) return std::nullopt;
    for (const char c : fraction) {
      out.number.fraction = out.number.fraction * 10 + static_cast<std::uint64_t>(c - '0');
      out.number.scale *= 10;
    }
  }
  out.unit = unit;
  return out;
}

enum class Scaled { kOk, kNotWhole, kOverflow };

Scaled scale(const Decimal& d, std::uint64_t unit, std::uint64_t limit, std::uint64_t& out) {
  const std::uint64_t fraction = d.fraction * unit;
  if (fraction % d.scale != 0) return Scaled::kNotWhole;
  std::uint64_t whole = 0;
  if (__builtin_mul_overflow(d.whole, unit, &whole) ||
      __builtin_add_overflow(whole, fraction / d.scale, &out) || out > limit) {
    return Scaled::kOverflow;
  }
  return Scaled::kOk;
}

// TOML integers are signed 64-bit, so a larger size could not be rendered back.
constexpr auto kMaxSize = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

struct SizeType {
  using Value = std::uint64_t;

  Result<Value> parse(std::string_view text) const {
    static constexpr std::string_view kExpected = R"(a size such as 1048576, "64KiB" or "32MiB")";
    const auto parts = splitNumberAndUnit(text);
    if (!parts) return invalid(kExpected, text);
    std::uint64_t unit = 1;
    if (!parts->unit.empty()) {
      static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
          {"b", 1},          {"kb", 1000},      {"mb", 1'000'000}, {"gb", 1'000'000'000},
          {"kib", 1u << 10}, {"mib", 1u << 20}, {"gib", 1u << 30}};
      const std::string unit_name = asciiLower(parts->unit);
      const auto* found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                       [&](const auto& u) { return u.first == unit_name; });
      if (found == std::end(kUnits)) return invalid(kExpected, text);
      unit = found->second;
    }
    Value bytes = 0;
    switch (scale(parts->number, unit, kMaxSize, bytes)) {
      case Scaled::kNotWhole:
        return invalid("a whole number of bytes", text);
      case Scaled::kOverflow:
        return invalid(fmt::format("a size of at most {}", kMaxSize), text);
      case Scaled::kOk:
        break;
    }
    if (bytes == 0) return invalid("a size greater than 0", text);
    return bytes;
  }

  std::string render(Value bytes) const { return std::to_string(bytes); }
};

struct DurationType {
  using Value = std::chrono::milliseconds;

  Result<Value> parse(std::string_view text) const {
    static constexpr std::string_view kExpected =
        R"(a duration such as "250ms", "10s", "1.5s" or "2m")";
    const auto parts = splitNumberAndUnit(text);
    if (!parts) return invalid(kExpected, text);
    if (parts->unit.empty()) {
      return invalid(R"(a duration with a unit (ms, s, m, h or d), such as "10s")", text);
    }
    static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    const auto* found = std::find_if(std::begin(kUnits), std::end(kUnits),
                                     [&](const auto& u) { return u.first == parts->unit; });
    if (found == std::end(kUnits)) return invalid(kExpected, text);
    std::uint64_t ms = 0;
    constexpr auto kMaxMs = static_cast<std::uint64_t>(std::numeric_limits<Value::rep>::max());
    switch (scale(parts->number, found->second, kMaxMs, ms)) {
      case Scaled::kNotWhole:
        return invalid("a whole number of milliseconds", text);
      case Scaled::kOverflow:
        return invalid("a shorter duration", text);
      case Scaled::kOk:
        break;
    }
    if (ms == 0) return invalid("a duration greater than 0", text);
    return Value{static_cast<Value::rep>(ms)};
  }

  // The largest unit that divides exactly, so that 10000ms reads "10s" and parses back the same.
  std::string render(Value value) const {
    const auto ms = value.count();
    if (ms != 0 && ms % 86'400'000 == 0) return tomlString(fmt::format("{}d", ms / 86'400'000));
    if (ms != 0 && ms % 3'600'000 == 0) return tomlString(fmt::format("{}h", ms / 3'600'000));
    if (ms != 0 && ms % 60'000 == 0) return tomlString(fmt::format("{}m", ms / 60'000));
    if (ms != 0 && ms % 1000 == 0) return tomlString(fmt::format("{}s", ms / 1000));
    return tomlString(fmt::format("{}ms", ms));
  }
};

// A decimal number within [min, max] (dollars, a similarity).
struct DecimalType {
  using Value = double;
  double min = 0;
  double max = 0;

  Result<Value> parse(std::string_view text) const {
    double n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(n) || n < min ||
        n > max) {
      return invalid(fmt::format("a number from {} to {}", min, max), text);
    }
    return n;
  }

  std::string render(Value n) const { return fmt::format("{}", n); }
};

struct CountType {
  using Value = unsigned;
  unsigned min = 0;
  unsigned max = 0;

  Result<Value> parse(std::string_view text) const {
    std::uint64_t n = 0;
    if (!allDigits(text) ||
        std::from_chars(text.data(), text.data() + text.size(), n).ec != std::errc{} || n < min ||
        n > max) {
      return invalid(fmt::format("a whole number from {} to {}", min, max), text);
    }
    return static_cast<Value>(n);
  }

  std::string render(Value n) const { return std::to_string(n); }
};

struct ListenType {
  using Value = ListenAddress;

  Result<Value> parse(std::string_view text) const {
    static constexpr std::string_view kExpected =
        R"(HOST:PORT such as "127.0.0.1:8080", "0.0.0.0:8080" or "[::1]:8080")";
    ListenAddress out;
    std::string_view port;
    if (text.starts_with('[')) {
      const std::size_t close = text.find(']');
      if (close == std::string_view::npos || text.substr(close + 1, 1) != ":") {
        return invalid(kExpected, text);
      }
      out.host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    } else {
      const std::size_t colon = text.rfind(':');
      if (colon == std::string_view::npos) return invalid(kExpected, text);
      out.host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (out.host.find(':') != std::string::npos) {
        return invalid(R"(an IPv6 address in brackets, such as "[::1]:8080")", text);
      }
    }
    if (out.host.empty()) return invalid(R"(a host before the port, such as "0.0.0.0:8080")", text);
    const bool bad_host_char = std::any_of(out.host.begin(), out.host.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || c == '[' || c == ']' || c == '/';
    });
    if (bad_host_char) return invalid(kExpected, text);
    unsigned long n = 0;
    if (!allDigits(port) || port.size() > 5 ||
        std::from_chars(port.data(), port.data() + port.size(), n).ec != std::errc{} || n > 65535) {
      return invalid("a port from 0 to 65535 after the ':'", text);
    }
    out.port = static_cast<std::uint16_t>(n);
    return out;
  }

  std::string render(const Value& address) const { return tomlString(address.toString()); }
};

// A listener that can be switched off: "off" (or "") for none, else as ListenType.
struct OptionalListenType {
  using Value = std::optional<ListenAddress>;

  Result<Value> parse(std::string_view text) const {
    const std::string word = asciiLower(text);
    if (word.empty() || word == "off" || word == "false" || word == "none") return Value{};
    auto address = ListenType{}.parse(text);
    if (!address) return address.error();
    return Value{*address};
  }

  std::string render(const Value& address) const {
    return tomlString(address ? address->toString() : "off");
  }
};

struct BoolType {
  using Value = bool;

  Result<Value> parse(std::string_view text) const {
    const std::string word = asciiLower(text);
    for (const std::string_view yes : {"true", "1", "yes", "on"}) {
      if (word == yes) return true;
    }
    for (const std::string_view no : {"false", "0", "no", "off"}) {
      if (word == no) return false;
    }
    return invalid("true or false (or 1/0, yes/no, on/off)", text);
  }

  std::string render(Value value) const { return value ? "true" : "false"; }
};

template <class Enum>
struct EnumType {
  using Value = Enum;
  std::vector<std::pair<std::string_view, Enum>> names;

  Result<Value> parse(std::string_view text) const {
    const std::string word = asciiLower(text);
    for (const auto& [name, value] : names) {
      if (word == name) return value;
    }
    std::string expected = "one of";
    std::string_view separator = " ";
    for (const auto& [name, value] : names) {
      expected += separator;
      expected += tomlString(name);
      separator = ", ";
    }
    return invalid(expected, text);
  }

  std::string render(Value value) const {
    for (const auto& [name, v] : names) {
      if (v == value) return tomlString(name);
    }
    return tomlString("");
  }
};

struct PathType {
  using Value = std::filesystem::path;

  Result<Value> parse(std::string_view text) const {
    if (text.empty()) return invalid("a directory path", text);
    return Value(text);
  }

  std::string render(const Value& path) const { return tomlString(path.string()); }
};

// A file that may be left unset: "" means none.
struct OptionalFileType {
  using Value = std::filesystem::path;

  Result<Value> parse(std::string_view text) const { return Value(text); }
  std::string render(const Value& path) const { return tomlString(path.string()); }
};

// Error messages say how long a bad secret is, never what it is.
struct SecretType {
  using Value = Secret;
  std::size_t min_length = 0;

  Result<Value> parse(std::string_view text) const {
    if (text.empty()) return Secret{};
    if (text.size() < min_length) {
      return Error::invalidArgument(
          fmt::format("expected at least {} characters, got {} (the value is not shown)",
                      min_length, text.size()));
    }
    return Secret(std::string(text));
  }

  std::string render(const Value& secret) const { return tomlString(secret.masked()); }
};

// A name that is safe in paths, logs and URLs.
struct WorkspaceNameType {
  using Value = std::string;

  Result<Value> parse(std::string_view text) const {
    if (!isValidWorkspaceName(text)) return invalid(std::string(kWorkspaceNameRule), text);
    return Value(text);
  }

  std::string render(const Value& name) const { return tomlString(name); }
};

struct TextType {
  using Value = std::string;
  Result<Value> parse(std::string_view text) const { return Value(text); }
  std::string render(const Value& text) const { return tomlString(text); }
};

struct ProjectNameType {
  using Value = std::string;
  Result<Value> parse(std::string_view text) const {
    if (text.empty()) return invalid("a project name", text);
    return Value(text);
  }
  std::string render(const Value& name) const { return tomlString(name); }
};

// ---- The registry ----

struct SettingDef {
  std::string path;
  std::string env_var;
  std::string description;
  bool secret = false;
  // Parses text into this setting's field of `settings`; the error never repeats a secret.
  std::function<Status(Settings& settings, std::string_view text)> assign;
  // The field's value as a TOML value, secrets masked.
  std::function<std::string(const Settings& settings)> render;
};

std::string envVarFor(std::string_view path) {
  std::string out(kEnvPrefix);
  for (const char c : path) {
    out.push_back(c == '.' ? '_' : c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  return out;
}

template <auto Section, auto Field, class Type>
SettingDef setting(std::string_view path, Type type, std::string_view description) {
  using FieldType = std::remove_cvref_t<decltype(std::declval<Settings&>().*Section.*Field)>;
  static_assert(std::is_same_v<FieldType, typename Type::Value>, "the type does not fit the field");
  SettingDef def;
  def.path = path;
  def.env_var = envVarFor(path);
  def.description = description;
  def.secret = std::is_same_v<FieldType, Secret>;
  def.assign = [type](Settings& settings, std::string_view text) -> Status {
    auto parsed = type.parse(text);
    if (!parsed) return std::move(parsed).error();
    settings.*Section.*Field = std::move(parsed).value();
    return {};
  };
  def.render = [type](const Settings& settings) { return type.render(settings.*Section.*Field); };
  return def;
}

// Every setting, in the order `config show` and the docs list them. A section's settings must
// stay together: the rendered TOML opens each [section] once.
std::vector<SettingDef> makeRegistry() {
  using S = Settings;
  using Srv = ServerSettings;
  const EnumType<AuthMode> auth_mode{
      {{"auto", AuthMode::kAuto}, {"required", AuthMode::kRequired}, {"none", AuthMode::kNone}}};
  const EnumType<LogLevel> log_level{{{"debug", LogLevel::kDebug},
                                      {"info", LogLevel::kInfo},
                                      {"warn", LogLevel::kWarn},
                                      {"error", LogLevel::kError}}};
  const EnumType<StateBackend> state_backend{
      {{"memory", StateBackend::kMemory}, {"redis", StateBackend::kRedis}}};
  return {
      setting<&S::server, &Srv::listen>(
          "server.listen", ListenType{},
          "Address and port for HTTP; port 0 picks a free port. Anything but a loopback address "
          "makes API keys required when auth.mode is auto."),
      setting<&S::server, &Srv::otlp_grpc_listen>(
          "server.otlp_grpc_listen", OptionalListenType{},
          "Address and port for the OTLP/gRPC trace receiver (TraceService/Export), or \"off\". "
          "A non-loopback address makes API keys required when auth.mode is auto."),
      setting<&S::server, &Srv::io_threads>("server.io_threads", CountType{0, 256},
                                            "Threads running network I/O; 0 means one per core."),
      setting<&S::server, &Srv::blocking_threads>(
          "server.blocking_threads", CountType{0, 1024},
          "Threads for work that must not run on an I/O thread (inflating large request bodies, "
          "later tokenizing and other CPU-heavy work); 0 means one per core, at least 2."),
      setting<&S::server, &Srv::max_header_bytes>(
          "server.max_header_bytes", SizeType{},
          "Largest request head (request line and headers) accepted."),
      setting<&S::server, &Srv::max_body_bytes>(
          "server.max_body_bytes", SizeType{},
          "Largest request body accepted, as sent (before gzip inflation)."),
      setting<&S::server, &Srv::max_inflated_body_bytes>(
          "server.max_inflated_body_bytes", SizeType{},
          "Largest request body after gzip inflation; stops compression bombs."),
      setting<&S::server, &Srv::header_timeout>(
          "server.header_timeout", DurationType{},
          "Time allowed for the whole request head to arrive."),
      setting<&S::server, &Srv::body_timeout>("server.body_timeout", DurationType{},
                                              "Time allowed for the whole request body to arrive."),
      setting<&S::server, &Srv::idle_timeout>(
          "server.idle_timeout", DurationType{},
          "How long a keep-alive connection may wait for its next request."),
      setting<&S::server, &Srv::shutdown_grace>(
          "server.shutdown_grace", DurationType{},
          "On shutdown, how long in-flight requests get to finish."),
      setting<&S::server, &Srv::max_connections>("server.max_connections", CountType{1, 1'000'000},
                                                 "Most client connections open at once."),
      setting<&S::data, &DataSettings::dir>(
          "data.dir", PathType{},
          "Directory for the database; a relative path is relative to the working directory."),
      setting<&S::store, &StoreSettings::reader_threads>(
          "store.reader_threads", CountType{1, 64},
          "Threads serving reads, each with its own database connection."),
      setting<&S::store, &StoreSettings::max_batch>(
          "store.max_batch", CountType{1, 100'000},
          "Most writes committed together in one transaction (group commit)."),
      setting<&S::store, &StoreSettings::max_pending_writes>(
          "store.max_pending_writes", CountType{1, 10'000'000},
          "Writes queued before new ones are refused as overloaded."),
      setting<&S::store, &StoreSettings::busy_timeout>(
          "store.busy_timeout", DurationType{},
          "How long a query waits for a locked database before failing."),
      setting<&S::auth, &AuthSettings::mode>(
          "auth.mode", auth_mode,
          "When requests need an API key: auto (unless the listener is loopback), required, "
          "or none."),
      setting<&S::auth, &AuthSettings::bootstrap_key>(
          "auth.bootstrap_key", SecretType{16},
          "An API key accepted for auth.bootstrap_workspace without being stored; at least 16 "
          "characters. Empty: none."),
      setting<&S::auth, &AuthSettings::bootstrap_workspace>(
          "auth.bootstrap_workspace", WorkspaceNameType{},
          "Workspace of the bootstrap key: 1 to 64 of A-Z a-z 0-9 _ . -"),
      setting<&S::auth, &AuthSettings::key_cache_ttl>(
          "auth.key_cache_ttl", DurationType{},
          "How long a verified key is trusted before it is checked again; a revoked key keeps "
          "working this long."),
      setting<&S::tracing, &TracingSettings::multipart_ingest>(
          "tracing.multipart_ingest", BoolType{},
          "Tell LangSmith SDKs (GET /api/v1/info) to batch runs to /runs/multipart; false makes "
          "them use /runs/batch."),
      setting<&S::tracing, &TracingSettings::gzip_ingest>(
          "tracing.gzip_ingest", BoolType{},
          "Tell LangSmith SDKs to gzip their multipart run batches."),
      setting<&S::tracing, &TracingSettings::pricing_file>(
          "tracing.pricing_file", OptionalFileType{},
          "TOML file of model prices (USD per million tokens) that extends and overrides the "
          "built-in table; empty: built-in prices only. See docs/configuration.md."),
      setting<&S::tracing, &TracingSettings::otlp_max_backlog_bytes>(
          "tracing.otlp_max_backlog", SizeType{},
          "OTLP exports are acknowledged once durable in the span log (DATA_DIR/otlp-log) and "
          "stored as runs behind; past this many bytes waiting, exports are refused with 503 / "
          "UNAVAILABLE and a retry delay."),
      setting<&S::gateway, &GatewaySettings::project>(
          "gateway.project", ProjectNameType{},
          "Project that gateway calls are recorded in as llm runs, unless a request names one "
          "(x-pharos-project or langsmith-project header)."),
      setting<&S::gateway, &GatewaySettings::record_runs>(
          "gateway.record_runs", BoolType{}, "Record every gateway call as an llm run."),
      setting<&S::gateway, &GatewaySettings::otlp_endpoint>(
          "gateway.otlp_endpoint", TextType{},
          "OTLP/HTTP traces endpoint (http(s)://collector:4318/v1/traces) that the gateway's "
          "spans are exported to, batched; empty: no export."),
      setting<&S::gateway, &GatewaySettings::policy>(
          "gateway.policy", TextType{},
          "The [gateway.policies.NAME] (input validation, output sanitization) applied to calls "
          "whose model or API key names none; empty: none."),
      setting<&S::cache, &CacheSettings::enabled>(
          "cache.enabled", BoolType{},
          "Answer a chat completion identical to an earlier one (same workspace, model and "
          "request) from the cache; per request, x-pharos-cache: no-cache | no-store."),
      setting<&S::cache, &CacheSettings::backend>(
          "cache.backend", state_backend,
          "memory (this process: LRU with a size bound) or redis (shared by every Pharos "
          "process using the same redis.url)."),
      setting<&S::cache, &CacheSettings::ttl>("cache.ttl", DurationType{},
                                              "How long a cached answer is served."),
      setting<&S::cache, &CacheSettings::max_bytes>(
          "cache.max_bytes", SizeType{},
          "Memory backend: the most the cached answers may hold; the least recently used go "
          "first."),
      setting<&S::cache, &CacheSettings::max_entries>(
          "cache.max_entries", CountType{1, 100'000'000}, "Memory backend: the most answers kept."),
      setting<&S::cache, &CacheSettings::semantic>(
          "cache.semantic", BoolType{},
          "Also answer a chat completion whose prompt means the same as a cached one (cosine "
          "similarity of embeddings at least cache.semantic_threshold); needs "
          "cache.semantic_model."),
      setting<&S::cache, &CacheSettings::semantic_model>(
          "cache.semantic_model", TextType{},
          "The gateway model (or provider/model) that embeds prompts for the semantic cache."),
      setting<&S::cache, &CacheSettings::semantic_threshold>(
          "cache.semantic_threshold", DecimalType{0, 1},
          "The least cosine similarity at which a cached prompt's answer is served."),
      setting<&S::cache, &CacheSettings::semantic_max_entries>(
          "cache.semantic_max_entries", CountType{1, 10'000'000},
          "The most prompts the semantic cache keeps per workspace and model."),
      setting<&S::limits, &LimitsSettings::backend>(
          "limits.backend", state_backend,
          "memory (this process) or redis (budgets and rate limits shared by every Pharos "
          "process using the same redis.url)."),
      setting<&S::limits, &LimitsSettings::max_cost_per_query>(
          "limits.max_cost_per_query", DecimalType{0, 1e9},
          "Refuse a call whose worst-case cost (counted prompt tokens, and max_tokens or the "
          "model's output limit) is above this many USD; 0: no limit."),
      setting<&S::limits, &LimitsSettings::key_budget_usd>(
          "limits.key_budget_usd", DecimalType{0, 1e12},
          "What each API key may spend per limits.budget_period, in USD; 0: no budget."),
      setting<&S::limits, &LimitsSettings::user_budget_usd>(
          "limits.user_budget_usd", DecimalType{0, 1e12},
          "What each end user (the request's user field or x-pharos-user) may spend per "
          "limits.budget_period, in USD; 0: no budget."),
      setting<&S::limits, &LimitsSettings::budget_period>(
          "limits.budget_period", DurationType{},
          "The window budgets apply to (fixed windows from the Unix epoch: \"1d\" is a UTC day)."),
      setting<&S::limits, &LimitsSettings::key_rpm>(
          "limits.key_rpm", CountType{0, 100'000'000},
          "Requests per minute each API key may make; 0: no limit."),
      setting<&S::limits, &LimitsSettings::key_tpm>(
          "limits.key_tpm", CountType{0, 4'000'000'000},
          "Tokens per minute each API key may use (each call: its counted prompt tokens plus its "
          "max_tokens when set); 0: no limit."),
      setting<&S::limits, &LimitsSettings::default_max_output_tokens>(
          "limits.default_max_output_tokens", CountType{1, 10'000'000},
          "The answer size assumed for a request without max_tokens whose model's output limit "
          "is unknown."),
      setting<&S::redis, &RedisSettings::url>(
          "redis.url", TextType{},
          "The Redis server for the redis backends: redis://[:password@]host:port[/db]."),
      setting<&S::redis, &RedisSettings::timeout>("redis.timeout", DurationType{},
                                                  "How long one Redis command may take."),
      setting<&S::audit, &AuditSettings::enabled>(
          "audit.enabled", BoolType{},
          "Write the audit log: one hash-chained JSON line per gateway query received, "
          "completed or failed (`pharos audit verify FILE` checks a file)."),
      setting<&S::audit, &AuditSettings::dir>(
          "audit.dir", OptionalFileType{},
          "Directory of the audit log (audit.jsonl and rotated audit-*.jsonl); empty: "
          "DATA_DIR/audit."),
      setting<&S::audit, &AuditSettings::max_file_bytes>(
          "audit.max_file_bytes", SizeType{},
          "Size at which audit.jsonl is rotated; the hash chain continues in the next file."),
      setting<&S::audit, &AuditSettings::include_query_text>(
          "audit.include_query_text", BoolType{},
          "Also write the query's text (the request body); otherwise only its SHA-256."),
      setting<&S::log, &LogSettings::level>("log.level", log_level,
                                            "Least severe level logged: debug, info, warn, error."),
      setting<&S::log, &LogSettings::access_log>("log.access_log", BoolType{},
                                                 "Log one line per request."),
  };
}

const std::vector<SettingDef>& registry() {
  static const std::vector<SettingDef> defs = makeRegistry();
  return defs;
}

const SettingDef* findByPath(std::string_view path) {
  for (const auto& def : registry()) {
    if (def.path == path) return &def;
  }
  return nullptr;
}

const SettingDef* findByEnvVar(std::string_view name) {
  for (const auto& def : registry()) {
    if (def.env_var == name) return &def;
  }
  return nullptr;
}

bool isSection(std::string_view path) {
  return std::any_of(registry().begin(), registry().end(), [&](const SettingDef& def) {
    return def.path.size() > path.size() && def.path.starts_with(path) &&
           def.path[path.size()] == '.';
  });
}

std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "unknown setting (did you mean server.listen?)" when a candidate is a typo away.
std::string unknownReason(std::string_view what, std::string_view name,
                          const std::vector<std::string>& candidates) {
  const std::size_t threshold = std::max<std::size_t>(1, name.size() / 4);
  std::size_t best_distance = threshold + 1;
  std::string_view best;
  for (const auto& candidate : candidates) {
    const std::size_t d = editDistance(asciiLower(name), asciiLower(candidate));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  if (best.empty()) return std::string(what);
  return fmt::format("{} (did you mean {}?)", what, best);
}

std::vector<std::string> allPaths() {
  std::vector<std::string> out;
  for (const auto& def : registry()) out.push_back(def.path);
  return out;
}

std::vector<std::string> allSections() {
  std::vector<std::string> out;
  for (const auto& def : registry()) {
    std::string section = def.path.substr(0, def.path.find('.'));
    if (std::find(out.begin(), out.end(), section) == out.end()) out.push_back(std::move(section));
  }
  return out;
}

std::vector<std::string> allEnvVars() {
  std::vector<std::string> out;
  for (const auto& def : registry()) out.push_back(def.env_var);
  return out;
}

void apply(Settings& settings, const SettingDef& def, std::string_view text,
           const std::string& source) {
  Status status = def.assign(settings, text);
  if (status) return;
  std::string reason = std::move(status).error().message;
  // The secret's own parser already stays quiet; this keeps a future one from leaking. A value
  // of a few characters is no secret and would match ordinary words of the reason.
  if (def.secret && text.size() >= 4 && reason.find(text) != std::string::npos) {
    reason = "invalid value (not shown, as it is a secret)";
  }
  throw SettingsError(def.path, source, std::move(reason));
}

// ---- Sources ----

std::string displayPath(const std::filesystem::path& path) {
  return path.lexically_normal().string();
}

std::string readFile(const std::filesystem::path& path, const std::string& source) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw SettingsError(displayPath(path), source, "expected a file, got a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw SettingsError(displayPath(path), source,
                        fmt::format("cannot open the file: {}", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// TOML scalars go through the same parsers as environment text, so `io_threads = 4` and
// `io_threads = "4"` mean the same and every source reports errors alike.
std::optional<std::string> scalarText(const toml::node& node) {
  if (const auto* v = node.as_string()) return v->get();
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return fmt::format("{}", v->get());
  if (const auto* v = node.as_boolean()) return std::string(v->get() ? "true" : "false");
  return std::nullopt;
}

using TomlEntry = std::pair<const toml::key*, const toml::node*>;

// toml++ iterates a table in key order; errors should point at the first problem in the file.
std::vector<TomlEntry> inFileOrder(const toml::table& table) {
  std::vector<TomlEntry> entries;
  for (const auto& [key, node] : table) entries.emplace_back(&key, &node);
  std::sort(entries.begin(), entries.end(), [](const TomlEntry& a, const TomlEntry& b) {
    const auto& x = a.first->source().begin;
    const auto& y = b.first->source().begin;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  return entries;
}

std::string tomlSource(const std::string& file, const toml::key& key, const toml::node& node) {
  const auto line =
      key.source().begin.line != 0 ? key.source().begin.line : node.source().begin.line;
  return fmt::format("{}:{}", file, line);
}

[[noreturn]] void throwUnknownToml(const std::string& path, const toml::key& key,
                                   const toml::node& node, const std::string& file) {
  // Inside an unknown section, the first key's full path gets the most useful suggestion
  // ("serverr.listen": did you mean server.listen?).
  if (const auto* sub = node.as_table(); sub != nullptr && !sub->empty()) {
    const auto [first_key, first_node] = inFileOrder(*sub).front();
    throwUnknownToml(fmt::format("{}.{}", path, first_key->str()), *first_key, *first_node, file);
  }
  if (node.is_table()) {
    throw SettingsError(path, tomlSource(file, key, node),
                        unknownReason("unknown section", path, allSections()));
  }
  throw SettingsError(path, tomlSource(file, key, node),
                      unknownReason("unknown setting", path, allPaths()));
}

// Tables whose keys are names the user chooses; kept as parsed for their module to validate.
std::shared_ptr<const TomlTree>* openTable(Settings& settings, std::string_view path) {
  if (path == "gateway.providers") return &settings.gateway.providers;
  if (path == "gateway.models") return &settings.gateway.models;
  if (path == "gateway.policies") return &settings.gateway.policies;
  if (path == "gateway.keys") return &settings.gateway.keys;
  return nullptr;
}

void applyTomlTable(Settings& settings, const toml::table& table, const std::string& prefix,
                    const std::string& file, const std::shared_ptr<const toml::table>& root) {
  for (const auto& [key, node] : inFileOrder(table)) {
    const std::string path =
        prefix.empty() ? std::string(key->str()) : fmt::format("{}.{}", prefix, key->str());
    if (auto* open = openTable(settings, path)) {
      const auto* sub = node->as_table();
      if (sub == nullptr) {
        throw SettingsError(
            path, tomlSource(file, *key, *node),
            fmt::format("expected a table ([{}.NAME]), got {}", path, tomlTypeName(*node)));
      }
      *open = std::make_shared<const TomlTree>(TomlTree{file, root, sub});
    } else if (const SettingDef* def = findByPath(path)) {
      const auto text = scalarText(*node);
      if (!text) {
        throw SettingsError(
            path, tomlSource(file, *key, *node),
            fmt::format("expected a string, number or boolean, got {}", tomlTypeName(*node)));
      }
      apply(settings, *def, *text, tomlSource(file, *key, *node));
    } else if (!isSection(path)) {
      throwUnknownToml(path, *key, *node, file);
    } else if (const auto* sub = node->as_table()) {
      applyTomlTable(settings, *sub, path, file, root);
    } else {
      throw SettingsError(
          path, tomlSource(file, *key, *node),
          fmt::format("expected a table of settings ([{}]), got {}", path, tomlTypeName(*node)));
    }
  }
}

void applyTomlFile(Settings& settings, const std::filesystem::path& path,
                   const std::string& named_by) {
  const std::string file = displayPath(path);
  const std::string text = readFile(path, named_by);
  auto root = std::make_shared<toml::table>();
  try {
    *root = toml::parse(text, file);
  } catch (const toml::parse_error& e) {
    const auto& begin = e.source().begin;
    throw SettingsError(file, fmt::format("{}:{}:{}", file, begin.line, begin.column),
                        std::string(e.description()));
  }
  applyTomlTable(settings, *root, "", file, root);
}

// One PHAROS_* variable from the environment or the .env file; other names are not ours.
void applyVariable(Settings& settings, const std::string& name, std::string_view value,
                   const std::string& source) {
  if (!name.starts_with(kEnvPrefix) || name == kConfigEnvVar) return;
  const SettingDef* def = findByEnvVar(name);
  if (def == nullptr) {
    throw SettingsError(name, source, unknownReason("unknown setting", name, allEnvVars()));
  }
  apply(settings, *def, value, source);
}

void applyDotenvFile(Settings& settings, const std::filesystem::path& path,
                     const std::string& named_by) {
  const std::string file = displayPath(path);
  const DotenvParseResult parsed = parseDotenv(readFile(path, named_by));
  if (!parsed.ok()) {
    throw SettingsError(file, fmt::format("{}:{}", file, parsed.error->line), parsed.error->reason);
  }
  for (const auto& entry : parsed.entries) {
    const std::string source = fmt::format("{}:{}", file, entry.line);
    // The config file is chosen before .env is read, so naming it here could only be ignored.
    if (entry.key == kConfigEnvVar) {
      throw SettingsError(entry.key, source,
                          "the config file cannot be chosen in .env; set PHAROS_CONFIG in the "
                          "environment or pass --config");
    }
    applyVariable(settings, entry.key, entry.value, source);
  }
}

struct LocatedFile {
  std::filesystem::path path;
  std::string named_by;  // the source that named it, for errors
};

// A file named explicitly must exist; the default one is optional.
std::optional<LocatedFile> locate(const std::filesystem::path& working_dir,
                                  const std::optional<std::filesystem::path>& named,
                                  const std::string& named_by,
                                  const std::filesystem::path& default_name) {
  if (named) {
    LocatedFile file{working_dir / *named, named_by};
    std::error_code ec;
    if (!std::filesystem::exists(file.path, ec)) {
      throw SettingsError(displayPath(file.path), named_by, "file not found");
    }
    return file;
  }
  LocatedFile file{working_dir / default_name, displayPath(working_dir / default_name)};
  std::error_code ec;
  if (!std::filesystem::exists(file.path, ec)) return std::nullopt;
  return file;
}

}  // namespace

std::string ListenAddress::toString() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool ListenAddress::isLoopback() const {
  if (asciiLower(host) == "localhost") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    return reinterpret_cast<const unsigned char*>(&v4.s_addr)[0] == 127;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    const unsigned char* b = v6.s6_addr;
    const bool first_ten_zero = std::all_of(b, b + 10, [](unsigned char c) { return c == 0; });
    const bool ipv6_loopback = first_ten_zero && b[10] == 0 && b[11] == 0 && b[12] == 0 &&
                               b[13] == 0 && b[14] == 0 && b[15] == 1;
    const bool v4_mapped_loopback =
        first_ten_zero && b[10] == 0xff && b[11] == 0xff && b[12] == 127;
    return ipv6_loopback || v4_mapped_loopback;
  }
  return false;
}

bool Settings::keysRequired() const {
  switch (auth.mode) {
    case AuthMode::kRequired:
      return true;
    case AuthMode::kNone:
      return false;
    case AuthMode::kAuto:
      return !server.listen.isLoopback() ||
             (server.otlp_grpc_listen && !server.otlp_grpc_listen->isLoopback());
  }
  return true;
}

SettingsError::SettingsError(std::string key, std::string source, std::string reason)
    : std::runtime_error(fmt::format("{}: {} (from {})", key, reason, source)),
      key_(std::move(key)),
      source_(std::move(source)),
      reason_(std::move(reason)) {}

Settings loadSettings(const SettingsSources& sources) {
  Settings settings;
  const auto& env = sources.environment;

  std::optional<std::filesystem::path> config_named = sources.config_file;
  std::string config_named_by = "flag --config";
  if (!config_named) {
    // An empty PHAROS_CONFIG counts as unset, as with ${PHAROS_CONFIG:-} in a shell.
    if (auto it = env.find(std::string(kConfigEnvVar)); it != env.end() && !it->second.empty()) {
      config_named = it->second;
      config_named_by = fmt::format("environment {}", kConfigEnvVar);
    }
  }
  if (auto file = locate(sources.working_dir, config_named, config_named_by, "pharos.toml")) {
    applyTomlFile(settings, file->path, file->named_by);
  }
  if (auto file = locate(sources.working_dir, sources.env_file, "flag --env-file", ".env")) {
    applyDotenvFile(settings, file->path, file->named_by);
  }
  for (const auto& [name, value] : env) {
    applyVariable(settings, name, value, fmt::format("environment {}", name));
  }
  for (const auto& [path, value] : sources.overrides) {
    const SettingDef* def = findByPath(path);
    if (def == nullptr) {
      throw SettingsError(path, "flag", unknownReason("unknown setting", path, allPaths()));
    }
    apply(settings, *def, value, "flag");
  }
  return settings;
}

std::map<std::string, std::string> processEnvironment() {
  std::map<std::string, std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    out.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return out;
}

std::string renderSettingsToml(const Settings& settings) {
  std::string out;
  std::string_view section;
  for (const auto& def : registry()) {
    const std::size_t dot = def.path.find('.');
    const std::string_view def_section = std::string_view(def.path).substr(0, dot);
    if (def_section != section) {
      if (!out.empty()) out.push_back('\n');
      out += fmt::format("[{}]\n", def_section);
      section = def_section;
    }
    out += fmt::format("{} = {}\n", def.path.substr(dot + 1), def.render(settings));
  }
  for (const auto& [name, tree] : {std::pair{"providers", settings.gateway.providers},
                                   std::pair{"models", settings.gateway.models},
                                   std::pair{"policies", settings.gateway.policies},
                                   std::pair{"keys", settings.gateway.keys}}) {
    if (!tree) continue;
    std::ostringstream rendered;
    rendered << toml::table{{"gateway", toml::table{{name, *tree->table}}}};
    out += "\n" + rendered.str() + "\n";
  }
  return out;
}

std::vector<SettingInfo> describeSettings() {
  const Settings defaults;
  std::vector<SettingInfo> out;
  for (const auto& def : registry()) {
    out.push_back({def.path, def.env_var, def.render(defaults), def.description});
  }
  return out;
}

}  // namespace pharos::core
