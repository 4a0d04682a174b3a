// Dataset files into a server's dataset, for `pharos datasets import` and `pharos eval --file`:
// read the rows (JSONL or CSV), find or create the dataset, check each row against the dataset's
// schemas here (so one bad row does not make the server refuse the whole upload), give rows
// without an id their content-derived id, and upload the good ones (upsert: an unchanged
// example stays as it is).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/files/dataset_file.h"
#include "eval/runner/pharos_api.h"

namespace pharos::app {

namespace asio = boost::asio;

struct DatasetFileSource {
  std::string path;
  std::string format;        // "jsonl" | "csv"; empty: from the file name
  std::string dataset_name;  // empty: the file name without its extension
  eval::KeyMapping mapping;
  std::string inputs_schema_path, outputs_schema_path;  // only when the dataset is created
};

// A row that is not uploaded, with what is known of it.
struct RejectedRow {
  std::size_t line = 0;
  std::string example_id;  // content-derived (or the line's), so the error can still be recorded
  boost::json::object inputs;
  std::string message;  // "line 7: ..."
};

struct LoadedDatasetFile {
  boost::json::value dataset;  // the server's dataset object
  std::vector<eval::ExampleRow> rows;
  std::vector<std::string> row_ids;  // the example id of each row
  std::vector<RejectedRow> rejected;
  std::size_t new_examples = 0;  // rows whose id the dataset did not have yet
  bool created_dataset = false;
};

// kInvalidArgument for an unreadable file or schema, a file-level format error; server errors
// as PharosApi reports them. With `strict` and any bad row nothing is uploaded.
asio::awaitable<core::Result<LoadedDatasetFile>> loadDatasetFile(eval::PharosApi& api,
                                                                 DatasetFileSource source,
                                                                 bool strict);

// The dataset's examples as stored (for export), newest version or `as_of`.
std::vector<eval::ExportedExample> toExported(const boost::json::array& examples);

}  // namespace pharos::app
