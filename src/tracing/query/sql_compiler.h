// Compiles a validated run filter (filter_validate.h) into a parameterised boolean SQL expression
// over the SQLite runs schema (store/sqlite/migrations.cc, migration 2). The SQL text holds only
// constants, the caller's table alias and anonymous `?` placeholders: every value from the filter
// text travels in `params`, so no filter can change the statement's shape.
//
// Meaning of the fields (spec langsmith-api.md §6.3), for a run row `r`:
// * Run columns compare directly. neq(f, v) is NULL-safe (`IS NOT`): a run without a value is
//   "not equal". eq(f, null) / neq(f, null) test for NULL. Timestamps bind as Unix microseconds,
//   latency as seconds, is_root as 1/0. like() is SQLite LIKE (ASCII case-insensitive) with '\' as
//   the escape; search(f, v) is an ASCII case-insensitive substring test.
// * session_id goes through sessions.seq; execution_order is not stored, so it is 1 for a root run
//   and unknown (NULL) otherwise, which still answers the common eq(execution_order, 1).
// * has(tags, t) and exists(metadata, k) / has(metadata, '{"k": v, ...}') look in run_tags and
//   run_metadata; a metadata value is compared as the string itself, or as the compact JSON text
//   (Boost.JSON's serialisation, as ingest stores it) of any other value: 5 -> "5", true ->
//   "true", 1.5 -> "1.5E0", null -> "null".
// * Key/value pseudo-fields (metadata_key/_value, input_key/_value, output_key/_value,
//   feedback_key/feedback_score): the predicates on one family among the DIRECT children of one
//   and(...) describe the SAME pair (or feedback row), so they become one subquery; a predicate
//   outside any and(...) is a group of its own. neq(key, k) in a group without a value predicate
//   means "has no key k" (a NOT IN / NOT EXISTS of its own). Input and output keys are the dotted
//   paths of the JSON leaves with array indices dropped ("a.b[0].c" -> "a.b.c"); their values are
//   compared as text as well (numbers in SQLite's text form, true/false/null as words).
// * search(v) is a full-text match of v as one phrase of literal tokens in run_text (FTS5 operators
//   in v have no effect); a blank v matches every run, and one with no word characters none.
//
// The fragment can be NULL (unknown) where a compared column is NULL; a WHERE clause treats that as
// false. Negations inside the filter are NULL-safe; a caller that negates the whole fragment must
// wrap it as `NOT coalesce((fragment), 0)` too.
//
// The subqueries on side tables (sessions, run_tags, run_metadata, feedback) are scoped by the
// workspace `ws`; the runs table itself is not (the caller's statement scopes it), and neither is
// run_text, whose rowid already names one run. The statement needs the SQL functions of
// tracing/store/sql_functions.h (run_json, run_json_key) on its connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.h"
#include "store/sqlite/database.h"
#include "tracing/query/filter_ast.h"

namespace pharos::tracing::query {

// How deeply and/or/not may nest in a compiled filter; a deeper one is kInvalidArgument (the
// validator allows kMaxFilterDepth). SQLite 3.40's parser has a fixed 100-entry stack that each
// level eats into (a chain of 13 not()s inside the run store's query already overflows it), and the
// caller's statement needs room around the fragment. Real filters nest 2-4 levels.
inline constexpr std::size_t kMaxSqlNesting = 10;

// How many values one compiled filter may bind; more is kInvalidArgument. SQLite allows 32766
// bound values per statement, and the run store splices up to three filters (filter, trace_filter,
// tree_filter) plus its own parameters into one; a 64 KiB has(metadata, ...) could need ~27000.
inline constexpr std::size_t kMaxSqlParams = 8000;

// One bound value, as the store binds it.
using SqlValue = store::sqlite::SqlValue;

struct SqlFilter {
  std::string sql;
  std::vector<SqlValue> params;  // for the `?` placeholders of `sql`, in text order
};

// `expr` must have passed validateFilter (anything else is kInternal). Returns a boolean SQL
// expression over the runs table aliased `alias` (a caller constant: an SQL identifier such as
// "r"), to be spliced into a larger statement whose parameters are bound sequentially. An empty
// filter compiles to "1" with no parameters.
core::Result<SqlFilter> compileFilter(const FilterExpr& expr, std::string_view alias,
                                      std::int64_t ws);

// The FTS5 query that matches `text` as one phrase of literal tokens: in double quotes, embedded
// quotes doubled, so that AND, OR, NOT, NEAR, *, ^, :, ( ) in user text are just text.
std::string ftsPhrase(std::string_view text);

// True when search(text) looks for nothing (only whitespace): it then matches every run.
bool isBlankSearch(std::string_view text);

}  // namespace pharos::tracing::query
