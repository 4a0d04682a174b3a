// The `pharos` command line as an operator meets it: configuration mistakes stop start-up with
// exit code 2 and a message naming the setting and its source, secrets stay hidden, a taken port
// is reported, and the data directory survives a restart.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

using std::chrono::seconds;

// `pharos serve` that is expected to refuse to start: a short timeout, since a server that does
// start would otherwise run until killed.
CommandResult serveExpectingFailure(const std::filesystem::path& data,
                                    std::vector<std::string> extra_args,
                                    const Environment& environment = {},
                                    std::string listen = "127.0.0.1:0") {
  std::vector<std::string> args = {"serve", "--listen", listen,       "--otlp-grpc-listen",
                                   "off",   "--data",   data.string()};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return runPharos(args, environment, seconds(10));
}

void writeFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(CliTest, UnknownKeyInConfigFileExits2NamingKeyAndLine) {
  TempDir dir;
  const std::filesystem::path config = dir.path() / "pharos.toml";
  writeFile(config,
            "# comment\n"
            "[server]\n"
            "idle_timeout = \"30s\"\n"
            "max_body_bytez = \"1MiB\"\n");
  const CommandResult result =
      serveExpectingFailure(dir.path() / "data", {"--config", config.string()});
  ASSERT_TRUE(result.status.exited) << "pharos started despite an unknown key";
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.max_body_bytez"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(config.string() + ":4"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("unknown setting"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("did you mean server.max_body_bytes"), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("listening"), std::string::npos) << result.out;
}

TEST(CliTest, UnknownSectionInConfigFileExits2) {
  TempDir dir;
  const std::filesystem::path config = dir.path() / "pharos.toml";
  writeFile(config, "[serverr]\nlisten = \"127.0.0.1:0\"\n");
  const CommandResult result =
      serveExpectingFailure(dir.path() / "data", {"--config", config.string()});
  ASSERT_TRUE(result.status.exited);
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("serverr.listen"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(config.string() + ":2"), std::string::npos) << result.err;
}

TEST(CliTest, MissingConfigFileExits2) {
  TempDir dir;
  const CommandResult result = serveExpectingFailure(
      dir.path() / "data", {"--config", (dir.path() / "absent.toml").string()});
  ASSERT_TRUE(result.status.exited);
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("absent.toml"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("file not found"), std::string::npos) << result.err;
}

TEST(CliTest, BadValueFromEnvironmentExits2NamingKey) {
  TempDir dir;
  const CommandResult result =
      serveExpectingFailure(dir.path() / "data", {}, {{"PHAROS_SERVER_MAX_BODY_BYTES", "lots"}});
  ASSERT_TRUE(result.status.exited);
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.max_body_bytes"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("\"lots\""), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("environment PHAROS_SERVER_MAX_BODY_BYTES"), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("configuration error"), std::string::npos) << result.err;
}

TEST(CliTest, MisspeltEnvironmentVariableExits2WithSuggestion) {
  TempDir dir;
  const CommandResult result =
      serveExpectingFailure(dir.path() / "data", {}, {{"PHAROS_SERVER_LISTN", "127.0.0.1:0"}});
  ASSERT_TRUE(result.status.exited);
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("PHAROS_SERVER_LISTN"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("PHAROS_SERVER_LISTEN"), std::string::npos) << result.err;
}

TEST(CliTest, BadFlagValueExits2) {
  TempDir dir;
  // A duration without a unit is ambiguous, so it is refused rather than guessed.
  const CommandResult result =
      serveExpectingFailure(dir.path() / "data", {"--set", "server.idle_timeout=10"});
  ASSERT_TRUE(result.status.exited);
  EXPECT_EQ(result.status.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("server.idle_timeout"), std::string::npos) << result.err;

  const CommandResult unknown =
      serveExpectingFailure(dir.path() / "data", {"--set", "server.no_such_thing=1"});
  ASSERT_TRUE(unknown.status.exited);
  EXPECT_EQ(unknown.status.exit_code, 2) << unknown.err;
  EXPECT_NE(unknown.err.find("server.no_such_thing"), std::string::npos) << unknown.err;
}

