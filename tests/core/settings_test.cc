#include "core/settings.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "core/toml_tree.h"

namespace pharos::core {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

namespace fs = std::filesystem;

// Runs `load` expecting a SettingsError and returns it.
SettingsError expectError(const std::function<void()>& load) {
  try {
    load();
  } catch (const SettingsError& e) {
    return e;
  }
  ADD_FAILURE() << "expected a SettingsError";
  return SettingsError("", "", "");
}

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device random;
    dir_ = fs::temp_directory_path() /
           ("pharos-settings-test-" + std::to_string(random()) + std::to_string(random()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const fs::path& name, std::string_view text) {
    fs::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }

  SettingsSources sources() const {
    SettingsSources s;
    s.working_dir = dir_;
    return s;
  }

  Settings load() const { return loadSettings(sources()); }

  SettingsError loadError(const SettingsSources& s) const {
    return expectError([&] { loadSettings(s); });
  }
  SettingsError loadError() const { return loadError(sources()); }

  // One setting given as a flag: the shortest way through a type's parser.
  Settings withFlag(const std::string& path, const std::string& value) const {
    SettingsSources s = sources();
    s.overrides.emplace_back(path, value);
    return loadSettings(s);
  }
  SettingsError flagError(const std::string& path, const std::string& value) const {
    return expectError([&] { withFlag(path, value); });
  }

  fs::path dir_;
};

// ---- layers ----

TEST_F(SettingsTest, NoFilesGivesTheBuiltInDefaults) {
  EXPECT_EQ(renderSettingsToml(load()), renderSettingsToml(Settings{}));
  EXPECT_EQ(load().server.listen.toString(), "127.0.0.1:8080");
}

TEST_F(SettingsTest, EachLayerOverridesTheOneBelow) {
  write("pharos.toml", R"(
[server]
io_threads = 1
blocking_threads = 1
max_connections = 1
[store]
max_batch = 1
)");
  write(".env",
        "PHAROS_SERVER_IO_THREADS=2\nPHAROS_SERVER_BLOCKING_THREADS=2\n"
        "PHAROS_SERVER_MAX_CONNECTIONS=2\n");
  SettingsSources s = sources();
  s.environment = {{"PHAROS_SERVER_IO_THREADS", "3"}, {"PHAROS_SERVER_BLOCKING_THREADS", "3"}};
  s.overrides = {{"server.io_threads", "4"}};

  const Settings settings = loadSettings(s);
  EXPECT_EQ(settings.store.max_batch, 1u);          // file over default
  EXPECT_EQ(settings.server.max_connections, 2u);   // .env over file
  EXPECT_EQ(settings.server.blocking_threads, 3u);  // environment over .env
  EXPECT_EQ(settings.server.io_threads, 4u);        // flag over environment
  EXPECT_EQ(settings.store.reader_threads, StoreSettings{}.reader_threads);  // untouched
}

TEST_F(SettingsTest, LaterFlagsAndLaterDotenvLinesWin) {
  write(".env", "PHAROS_LOG_LEVEL=debug\nPHAROS_LOG_LEVEL=warn\n");
  SettingsSources s = sources();
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kWarn);
  s.overrides = {{"log.level", "error"}, {"log.level", "info"}};
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kInfo);
}

TEST_F(SettingsTest, ExplicitConfigFileReplacesTheDefaultOne) {
  write("pharos.toml", "[log]\nlevel = \"debug\"\n");
  write("conf/other.toml", "[log]\nlevel = \"error\"\n");
  SettingsSources s = sources();
  s.config_file = "conf/other.toml";  // relative to working_dir
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kError);
  EXPECT_EQ(load().log.level, LogLevel::kDebug);
}

TEST_F(SettingsTest, PharosConfigNamesTheFileAndIsNotASetting) {
  write("pharos.toml", "[log]\nlevel = \"debug\"\n");
  write("env.toml", "[log]\nlevel = \"warn\"\n");
  write("flag.toml", "[log]\nlevel = \"error\"\n");
  SettingsSources s = sources();
  s.environment = {{"PHAROS_CONFIG", "env.toml"}};
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kWarn);
  s.config_file = "flag.toml";
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kError);
  s.config_file.reset();
  s.environment = {{"PHAROS_CONFIG", ""}};  // empty counts as unset
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kDebug);
}

TEST_F(SettingsTest, NamedConfigFileMustExist) {
  SettingsSources s = sources();
  s.config_file = "missing.toml";
  SettingsError e = loadError(s);
  EXPECT_THAT(e.key(), EndsWith("missing.toml"));
  EXPECT_EQ(e.source(), "flag --config");
  EXPECT_THAT(e.reason(), HasSubstr("not found"));

  s.config_file.reset();
  s.environment = {{"PHAROS_CONFIG", "gone.toml"}};
  e = loadError(s);
  EXPECT_THAT(e.key(), EndsWith("gone.toml"));
  EXPECT_EQ(e.source(), "environment PHAROS_CONFIG");
}

TEST_F(SettingsTest, ConfigFileThatIsADirectoryIsAnError) {
  fs::create_directories(dir_ / "pharos.toml");
  const SettingsError e = loadError();
  EXPECT_THAT(e.key(), EndsWith("pharos.toml"));
  EXPECT_THAT(e.reason(), HasSubstr("directory"));
}

TEST_F(SettingsTest, ExplicitEnvFileReplacesTheDefaultOneAndMustExist) {
  write(".env", "PHAROS_LOG_LEVEL=debug\n");
  write("prod.env", "PHAROS_LOG_LEVEL=error\n");
  SettingsSources s = sources();
  s.env_file = "prod.env";
  EXPECT_EQ(loadSettings(s).log.level, LogLevel::kError);

  s.env_file = "missing.env";
  const SettingsError e = loadError(s);
  EXPECT_THAT(e.key(), EndsWith("missing.env"));
  EXPECT_EQ(e.source(), "flag --env-file");
}

