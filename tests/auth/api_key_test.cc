// The API key format "phk_<12 id>_<32 secret>": generation, parsing, and what is stored.
#include "auth/api_key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/crypto.h"

namespace pharos::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

bool alphanumeric(std::string_view text) {
  for (unsigned char c : text) {
    if (!std::isalnum(c)) return false;
  }
  return true;
}

TEST(ApiKeyTest, GeneratedKeyHasTheDocumentedShape) {
  const NewKey key = generateKey();
  EXPECT_THAT(key.plaintext, StartsWith("phk_"));
  EXPECT_EQ(key.plaintext.size(), 4 + kKeyIdLength + 1 + kKeySecretLength);
  EXPECT_EQ(key.id.size(), kKeyIdLength);
  EXPECT_TRUE(alphanumeric(key.id)) << key.id;
  EXPECT_EQ(key.plaintext.substr(4, kKeyIdLength), key.id);
  EXPECT_EQ(key.plaintext[4 + kKeyIdLength], '_');
  EXPECT_TRUE(alphanumeric(key.plaintext.substr(4 + kKeyIdLength + 1)));
}

TEST(ApiKeyTest, GenerateParseRoundTrip) {
  const NewKey key = generateKey();
  const std::optional<ParsedKey> parsed = parseKey(key.plaintext);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->id, key.id);
  EXPECT_EQ(parsed->secret, key.plaintext.substr(4 + kKeyIdLength + 1));
  EXPECT_TRUE(looksLikePharosKey(key.plaintext));
}

TEST(ApiKeyTest, OnlyTheSecretsHashIsKept) {
  const NewKey key = generateKey();
  const std::string secret = key.plaintext.substr(4 + kKeyIdLength + 1);
  EXPECT_EQ(key.secret_sha256.size(), 32u);
  EXPECT_EQ(key.secret_sha256, core::sha256(secret));
  EXPECT_THAT(key.secret_sha256, Not(HasSubstr(secret)));
  EXPECT_THAT(core::toHex(key.secret_sha256), Not(HasSubstr(secret)));
  // The hash is of the secret part alone, not of the whole key.
  EXPECT_NE(key.secret_sha256, core::sha256(key.plaintext));
}

TEST(ApiKeyTest, TwoKeysDiffer) {
  const NewKey a = generateKey();
  const NewKey b = generateKey();
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.plaintext, b.plaintext);
  EXPECT_NE(a.secret_sha256, b.secret_sha256);
  EXPECT_NE(a.plaintext.substr(17), b.plaintext.substr(17));
}

TEST(ApiKeyTest, ManyKeysHaveDistinctIds) {
  std::set<std::string> ids;
  for (int i = 0; i < 2000; ++i) ids.insert(generateKey().id);
  EXPECT_EQ(ids.size(), 2000u);
}

TEST(ApiKeyTest, MalformedShapesAreRejected) {
  const std::string id(kKeyIdLength, 'A');
  const std::string secret(kKeySecretLength, 'b');
  ASSERT_TRUE(parseKey("phk_" + id + "_" + secret).has_value());  // the control case

  const std::vector<std::string> bad = {
      "",
      "phk_",
      "phk_x",
      "phk__",
      "pk_" + id + "_" + secret,                                    // wrong prefix
      "PHK_" + id + "_" + secret,                                   // prefix is case-sensitive
      "sk-" + id + "_" + secret,                                    // another vendor's key
      " phk_" + id + "_" + secret,                                  // leading space
      "phk_" + id + "_" + secret + " ",                             // trailing space
      "phk_" + id.substr(1) + "_" + secret,                         // id too short
      "phk_" + id + "A_" + secret,                                  // id too long
      "phk_" + id + "_" + secret.substr(1),                         // secret too short
      "phk_" + id + "_" + secret + "b",                             // secret too long
      "phk_" + id + "-" + secret,                                   // wrong separator
      "phk_" + id + secret + "b",                                   // no separator
      "phk_" + id.substr(1) + "-_" + secret,                        // '-' in the id
      "phk_" + id + "_" + secret.substr(1) + "_",                   // '_' in the secret
      "phk_" + id + "_" + secret.substr(2) + "\xC3\xA9",            // non-ASCII in the secret
      "phk_" + id.substr(1) + "+" + "_" + secret,                   // '+' in the id
      "phk_" + id + "_" + secret.substr(1) + std::string(1, '\0'),  // NUL in the secret
  };
  for (const std::string& key : bad) {
    EXPECT_FALSE(parseKey(key).has_value()) << "accepted: \"" << key << "\"";
  }
}

TEST(ApiKeyTest, LooksLikePharosKeyOnlyChecksThePrefix) {
  EXPECT_TRUE(looksLikePharosKey("phk_x"));
  EXPECT_TRUE(looksLikePharosKey("phk_"));
  EXPECT_FALSE(looksLikePharosKey("phk"));
  EXPECT_FALSE(looksLikePharosKey("sk-abc"));
  EXPECT_FALSE(looksLikePharosKey(""));
  EXPECT_FALSE(looksLikePharosKey("PHK_x"));
}

}  // namespace
}  // namespace pharos::auth
