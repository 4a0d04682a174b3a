// Semantic checks of a parsed filter (after filter_parser.h) and the catalogue of filterable run
// fields. The catalogue (filterFields()) is the single table of what may be filtered on, with
// which functions and which value kind; the SQL compiler is meant to reuse it (kind -> column
// type / binding, the pseudo-fields -> joins) rather than keep its own list.
//
// validateFilter() checks, with the 0-based byte position of the offending node:
// * arity and argument shapes: and/or take >= 1 condition, not takes 1, eq/neq/gt/gte/lt/lte/has/
//   like/exists take (field, value), in takes (field, [values]), search takes (value) or
//   (field, value). Conditions are calls; a field is an identifier; a value is a literal.
// * that the field exists (unknown -> "did you mean"), and that the function applies to it;
// * the value's kind for the field, and normalises it in place (see ValueKind).
// null is accepted only as the value of eq/neq (eq(f, null) = "f is null").
// It does not check the cross-predicate pairing of feedback_key/feedback_score or *_key/*_value
// inside one and(...) (spec §6.3): any combination is meaningful to the SQL compiler.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "core/result.h"
#include "tracing/query/filter_ast.h"

namespace pharos::tracing::query {

// What a field's values are, and what validateFilter() leaves in the AST for them.
enum class ValueKind {
  kString,      // string, kept as is (name, run_type, error, thread_id, feedback_key, *_key)
  kUuid,        // string in UUID form; normalised to lower case (id, trace_id, ...)
  kStatus,      // string, one of success error pending
  kTimestamp,   // ISO-8601 string -> Timestamp (Unix microseconds, UTC)
  kDuration,    // number of seconds, or a string "250ms" / "5s" / "1.5m" / "2h" -> double seconds
  kNumber,      // int64 or double, kept as is (tokens, costs, scores, execution_order)
  kBool,        // true / false (is_root)
  kStringList,  // an array column; has(f, "x") with a string (tags)
  kScalar,      // string, number or bool, kept as is (metadata_value, input_value, output_value)
  kJson,        // a JSON object column: has(f, '{"k": "v"}') with a JSON object text (checked),
                // exists(f, "key") with a string (metadata)
};

using FunctionSet = std::uint32_t;
constexpr FunctionSet functionBit(Function f) {
  return FunctionSet{1} << static_cast<unsigned>(f);
}

struct FieldSpec {
  std::string_view name;
  ValueKind kind;
  FunctionSet functions;  // which functions may take this field as their first argument
};

// Every filterable field, in a stable order.
std::span<const FieldSpec> filterFields();
const FieldSpec* findField(std::string_view name);

// Checks and normalises `expr` in place. An empty filter is valid. The tree must be no deeper
// than kMaxFilterDepth (parseFilter guarantees it; recursion follows the tree).
core::Status validateFilter(FilterExpr& expr);

// parseFilter + validateFilter: what a route does with the `filter` body key.
core::Result<FilterExpr> parseAndValidateFilter(std::string_view text);

// ISO-8601 to Unix microseconds (UTC): "YYYY-MM-DD", optionally followed by "T" (or "t" or a
// space) "HH:MM", optional ":SS", optional fraction (1-9 digits, truncated to microseconds), and an
// optional zone "Z" / "z" / "+HH:MM" / "-HH:MM" / "+HHMM"; no zone means UTC (as the SDK assumes).
// Years 0000-9999; the result must also lie in that range. nullopt when malformed.
std::optional<std::int64_t> parseTimestampMicros(std::string_view text);

// "<number><unit>" with unit us, ms, s, m or h (no sign, no space) -> seconds. nullopt otherwise.
std::optional<double> parseDurationSeconds(std::string_view text);

}  // namespace pharos::tracing::query
