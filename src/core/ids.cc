#include "core/ids.h"

#include <fmt/format.h>
#include <openssl/sha.h>

#include <array>
#include <cstdint>

#include "core/crypto.h"

namespace pharos::core {

std::string newUuidV7(std::chrono::system_clock::time_point now) {
  const auto ms = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
  std::string raw = randomBytes(16);
  auto* b = reinterpret_cast<unsigned char*>(raw.data());
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  const std::string hex = toHex(raw);
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < hex.size(); ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out.push_back('-');
    out.push_back(hex[i]);
  }
  return out;
}

std::string uuidFromHex(std::string_view hex) {
  return fmt::format("{}-{}-{}-{}-{}", hex.substr(0, 8), hex.substr(8, 4), hex.substr(12, 4),
                     hex.substr(16, 4), hex.substr(20, 12));
}

std::string uuidV5(std::string_view namespace_uuid, std::string_view name) {
  std::string input;
  input.reserve(16 + name.size());
  const auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  std::string hex;
  for (char c : namespace_uuid) {
    if (c != '-') hex.push_back(c);
  }
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    input.push_back(static_cast<char>(nibble(hex[i]) * 16 + nibble(hex[i + 1])));
  }
  input.append(name);
  std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  digest[6] = static_cast<unsigned char>(0x50 | (digest[6] & 0x0f));  // version 5
  digest[8] = static_cast<unsigned char>(0x80 | (digest[8] & 0x3f));  // RFC 4122 variant
  return uuidFromHex(toHex(std::string_view(reinterpret_cast<const char*>(digest.data()), 16)));
}

bool isUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

std::string randomAlphanumeric(std::size_t length) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  out.reserve(length);
  while (out.size() < length) {
    for (unsigned char c : randomBytes(length)) {
      // Rejection sampling keeps the distribution uniform: 248 = 4 * 62.
      if (c < 248 && out.size() < length) out.push_back(kAlphabet[c % kAlphabet.size()]);
    }
  }
  return out;
}

}  // namespace pharos::core
