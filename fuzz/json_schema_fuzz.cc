// Fuzzes the JSON Schema validator (eval/json_schema) with an untrusted schema and instance: the
// first byte picks where the rest splits into schema JSON and instance JSON. Invariants beyond
// "no crash, no UB": a compile error is kInvalidArgument with a message; accepts() agrees with
// validate().empty(); violations are bounded, carry a message and a JSON pointer, and validating
// twice gives the same answer.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "eval/json_schema.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = rest.empty() ? 0 : (data[0] * rest.size()) / 255;
  boost::system::error_code ec;
  const boost::json::value schema = boost::json::parse(rest.substr(0, split), ec);
  if (ec) return 0;
  const auto compiled = pharos::eval::JsonSchema::compile(schema);
  if (!compiled.ok()) {
    check(compiled.error().code == pharos::core::ErrorCode::kInvalidArgument);
    check(!compiled.error().message.empty());
    return 0;
  }
  const boost::json::value instance = boost::json::parse(rest.substr(split), ec);
  if (ec) return 0;
  const auto violations = compiled->validate(instance);
  check(compiled->accepts(instance) == violations.empty());
  check(violations.size() <= pharos::eval::JsonSchema::kMaxViolations + 1);
  for (const auto& v : violations) {
    check(!v.message.empty());
    check(v.pointer.empty() || v.pointer[0] == '/');
  }
  check(compiled->validate(instance) == violations);
  // The schema accepts or rejects itself without crashing either (schemas are JSON values).
  check(compiled->accepts(schema) == compiled->validate(schema).empty());
  return 0;
}
