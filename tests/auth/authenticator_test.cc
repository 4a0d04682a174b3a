// KeyAuthenticator against the MemoryStore: every auth.mode against every kind of presented key,
// the key cache, and a failing store.
#include "auth/authenticator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "auth/api_key.h"
#include "store/memory/memory_store.h"
#include "store/store_test_util.h"

namespace pharos::auth {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using core::AuthMode;
using core::ErrorCode;
using http::Identity;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
using Headers = std::vector<std::pair<std::string, std::string>>;
using store::test_util::runSync;

constexpr std::string_view kBootstrapKey = "bootstrap-key-for-containers";

http::Request makeRequest(const Headers& headers) {
  bhttp::request<bhttp::string_body> message{http::Verb::get, "/api/v1/runs", 11};
  for (const auto& [name, value] : headers) message.insert(name, value);
  return http::Request(std::move(message), "request-1", "127.0.0.1:50000");
}

// How each listener/mode combination is configured.
enum class AuthSetup { kAutoOnLoopback, kAutoOnAllInterfaces, kRequired, kNone };

std::string setupName(AuthSetup setup) {
  switch (setup) {
    case AuthSetup::kAutoOnLoopback:
      return "auto on 127.0.0.1";
    case AuthSetup::kAutoOnAllInterfaces:
      return "auto on 0.0.0.0";
    case AuthSetup::kRequired:
      return "required";
    case AuthSetup::kNone:
      return "none";
  }
  return "?";
}

// The outcomes a presented key can have.
enum class Outcome {
  kFallback,   // the default workspace, no key id
  kKeyOwner,   // the workspace the key belongs to
  kBootstrap,  // the bootstrap workspace
  kNeedsKey,   // 401: a key is required
  kMalformed,  // 401: not phk_<id>_<secret>
  kInvalid,    // 401: unknown id or wrong secret
  kRevoked,    // 401: revoked
};

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::make_shared<store::MemoryStore>();
    team_ = runSync(ctx_, store_->ensureWorkspace("team")).value();
    const store::Workspace fallback = runSync(ctx_, store_->ensureWorkspace("default")).value();
    const store::Workspace ops = runSync(ctx_, store_->ensureWorkspace("ops")).value();
    fallback_ = Identity{fallback.id, fallback.name, ""};
    bootstrap_ = Identity{ops.id, ops.name, ""};
    valid_ = insertKey();
    revoked_ = insertKey();
    revoke(revoked_.id);
    unknown_ = generateKey();  // well-formed, never stored
  }

  NewKey insertKey() {
    NewKey key = generateKey();
    store::ApiKeyRecord record{
        key.id,      team_.id, "", key.secret_sha256, "test key", std::chrono::system_clock::now(),
        std::nullopt};
    EXPECT_TRUE(runSync(ctx_, store_->insertApiKey(record)).ok());
    return key;
  }

  void revoke(const std::string& id) {
    EXPECT_TRUE(runSync(ctx_, store_->revokeApiKey(id, std::chrono::system_clock::now())).ok());
  }

  std::unique_ptr<KeyAuthenticator> make(AuthSetup setup, std::chrono::milliseconds ttl = 1h) {
    core::Settings settings;
    switch (setup) {
      case AuthSetup::kAutoOnLoopback:
        settings.auth.mode = AuthMode::kAuto;
        settings.server.listen.host = "127.0.0.1";
        break;
      case AuthSetup::kAutoOnAllInterfaces:
        settings.auth.mode = AuthMode::kAuto;
        settings.server.listen.host = "0.0.0.0";
        break;
      case AuthSetup::kRequired:
        settings.auth.mode = AuthMode::kRequired;
        settings.server.listen.host = "127.0.0.1";
        break;
      case AuthSetup::kNone:
        settings.auth.mode = AuthMode::kNone;
        settings.server.listen.host = "0.0.0.0";
        break;
    }
    settings.auth.bootstrap_key = core::Secret(std::string(kBootstrapKey));
    settings.auth.key_cache_ttl = ttl;
    return std::make_unique<KeyAuthenticator>(store_, settings.auth, settings.keysRequired(),
                                              fallback_, bootstrap_);
  }

  core::Result<Identity> authenticate(KeyAuthenticator& authenticator, const Headers& headers) {
    const http::Request request = makeRequest(headers);
    return runSync(ctx_, authenticator.authenticate(request.head()));
  }

  void expectOutcome(const core::Result<Identity>& result, Outcome outcome,
                     const std::string& key_id = {}) {
    switch (outcome) {
      case Outcome::kFallback:
      case Outcome::kKeyOwner:
      case Outcome::kBootstrap: {
        ASSERT_TRUE(result.ok()) << result.error().message;
        const Identity expected = outcome == Outcome::kFallback ? fallback_
                                  : outcome == Outcome::kBootstrap
                                      ? bootstrap_
                                      : Identity{team_.id, "team", key_id};
        EXPECT_EQ(result->workspace_id, expected.workspace_id);
        EXPECT_EQ(result->workspace_name, expected.workspace_name);
        EXPECT_EQ(result->key_id, expected.key_id);
        return;
      }
      default:
        break;
    }
    ASSERT_FALSE(result.ok()) << "accepted as workspace " << result->workspace_name;
    EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
    const std::string& message = result.error().message;
    switch (outcome) {
      case Outcome::kNeedsKey:
        EXPECT_THAT(message, HasSubstr("requires an API key"));
        break;
      case Outcome::kMalformed:
        EXPECT_THAT(message, HasSubstr("malformed"));
        break;
      case Outcome::kInvalid:
        EXPECT_THAT(message, HasSubstr("not valid"));
        break;
      case Outcome::kRevoked:
        EXPECT_THAT(message, HasSubstr("revoked"));
        EXPECT_THAT(message, HasSubstr(key_id));
        break;
      default:
        break;
    }
  }

  // One presented key and what each setup must make of it.
  struct Case {
    std::string name;
    Headers headers;
    Outcome keys_optional;  // auto on loopback
    Outcome keys_required;  // auto elsewhere, or required
    std::string key_id;     // for kKeyOwner and kRevoked
  };

  std::vector<Case> matrix() const {
    const std::string wrong_secret = "phk_" + valid_.id + "_" + std::string(kKeySecretLength, 'Z');
    return {
        {"no key", {}, Outcome::kFallback, Outcome::kNeedsKey, ""},
        {"empty x-api-key", {{"x-api-key", ""}}, Outcome::kFallback, Outcome::kNeedsKey, ""},
        {"blank x-api-key", {{"x-api-key", "   "}}, Outcome::kFallback, Outcome::kNeedsKey, ""},
        {"x-api-key undefined",
         {{"x-api-key", "undefined"}},
         Outcome::kFallback,
         Outcome::kNeedsKey,
         ""},
        {"x-api-key null", {{"x-api-key", "null"}}, Outcome::kFallback, Outcome::kNeedsKey, ""},
        {"Bearer undefined",
         {{"authorization", "Bearer undefined"}},
         Outcome::kFallback,
         Outcome::kNeedsKey,
         ""},
        {"Bearer with nothing",
         {{"authorization", "Bearer "}},
         Outcome::kFallback,
         Outcome::kNeedsKey,
         ""},
        {"sk- placeholder",
         {{"authorization", "Bearer sk-placeholder"}},
         Outcome::kFallback,
         Outcome::kMalformed,
         ""},
        {"sk- placeholder in x-api-key",
         {{"x-api-key", "sk-placeholder"}},
         Outcome::kFallback,
         Outcome::kMalformed,
         ""},
        {"malformed phk_x", {{"x-api-key", "phk_x"}}, Outcome::kMalformed, Outcome::kMalformed, ""},
        {"malformed phk_ bearer",
         {{"authorization", "Bearer phk_short_key"}},
         Outcome::kMalformed,
         Outcome::kMalformed,
         ""},
        {"unknown well-formed key",
         {{"x-api-key", unknown_.plaintext}},
         Outcome::kInvalid,
         Outcome::kInvalid,
         ""},
        {"known id, wrong secret",
         {{"x-api-key", wrong_secret}},
         Outcome::kInvalid,
         Outcome::kInvalid,
         ""},
        {"valid key in x-api-key",
         {{"x-api-key", valid_.plaintext}},
         Outcome::kKeyOwner,
         Outcome::kKeyOwner,
         valid_.id},
        {"valid key as Bearer",
         {{"authorization", "Bearer " + valid_.plaintext}},
         Outcome::kKeyOwner,
         Outcome::kKeyOwner,
         valid_.id},
        {"valid key as lower-case bearer",
         {{"authorization", "bearer " + valid_.plaintext}},
         Outcome::kKeyOwner,
         Outcome::kKeyOwner,
         valid_.id},
        {"valid key with padding",
         {{"x-api-key", "  " + valid_.plaintext + "\t"}},
         Outcome::kKeyOwner,
         Outcome::kKeyOwner,
         valid_.id},
        {"revoked key",
         {{"x-api-key", revoked_.plaintext}},
         Outcome::kRevoked,
         Outcome::kRevoked,
         revoked_.id},
        {"revoked key as Bearer",
         {{"authorization", "Bearer " + revoked_.plaintext}},
         Outcome::kRevoked,
         Outcome::kRevoked,
         revoked_.id},
        {"bootstrap key",
         {{"x-api-key", std::string(kBootstrapKey)}},
         Outcome::kBootstrap,
         Outcome::kBootstrap,
         ""},
        {"bootstrap key as Bearer",
         {{"authorization", "Bearer " + std::string(kBootstrapKey)}},
         Outcome::kBootstrap,
         Outcome::kBootstrap,
         ""},
        {"x-api-key wins over Authorization",
         {{"x-api-key", valid_.plaintext}, {"authorization", "Bearer " + revoked_.plaintext}},
         Outcome::kKeyOwner,
         Outcome::kKeyOwner,
         valid_.id},
    };
  }

  void runMatrix(AuthSetup setup) {
    auto authenticator = make(setup);
    for (const Case& c : matrix()) {
      SCOPED_TRACE(setupName(setup) + " / " + c.name);
      Outcome expected = Outcome::kFallback;  // auth.mode none ignores keys altogether
      if (setup == AuthSetup::kAutoOnLoopback) expected = c.keys_optional;
      if (setup == AuthSetup::kAutoOnAllInterfaces || setup == AuthSetup::kRequired) {
        expected = c.keys_required;
      }
      // Twice: the second answer may come from the key cache and must be the same.
      for (int attempt = 0; attempt < 2; ++attempt) {
        expectOutcome(authenticate(*authenticator, c.headers), expected, c.key_id);
      }
    }
  }

  asio::io_context ctx_;
  std::shared_ptr<store::MemoryStore> store_;
  store::Workspace team_;
  Identity fallback_;
  Identity bootstrap_;
  NewKey valid_;
  NewKey revoked_;
  NewKey unknown_;
};

