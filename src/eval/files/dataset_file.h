// Dataset files for `pharos eval` and `pharos datasets import|export`: JSONL and CSV (RFC 4180)
// read into example rows, and stored examples written back out. Pure functions over text, no I/O:
// the commands read and write the files, this decides what the bytes mean.
//
// Reading never stops at a bad row: every row that makes sense is kept, every one that does not
// becomes a RowError naming its line and the problem, so a 10 000-row import with one typo
// reports the typo and imports the rest (or, with --strict, nothing). Problems with the whole
// file (a CSV header, a contradictory KeyMapping) are one error and no rows.
//
// JSONL (one JSON object per line; LF or CRLF; blank lines skipped; a leading UTF-8 BOM skipped;
// a line may hold at most kMaxLineBytes):
//   structured (KeyMapping empty):
//     {"inputs":{…}, "outputs":{…}?, "metadata":{…}?, "split":"x"|["x","y"]?, "id":"<uuid>"?}
//     outputs/metadata/split/id may also be null (= absent). "created_at" and "modified_at" (what
//     writeJsonl adds) are accepted and ignored; any other key is an error, so a typo such as
//     "output" cannot silently drop the reference outputs.
//   flat (KeyMapping given): every member of the object is one field. A key listed in output_keys
//     goes to outputs; every other key goes to inputs, except "id" and "split", which are the
//     row's id and split unless a mapping lists them. Every key in input_keys must be present in
//     every row; keys in output_keys may be missing (a row without a reference output).
//
// CSV (RFC 4180: quoted fields, "" inside quotes, CRLF or LF, newlines inside quotes, a leading
// UTF-8 BOM skipped; empty lines skipped; a quote inside an unquoted field is an error). The first
// non-empty record is the header. Columns:
//   inputs.<k>, outputs.<k>, metadata.<k>   the field k (the key is everything after the first
//                                           dot); the cell is a string, an empty cell is "".
//   <any of those>:json                      the cell is JSON (any value); an empty cell means the
//                                           row has no such field.
//   id                                       the example's UUID; empty = none.
//   split                                    split names separated by ';' (each trimmed, empty
//                                           ones dropped, duplicates once): "train; hard".
//   <plain name>[:json]                      only with a KeyMapping (LangSmith uploadCsv style):
//                                           outputs if listed in output_keys, else inputs; "id" and
//                                           "split" keep their meaning unless a mapping lists them.
//                                           Every key of the mapping must be a column.
// Header errors: an empty column name, two columns for the same field, a plain column without a
// mapping. Row errors: a row with more or fewer cells than the header, an unterminated quote, a
// stray quote, an id that is not a UUID, bad JSON in a :json cell, a cell that is not UTF-8.
//
// A field's value (a member of inputs/outputs/metadata) nests at most kMaxJsonDepth arrays and
// objects deep, and a number beyond a double's range (1e309) is an error: it could not be written
// back as JSON. Doubles are read correctly rounded, so they survive a write and a re-read.
//
// Split names (both formats) are trimmed of ASCII whitespace and must be non-empty and free of
// ';' (the CSV separator), so every split read can be written back.
//
// Round trip: readJsonl(writeJsonl(x)) and readCsv(writeCsv(x)) give back x's ids, inputs,
// outputs, metadata and splits (the timestamps are JSONL-only and ignored on read).
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::eval {

// A JSONL line longer than this is an error (the rest of the file is still read).
inline constexpr std::size_t kMaxLineBytes = std::size_t{16} << 20;
// Nesting allowed in a field's value: `[[1]]` is 2.
inline constexpr std::size_t kMaxJsonDepth = 128;

// One example from a file.
struct ExampleRow {
  std::size_t line = 0;           // 1-based line where the row starts (for error messages)
  std::optional<std::string> id;  // lowercase UUID, when the file gives one
  boost::json::object inputs, outputs, metadata;
  std::vector<std::string> splits;
};

// A row (line >= 1) or the whole file (line 0: a contradictory KeyMapping) that could not be read.
// `message` names the problem without the line; toString() adds it.
struct RowError {
  std::size_t line = 0;
  std::string message;
};
// "line 7: expected a JSON object, got an array" (or just the message for line 0).
std::string toString(const RowError& error);

struct ReadResult {
  std::vector<ExampleRow> rows;  // the good rows, in file order
  std::vector<RowError> errors;  // the bad ones, in file order
};

// For flat rows/columns (--input-keys/--output-keys); both empty = the structured form. A key in
// both lists is an error.
struct KeyMapping {
  std::vector<std::string> input_keys, output_keys;
  bool empty() const { return input_keys.empty() && output_keys.empty(); }
};

// A stored example, as exported. Empty id/timestamps are written as null (JSONL) or an empty
// cell (CSV).
struct ExportedExample {
  std::string id;
  boost::json::object inputs, outputs, metadata;
  std::vector<std::string> splits;
  std::string created_at, modified_at;  // ISO 8601, JSONL only
};

ReadResult readJsonl(std::string_view text, const KeyMapping& mapping = {});
ReadResult readCsv(std::string_view text, const KeyMapping& mapping = {});

// One line per example: {"id","inputs","outputs","metadata","split":[…],"created_at",
// "modified_at"}, "\n"-terminated.
std::string writeJsonl(const std::vector<ExportedExample>& examples);
// Header id, inputs.<k>…, outputs.<k>…, metadata.<k>…, split (keys = union over the examples,
// sorted bytewise); CRLF line ends; fields quoted when they hold , " CR or LF. A column is plain
// only when every example has a string there (and the key does not itself end in ":json");
// otherwise it is a :json column with JSON-encoded cells, so numbers stay numbers and missing
// fields stay missing.
std::string writeCsv(const std::vector<ExportedExample>& examples);

}  // namespace pharos::eval
