// SQL functions that the compiled run filters (tracing/query/sql_compiler.h) call, registered on
// every connection that runs them:
//
// * run_json(x): the JSON text of a stored JSON column (stored_json.h). TEXT, NULL and numbers
//   come back unchanged; a BLOB is a compressed text and comes back decompressed (a damaged blob
//   is an SQL error, so a query never silently skips it). json_tree() needs it: it cannot read the
//   compressed form, and SQLite >= 3.45 would even take a BLOB for its own binary JSON.
// * run_json_key(fullkey): json_tree's `fullkey` flattened to the dotted form the filter language
//   uses for input_key / output_key: "$.a.b[0].c" -> "a.b.c", "$.\"x.y\"[2]" -> "x.y" (quoted
//   keys are decoded as the JSON strings they are, so "$.\"q\\\"r\"" -> "q\"r"); "$" -> "".
//
// Both are deterministic and innocuous (no side effects, safe in views and indexes).
#pragma once

#include <sqlite3.h>

#include <string>
#include <string_view>

#include "core/result.h"

namespace pharos::tracing {

// Registers run_json and run_json_key on `db`.
core::Status registerRunSqlFunctions(sqlite3* db);

// Installs registerRunSqlFunctions as an SQLite auto-extension, once per process, so that every
// connection opened afterwards (the SqliteDatabase writer and readers) has the functions.
// Connections that are already open are not touched.
void registerRunSqlFunctionsForEveryConnection();

// The flattening run_json_key applies, for tests and for callers that flatten in C++.
std::string flattenJsonTreeKey(std::string_view fullkey);

}  // namespace pharos::tracing