TEST_F(AuthenticatorTest, AutoOnLoopbackMakesKeysOptional) {
  runMatrix(AuthSetup::kAutoOnLoopback);
}

TEST_F(AuthenticatorTest, AutoOnAllInterfacesRequiresKeys) {
  runMatrix(AuthSetup::kAutoOnAllInterfaces);
}

TEST_F(AuthenticatorTest, RequiredModeRequiresKeysEvenOnLoopback) {
  runMatrix(AuthSetup::kRequired);
}

TEST_F(AuthenticatorTest, NoneModeIgnoresEveryKey) {
  runMatrix(AuthSetup::kNone);
}

TEST_F(AuthenticatorTest, WithoutABootstrapKeyItIsJustAnotherString) {
  core::AuthSettings settings;
  settings.mode = AuthMode::kRequired;
  KeyAuthenticator authenticator(store_, settings, true, fallback_, bootstrap_);
  expectOutcome(authenticate(authenticator, {{"x-api-key", std::string(kBootstrapKey)}}),
                Outcome::kMalformed);
  // An empty bootstrap key must not turn an empty presented key into the bootstrap identity.
  expectOutcome(authenticate(authenticator, {{"x-api-key", ""}}), Outcome::kNeedsKey);
}

TEST_F(AuthenticatorTest, RevokedKeyIsStillAcceptedWithinTheCacheTtl) {
  auto authenticator = make(AuthSetup::kRequired, 1h);
  const NewKey key = insertKey();
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kKeyOwner,
                key.id);
  revoke(key.id);
  // Trusted until the TTL runs out: the documented price of not reading the store per request.
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kKeyOwner,
                key.id);
}

