// The AST of the LangSmith run filter language (`filter`, `trace_filter`, `tree_filter` of
// POST /runs/query; spec langsmith-api.md §6). The parser (filter_parser.h) builds it from text,
// the validator (filter_validate.h) checks it against the field catalogue and normalises values,
// and the SQL compiler turns it into parameterised SQL. Every node keeps the 0-based byte offset of
// where it starts in the filter text so that any later stage can point at the user's mistake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pharos::tracing::query {

enum class Function {
  kAnd,
  kOr,
  kNot,
  kEq,
  kNeq,
  kGt,
  kGte,
  kLt,
  kLte,
  kHas,
  kSearch,
  kIn,
  kLike,
  kExists,
};
inline constexpr std::size_t kFunctionCount = 14;

// "and", "eq", ... as written in filter text.
std::string_view functionName(Function function);
// Exact (case-sensitive) lookup of a function name.
std::optional<Function> functionFromName(std::string_view name);

// A point in time, as Unix microseconds (UTC). The parser never produces it: the validator turns
// ISO-8601 strings given to timestamp fields into it, so the SQL compiler binds a number.
struct Timestamp {
  std::int64_t micros = 0;
  friend bool operator==(const Timestamp&, const Timestamp&) = default;
};

// A literal value. The parser produces null, bool, int64 (an integer without '.' or exponent),
// double (anything else numeric) and string; the validator may replace a value with its normalised
// form (Timestamp, latency as double seconds, lower-case UUID strings).
using Value = std::variant<std::nullptr_t, bool, std::int64_t, double, std::string, Timestamp>;

struct Literal {
  Value value;
  std::size_t offset = 0;
  friend bool operator==(const Literal&, const Literal&) = default;
};

struct Field {
  std::string name;
  std::size_t offset = 0;
  friend bool operator==(const Field&, const Field&) = default;
};

// "[v1, v2, ...]": only literals, never empty (the grammar has no empty list).
struct List {
  std::vector<Literal> items;
  std::size_t offset = 0;
  friend bool operator==(const List&, const List&) = default;
};

struct Node;

struct Call {
  Function function = Function::kAnd;
  std::vector<Node> args;
  std::size_t offset = 0;  // of the function name
  friend bool operator==(const Call&, const Call&);
};

struct Node {
  std::variant<Call, Field, Literal, List> value;
  friend bool operator==(const Node&, const Node&) = default;

  std::size_t offset() const;
};

inline bool operator==(const Call& a, const Call& b) {
  return a.function == b.function && a.args == b.args && a.offset == b.offset;
}

// A parsed filter. `root` is empty when the filter text was empty or only whitespace, which means
// "no filter" (every run matches), exactly as if the body key were absent.
struct FilterExpr {
  std::optional<Call> root;
};

// Canonical filter text: lower-case function names, ", " between arguments, strings in double
// quotes with JSON-style escapes, doubles always with a '.' or an exponent (so that they reparse as
// doubles), Timestamps as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z". parseFilter(toString(x)) reproduces x
// up to offsets, so print -> parse -> print is the identity.
std::string toString(const Node& node);
std::string toString(const Call& call);
std::string toString(const Literal& literal);
std::string toString(const FilterExpr& expr);  // "" for the empty filter

// "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" for Unix microseconds (fraction only when non-zero); years
// outside 0000..9999 are clamped by the caller's range check (the validator never produces them).
std::string formatTimestampMicros(std::int64_t micros);

}  // namespace pharos::tracing::query
