#include "gateway/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/toml_tree.h"

namespace pharos::gateway {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The [gateway] tables of a pharos.toml text, as core::loadSettings keeps them.
core::GatewaySettings gatewaySettings(std::string_view text) {
  auto root = std::make_shared<toml::table>(toml::parse(text, std::string_view("pharos.toml")));
  core::GatewaySettings settings;
  const toml::table* gateway = (*root)["gateway"].as_table();
  if (gateway == nullptr) return settings;
  if (const auto* providers = (*gateway)["providers"].as_table()) {
    settings.providers =
        std::make_shared<core::TomlTree>(core::TomlTree{"pharos.toml", root, providers});
  }
  if (const auto* models = (*gateway)["models"].as_table()) {
    settings.models = std::make_shared<core::TomlTree>(core::TomlTree{"pharos.toml", root, models});
  }
  if (const auto* policies = (*gateway)["policies"].as_table()) {
    settings.policies =
        std::make_shared<core::TomlTree>(core::TomlTree{"pharos.toml", root, policies});
  }
  if (const auto* keys = (*gateway)["keys"].as_table()) {
    settings.keys = std::make_shared<core::TomlTree>(core::TomlTree{"pharos.toml", root, keys});
  }
  if (const auto* policy = (*gateway)["policy"].as_string()) settings.policy = policy->get();
  return settings;
}

// The issue's example, as written.
constexpr std::string_view kExample = R"(
[gateway.providers.primary]
base_url = "http://127.0.0.1:18001/v1"
api_key_env = "PRIMARY_API_KEY"

[gateway.providers.backup]
base_url = "http://127.0.0.1:18002/v1"

[gateway.models."gpt-4o"]
targets = ["primary/gpt-4o", "backup/gpt-4o-mini"]
retry = { attempts = 3, multiplier = 1.0, min_wait_s = 4, max_wait_s = 60 }
)";

std::string errorOf(std::string_view text, std::map<std::string, std::string> env = {}) {
  try {
    (void)GatewayConfig::fromSettings(gatewaySettings(text), env);
  } catch (const core::SettingsError& e) {
    return e.what();
  }
  return "no error";
}

TEST(GatewayConfig, TheExampleWorksAsWritten) {
  const auto config =
      GatewayConfig::fromSettings(gatewaySettings(kExample), {{"PRIMARY_API_KEY", "sk-test"}});
  ASSERT_EQ(config.providers().size(), 2u);
  const Provider& primary = *config.providers().at("primary");
  EXPECT_EQ(primary.origin.key(), "http://127.0.0.1:18001");
  EXPECT_EQ(primary.origin.base_path, "/v1");
  EXPECT_EQ(primary.api_key.reveal(), "sk-test");
  EXPECT_TRUE(config.providers().at("backup")->api_key.empty());

  auto route = config.route("gpt-4o");
  ASSERT_TRUE(route);
  ASSERT_EQ(route->targets.size(), 2u);
  EXPECT_EQ(route->targets[0].label, "primary/gpt-4o");
  EXPECT_EQ(route->targets[0].provider, &primary);
  EXPECT_EQ(route->targets[1].model, "gpt-4o-mini");
  EXPECT_EQ(route->retry.attempts, 3u);
  EXPECT_EQ(route->retry.min_wait_s, 4);
  EXPECT_EQ(route->retry.max_wait_s, 60);
}

TEST(GatewayConfig, TheShippedExampleFileLoadsAsWritten) {
  core::SettingsSources sources;
  sources.config_file = std::filesystem::path(PHAROS_SOURCE_DIR) / "pharos.example.toml";
  sources.working_dir = std::filesystem::temp_directory_path();
  const core::Settings settings = core::loadSettings(sources);
  const auto config =
      GatewayConfig::fromSettings(settings.gateway, {{"PRIMARY_API_KEY", "sk-example"}});
  auto route = config.route("gpt-4o");
  ASSERT_TRUE(route);
  ASSERT_EQ(route->targets.size(), 2u);
  EXPECT_EQ(route->targets[0].label, "primary/gpt-4o");
  EXPECT_EQ(route->targets[1].label, "backup/gpt-4o-mini");
  EXPECT_EQ(route->targets[0].provider->origin.key(), "http://127.0.0.1:18001");
  EXPECT_EQ(route->retry.attempts, 3u);
  EXPECT_EQ(route->retry.multiplier, 1.0);
  EXPECT_EQ(route->retry.min_wait_s, 4);
  EXPECT_EQ(route->retry.max_wait_s, 60);
  EXPECT_EQ(settings.gateway.project, "gateway");
}

