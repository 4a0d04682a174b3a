// Fuzzes input validation (policy/input_validation) with arbitrary request bodies: a client's JSON
// is untrusted. Invariants beyond "no crash, no UB": a rejection names a known rule and says why;
// a request that passes with stripping passes again unchanged (stripping is idempotent).
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "policy/input_validation.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

const pharos::policy::InputValidator& validator() {
  static const auto v = [] {
    pharos::policy::InputPolicy p;
    p.max_chars = 1000;
    p.max_messages = 50;
    p.max_total_chars = 20000;
    p.user_id_pattern = "^[a-zA-Z0-9_-]+$";
    p.strip_chars = "<>{}";
    p.reject_chars = "\x01";
    p.check_roles = {"user", "tool"};
    return pharos::policy::InputValidator::compile(p).value();
  }();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  boost::system::error_code ec;
  boost::json::value value = boost::json::parse(text, ec);
  if (ec || !value.is_object()) return 0;
  auto& request = value.as_object();
  const auto verdict = validator().apply(request, "fuzz_user");
  static const std::set<std::string> rules = {"max_chars",       "max_messages", "max_total_chars",
                                              "user_id_pattern", "reject_chars", "injection_phrase",
                                              "schema"};
  if (verdict.rejected) {
    check(rules.contains(verdict.rule));
    check(!verdict.message.empty());
    return 0;
  }
  const auto again = validator().apply(request, "fuzz_user");
  check(!again.rejected);
  check(!again.modified);
  return 0;
}
