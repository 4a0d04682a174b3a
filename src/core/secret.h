// A secret value (API key, password) that never prints itself: not through <<, fmt, logs,
// error messages or `pharos config show`. Reading the value takes an explicit reveal().
#pragma once

#include <fmt/format.h>

#include <ostream>
#include <string>
#include <string_view>

namespace pharos::core {

class Secret {
 public:
  static constexpr std::string_view kMask = "********";

  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  bool empty() const { return value_.empty(); }
  // The only way to the plaintext; grep for reveal() to audit every use.
  std::string_view reveal() const { return value_; }
  // What to show a person: the mask when set, "" when unset.
  std::string_view masked() const { return value_.empty() ? std::string_view{} : kMask; }

  friend bool operator==(const Secret&, const Secret&) = delete;  // use a constant-time compare
  friend std::ostream& operator<<(std::ostream& out, const Secret& s) { return out << s.masked(); }

 private:
  std::string value_;
};

}  // namespace pharos::core

template <>
struct fmt::formatter<pharos::core::Secret> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const pharos::core::Secret& s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(s.masked(), ctx);
  }
};