TEST(GatewayConfig, SeedBackoffIsTenacityWaitExponential) {
  // wait_exponential(multiplier=1, min=4, max=60): 1, 2, 4, 8, ... clamped to [4, 60].
  RetryPolicy seed{
      .attempts = 3, .multiplier = 1, .min_wait_s = 4, .max_wait_s = 60, .jitter_s = 0};
  const std::int64_t expected[] = {4, 4, 4, 8, 16, 32, 60, 60};
  for (unsigned n = 1; n <= 8; ++n) {
    EXPECT_EQ(seed.waitBeforeRetry(n, 0.5), std::chrono::seconds(expected[n - 1])) << "retry " << n;
  }
  RetryPolicy jittered = seed;
  jittered.jitter_s = 1;
  EXPECT_EQ(jittered.waitBeforeRetry(1, 0.25), 4250ms);
}

TEST(GatewayConfig, DirectProviderModelRoutes) {
  const auto config =
      GatewayConfig::fromSettings(gatewaySettings(kExample), {{"PRIMARY_API_KEY", "k"}});
  auto direct = config.route("backup/llama-3.1-8b");
  ASSERT_TRUE(direct);
  ASSERT_EQ(direct->targets.size(), 1u);
  EXPECT_EQ(direct->targets[0].model, "llama-3.1-8b");
  EXPECT_FALSE(config.route("unknown/model"));
  EXPECT_FALSE(config.route("gpt-5"));
}

TEST(GatewayConfig, EveryKeyIsParsed) {
  const auto config = GatewayConfig::fromSettings(gatewaySettings(R"(
[gateway.providers.p]
base_url = "https://example.com/v1"
headers = { "x-team" = "search" }
tls_verify = false
[gateway.models.m]
targets = ["p/a"]
attempt_timeout_s = 1.5
total_timeout_s = 10
first_token_timeout_s = 0.25
retry_on = ["rate_limit"]
fallback_on = ["client_error", "timeout"]
static_response = "busy"
)"),
                                                  {});
  const ModelRoute& m = config.models().at("m");
  EXPECT_EQ(m.attempt_timeout, 1500ms);
  EXPECT_EQ(m.total_timeout, 10s);
  EXPECT_EQ(m.first_token_timeout, 250ms);
  EXPECT_EQ(m.retry_on.toString(), "rate_limit");
  EXPECT_EQ(m.fallback_on.toString(), "timeout, client_error");
  EXPECT_EQ(m.static_response, "busy");
  const Provider& p = *config.providers().at("p");
  EXPECT_TRUE(p.origin.tls);
  ASSERT_EQ(p.headers.size(), 1u);
  EXPECT_EQ(p.headers[0].first, "x-team");
  EXPECT_FALSE(p.pool->options().tls.verify);
}

TEST(GatewayConfig, ErrorsNameTheKeyAndLine) {
  EXPECT_THAT(errorOf(kExample), HasSubstr("gateway.providers.primary.api_key_env"));
  EXPECT_THAT(errorOf(kExample), HasSubstr("PRIMARY_API_KEY is not set"));
  EXPECT_THAT(errorOf(kExample), HasSubstr("pharos.toml:4"));
  EXPECT_THAT(errorOf("[gateway.providers.p]\nbase_url = \"ftp://x\"\n"),
              HasSubstr("gateway.providers.p.base_url"));
  EXPECT_THAT(errorOf("[gateway.providers.p]\nbase_ur = \"http://x\"\n"),
              HasSubstr("unknown setting"));
  EXPECT_THAT(errorOf("[gateway.providers.p]\napi_key_env = \"X\"\n", {{"X", "y"}}),
              HasSubstr("base_url is required"));
  EXPECT_THAT(errorOf("[gateway.models.m]\ntargets = [\"nope/x\"]\n"),
              HasSubstr("no provider \"nope\""));
  EXPECT_THAT(errorOf("[gateway.models.m]\ntargets = []\n"), HasSubstr("non-empty array"));
  EXPECT_THAT(errorOf("[gateway.providers.p]\nbase_url = \"http://x\"\n[gateway.models.m]\n"
                      "targets = [\"p/a\"]\nretry = { attempts = 0 }\n"),
              HasSubstr("from 1 to 100"));
  EXPECT_THAT(errorOf("[gateway.providers.p]\nbase_url = \"http://x\"\n[gateway.models.m]\n"
                      "targets = [\"p/a\"]\nretry_on = [\"everything\"]\n"),
              HasSubstr("unknown error class \"everything\""));
  EXPECT_THAT(errorOf("[gateway.providers.p]\nbase_url = \"http://x\"\n[gateway.models.m]\n"
                      "targets = [\"p/a\"]\nretry = { min_wait_s = 5, max_wait_s = 1 }\n"),
              HasSubstr("max_wait_s (1) is below min_wait_s (5)"));
}

