#include "gateway/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/toml_tree.h"
#include "policy/policy_config.h"

namespace pharos::gateway {

namespace {

constexpr std::string_view kClassNames[kErrorClassCount] = {
    "rate_limit", "server_error", "timeout", "connection", "malformed", "client_error"};

// Where a node sits in the config file, for errors.
std::string sourceOf(const core::TomlTree& tree, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line == 0 ? tree.file : fmt::format("{}:{}", tree.file, line);
}

[[noreturn]] void fail(const core::TomlTree& tree, const std::string& path, const toml::node& node,
                       std::string reason) {
  throw core::SettingsError(path, sourceOf(tree, node), std::move(reason));
}

// The policy parsers report "key: reason (from file:line)": kept as the key, reason and source
// they name.
[[noreturn]] void failPolicy(const core::TomlTree& tree, const std::string& where,
                             const toml::node& node, const std::string& message) {
  const std::size_t colon = message.find(": ");
  const std::size_t from = message.rfind(" (from ");
  if (colon != std::string::npos && from != std::string::npos && from > colon &&
      message.back() == ')' && message.find(' ') > colon) {
    throw core::SettingsError(message.substr(0, colon),
                              message.substr(from + 7, message.size() - from - 8),
                              message.substr(colon + 2, from - colon - 2));
  }
  fail(tree, where, node, message);
}

void rejectUnknownKeys(const core::TomlTree& tree, const std::string& path,
                       const toml::table& table, std::initializer_list<std::string_view> known) {
  for (const auto& [key, node] : table) {
    if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
    std::string list;
    for (auto name : known) list += fmt::format("{}{}", list.empty() ? "" : ", ", name);
    fail(tree, fmt::format("{}.{}", path, key.str()), node,
         fmt::format("unknown setting; expected one of: {}", list));
  }
}

std::string requireString(const core::TomlTree& tree, const std::string& path,
                          const toml::node& node) {
  const auto* value = node.as_string();
  if (value == nullptr)
    fail(tree, path, node, "expected a string, got " + std::string(core::tomlTypeName(node)));
  return value->get();
}

double requireNumber(const core::TomlTree& tree, const std::string& path, const toml::node& node,
                     double min, double max) {
  double value = 0;
  if (const auto* i = node.as_integer()) {
    value = static_cast<double>(i->get());
  } else if (const auto* f = node.as_floating_point()) {
    value = f->get();
  } else {
    fail(tree, path, node, "expected a number, got " + std::string(core::tomlTypeName(node)));
  }
  if (!std::isfinite(value) || value < min || value > max) {
    fail(tree, path, node, fmt::format("expected a number from {} to {}, got {}", min, max, value));
  }
  return value;
}

std::chrono::milliseconds requireSeconds(const core::TomlTree& tree, const std::string& path,
                                         const toml::node& node) {
  const double seconds = requireNumber(tree, path, node, 0.001, 86'400);
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

ErrorClassSet requireClasses(const core::TomlTree& tree, const std::string& path,
                             const toml::node& node) {
  const auto* array = node.as_array();
  if (array == nullptr) fail(tree, path, node, "expected an array of error classes");
  ErrorClassSet set;
  for (const auto& item : *array) {
    const std::string name = requireString(tree, path, item);
    auto parsed = parseErrorClass(name);
    if (!parsed) {
      fail(tree, path, item,
           fmt::format("unknown error class \"{}\"; expected rate_limit, server_error, timeout, "
                       "connection, malformed or client_error",
                       name));
    }
    set.add(*parsed);
  }
  return set;
}

std::unique_ptr<Provider> parseProvider(const core::TomlTree& tree, const std::string& name,
                                        const toml::node& node,
                                        const std::map<std::string, std::string>& environment) {
  const std::string path = fmt::format("gateway.providers.{}", name);
  const auto* table = node.as_table();
  if (table == nullptr)
    fail(tree, path, node, "expected a table, got " + std::string(core::tomlTypeName(node)));
  rejectUnknownKeys(tree, path, *table,
                    {"base_url", "api_key_env", "headers", "tls_verify", "ca_file"});
  auto provider = std::make_unique<Provider>();
  provider->name = name;
  const toml::node* base_url = table->get("base_url");
  if (base_url == nullptr) fail(tree, path, node, "base_url is required");
  auto origin = http::parseBaseUrl(requireString(tree, path + ".base_url", *base_url));
  if (!origin) fail(tree, path + ".base_url", *base_url, origin.error().message);
  provider->origin = std::move(origin).value();

  if (const toml::node* env = table->get("api_key_env")) {
    const std::string variable = requireString(tree, path + ".api_key_env", *env);
    auto it = environment.find(variable);
    if (it == environment.end() || it->second.empty()) {
      fail(tree, path + ".api_key_env", *env,
           fmt::format("the environment variable {} is not set (it holds this provider's API "
                       "key; remove api_key_env for an upstream without keys)",
                       variable));
    }
    provider->api_key = core::Secret(it->second);
  }
  if (const toml::node* headers = table->get("headers")) {
    const auto* header_table = headers->as_table();
    if (header_table == nullptr) {
      fail(tree, path + ".headers", *headers, "expected a table of header = \"value\"");
    }
    for (const auto& [key, value] : *header_table) {
      provider->headers.emplace_back(
          std::string(key.str()),
          requireString(tree, fmt::format("{}.headers.{}", path, key.str()), value));
    }
  }
  http::ClientPoolOptions pool_options;
  if (const toml::node* verify = table->get("tls_verify")) {
    const auto* flag = verify->as_boolean();
    if (flag == nullptr) fail(tree, path + ".tls_verify", *verify, "expected true or false");
    pool_options.tls.verify = flag->get();
  }
  if (const toml::node* ca = table->get("ca_file")) {
    pool_options.tls.ca_file = requireString(tree, path + ".ca_file", *ca);
  }
  try {
    provider->pool = std::make_shared<http::ClientPool>(pool_options);
  } catch (const std::exception& e) {
    fail(tree, path + ".ca_file", *table->get("ca_file"), e.what());
  }
  return provider;
}

RetryPolicy parseRetry(const core::TomlTree& tree, const std::string& path,
                       const toml::node& node) {
  const auto* table = node.as_table();
  if (table == nullptr) fail(tree, path, node, "expected a table such as { attempts = 3 }");
  rejectUnknownKeys(tree, path, *table,
                    {"attempts", "multiplier", "min_wait_s", "max_wait_s", "jitter_s"});
  RetryPolicy retry;
  if (const auto* n = table->get("attempts")) {
    retry.attempts = static_cast<unsigned>(requireNumber(tree, path + ".attempts", *n, 1, 100));
    if (!n->is_integer()) fail(tree, path + ".attempts", *n, "expected a whole number");
  }
  if (const auto* n = table->get("multiplier")) {
    retry.multiplier = requireNumber(tree, path + ".multiplier", *n, 0, 3600);
  }
  if (const auto* n = table->get("min_wait_s")) {
    retry.min_wait_s = requireNumber(tree, path + ".min_wait_s", *n, 0, 3600);
  }
  if (const auto* n = table->get("max_wait_s")) {
    retry.max_wait_s = requireNumber(tree, path + ".max_wait_s", *n, 0, 3600);
  }
  if (const auto* n = table->get("jitter_s")) {
    retry.jitter_s = requireNumber(tree, path + ".jitter_s", *n, 0, 3600);
  }
  if (retry.max_wait_s < retry.min_wait_s) {
    fail(tree, path, node,
         fmt::format("max_wait_s ({}) is below min_wait_s ({})", retry.max_wait_s,
                     retry.min_wait_s));
  }
  return retry;
}

}  // namespace

std::string_view errorClassName(ErrorClass error_class) {
  return kClassNames[static_cast<std::size_t>(error_class)];
}

std::optional<ErrorClass> parseErrorClass(std::string_view name) {
  for (std::size_t i = 0; i < kErrorClassCount; ++i) {
    if (kClassNames[i] == name) return static_cast<ErrorClass>(i);
  }
  return std::nullopt;
}

std::string ErrorClassSet::toString() const {
  std::string out;
  for (std::size_t i = 0; i < kErrorClassCount; ++i) {
    if (!contains(static_cast<ErrorClass>(i))) continue;
    if (!out.empty()) out += ", ";
    out += kClassNames[i];
  }
  return out;
}

std::chrono::microseconds RetryPolicy::waitBeforeRetry(unsigned retry_number,
                                                       double random01) const {
  const double exponent = std::min<double>(retry_number == 0 ? 0 : retry_number - 1, 62);
  const double base = std::clamp(multiplier * std::pow(2.0, exponent), min_wait_s, max_wait_s);
  const double seconds = base + jitter_s * std::clamp(random01, 0.0, 1.0);
  return std::chrono::microseconds(static_cast<std::int64_t>(std::llround(seconds * 1e6)));
}

GatewayConfig GatewayConfig::fromSettings(const core::GatewaySettings& settings,
                                          const std::map<std::string, std::string>& environment) {
  GatewayConfig config;
  if (settings.providers) {
    const core::TomlTree& tree = *settings.providers;
    for (const auto& [key, node] : *tree.table) {
      const std::string name(key.str());
      if (name.empty() || name.find('/') != std::string::npos) {
        fail(tree, "gateway.providers." + name, node,
             "a provider name must be non-empty and contain no '/'");
      }
      config.providers_.emplace(name, parseProvider(tree, name, node, environment));
    }
  }
  if (settings.models) {
    const core::TomlTree& tree = *settings.models;
    for (const auto& [key, node] : *tree.table) {
      const std::string name(key.str());
      const std::string path = fmt::format("gateway.models.\"{}\"", name);
      const auto* table = node.as_table();
      if (table == nullptr)
        fail(tree, path, node, "expected a table, got " + std::string(core::tomlTypeName(node)));
      rejectUnknownKeys(
          tree, path, *table,
          {"targets", "retry", "attempt_timeout_s", "total_timeout_s", "first_token_timeout_s",
           "retry_on", "fallback_on", "static_response", "max_cost_per_query", "policy", "cache"});
      ModelRoute route;
      route.name = name;
      const toml::node* targets = table->get("targets");
      const auto* target_array = targets != nullptr ? targets->as_array() : nullptr;
      if (target_array == nullptr || target_array->empty()) {
        fail(tree, path + ".targets", targets != nullptr ? *targets : node,
             "expected a non-empty array of \"provider/model\" strings");
      }
      for (const auto& item : *target_array) {
        const std::string text = requireString(tree, path + ".targets", item);
        const std::size_t slash = text.find('/');
        if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
          fail(tree, path + ".targets", item,
               fmt::format("\"{}\" is not \"provider/model\"", text));
        }
        auto provider = config.providers_.find(text.substr(0, slash));
        if (provider == config.providers_.end()) {
          std::string known;
          for (const auto& [p, _] : config.providers_) known += (known.empty() ? "" : ", ") + p;
          fail(tree, path + ".targets", item,
               fmt::format("no provider \"{}\" in [gateway.providers] (configured: {})",
                           text.substr(0, slash), known.empty() ? "none" : known));
        }
        route.targets.push_back({provider->second.get(), text.substr(slash + 1), text});
      }
      if (const auto* n = table->get("retry")) route.retry = parseRetry(tree, path + ".retry", *n);
      if (const auto* n = table->get("attempt_timeout_s")) {
        route.attempt_timeout = requireSeconds(tree, path + ".attempt_timeout_s", *n);
      }
      if (const auto* n = table->get("total_timeout_s")) {
        route.total_timeout = requireSeconds(tree, path + ".total_timeout_s", *n);
      }
      if (const auto* n = table->get("first_token_timeout_s")) {
        route.first_token_timeout = requireSeconds(tree, path + ".first_token_timeout_s", *n);
      }
      if (const auto* n = table->get("retry_on")) {
        route.retry_on = requireClasses(tree, path + ".retry_on", *n);
      }
      if (const auto* n = table->get("fallback_on")) {
        route.fallback_on = requireClasses(tree, path + ".fallback_on", *n);
      }
      if (const auto* n = table->get("static_response")) {
        route.static_response = requireString(tree, path + ".static_response", *n);
      }
      if (const auto* n = table->get("max_cost_per_query")) {
        route.max_cost_per_query = requireNumber(tree, path + ".max_cost_per_query", *n, 0, 1e9);
      }
      if (const auto* n = table->get("policy")) {
        route.policy = requireString(tree, path + ".policy", *n);
      }
      if (const auto* n = table->get("cache")) {
        const auto* flag = n->as_boolean();
        if (flag == nullptr) {
          fail(tree, path + ".cache", *n,
               "expected true or false, got " + std::string(core::tomlTypeName(*n)));
        }
        route.cache = flag->get();
      }
      config.models_.emplace(name, std::move(route));
    }
  }
  if (settings.policies) {
    const core::TomlTree& tree = *settings.policies;
    for (const auto& [key, node] : *tree.table) {
      const std::string name(key.str());
      const std::string path = fmt::format("gateway.policies.{}", name);
      const auto* table = node.as_table();
      if (table == nullptr)
        fail(tree, path, node, "expected a table, got " + std::string(core::tomlTypeName(node)));
      rejectUnknownKeys(tree, path, *table, {"input", "output"});
      GatewayPolicy policy;
      policy.name = name;
      for (std::string_view part : {"input", "output"}) {
        const toml::node* sub = table->get(part);
        if (sub == nullptr) continue;
        const std::string where = fmt::format("{}.{}", path, part);
        const auto* sub_table = sub->as_table();
        if (sub_table == nullptr) {
          fail(tree, where, *sub, "expected a table, got " + std::string(core::tomlTypeName(*sub)));
        }
        if (part == "input") {
          auto parsed = policy::parseInputPolicy(*sub_table, where);
          if (!parsed) failPolicy(tree, where, *sub, parsed.error().message);
          auto compiled = policy::InputValidator::compile(*parsed);
          if (!compiled) failPolicy(tree, where, *sub, compiled.error().message);
          policy.input = std::move(compiled).value();
        } else {
          auto parsed = policy::parseOutputPolicy(*sub_table, where);
          if (!parsed) failPolicy(tree, where, *sub, parsed.error().message);
          auto compiled = policy::OutputSanitizer::compile(*parsed);
          if (!compiled) failPolicy(tree, where, *sub, compiled.error().message);
          policy.output =
              std::make_shared<const policy::OutputSanitizer>(std::move(compiled).value());
        }
      }
      config.policies_.emplace(name, std::move(policy));
    }
  }
  const auto requirePolicy = [&](const std::string& name, const std::string& path,
                                 const core::TomlTree* tree, const toml::node* node) {
    if (name.empty() || config.policies_.contains(name)) return;
    std::string known;
    for (const auto& [p, _] : config.policies_) known += (known.empty() ? "" : ", ") + p;
    const std::string reason =
        fmt::format("no policy \"{}\" in [gateway.policies] (configured: {})", name,
                    known.empty() ? "none" : known);
    if (tree != nullptr && node != nullptr) fail(*tree, path, *node, reason);
    throw core::SettingsError(path, "configuration", reason);
  };
  config.default_policy_ = settings.policy;
  requirePolicy(settings.policy, "gateway.policy", nullptr, nullptr);
  if (settings.models) {
    for (const auto& [name, route] : config.models_) {
      const toml::node* model = settings.models->table->get(name);
      const toml::node* node =
          model != nullptr && model->is_table() ? model->as_table()->get("policy") : nullptr;
      requirePolicy(route.policy, fmt::format("gateway.models.\"{}\".policy", name),
                    settings.models.get(), node);
    }
  }
  if (settings.keys) {
    const core::TomlTree& tree = *settings.keys;
    for (const auto& [key, node] : *tree.table) {
      const std::string path = fmt::format("gateway.keys.\"{}\"", key.str());
      const auto* table = node.as_table();
      if (table == nullptr)
        fail(tree, path, node, "expected a table, got " + std::string(core::tomlTypeName(node)));
      rejectUnknownKeys(tree, path, *table,
                        {"budget_usd", "max_cost_per_query", "rpm", "tpm", "policy"});
      KeyLimits limits;
      if (const auto* n = table->get("budget_usd")) {
        limits.budget_usd = requireNumber(tree, path + ".budget_usd", *n, 0, 1e12);
      }
      if (const auto* n = table->get("max_cost_per_query")) {
        limits.max_cost_per_query = requireNumber(tree, path + ".max_cost_per_query", *n, 0, 1e9);
      }
      if (const auto* n = table->get("rpm")) {
        limits.rpm = static_cast<unsigned>(requireNumber(tree, path + ".rpm", *n, 0, 1e8));
      }
      if (const auto* n = table->get("tpm")) {
        limits.tpm = static_cast<unsigned>(requireNumber(tree, path + ".tpm", *n, 0, 4e9));
      }
      if (const auto* n = table->get("policy")) {
        limits.policy = requireString(tree, path + ".policy", *n);
      }
      requirePolicy(limits.policy, path + ".policy", &tree, table->get("policy"));
      config.keys_.emplace(std::string(key.str()), std::move(limits));
    }
  }
  return config;
}

const GatewayPolicy* GatewayConfig::policyFor(std::string_view key_id,
                                              const ModelRoute& route) const {
  std::string_view name = default_policy_;
  if (!route.policy.empty()) name = route.policy;
  if (auto key = keys_.find(key_id); key != keys_.end() && !key->second.policy.empty()) {
    name = key->second.policy;
  }
  if (name.empty()) return nullptr;
  auto it = policies_.find(name);
  return it == policies_.end() ? nullptr : &it->second;
}

std::optional<ModelRoute> GatewayConfig::route(std::string_view model) const {
  if (auto it = models_.find(std::string(model)); it != models_.end()) return it->second;
  const std::size_t slash = model.find('/');
  if (slash == std::string_view::npos || slash + 1 == model.size()) return std::nullopt;
  auto provider = providers_.find(std::string(model.substr(0, slash)));
  if (provider == providers_.end()) return std::nullopt;
  ModelRoute direct;
  direct.name = std::string(model);
  direct.targets.push_back(
      {provider->second.get(), std::string(model.substr(slash + 1)), std::string(model)});
  return direct;
}

}  // namespace pharos::gateway
