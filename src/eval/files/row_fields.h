// Pieces shared by the JSONL and CSV readers/writers (internal to eval/files).
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eval/files/dataset_file.h"

namespace pharos::eval::files {

// `text` without a leading UTF-8 byte order mark.
std::string_view stripBom(std::string_view text);
bool isUtf8(std::string_view text);
// "an array", "a string", "a number", "a boolean", "null", "an object": for "expected …, got …".
std::string_view kindName(const boost::json::value& value);
// `text` as one JSON value, doubles rounded correctly; on failure nullopt and `error` says what
// and where. Nesting is bounded loosely (a JSONL row holds fields two levels down): checkDepth.
std::optional<boost::json::value> parseJson(std::string_view text, std::string& error);
// A message when a field of `row` nests deeper than kMaxJsonDepth, else "". One bound for both
// formats, wherever the field sat in the file, so whatever is read can be written either way.
std::string checkDepth(const ExampleRow& row);
// Adds one split name (trimmed; duplicates once). Empty or ';'-holding names set `error`.
bool addSplit(std::string_view name, std::vector<std::string>& splits, std::string& error);
// The id as stored (lowercase); nullopt with `error` when it is not a UUID.
std::optional<std::string> normaliseId(std::string_view text, std::string& error);
// A message when the mapping contradicts itself (a key listed as input and output), else "".
std::string checkMapping(const KeyMapping& mapping);
bool contains(const std::vector<std::string>& keys, std::string_view key);
// `text` quoted for an error message, shortened when long.
std::string quoted(std::string_view text);

}  // namespace pharos::eval::files