TEST(CliTest, ConfigShowMasksTheBootstrapKey) {
  const std::string secret = "super-secret-bootstrap-key-42";
  const CommandResult result = runPharos({"config", "show", "--set", "server.idle_timeout=90s"},
                                         {{"PHAROS_AUTH_BOOTSTRAP_KEY", secret}});
  ASSERT_EQ(result.status.exit_code, 0) << result.err;
  EXPECT_EQ(result.out.find(secret), std::string::npos) << "secret printed:\n" << result.out;
  EXPECT_EQ(result.err.find(secret), std::string::npos) << "secret printed:\n" << result.err;
  EXPECT_TRUE(std::regex_search(result.out, std::regex(R"(bootstrap_key *= *"\*\*\*\*\*\*\*\*")")))
      << result.out;
  // The rest of the configuration is shown, overrides included.
  EXPECT_NE(result.out.find("[server]"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("90s"), std::string::npos) << result.out;

  const CommandResult unset = runPharos({"config", "show"});
  ASSERT_EQ(unset.status.exit_code, 0) << unset.err;
  EXPECT_TRUE(std::regex_search(unset.out, std::regex(R"(bootstrap_key *= *"")"))) << unset.out;
}

TEST(CliTest, VersionIsPrinted) {
  const CommandResult result = runPharos({"version"});
  ASSERT_EQ(result.status.exit_code, 0) << result.err;
  std::smatch match;
  ASSERT_TRUE(std::regex_match(result.out, match, std::regex(R"(pharos (\d+\.\d+\.\d+\S*)\n)")))
      << result.out;
  const CommandResult flag = runPharos({"--version"});
  EXPECT_EQ(flag.status.exit_code, 0);
  EXPECT_NE(flag.out.find(match[1].str()), std::string::npos) << flag.out;
}

TEST(CliTest, PortAlreadyInUseFailsNamingTheAddress) {
  // Hold a listening socket on a free port for the duration of the test.
  const int holder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(holder, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(holder, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(holder, 16), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(::getsockname(holder, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string listen = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  TempDir dir;
  const CommandResult result = serveExpectingFailure(dir.path() / "data", {}, {}, listen);
  ::close(holder);
  ASSERT_TRUE(result.status.exited) << "pharos serve did not give up on a taken port";
  EXPECT_NE(result.status.exit_code, 0);
  EXPECT_NE(result.err.find("cannot listen on " + listen), std::string::npos) << result.err;
  EXPECT_EQ(result.out.find("listening on"), std::string::npos) << result.out;
}

TEST(CliTest, DataDirectoryIsCreatedAndReusedWithoutRemigrating) {
  TempDir dir;
  const std::filesystem::path data = dir.path() / "nested" / "data";
  std::string key;
  {
    PharosServer first{ServeOptions{.data_dir = data}};
    ASSERT_TRUE(first.start());
    EXPECT_TRUE(std::filesystem::exists(data / "pharos.db"));
    EXPECT_NE(first.stdoutText().find("(data in " + data.string() + ")"), std::string::npos)
        << first.stdoutText();
    EXPECT_TRUE(answersHealthz(first.port()));
    EXPECT_TRUE(first.waitForLogMessage("applied schema migration"))
        << "a fresh data directory should log its migrations:\n"
        << first.stderrText();
    // Something stored by the first run, to find again in the second.
    const CommandResult created =
        runPharos({"keys", "create", "--workspace", "persist", "--data", data.string()});
    ASSERT_EQ(created.status.exit_code, 0) << created.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(created.out, match, std::regex(R"(phk_\S+)")));
    key = match[0].str();
    const ExitStatus stopped = first.stop();
    EXPECT_EQ(stopped.exit_code, 0) << describe(stopped);
  }
  PharosServer second{ServeOptions{.sets = {"auth.mode=required"}, .data_dir = data}};
  ASSERT_TRUE(second.start());
  EXPECT_TRUE(answersHealthz(second.port()));
  EXPECT_EQ(get(second.port(), "/readyz").status, 200);
  const HttpResponse whoami = get(second.port(), "/api/v1/auth/whoami", {{"x-api-key", key}});
  EXPECT_EQ(whoami.status, 200) << whoami.body;
  EXPECT_NE(whoami.body.find("\"persist\""), std::string::npos) << whoami.body;
  ASSERT_TRUE(second.waitForLogMessage("listening"));
  EXPECT_EQ(second.stderrText().find("applied schema migration"), std::string::npos)
      << second.stderrText();
  EXPECT_EQ(second.stop().exit_code, 0);
}

}  // namespace
}  // namespace pharos::testing
