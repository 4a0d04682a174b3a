// The API key format: "phk_<id>_<secret>". The id (12 characters) is public and names the stored
// record; the secret (32 characters, ~190 bits) is shown once and only its SHA-256 is stored.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pharos::auth {

inline constexpr std::string_view kKeyPrefix = "phk_";
inline constexpr std::size_t kKeyIdLength = 12;
inline constexpr std::size_t kKeySecretLength = 32;

struct ParsedKey {
  std::string_view id;
  std::string_view secret;
};

struct NewKey {
  std::string id;
  std::string plaintext;      // the whole key, to show the user once
  std::string secret_sha256;  // what the store keeps
};

NewKey generateKey();
// Splits a presented key; nullopt unless it has exactly the Pharos shape.
std::optional<ParsedKey> parseKey(std::string_view presented);
// True when the text starts like a Pharos key (so a typo is an error, not an anonymous caller).
bool looksLikePharosKey(std::string_view presented);

}  // namespace pharos::auth
