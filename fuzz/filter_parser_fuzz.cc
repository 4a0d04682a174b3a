// Fuzzes the run filter front end (tracing/query): parseFilter on arbitrary bytes, then
// validateFilter on whatever parsed. Invariants beyond "no crash, no UB":
// * every error is kInvalidArgument with a "filter: " message;
// * a parsed filter prints canonically, and the print reparses to the same print (idempotence);
// * the same holds after validation (normalised timestamps, durations and UUIDs reparse and
//   revalidate to the same print);
// * a valid filter compiles to SQL with one `?` per bound parameter (or is refused with a
//   "filter: " error when SQLite could not take it).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tracing/query/filter_parser.h"
#include "tracing/query/filter_validate.h"
#include "tracing/query/sql_compiler.h"

namespace {

using namespace pharos::tracing::query;
using pharos::core::ErrorCode;

void check(bool condition) {
  if (!condition) std::abort();
}

void checkError(const pharos::core::Error& error) {
  check(error.code == ErrorCode::kInvalidArgument);
  check(std::string_view(error.message).starts_with("filter: "));
}

// Parses `printed` and checks that it prints back unchanged; returns the reparsed filter. The
// canonical print can be longer than the input (", " separators, \u00XX escapes), so past the
// length limit only the limit's own error is expected.
FilterExpr reparse(const std::string& printed) {
  auto again = parseFilter(printed);
  if (printed.size() > kMaxFilterBytes) {
    check(!again.ok());
    return FilterExpr{};
  }
  check(again.ok());
  check(toString(*again) == printed);
  return std::move(again).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parseFilter(text);
  if (!parsed) {
    checkError(parsed.error());
    return 0;
  }
  const std::string printed = toString(*parsed);
  check(printed.empty() == !parsed->root.has_value());
  if (printed.size() > kMaxFilterBytes) return 0;
  FilterExpr copy = reparse(printed);

  pharos::core::Status valid = validateFilter(*parsed);
  pharos::core::Status validCopy = validateFilter(copy);
  // Validation judges the tree, not the spelling: the canonical print must get the same verdict.
  check(valid.ok() == validCopy.ok());
  if (!valid) {
    checkError(valid.error());
    return 0;
  }
  // A valid filter compiles (or is refused as too deep / too many values for SQLite, with a
  // position), and its SQL has exactly one placeholder per parameter: no value became SQL text.
  auto compiled = compileFilter(*parsed, "r", 1);
  if (compiled.ok()) {
    std::size_t placeholders = 0;
    for (char c : compiled->sql) placeholders += c == '?' ? 1 : 0;
    check(placeholders == compiled->params.size());
  } else {
    checkError(compiled.error());
  }

  const std::string normalised = toString(*parsed);
  check(toString(copy) == normalised);
  if (normalised.size() > kMaxFilterBytes) return 0;
  FilterExpr again = reparse(normalised);
  check(validateFilter(again).ok());
  check(toString(again) == normalised);
  return 0;
}