TEST_F(SettingsTest, OnlyPharosVariablesAreSettings) {
  write(".env", "DATABASE_URL=postgres://x\nOTHER=1\nPHAROS_LOG_ACCESS_LOG=off\n");
  SettingsSources s = sources();
  s.environment = {{"PATH", "/usr/bin"}, {"HOME", "/root"}, {"pharos_lowercase", "x"}};
  const Settings settings = loadSettings(s);
  EXPECT_FALSE(settings.log.access_log);
}

TEST_F(SettingsTest, PharosConfigInDotenvIsRejectedNotIgnored) {
  write(".env", "PHAROS_CONFIG=other.toml\n");
  const SettingsError e = loadError();
  EXPECT_EQ(e.key(), "PHAROS_CONFIG");
  EXPECT_THAT(e.source(), EndsWith(".env:1"));
  EXPECT_THAT(e.reason(), Not(HasSubstr("unknown")));
}

// A non-default value for every setting, and how it renders.
struct Sample {
  std::string value;
  std::string rendered;
};
const std::map<std::string, Sample>& samples() {
  static const std::map<std::string, Sample> kSamples = {
      {"server.listen", {"0.0.0.0:9000", R"("0.0.0.0:9000")"}},
      {"server.otlp_grpc_listen", {"127.0.0.1:14317", R"("127.0.0.1:14317")"}},
      {"server.io_threads", {"3", "3"}},
      {"server.blocking_threads", {"5", "5"}},
      {"server.max_header_bytes", {"8KiB", "8192"}},
      {"server.max_body_bytes", {"1MB", "1000000"}},
      {"server.max_inflated_body_bytes", {"2MiB", "2097152"}},
      {"server.header_timeout", {"3s", R"("3s")"}},
      {"server.body_timeout", {"4s", R"("4s")"}},
      {"server.idle_timeout", {"500ms", R"("500ms")"}},
      {"server.shutdown_grace", {"6s", R"("6s")"}},
      {"server.max_connections", {"7", "7"}},
      {"data.dir", {"/srv/pharos", R"("/srv/pharos")"}},
      {"store.reader_threads", {"8", "8"}},
      {"store.max_batch", {"9", "9"}},
      {"store.max_pending_writes", {"10", "10"}},
      {"store.busy_timeout", {"11s", R"("11s")"}},
      {"auth.mode", {"none", R"("none")"}},
      {"auth.bootstrap_key", {"0123456789abcdef", R"("********")"}},
      {"auth.bootstrap_workspace", {"ops", R"("ops")"}},
      {"auth.key_cache_ttl", {"12s", R"("12s")"}},
      {"tracing.multipart_ingest", {"no", "false"}},
      {"tracing.gzip_ingest", {"0", "false"}},
      {"tracing.pricing_file", {"/etc/pharos/prices.toml", R"("/etc/pharos/prices.toml")"}},
      {"tracing.otlp_max_backlog", {"2GiB", "2147483648"}},
      {"gateway.project", {"llm-calls", R"("llm-calls")"}},
      {"gateway.record_runs", {"false", "false"}},
      {"gateway.otlp_endpoint",
       {"http://127.0.0.1:4318/v1/traces", R"("http://127.0.0.1:4318/v1/traces")"}},
      {"gateway.policy", {"strict", R"("strict")"}},
      {"cache.enabled", {"true", "true"}},
      {"cache.backend", {"redis", R"("redis")"}},
      {"cache.ttl", {"2d", R"("2d")"}},
      {"cache.max_bytes", {"1GiB", "1073741824"}},
      {"cache.max_entries", {"5000", "5000"}},
      {"cache.semantic", {"true", "true"}},
      {"cache.semantic_model", {"embedder", R"("embedder")"}},
      {"cache.semantic_threshold", {"0.9", "0.9"}},
      {"cache.semantic_max_entries", {"2000", "2000"}},
      {"limits.backend", {"redis", R"("redis")"}},
      {"limits.max_cost_per_query", {"0.1", "0.1"}},
      {"limits.key_budget_usd", {"25", "25"}},
      {"limits.user_budget_usd", {"2.5", "2.5"}},
      {"limits.budget_period", {"30d", R"("30d")"}},
      {"limits.key_rpm", {"600", "600"}},
      {"limits.key_tpm", {"100000", "100000"}},
      {"limits.default_max_output_tokens", {"8192", "8192"}},
      {"redis.url", {"redis://10.0.0.5:6380/2", R"("redis://10.0.0.5:6380/2")"}},
      {"redis.timeout", {"250ms", R"("250ms")"}},
      {"audit.enabled", {"true", "true"}},
      {"audit.dir", {"/var/log/pharos-audit", R"("/var/log/pharos-audit")"}},
      {"audit.max_file_bytes", {"16MiB", "16777216"}},
      {"audit.include_query_text", {"true", "true"}},
      {"log.level", {"error", R"("error")"}},
      {"log.access_log", {"off", "false"}},
  };
  return kSamples;
}

// The lines of `after` that differ from `before` (both renders have the same shape).
std::vector<std::string> changedLines(const std::string& before, const std::string& after) {
  std::istringstream a(before), b(after);
  std::vector<std::string> changed;
  for (std::string x, y; std::getline(a, x) && std::getline(b, y);) {
    if (x != y) changed.push_back(y);
  }
  return changed;
}

// Catches a registry entry wired to the wrong field, env var or renderer.
TEST_F(SettingsTest, EverySettingIsReachableFromEnvironmentAndFileAndChangesOnlyItself) {
  const std::string defaults = renderSettingsToml(Settings{});
  for (const SettingInfo& info : describeSettings()) {
    SCOPED_TRACE(info.path);
    const auto sample = samples().find(info.path);
    ASSERT_NE(sample, samples().end()) << "add a sample for the new setting";
    const std::string key = info.path.substr(info.path.find('.') + 1);
    const std::vector<std::string> expected = {key + " = " + sample->second.rendered};

    SettingsSources s = sources();
    s.environment = {{info.env_var, sample->second.value}};
    EXPECT_EQ(changedLines(defaults, renderSettingsToml(loadSettings(s))), expected);

    write("pharos.toml",
          fmt::format("[{}]\n{} = \"{}\"\n", info.path.substr(0, info.path.find('.')), key,
                      sample->second.value));
    EXPECT_EQ(changedLines(defaults, renderSettingsToml(load())), expected);
    fs::remove(dir_ / "pharos.toml");
  }
  EXPECT_EQ(samples().size(), describeSettings().size());
}

// ---- unknown keys ----

TEST_F(SettingsTest, UnknownTomlKeyNamesPathLineAndSuggestion) {
  write("pharos.toml", "[server]\nio_threads = 2\nlistn = \"0.0.0.0:80\"\n");
  const SettingsError e = loadError();
  EXPECT_EQ(e.key(), "server.listn");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:3"));
  EXPECT_THAT(e.reason(), HasSubstr("unknown setting"));
  EXPECT_THAT(e.reason(), HasSubstr("did you mean server.listen?"));
  EXPECT_THAT(e.what(), HasSubstr("server.listn: unknown setting"));
}

TEST_F(SettingsTest, GatewayTablesAreKeptWithTheirLinesForTheGateway) {
  write("pharos.toml",
        "[gateway]\nproject = \"calls\"\n\n[gateway.providers.primary]\n"
        "base_url = \"http://127.0.0.1:18001/v1\"\n\n[gateway.models.\"gpt-4o\"]\n"
        "targets = [\"primary/gpt-4o\"]\n");
  const Settings settings = load();
  EXPECT_EQ(settings.gateway.project, "calls");
  ASSERT_TRUE(settings.gateway.providers);
  ASSERT_TRUE(settings.gateway.models);
  const toml::node* base_url =
      settings.gateway.providers->table->at_path("primary.base_url").node();
  ASSERT_NE(base_url, nullptr);
  EXPECT_EQ(base_url->source().begin.line, 5u);
  EXPECT_THAT(settings.gateway.providers->file, EndsWith("pharos.toml"));
  EXPECT_TRUE(settings.gateway.models->table->contains("gpt-4o"));
  const std::string rendered = renderSettingsToml(settings);
  EXPECT_THAT(rendered, HasSubstr("[gateway.providers.primary]"));
  EXPECT_THAT(rendered, HasSubstr("[gateway.models.gpt-4o]"));

  write("pharos.toml", "[gateway]\nproviders = 3\n");
  const SettingsError e = loadError();
  EXPECT_EQ(e.key(), "gateway.providers");
  EXPECT_THAT(e.reason(), HasSubstr("expected a table"));
}

TEST_F(SettingsTest, UnknownTomlSectionsAtAnyDepth) {
  write("pharos.toml", "[log]\nlevel = \"info\"\n\n[serverr]\nlisten = \"0.0.0.0:80\"\n");
  SettingsError e = loadError();
  EXPECT_EQ(e.key(), "serverr.listen");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:5"));
  EXPECT_THAT(e.reason(), HasSubstr("did you mean server.listen?"));

  write("pharos.toml", "[server.tls]\ncert = \"x.pem\"\n");
  e = loadError();
  EXPECT_EQ(e.key(), "server.tls.cert");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:2"));

  write("pharos.toml", "a.b.c = 1\n");
  EXPECT_EQ(loadError().key(), "a.b.c");

  write("pharos.toml", "[log]\n[empty]\n");
  e = loadError();
  EXPECT_EQ(e.key(), "empty");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:2"));
  EXPECT_THAT(e.reason(), HasSubstr("unknown section"));

  write("pharos.toml", "# top\nname = \"x\"\n");
  e = loadError();
  EXPECT_EQ(e.key(), "name");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:2"));
  EXPECT_THAT(e.reason(), Not(HasSubstr("did you mean")));  // nothing is close

  write("pharos.toml", "[server]\nlisten.port = 80\n");
  e = loadError();
  EXPECT_EQ(e.key(), "server.listen");
  EXPECT_THAT(e.reason(), HasSubstr("got a table"));
}

TEST_F(SettingsTest, TheFirstProblemInTheFileIsReported) {
  // toml++ keeps keys sorted; the error must still follow the file's order.
  write("pharos.toml", "[server]\nzz_unknown = 1\naa_unknown = 2\nio_threads = 9999\n");
  const SettingsError e = loadError();
  EXPECT_EQ(e.key(), "server.zz_unknown");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:2"));
}

TEST_F(SettingsTest, TableOrArrayWhereAValueBelongs) {
  write("pharos.toml", "[server]\n\nlisten = [\"0.0.0.0:80\"]\n");
  SettingsError e = loadError();
  EXPECT_EQ(e.key(), "server.listen");
  EXPECT_THAT(e.source(), EndsWith("pharos.toml:3"));
  EXPECT_THAT(e.reason(), HasSubstr("got an array"));

  write("pharos.toml", "server = 5\n");
  e = loadError();
  EXPECT_EQ(e.key(), "server");
  EXPECT_THAT(e.reason(), HasSubstr("expected a table"));
}

TEST_F(SettingsTest, UnknownEnvironmentVariableSuggestsTheRightOne) {
  SettingsSources s = sources();
  s.environment = {{"PHAROS_SERVER_LISTN", "0.0.0.0:80"}};
  const SettingsError e = loadError(s);
  EXPECT_EQ(e.key(), "PHAROS_SERVER_LISTN");
  EXPECT_EQ(e.source(), "environment PHAROS_SERVER_LISTN");
  EXPECT_THAT(e.reason(), HasSubstr("did you mean PHAROS_SERVER_LISTEN?"));
  EXPECT_THAT(e.what(), Not(HasSubstr("0.0.0.0:80")));
}

TEST_F(SettingsTest, UnknownDotenvVariableNamesTheLine) {
  write(".env", "# settings\nPHAROS_LOG_LEVL=debug\n");
  const SettingsError e = loadError();
  EXPECT_EQ(e.key(), "PHAROS_LOG_LEVL");
  EXPECT_THAT(e.source(), EndsWith(".env:2"));
  EXPECT_THAT(e.reason(), HasSubstr("did you mean PHAROS_LOG_LEVEL?"));
}

TEST_F(SettingsTest, UnknownOverridePath) {
  const SettingsError e = flagError("store.max_batches", "5");
  EXPECT_EQ(e.key(), "store.max_batches");
  EXPECT_EQ(e.source(), "flag");
  EXPECT_THAT(e.reason(), HasSubstr("did you mean store.max_batch?"));
}

TEST_F(SettingsTest, TomlSyntaxErrorNamesFileLineAndColumn) {
  write("pharos.toml", "[server]\nlisten = \"0.0.0.0:80\n");
  const SettingsError e = loadError();
  EXPECT_THAT(e.key(), EndsWith("pharos.toml"));
  EXPECT_THAT(e.source(), HasSubstr("pharos.toml:2:"));
  EXPECT_FALSE(e.reason().empty());
}

TEST_F(SettingsTest, DotenvSyntaxErrorNamesTheLine) {
  write(".env", "PHAROS_LOG_LEVEL=info\nPHAROS_SERVER_LISTEN=\"0.0.0.0:80\n");
  const SettingsError e = loadError();
  EXPECT_THAT(e.source(), EndsWith(".env:2"));
  EXPECT_THAT(e.reason(), HasSubstr("unterminated"));
}

// ---- values from each source ----

TEST_F(SettingsTest, BadValueNamesKeySourceExpectationAndValue) {
  const SettingsError e = flagError("server.max_body_bytes", "lots");
  EXPECT_STREQ(e.what(),
               R"(server.max_body_bytes: expected a size such as 1048576, "64KiB" or "32MiB", )"
               R"(got "lots" (from flag))");

  write("pharos.toml", "[server]\nmax_body_bytes = \"lots\"\n");
  EXPECT_THAT(loadError().source(), EndsWith("pharos.toml:2"));

  fs::remove(dir_ / "pharos.toml");
  write(".env", "\nPHAROS_SERVER_MAX_BODY_BYTES=lots\n");
  EXPECT_THAT(loadError().source(), EndsWith(".env:2"));

  fs::remove(dir_ / ".env");
  SettingsSources s = sources();
  s.environment = {{"PHAROS_SERVER_MAX_BODY_BYTES", "lots"}};
  EXPECT_EQ(loadError(s).source(), "environment PHAROS_SERVER_MAX_BODY_BYTES");
}

TEST_F(SettingsTest, TomlScalarsOfAnyTypeGoThroughTheSameParsers) {
  write("pharos.toml", R"(
[server]
io_threads = "4"
blocking_threads = 8
max_body_bytes = "32MiB"
max_header_bytes = 4096
[log]
access_log = "off"
)");
  const Settings settings = load();
  EXPECT_EQ(settings.server.io_threads, 4u);
  EXPECT_EQ(settings.server.blocking_threads, 8u);
  EXPECT_EQ(settings.server.max_body_bytes, 32u << 20);
  EXPECT_EQ(settings.server.max_header_bytes, 4096u);
  EXPECT_FALSE(settings.log.access_log);

  write("pharos.toml", "[server]\nheader_timeout = 10\n");
  EXPECT_THAT(loadError().reason(), HasSubstr("with a unit"));
  write("pharos.toml", "[server]\nheader_timeout = 1.5\n");
  EXPECT_THAT(loadError().reason(), HasSubstr("with a unit"));
  write("pharos.toml", "[server]\nio_threads = -1\n");
  EXPECT_THAT(loadError().reason(), HasSubstr(R"(got "-1")"));
  write("pharos.toml", "[log]\naccess_log = 1979-05-27\n");
  EXPECT_THAT(loadError().reason(), HasSubstr("got a date or time"));
}

struct SizeCase {
  const char* text;
  std::uint64_t bytes;
};

TEST_F(SettingsTest, SizesParse) {
  const SizeCase cases[] = {
      {"1", 1},
      {"1048576", 1048576},
      {"10B", 10},
      {"64KiB", 64 * 1024},
      {"64kib", 64 * 1024},
      {"64 KiB", 64 * 1024},
      {"2KB", 2000},
      {"3MB", 3'000'000},
      {"32MiB", 32u << 20},
      {"1GB", 1'000'000'000},
      {"4GiB", 4ull << 30},
      {"1.5KiB", 1536},
      {"0.5MB", 500'000},
      {"9223372036854775807", 9223372036854775807ull},
  };
  for (const SizeCase& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(withFlag("server.max_header_bytes", c.text).server.max_header_bytes, c.bytes);
  }
}

TEST_F(SettingsTest, BadSizes) {
  const char* cases[] = {"",
                         "lots",
                         "0",
                         "0KiB",
                         "-1",
                         "1.5",
                         "1.5B",
                         "64TB",
                         "KiB",
                         "1 2",
                         " 64KiB",
                         "64KiB ",
                         "1e6",
                         "0x10",
                         "1.KiB",
                         "9223372036854775808",
                         "99999999999GiB"};
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    const SettingsError e = flagError("server.max_body_bytes", text);
    EXPECT_EQ(e.key(), "server.max_body_bytes");
    EXPECT_THAT(e.reason(), HasSubstr("expected a"));
    EXPECT_THAT(e.reason(), HasSubstr("got \""));
  }
  EXPECT_THAT(flagError("server.max_body_bytes", "0").reason(), HasSubstr("greater than 0"));
}

struct DurationCase {
  const char* text;
  std::chrono::milliseconds value;
};

TEST_F(SettingsTest, DurationsParse) {
  const DurationCase cases[] = {
      {"250ms", 250ms}, {"1ms", 1ms},  {"10s", 10s}, {"1.5s", 1500ms}, {"0.25s", 250ms},
      {"2m", 2min},     {"1.5m", 90s}, {"1h", 1h},   {"10 s", 10s},    {"0.001s", 1ms},
  };
  for (const DurationCase& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(withFlag("server.idle_timeout", c.text).server.idle_timeout, c.value);
  }
}

TEST_F(SettingsTest, BadDurations) {
  const char* cases[] = {"",      "soon", "0s", "0ms",   "-1s", "10",     "1.5",
                         "10sec", "10S",  "1w", "0.5ms", "s",   "1.0001s"};
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    const SettingsError e = flagError("store.busy_timeout", text);
    EXPECT_EQ(e.key(), "store.busy_timeout");
    EXPECT_THAT(e.reason(), HasSubstr("expected a"));
    EXPECT_THAT(e.reason(), HasSubstr("got \""));
  }
  EXPECT_THAT(flagError("store.busy_timeout", "10").reason(),
              HasSubstr("expected a duration with a unit"));
  EXPECT_THAT(flagError("store.busy_timeout", "0s").reason(), HasSubstr("greater than 0"));
}

TEST_F(SettingsTest, CountsHaveRanges) {
  struct Range {
    const char* path;
    unsigned min, max;
  };
  const Range ranges[] = {
      {"server.io_threads", 0, 256},
      {"server.blocking_threads", 0, 1024},
      {"server.max_connections", 1, 1'000'000},
      {"store.reader_threads", 1, 64},
      {"store.max_batch", 1, 100'000},
      {"store.max_pending_writes", 1, 10'000'000},
  };
  for (const Range& r : ranges) {
    SCOPED_TRACE(r.path);
    for (unsigned ok : {r.min, r.max}) {
      EXPECT_NO_THROW(withFlag(r.path, std::to_string(ok)));
    }
    const std::string expected = fmt::format("from {} to {}", r.min, r.max);
    EXPECT_THAT(flagError(r.path, std::to_string(r.max + 1)).reason(), HasSubstr(expected));
    if (r.min > 0) {
      EXPECT_THAT(flagError(r.path, std::to_string(r.min - 1)).reason(), HasSubstr(expected));
    }
    for (const char* bad : {"", "-1", "two", "1.0", "+1", "99999999999999999999999"}) {
      EXPECT_THAT(flagError(r.path, bad).reason(), HasSubstr(expected)) << bad;
    }
  }
  EXPECT_EQ(withFlag("server.io_threads", "0").server.io_threads, 0u);
  EXPECT_EQ(withFlag("store.reader_threads", "64").store.reader_threads, 64u);
}

TEST_F(SettingsTest, ListenAddresses) {
  struct Case {
    const char* text;
    const char* host;
    std::uint16_t port;
  };
  const Case cases[] = {
      {"127.0.0.1:8080", "127.0.0.1", 8080},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {"[::1]:443", "::1", 443},
      {"[::]:65535", "::", 65535},
      {"localhost:80", "localhost", 80},
      {"api.example.com:8443", "api.example.com", 8443},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const ListenAddress address = withFlag("server.listen", c.text).server.listen;
    EXPECT_EQ(address.host, c.host);
    EXPECT_EQ(address.port, c.port);
    EXPECT_EQ(address.toString(), c.text);
  }
  for (const char* bad : {"", "8080", ":8080", "[]:80", "host:", "host:65536", "host:-1",
                          "host:http", "::1:80", "[::1]80", "[::1:80", "my host:80"}) {
    SCOPED_TRACE(bad);
    const SettingsError e = flagError("server.listen", bad);
    EXPECT_EQ(e.key(), "server.listen");
    EXPECT_THAT(e.reason(), HasSubstr("expected "));
    EXPECT_THAT(e.reason(), HasSubstr(fmt::format("got \"{}\"", bad)));
  }
  EXPECT_THAT(flagError("server.listen", "::1:80").reason(), HasSubstr("brackets"));
  EXPECT_THAT(flagError("server.listen", "x:70000").reason(), HasSubstr("0 to 65535"));
}

TEST_F(SettingsTest, Booleans) {
  for (const char* yes : {"true", "1", "yes", "on", "TRUE", "On"}) {
    EXPECT_TRUE(withFlag("log.access_log", yes).log.access_log) << yes;
  }
  for (const char* no : {"false", "0", "no", "off", "False", "OFF"}) {
    EXPECT_FALSE(withFlag("log.access_log", no).log.access_log) << no;
  }
  const SettingsError e = flagError("log.access_log", "maybe");
  EXPECT_THAT(e.reason(), HasSubstr("expected true or false"));
  EXPECT_THAT(e.reason(), HasSubstr(R"(got "maybe")"));
}

TEST_F(SettingsTest, Enums) {
  EXPECT_EQ(withFlag("auth.mode", "auto").auth.mode, AuthMode::kAuto);
  EXPECT_EQ(withFlag("auth.mode", "required").auth.mode, AuthMode::kRequired);
  EXPECT_EQ(withFlag("auth.mode", "none").auth.mode, AuthMode::kNone);
  EXPECT_EQ(withFlag("log.level", "debug").log.level, LogLevel::kDebug);
  EXPECT_EQ(withFlag("log.level", "WARN").log.level, LogLevel::kWarn);
  EXPECT_EQ(withFlag("log.level", "error").log.level, LogLevel::kError);
  EXPECT_THAT(flagError("auth.mode", "off").reason(),
              HasSubstr(R"(expected one of "auto", "required", "none", got "off")"));
  EXPECT_THAT(flagError("log.level", "trace").reason(),
              HasSubstr(R"(expected one of "debug", "info", "warn", "error", got "trace")"));
}

TEST_F(SettingsTest, DataDirIsKeptAsGiven) {
  EXPECT_EQ(withFlag("data.dir", "var/lib/pharos").data.dir, fs::path("var/lib/pharos"));
  EXPECT_EQ(withFlag("data.dir", "/srv/pharos").data.dir, fs::path("/srv/pharos"));
  EXPECT_THAT(flagError("data.dir", "").reason(), HasSubstr("expected a directory path"));
}

TEST_F(SettingsTest, BootstrapWorkspaceNames) {
  EXPECT_EQ(withFlag("auth.bootstrap_workspace", "team-a_1.prod").auth.bootstrap_workspace,
            "team-a_1.prod");
  EXPECT_NO_THROW(withFlag("auth.bootstrap_workspace", std::string(64, 'w')));
  for (const std::string& bad : {std::string(""), std::string(65, 'w'), std::string("a b"),
                                 std::string("a/b"), std::string("é")}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(flagError("auth.bootstrap_workspace", bad).reason(), HasSubstr("expected 1 to 64"));
  }
}

// ---- secrets ----

constexpr std::string_view kShortSecret = "hunter2-short";  // 13 characters
constexpr std::string_view kGoodSecret = "correct-horse-battery-staple";

TEST_F(SettingsTest, BootstrapKeyLoadsAndRendersMasked) {
  const Settings settings = withFlag("auth.bootstrap_key", std::string(kGoodSecret));
  EXPECT_EQ(settings.auth.bootstrap_key.reveal(), kGoodSecret);
  const std::string rendered = renderSettingsToml(settings);
  EXPECT_THAT(rendered, HasSubstr(R"(bootstrap_key = "********")"));
  EXPECT_THAT(rendered, Not(HasSubstr(std::string(kGoodSecret))));

  EXPECT_TRUE(load().auth.bootstrap_key.empty());
  EXPECT_THAT(renderSettingsToml(load()), HasSubstr(R"(bootstrap_key = "")"));
  EXPECT_TRUE(withFlag("auth.bootstrap_key", "").auth.bootstrap_key.empty());
}

TEST_F(SettingsTest, BadBootstrapKeyIsNeverEchoed) {
  auto check = [&](const SettingsError& e) {
    EXPECT_EQ(e.key(), "auth.bootstrap_key");
    EXPECT_THAT(e.what(), Not(HasSubstr(std::string(kShortSecret))));
    EXPECT_THAT(e.reason(), Not(HasSubstr(std::string(kShortSecret))));
    EXPECT_THAT(e.source(), Not(HasSubstr(std::string(kShortSecret))));
  };
  SettingsError e = flagError("auth.bootstrap_key", std::string(kShortSecret));
  check(e);
  EXPECT_THAT(e.reason(), HasSubstr("expected at least 16 characters, got 13"));

  write("pharos.toml", fmt::format("[auth]\nbootstrap_key = \"{}\"\n", kShortSecret));
  check(loadError());
  write("pharos.toml", fmt::format("[auth]\nbootstrap_key = [\"{}\"]\n", kGoodSecret));
  e = loadError();
  EXPECT_THAT(e.what(), Not(HasSubstr(std::string(kGoodSecret))));
  fs::remove(dir_ / "pharos.toml");

  write(".env", fmt::format("PHAROS_AUTH_BOOTSTRAP_KEY='{}'\n", kShortSecret));
  check(loadError());
  fs::remove(dir_ / ".env");

  SettingsSources s = sources();
  s.environment = {{"PHAROS_AUTH_BOOTSTRAP_KEY", std::string(kShortSecret)}};
  check(loadError(s));

  // A misspelt variable is reported by name only.
  s.environment = {{"PHAROS_AUTH_BOOTSTRAP_KY", std::string(kGoodSecret)}};
  e = loadError(s);
  EXPECT_THAT(e.reason(), HasSubstr("did you mean PHAROS_AUTH_BOOTSTRAP_KEY?"));
  EXPECT_THAT(e.what(), Not(HasSubstr(std::string(kGoodSecret))));
}

TEST(DescribeSettingsTest, SecretDefaultIsEmpty) {
  const auto infos = describeSettings();
  const auto it = std::find_if(infos.begin(), infos.end(),
                               [](const SettingInfo& i) { return i.path == "auth.bootstrap_key"; });
  ASSERT_NE(it, infos.end());
  EXPECT_EQ(it->default_value, "\"\"");
}

// ---- rendering ----

TEST_F(SettingsTest, RenderIsTomlWithEverySettingInItsSection) {
  const std::string rendered = renderSettingsToml(Settings{});
  toml::table parsed;
  ASSERT_NO_THROW(parsed = toml::parse(rendered)) << rendered;
  for (const SettingInfo& info : describeSettings()) {
    EXPECT_TRUE(parsed.at_path(info.path)) << info.path;
  }
  EXPECT_EQ(parsed.size(), 11u);
  const std::size_t server = rendered.find("[server]"), data = rendered.find("[data]"),
                    store = rendered.find("[store]"), auth = rendered.find("[auth]"),
                    tracing = rendered.find("[tracing]"), gateway = rendered.find("[gateway]"),
                    audit = rendered.find("[audit]"), log = rendered.find("[log]");
  EXPECT_LT(server, data);
  EXPECT_LT(data, store);
  EXPECT_LT(store, auth);
  EXPECT_LT(auth, tracing);
  EXPECT_LT(tracing, gateway);
  const std::size_t cache = rendered.find("[cache]"), limits = rendered.find("[limits]"),
                    redis = rendered.find("[redis]");
  EXPECT_LT(gateway, cache);
  EXPECT_LT(cache, limits);
  EXPECT_LT(limits, redis);
  EXPECT_LT(redis, audit);
  EXPECT_LT(audit, log);
  EXPECT_NE(log, std::string::npos);
  EXPECT_THAT(rendered, HasSubstr("max_body_bytes = 67108864\n"));
  EXPECT_THAT(rendered, HasSubstr("header_timeout = \"10s\"\n"));
  EXPECT_THAT(rendered, HasSubstr("idle_timeout = \"75s\"\n"));
  EXPECT_THAT(rendered, HasSubstr("key_cache_ttl = \"2s\"\n"));
  EXPECT_THAT(rendered, HasSubstr("listen = \"127.0.0.1:8080\"\n"));
  EXPECT_THAT(rendered, HasSubstr("mode = \"auto\"\n"));
  EXPECT_THAT(rendered, HasSubstr("access_log = true\n"));
}

TEST_F(SettingsTest, DurationsRenderInTheLargestExactUnit) {
  const auto render = [&](const char* text) {
    const std::string toml = renderSettingsToml(withFlag("server.body_timeout", text));
    const std::size_t at = toml.find("body_timeout = ");
    return toml.substr(at, toml.find('\n', at) - at);
  };
  EXPECT_EQ(render("250ms"), R"(body_timeout = "250ms")");
  EXPECT_EQ(render("1.5s"), R"(body_timeout = "1500ms")");
  EXPECT_EQ(render("90s"), R"(body_timeout = "90s")");
  EXPECT_EQ(render("120s"), R"(body_timeout = "2m")");
  EXPECT_EQ(render("60m"), R"(body_timeout = "1h")");
}

TEST_F(SettingsTest, RenderedTomlLoadsBackToTheSameSettings) {
  SettingsSources s = sources();
  s.overrides = {{"server.listen", "[::]:9090"},
                 {"server.io_threads", "3"},
                 {"server.max_body_bytes", "1.5MiB"},
                 {"server.header_timeout", "1.5s"},
                 {"server.shutdown_grace", "2m"},
                 {"data.dir", "/var/lib/pharos \"quoted\"\\dir"},
                 {"store.busy_timeout", "250ms"},
                 {"auth.mode", "required"},
                 {"auth.bootstrap_workspace", "ops"},
                 {"log.level", "debug"},
                 {"log.access_log", "no"}};
  const Settings original = loadSettings(s);
  const std::string rendered = renderSettingsToml(original);
  EXPECT_NE(rendered, renderSettingsToml(Settings{}));

  const fs::path other = dir_ / "again";
  fs::create_directories(other);
  std::ofstream(other / "pharos.toml") << rendered;
  SettingsSources again;
  again.working_dir = other;
  const Settings reloaded = loadSettings(again);
  EXPECT_EQ(renderSettingsToml(reloaded), rendered);
  EXPECT_EQ(reloaded.data.dir, original.data.dir);
  EXPECT_EQ(reloaded.server.listen.host, "::");
}

TEST_F(SettingsTest, DefaultsRoundTrip) {
  const std::string rendered = renderSettingsToml(Settings{});
  write("pharos.toml", rendered);
  EXPECT_EQ(renderSettingsToml(load()), rendered);
}

// ---- keysRequired ----

TEST(KeysRequiredTest, Matrix) {
  struct Case {
    const char* host;
    bool loopback;
  };
  const Case hosts[] = {
      {"127.0.0.1", true},     {"127.5.6.7", true},
      {"::1", true},           {"localhost", true},
      {"LocalHost", true},     {"::ffff:127.0.0.1", true},
      {"0.0.0.0", false},      {"::", false},
      {"192.168.1.10", false}, {"10.0.0.1", false},
      {"example.com", false},  {"128.0.0.1", false},
      {"::2", false},          {"localhost.evil.com", false},
  };
  for (const Case& c : hosts) {
    SCOPED_TRACE(c.host);
    Settings settings;
    settings.server.listen.host = c.host;
    EXPECT_EQ(settings.server.listen.isLoopback(), c.loopback);
    settings.auth.mode = AuthMode::kAuto;
    EXPECT_EQ(settings.keysRequired(), !c.loopback);
    settings.auth.mode = AuthMode::kRequired;
    EXPECT_TRUE(settings.keysRequired());
    settings.auth.mode = AuthMode::kNone;
    EXPECT_FALSE(settings.keysRequired());
  }
}

TEST(KeysRequiredTest, AnOpenGrpcListenerRequiresKeysToo) {
  Settings settings;
  settings.auth.mode = AuthMode::kAuto;
  EXPECT_FALSE(settings.keysRequired()) << "both listeners on loopback by default";
  settings.server.otlp_grpc_listen = ListenAddress{"0.0.0.0", 4317};
  EXPECT_TRUE(settings.keysRequired());
  settings.server.otlp_grpc_listen.reset();
  EXPECT_FALSE(settings.keysRequired()) << "switched off";
}

TEST_F(SettingsTest, OtlpGrpcListenOffSwitchesItOffAndAddressesParse) {
  EXPECT_FALSE(withFlag("server.otlp_grpc_listen", "off").server.otlp_grpc_listen);
  EXPECT_FALSE(withFlag("server.otlp_grpc_listen", "").server.otlp_grpc_listen);
  const auto address = withFlag("server.otlp_grpc_listen", "0.0.0.0:4317").server.otlp_grpc_listen;
  ASSERT_TRUE(address);
  EXPECT_EQ(address->toString(), "0.0.0.0:4317");
  EXPECT_EQ(flagError("server.otlp_grpc_listen", "4317").key(), "server.otlp_grpc_listen");
  EXPECT_THAT(renderSettingsToml(Settings{}), HasSubstr("otlp_grpc_listen = \"127.0.0.1:4317\""));
}

TEST(ListenAddressTest, ToStringBracketsIpv6) {
  EXPECT_EQ((ListenAddress{"0.0.0.0", 80}).toString(), "0.0.0.0:80");
  EXPECT_EQ((ListenAddress{"::1", 8080}).toString(), "[::1]:8080");
  EXPECT_EQ((ListenAddress{"fe80::1", 0}).toString(), "[fe80::1]:0");
}

// ---- registry ----

TEST(DescribeSettingsTest, ListsEverySettingOnce) {
  const std::vector<std::string> expected = {"server.listen",
                                             "server.otlp_grpc_listen",
                                             "server.io_threads",
                                             "server.blocking_threads",
                                             "server.max_header_bytes",
                                             "server.max_body_bytes",
                                             "server.max_inflated_body_bytes",
                                             "server.header_timeout",
                                             "server.body_timeout",
                                             "server.idle_timeout",
                                             "server.shutdown_grace",
                                             "server.max_connections",
                                             "data.dir",
                                             "store.reader_threads",
                                             "store.max_batch",
                                             "store.max_pending_writes",
                                             "store.busy_timeout",
                                             "auth.mode",
                                             "auth.bootstrap_key",
                                             "auth.bootstrap_workspace",
                                             "auth.key_cache_ttl",
                                             "tracing.multipart_ingest",
                                             "tracing.gzip_ingest",
                                             "tracing.pricing_file",
                                             "tracing.otlp_max_backlog",
                                             "gateway.project",
                                             "gateway.record_runs",
                                             "gateway.otlp_endpoint",
                                             "gateway.policy",
                                             "cache.enabled",
                                             "cache.backend",
                                             "cache.ttl",
                                             "cache.max_bytes",
                                             "cache.max_entries",
                                             "cache.semantic",
                                             "cache.semantic_model",
                                             "cache.semantic_threshold",
                                             "cache.semantic_max_entries",
                                             "limits.backend",
                                             "limits.max_cost_per_query",
                                             "limits.key_budget_usd",
                                             "limits.user_budget_usd",
                                             "limits.budget_period",
                                             "limits.key_rpm",
                                             "limits.key_tpm",
                                             "limits.default_max_output_tokens",
                                             "redis.url",
                                             "redis.timeout",
                                             "audit.enabled",
                                             "audit.dir",
                                             "audit.max_file_bytes",
                                             "audit.include_query_text",
                                             "log.level",
                                             "log.access_log"};
  const std::vector<SettingInfo> infos = describeSettings();
  std::vector<std::string> paths;
  for (const SettingInfo& info : infos) {
    paths.push_back(info.path);
    EXPECT_FALSE(info.description.empty()) << info.path;
    EXPECT_FALSE(info.default_value.empty()) << info.path;
    std::string env = "PHAROS_" + info.path;
    for (char& c : env) c = c == '.' ? '_' : static_cast<char>(std::toupper(c));
    EXPECT_EQ(info.env_var, env);
  }
  EXPECT_EQ(paths, expected);
  const std::string defaults = renderSettingsToml(Settings{});
  for (const SettingInfo& info : infos) {
    const std::string key = info.path.substr(info.path.find('.') + 1);
    EXPECT_THAT(defaults, HasSubstr(key + " = " + info.default_value + "\n")) << info.path;
  }
}

// The reference must not drift from the registry: every path and variable is documented.
TEST(ConfigurationDocsTest, DocumentEverySetting) {
  std::ifstream in(fs::path(PHAROS_SOURCE_DIR) / "docs" / "configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md is missing";
  std::stringstream text;
  text << in.rdbuf();
  for (const SettingInfo& info : describeSettings()) {
    EXPECT_THAT(text.str(), HasSubstr("`" + info.path + "`"));
    EXPECT_THAT(text.str(), HasSubstr("`" + info.env_var + "`"));
  }
}

// ---- misc ----

TEST(SettingsErrorTest, WhatJoinsKeyReasonAndSource) {
  const SettingsError e("log.level", "pharos.toml:12", "expected one of ...");
  EXPECT_STREQ(e.what(), "log.level: expected one of ... (from pharos.toml:12)");
  EXPECT_EQ(e.key(), "log.level");
  EXPECT_EQ(e.source(), "pharos.toml:12");
  EXPECT_EQ(e.reason(), "expected one of ...");
}

TEST(ProcessEnvironmentTest, ReadsEnviron) {
  ASSERT_EQ(::setenv("PHAROS_TEST_PROCESS_ENV", "a=b", 1), 0);
  const auto env = processEnvironment();
  ::unsetenv("PHAROS_TEST_PROCESS_ENV");
  const auto it = env.find("PHAROS_TEST_PROCESS_ENV");
  ASSERT_NE(it, env.end());
  EXPECT_EQ(it->second, "a=b");
}

}  // namespace
}  // namespace pharos::core
