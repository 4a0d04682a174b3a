// Ids for dataset-file rows that carry none. A row's id is derived from its content (UUIDv5 in the
// dataset's namespace of the canonical JSON of {inputs, outputs}), so importing or evaluating the
// same file twice lands on the same examples, and experiments on a file compare with each other.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "eval/files/dataset_file.h"

namespace pharos::eval {

// JSON with object members sorted by key and no whitespace: equal values, equal text.
std::string canonicalJson(const boost::json::value& value);

// The row's own id, else the content-derived one.
std::string fileRowExampleId(std::string_view dataset_id, const ExampleRow& row);

// For a line that could not be read at all: an id that names the file line, so the error can
// still be recorded on an example run.
std::string unreadableLineExampleId(std::string_view dataset_id, std::size_t line);

}  // namespace pharos::eval