TEST(GatewayConfig, PoliciesKeysAndTheirChoice) {
  const auto config = GatewayConfig::fromSettings(gatewaySettings(R"(
[gateway]
policy = "default"

[gateway.providers.p]
base_url = "http://127.0.0.1:1/v1"

[gateway.models."m"]
targets = ["p/m"]
policy = "strict"
max_cost_per_query = 0.25
cache = false

[gateway.models."plain"]
targets = ["p/plain"]

[gateway.policies.default.output]
redact = ["ssn"]

[gateway.policies.strict.input]
max_chars = 1000
user_id_pattern = "^[a-zA-Z0-9_-]+$"
strip_chars = "<>{}"

[gateway.policies.strict.output]
forbidden_code = [{ language = "python", contains = "import os" }]

[gateway.keys."key-1"]
budget_usd = 5
rpm = 60
tpm = 10000
max_cost_per_query = 0.5
policy = "default"
)"),
                                                  {});
  const ModelRoute& m = config.models().at("m");
  EXPECT_EQ(m.max_cost_per_query, 0.25);
  EXPECT_FALSE(m.cache);
  EXPECT_TRUE(config.models().at("plain").cache);
  const KeyLimits& key = config.keys().at("key-1");
  EXPECT_EQ(key.budget_usd, 5);
  EXPECT_EQ(key.rpm, 60u);
  EXPECT_EQ(key.tpm, 10000u);
  EXPECT_EQ(key.max_cost_per_query, 0.5);
  // The key's policy, else the model's, else the default.
  EXPECT_EQ(config.policyFor("key-1", m)->name, "default");
  EXPECT_EQ(config.policyFor("other", m)->name, "strict");
  EXPECT_EQ(config.policyFor("other", config.models().at("plain"))->name, "default");
  const GatewayPolicy& strict = *config.policyFor("", m);
  ASSERT_TRUE(strict.input.has_value());
  EXPECT_EQ(strict.input->policy().max_chars, 1000u);
  ASSERT_NE(strict.output, nullptr);
  EXPECT_EQ(strict.output->sanitize("```python\nimport os\nos.system('x')\n```"), "[code removed]");
  EXPECT_FALSE(config.policyFor("", m)->name.empty());
}

TEST(GatewayConfig, PolicyErrorsNameTheKeyAndLine) {
  const std::string base = R"(
[gateway.providers.p]
base_url = "http://127.0.0.1:1/v1"
)";
  EXPECT_THAT(errorOf(base + R"(
[gateway.models."m"]
targets = ["p/m"]
policy = "nope"
)"),
              HasSubstr("gateway.models.\"m\".policy: no policy \"nope\" in [gateway.policies] "
                        "(configured: none) (from pharos.toml:7)"));
  EXPECT_THAT(errorOf(base + R"(
[gateway.policies.s.input]
max_chars = "many"
)"),
              HasSubstr("gateway.policies.s.input.max_chars"));
  EXPECT_THAT(
      errorOf(base + R"(
[gateway.policies.s]
inputs = {}
)"),
      HasSubstr("gateway.policies.s.inputs: unknown setting; expected one of: input, output"));
  EXPECT_THAT(errorOf(base + R"(
[gateway.keys."k"]
rpm = -1
)"),
              HasSubstr("gateway.keys.\"k\".rpm: expected a number from 0"));
  EXPECT_THAT(errorOf(base + R"(
[gateway.keys."k"]
budget = 5
)"),
              HasSubstr("gateway.keys.\"k\".budget: unknown setting"));
  EXPECT_THAT(errorOf(base + "[gateway]\npolicy = \"missing\"\n"),
              HasSubstr("gateway.policy: no policy \"missing\""));
}

}  // namespace
}  // namespace pharos::gateway
