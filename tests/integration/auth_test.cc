// API keys end to end: `pharos keys create|list|revoke` against the same data directory as a
// running server, and what /api/v1/auth/whoami answers for each way of presenting (or not
// presenting) a key, with keys optional (loopback, auth.mode auto) and required.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr std::string_view kWhoami = "/api/v1/auth/whoami";

struct CreatedKey {
  std::string id;
  std::string plaintext;
};

// `pharos keys create`, with the key read from its output.
CreatedKey createKey(const std::filesystem::path& data, const std::string& workspace,
                     const std::string& label = "") {
  std::vector<std::string> args = {"keys",    "create", "--workspace",
                                   workspace, "--data", data.string()};
  if (!label.empty()) {
    args.push_back("--label");
    args.push_back(label);
  }
  const CommandResult result = runPharos(args);
  EXPECT_EQ(result.status.exit_code, 0) << describe(result.status) << "\n" << result.err;
  std::smatch id;
  std::smatch key;
  CreatedKey created;
  if (std::regex_search(result.out, id, std::regex(R"(Created API key (\S+) for workspace)"))) {
    created.id = id[1].str();
  }
  if (std::regex_search(result.out, key, std::regex(R"(\n  (phk_\S+)\n)"))) {
    created.plaintext = key[1].str();
  }
  EXPECT_FALSE(created.id.empty()) << result.out;
  EXPECT_FALSE(created.plaintext.empty()) << result.out;
  EXPECT_NE(result.out.find("\"" + workspace + "\""), std::string::npos) << result.out;
  return created;
}

// 200 from whoami, with its JSON body.
::testing::AssertionResult whoamiIs(const HttpResponse& response, std::string_view workspace,
                                    bool authenticated) {
  if (response.status != 200) {
    return ::testing::AssertionFailure() << "status " << response.status << ": " << response.body;
  }
  const boost::json::value body = response.json();
  if (body.at("workspace").as_string() != workspace || body.at("authenticated") != authenticated ||
      !body.at("workspace_id").is_string() || body.at("workspace_id").as_string().empty()) {
    return ::testing::AssertionFailure()
           << "whoami answered " << response.body << ", expected workspace " << workspace
           << " authenticated " << authenticated;
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult isUnauthorized(const HttpResponse& response,
                                          std::string_view message_part = "") {
  ::testing::AssertionResult error = isJsonError(response, 401, "unauthorized");
  if (!error) return error;
  if (response.header("www-authenticate") != "Bearer") {
    return ::testing::AssertionFailure()
           << "WWW-Authenticate: " << response.header("www-authenticate").value_or("(none)");
  }
  if (errorMessage(response).find(message_part) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "message \"" << errorMessage(response) << "\" lacks \"" << message_part << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST(AuthTest, LoopbackDefaultMakesKeysOptional) {
  PharosServer server;
  ASSERT_TRUE(server.start());
  const std::uint16_t port = server.port();
  EXPECT_NE(server.stdoutText().find("optional on this loopback listener"), std::string::npos)
      << server.stdoutText();

  EXPECT_TRUE(whoamiIs(get(port, kWhoami), "default", false));
  // What SDKs send when they have no real key: the JS client's "undefined", an OpenAI
  // placeholder, an empty header.
  EXPECT_TRUE(whoamiIs(get(port, kWhoami, {{"x-api-key", "undefined"}}), "default", false));
  EXPECT_TRUE(whoamiIs(get(port, kWhoami, {{"x-api-key", "null"}}), "default", false));
  EXPECT_TRUE(whoamiIs(get(port, kWhoami, {{"x-api-key", ""}}), "default", false));
  EXPECT_TRUE(
      whoamiIs(get(port, kWhoami, {{"Authorization", "Bearer sk-whatever"}}), "default", false));

  // A Pharos-shaped key that is wrong is refused even when keys are optional: it is a real key
  // gone bad, and silently treating it as anonymous would hide the mistake.
  EXPECT_TRUE(isUnauthorized(get(port, kWhoami, {{"x-api-key", "phk_garbage"}}), "malformed"));
  EXPECT_TRUE(isUnauthorized(
      get(port, kWhoami, {{"Authorization", "Bearer phk_0123456789ab_" + std::string(32, 'x')}})));
  EXPECT_TRUE(answersHealthz(port));

  // A real key is honoured when presented.
  const CreatedKey key = createKey(server.dataDir(), "acme");
  EXPECT_TRUE(whoamiIs(get(port, kWhoami, {{"x-api-key", key.plaintext}}), "acme", true));
}

class RequiredAuthTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  PharosServer server_{ServeOptions{.sets = {"auth.mode=required", "auth.key_cache_ttl=200ms"}}};
};

TEST_F(RequiredAuthTest, RequestsWithoutAValidKeyAre401) {
  EXPECT_NE(server_.stdoutText().find("required (x-api-key or Authorization: Bearer)"),
            std::string::npos)
      << server_.stdoutText();
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami), "requires an API key"));
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"x-api-key", "undefined"}})));
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"Authorization", "Bearer sk-whatever"}})));
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"Authorization", "Basic dXNlcjpwYXNz"}})));
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"x-api-key", "phk_garbage"}})));
  // The operations endpoints stay open for probes and scrapers.
  EXPECT_EQ(get(port(), "/healthz").status, 200);
  EXPECT_EQ(get(port(), "/readyz").status, 200);
  EXPECT_EQ(get(port(), "/metrics").status, 200);
}

