// Names people give to things that also appear in URLs, keys and logs.
#pragma once

#include <algorithm>
#include <string_view>

namespace pharos::core {

inline constexpr std::size_t kMaxWorkspaceNameLength = 64;

// 1 to 64 of A-Z a-z 0-9 _ . - (the one rule for every place a workspace is named).
inline bool isValidWorkspaceName(std::string_view name) {
  return !name.empty() && name.size() <= kMaxWorkspaceNameLength &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  c == '_' || c == '.' || c == '-';
         });
}

inline constexpr std::string_view kWorkspaceNameRule = "1 to 64 of A-Z a-z 0-9 _ . -";

}  // namespace pharos::core
