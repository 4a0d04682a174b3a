// Invariants shared by the csv and jsonl fuzz targets (eval/files): line numbers stay inside the
// text and in file order, and rows that were read without errors survive both writers.
#pragma once

#include <boost/json/value.hpp>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "eval/files/dataset_file.h"

namespace pharos::eval::fuzz {

inline void check(bool condition) {
  if (!condition) std::abort();
}

// Row and error lines are 1-based, at most the text's line count, and rows come in file order.
inline void checkLines(std::string_view text, const ReadResult& result) {
  std::size_t lines = 1;
  for (char c : text) lines += c == '\n' ? 1 : 0;
  std::size_t previous = 0;
  for (const auto& row : result.rows) {
    check(row.line >= 1 && row.line <= lines);
    check(row.line > previous);
    previous = row.line;
  }
  for (const auto& error : result.errors) {
    check(error.line >= 1 && error.line <= lines);
    check(!error.message.empty());
  }
}

inline void checkSame(const std::vector<ExampleRow>& want, const ReadResult& got) {
  check(got.errors.empty());
  check(got.rows.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    check(got.rows[i].id == want[i].id);
    check(got.rows[i].inputs == want[i].inputs);
    check(got.rows[i].outputs == want[i].outputs);
    check(got.rows[i].metadata == want[i].metadata);
    check(got.rows[i].splits == want[i].splits);
  }
}

// When the file read cleanly, what was read must come back unchanged through writeCsv/readCsv and
// writeJsonl/readJsonl.
inline void checkRoundTrips(const ReadResult& result) {
  if (!result.errors.empty()) return;
  std::vector<ExportedExample> exported;
  for (const auto& row : result.rows) {
    exported.push_back(
        {row.id.value_or(""), row.inputs, row.outputs, row.metadata, row.splits, "", ""});
  }
  checkSame(result.rows, readCsv(writeCsv(exported)));
  checkSame(result.rows, readJsonl(writeJsonl(exported)));
}

// The first input byte picks the key mapping: none (structured), or flat with fixed keys.
inline KeyMapping mappingFor(unsigned char selector) {
  switch (selector % 3) {
    case 0:
      return {};
    case 1:
      return {{"q"}, {"a"}};
    default:
      return {{}, {"a", "id"}};
  }
}

}  // namespace pharos::eval::fuzz
