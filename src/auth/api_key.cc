#include "auth/api_key.h"

#include <cctype>

#include "core/crypto.h"
#include "core/ids.h"

namespace pharos::auth {

namespace {

bool isAlphanumeric(std::string_view text) {
  for (unsigned char c : text) {
    if (!std::isalnum(c)) return false;
  }
  return true;
}

}  // namespace

NewKey generateKey() {
  NewKey key;
  key.id = core::randomAlphanumeric(kKeyIdLength);
  const std::string secret = core::randomAlphanumeric(kKeySecretLength);
  key.plaintext = std::string(kKeyPrefix) + key.id + "_" + secret;
  key.secret_sha256 = core::sha256(secret);
  return key;
}

std::optional<ParsedKey> parseKey(std::string_view presented) {
  if (!looksLikePharosKey(presented)) return std::nullopt;
  presented.remove_prefix(kKeyPrefix.size());
  if (presented.size() != kKeyIdLength + 1 + kKeySecretLength || presented[kKeyIdLength] != '_') {
    return std::nullopt;
  }
  ParsedKey parsed{presented.substr(0, kKeyIdLength), presented.substr(kKeyIdLength + 1)};
  if (!isAlphanumeric(parsed.id) || !isAlphanumeric(parsed.secret)) return std::nullopt;
  return parsed;
}

bool looksLikePharosKey(std::string_view presented) {
  return presented.starts_with(kKeyPrefix);
}

}  // namespace pharos::auth
