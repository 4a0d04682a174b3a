// Small wrappers over OpenSSL for what Pharos needs: hashing, randomness, constant-time compare.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pharos::core {

// 32 raw bytes.
std::string sha256(std::string_view data);
std::string toHex(std::string_view bytes);
// Cryptographically strong random bytes; aborts if the system cannot provide them.
std::string randomBytes(std::size_t count);
// Compares without an early exit, so timing reveals nothing about where inputs differ.
bool constantTimeEqual(std::string_view a, std::string_view b);

}  // namespace pharos::core