TEST_F(AuthenticatorTest, RevokedKeyIsRefusedOnceTheCacheTtlHasPassed) {
  auto authenticator = make(AuthSetup::kRequired, 20ms);
  const NewKey key = insertKey();
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kKeyOwner,
                key.id);
  revoke(key.id);
  std::this_thread::sleep_for(60ms);  // any time over the TTL; more only makes it surer
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kRevoked,
                key.id);
}

TEST_F(AuthenticatorTest, ZeroTtlChecksTheStoreEveryTime) {
  auto authenticator = make(AuthSetup::kRequired, 0ms);
  const NewKey key = insertKey();
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kKeyOwner,
                key.id);
  revoke(key.id);
  expectOutcome(authenticate(*authenticator, {{"x-api-key", key.plaintext}}), Outcome::kRevoked,
                key.id);
}

TEST_F(AuthenticatorTest, CachedKeyStillNeedsTheRightSecret) {
  auto authenticator = make(AuthSetup::kRequired, 1h);
  expectOutcome(authenticate(*authenticator, {{"x-api-key", valid_.plaintext}}), Outcome::kKeyOwner,
                valid_.id);
  const std::string wrong = "phk_" + valid_.id + "_" + std::string(kKeySecretLength, 'Q');
  expectOutcome(authenticate(*authenticator, {{"x-api-key", wrong}}), Outcome::kInvalid);
}

