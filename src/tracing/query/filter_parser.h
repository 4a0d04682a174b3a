// Parser of the LangSmith run filter language (spec langsmith-api.md §6.1):
//
//   filter   := ws* ( expr ws* )?          // empty or all-whitespace text = no filter
//   expr     := function ws* "(" ws* ( arg ( ws* "," ws* arg )* ws* )? ")"
//   arg      := expr | field | literal | list
//   field    := identifier                 // [A-Za-z_][A-Za-z0-9_]*, case-sensitive
//   literal  := string | number | true | false | null   (keywords case-insensitive)
//   list     := "[" ws* literal ( ws* "," ws* literal )* ws* "]"   // never empty
//   string   := '"' ... '"' | "'" ... "'"
//   number   := "-"? digit+ ( "." digit+ )? ( [eE] [+-]? digit+ )?
//
// Decisions the spec leaves open ([uncertain] there):
// * Strings: either quote style; a backslash escapes \" \' \\ \/ \n \t \r \b \f and \uXXXX (UTF-16
//   code unit; a surrogate pair becomes one UTF-8 character, a lone surrogate is an error). Any
//   other escape is an error, so "\d" never silently means something. Raw bytes (newlines, UTF-8,
//   even invalid UTF-8) are taken as they are.
// * Numbers without '.' or exponent are int64 (out of range is an error); others are doubles
//   (overflow to infinity is an error). There is no leading '+', no ".5", no "5.".
// * Function names are exact and lower-case ("AND(" is an unknown function, with a suggestion).
// * Which functions take which arguments, and which fields exist, is NOT checked here: that is
//   filter_validate.h. The parser only builds the tree (unknown function names are rejected here
//   because the AST stores an enum).
//
// Errors are core::ErrorCode::kInvalidArgument (400) with a message of the form
//   filter: at position 17: expected "," or ")" after an argument, got "]"
// where the position is a 0-based BYTE offset into the filter text, and the offending token is
// quoted (truncated, non-printable bytes as \xNN). Unterminated strings point at the opening quote.
//
// Hostile input stays cheap: the text is limited to kMaxFilterBytes, calls nest at most
// kMaxFilterDepth deep (recursion is bounded by that), lists hold at most kMaxListItems; the work
// is linear in the text length.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/result.h"
#include "tracing/query/filter_ast.h"

namespace pharos::tracing::query {

inline constexpr std::size_t kMaxFilterBytes = 64 * 1024;
inline constexpr std::size_t kMaxFilterDepth = 64;
inline constexpr std::size_t kMaxListItems = 1000;

core::Result<FilterExpr> parseFilter(std::string_view text);

// Helpers shared with the validator so that both stages word their errors alike.
// kInvalidArgument "filter: at position N: <message>" (N a 0-based byte offset).
core::Error filterErrorAt(std::size_t position, std::string_view message);
// `text` in double quotes for an error message: at most 40 bytes (then "..."), with '"', '\\' and
// bytes outside printable ASCII escaped, so a hostile filter cannot inject into logs or JSON.
std::string quoteForMessage(std::string_view text);
// The candidate closest to `name` (edit distance <= 2, or one a prefix of the other, or a
// case-insensitive match), for "did you mean" hints; nullopt when nothing is close or `name` is
// too long to bother with.
std::optional<std::string_view> closestName(std::string_view name,
                                            std::span<const std::string_view> candidates);

}  // namespace pharos::tracing::query