TEST_F(RequiredAuthTest, CreatedKeyWorksListsAndRevokes) {
  const CreatedKey key = createKey(server_.dataDir(), "acme", "integration-label");
  ASSERT_FALSE(key.plaintext.empty());

  EXPECT_TRUE(whoamiIs(get(port(), kWhoami, {{"x-api-key", key.plaintext}}), "acme", true));
  const HttpResponse bearer = get(port(), kWhoami, {{"Authorization", "Bearer " + key.plaintext}});
  ASSERT_TRUE(whoamiIs(bearer, "acme", true));
  EXPECT_EQ(bearer.json().at("key_id").as_string(), key.id);
  // The secret half must be right, not just the id.
  std::string wrong = key.plaintext;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"x-api-key", wrong}}), "not valid"));

  // `keys list`: a table and JSON lines, never the secret.
  const std::string data = server_.dataDir().string();
  const CommandResult table = runPharos({"keys", "list", "--data", data});
  ASSERT_EQ(table.status.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("ID"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("WORKSPACE"), std::string::npos) << table.out;
  EXPECT_TRUE(std::regex_search(table.out,
                                std::regex(key.id + R"( +acme +integration-label +\S+ +active)")))
      << table.out;
  EXPECT_EQ(table.out.find(key.plaintext), std::string::npos);

  const CommandResult json = runPharos({"keys", "list", "--json", "--data", data});
  ASSERT_EQ(json.status.exit_code, 0) << json.err;
  EXPECT_EQ(json.out.find(key.plaintext), std::string::npos);
  bool listed = false;
  std::istringstream lines(json.out);
  for (std::string line; std::getline(lines, line);) {
    const boost::json::object entry = boost::json::parse(line).as_object();
    if (entry.at("id").as_string() != key.id) continue;
    listed = true;
    EXPECT_EQ(entry.at("workspace"), "acme");
    EXPECT_EQ(entry.at("label"), "integration-label");
    EXPECT_TRUE(entry.at("created_at").is_string());
    EXPECT_TRUE(entry.at("revoked_at").is_null());
  }
  EXPECT_TRUE(listed) << json.out;

  // Revoke; the running server refuses the key once its cache entry (200 ms) expires.
  const CommandResult revoked = runPharos({"keys", "revoke", key.id, "--data", data});
  ASSERT_EQ(revoked.status.exit_code, 0) << revoked.err;
  EXPECT_NE(revoked.out.find(key.id), std::string::npos) << revoked.out;
  HttpResponse after;
  const auto deadline = std::chrono::steady_clock::now() + seconds(5);
  do {
    after = get(port(), kWhoami, {{"x-api-key", key.plaintext}});
    if (after.status == 401) break;
    std::this_thread::sleep_for(milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_TRUE(isUnauthorized(after, "revoked"));
  EXPECT_TRUE(isUnauthorized(get(port(), kWhoami, {{"Authorization", "Bearer " + key.plaintext}}),
                             "revoked"));

  const CommandResult listed_after = runPharos({"keys", "list", "--json", "--data", data});
  ASSERT_EQ(listed_after.status.exit_code, 0);
  EXPECT_NE(listed_after.out.find("\"revoked_at\":\""), std::string::npos) << listed_after.out;
  const CommandResult table_after = runPharos({"keys", "list", "--data", data});
  EXPECT_TRUE(std::regex_search(table_after.out, std::regex(key.id + R"(.* revoked )")))
      << table_after.out;
}

TEST_F(RequiredAuthTest, UnknownPathsAreNotPublic) {
  // Without a key, a 404 would tell a stranger which paths exist; only the key holder learns it.
  EXPECT_TRUE(isUnauthorized(get(port(), "/api/v1/no/such/thing")));
  const CreatedKey key = createKey(server_.dataDir(), "acme");
  EXPECT_TRUE(isJsonError(get(port(), "/api/v1/no/such/thing", {{"x-api-key", key.plaintext}}), 404,
                          "not_found"));
}

TEST_F(RequiredAuthTest, RevokingAnUnknownKeyFailsClearly) {
  const CommandResult result =
      runPharos({"keys", "revoke", "nosuchkey123", "--data", server_.dataDir().string()});
  EXPECT_TRUE(result.status.exited);
  EXPECT_NE(result.status.exit_code, 0);
  EXPECT_NE(result.err.find("no API key has the id \"nosuchkey123\""), std::string::npos)
      << result.err;
}

TEST(AuthTest, EmptyKeyListSaysHowToCreateOne) {
  TempDir data;
  const CommandResult result = runPharos({"keys", "list", "--data", data.path().string()});
  EXPECT_EQ(result.status.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("No API keys yet"), std::string::npos) << result.out;
  const CommandResult json = runPharos({"keys", "list", "--json", "--data", data.path().string()});
  EXPECT_EQ(json.status.exit_code, 0) << json.err;
  EXPECT_EQ(json.out, "");
}

TEST(AuthTest, InvalidWorkspaceNameIsRefused) {
  TempDir data;
  const CommandResult result =
      runPharos({"keys", "create", "--workspace", "not a name", "--data", data.path().string()});
  EXPECT_NE(result.status.exit_code, 0);
  EXPECT_NE(result.err.find("workspace name \"not a name\" is not valid"), std::string::npos)
      << result.err;
  EXPECT_EQ(result.out.find("phk_"), std::string::npos);
}

constexpr std::string_view kBootstrapKey = "bootstrap-secret-0123456789";

TEST(AuthTest, BootstrapKeyFromTheEnvironmentWorksForTheDefaultWorkspace) {
  PharosServer server{
      ServeOptions{.sets = {"auth.mode=required"},
                   .environment = {{"PHAROS_AUTH_BOOTSTRAP_KEY", std::string(kBootstrapKey)}}}};
  ASSERT_TRUE(server.start());
  const HttpResponse response =
      get(server.port(), kWhoami, {{"x-api-key", std::string(kBootstrapKey)}});
  EXPECT_TRUE(whoamiIs(response, "default", true));
  EXPECT_TRUE(whoamiIs(
      get(server.port(), kWhoami, {{"Authorization", "Bearer " + std::string(kBootstrapKey)}}),
      "default", true));
  EXPECT_TRUE(isUnauthorized(
      get(server.port(), kWhoami, {{"x-api-key", std::string(kBootstrapKey) + "x"}})));
  EXPECT_TRUE(isUnauthorized(get(server.port(), kWhoami)));
  // The secret never reaches the log or the banner.
  EXPECT_EQ(server.stderrText().find(kBootstrapKey), std::string::npos);
  EXPECT_EQ(server.stdoutText().find(kBootstrapKey), std::string::npos);
}

TEST(AuthTest, BootstrapKeyBelongsToTheBootstrapWorkspace) {
  PharosServer server{
      ServeOptions{.sets = {"auth.mode=required", "auth.bootstrap_workspace=ops-team"},
                   .environment = {{"PHAROS_AUTH_BOOTSTRAP_KEY", std::string(kBootstrapKey)}}}};
  ASSERT_TRUE(server.start());
  EXPECT_TRUE(whoamiIs(get(server.port(), kWhoami, {{"x-api-key", std::string(kBootstrapKey)}}),
                       "ops-team", true));
}

TEST(AuthTest, ShortBootstrapKeyIsAConfigurationError) {
  PharosServer server{ServeOptions{.environment = {{"PHAROS_AUTH_BOOTSTRAP_KEY", "short-key"}}}};
  const ::testing::AssertionResult started = server.start();
  ASSERT_FALSE(started) << "started with a 9-character bootstrap key";
  ASSERT_TRUE(server.exitStatus());
  EXPECT_EQ(server.exitStatus()->exit_code, 2) << describe(*server.exitStatus());
  const std::string err = server.stderrText();
  EXPECT_NE(err.find("auth.bootstrap_key"), std::string::npos) << err;
  EXPECT_EQ(err.find("short-key"), std::string::npos) << "the secret was printed: " << err;
}

TEST(AuthTest, AuthModeNoneIgnoresKeys) {
  PharosServer server{ServeOptions{.sets = {"auth.mode=none"}}};
  ASSERT_TRUE(server.start());
  EXPECT_TRUE(
      whoamiIs(get(server.port(), kWhoami, {{"x-api-key", "phk_garbage"}}), "default", false));
}

TEST_F(RequiredAuthTest, UnauthenticatedBodiesAreNeitherInvitedNorRead) {
  // The key is checked on the head: a caller without one gets its 401 before any 100 Continue,
  // so it cannot make the server buffer bodies.
  HttpConnection connection(port());
  ASSERT_TRUE(
      connection.send("POST /api/v1/auth/whoami HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      "Content-Length: 1000000\r\n\r\n"));
  ASSERT_TRUE(connection.readUntil("\r\n\r\n")) << connection.lastError();
  EXPECT_NE(connection.received().rfind("HTTP/1.1 100", 0), 0u)
      << "invited the body of an unauthenticated caller: " << connection.received();
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  EXPECT_TRUE(isUnauthorized(*response));
  EXPECT_TRUE(connection.waitForClose());
}

}  // namespace
}  // namespace pharos::testing