// An ApiKeyStore whose reads fail, like a database that cannot be opened.
class FailingKeyStore final : public store::ApiKeyStore {
 public:
  asio::awaitable<store::Status> insertApiKey(store::ApiKeyRecord) override {
    co_return core::Error::unavailable("disk gone");
  }
  asio::awaitable<store::Result<std::optional<store::ApiKeyRecord>>> findApiKey(
      std::string) override {
    ++finds;
    co_return core::Error::unavailable("disk gone");
  }
  asio::awaitable<store::Result<std::vector<store::ApiKeyRecord>>> listApiKeys() override {
    co_return core::Error::unavailable("disk gone");
  }
  asio::awaitable<store::Status> revokeApiKey(std::string, store::TimePoint) override {
    co_return core::Error::unavailable("disk gone");
  }
  int finds = 0;
};

TEST_F(AuthenticatorTest, StoreFailureIsUnavailableNotUnauthenticated) {
  auto failing = std::make_shared<FailingKeyStore>();
  core::AuthSettings settings;
  settings.mode = AuthMode::kRequired;
  KeyAuthenticator authenticator(failing, settings, true, fallback_, bootstrap_);
  const auto result = authenticate(authenticator, {{"x-api-key", valid_.plaintext}});
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable);
  EXPECT_THAT(result.error().message, HasSubstr("disk gone"));
  // A failure is not cached: the next request asks the store again.
  (void)authenticate(authenticator, {{"x-api-key", valid_.plaintext}});
  EXPECT_EQ(failing->finds, 2);
}

TEST(PresentedKeyTest, PrefersXApiKeyThenBearer) {
  EXPECT_EQ(presentedKey(makeRequest({{"x-api-key", "a"}, {"authorization", "Bearer b"}}).head()),
            "a");
  // A placeholder x-api-key (the LangSmith JS client's "undefined") must not hide a real key.
  EXPECT_EQ(
      presentedKey(makeRequest({{"x-api-key", "undefined"}, {"authorization", "Bearer b"}}).head()),
      "b");
  EXPECT_EQ(presentedKey(makeRequest({{"x-api-key", "null"}}).head()), "null");
  EXPECT_EQ(presentedKey(makeRequest({{"authorization", "Bearer b"}}).head()), "b");
  EXPECT_EQ(presentedKey(makeRequest({{"Authorization", "  Bearer   b  "}}).head()), "b");
  EXPECT_EQ(presentedKey(makeRequest({{"X-Api-Key", " a\t"}}).head()), "a");
  EXPECT_EQ(presentedKey(makeRequest({}).head()), "");
}

TEST(PresentedKeyTest, OtherAuthorizationSchemesPresentNoKey) {
  EXPECT_EQ(presentedKey(makeRequest({{"authorization", "Basic dXNlcjpwYXNz"}}).head()), "");
  EXPECT_EQ(presentedKey(makeRequest({{"authorization", "Bearer"}}).head()), "");
  EXPECT_EQ(presentedKey(makeRequest({{"authorization", "Bearerxyz"}}).head()), "");
}

}  // namespace
}  // namespace pharos::auth
