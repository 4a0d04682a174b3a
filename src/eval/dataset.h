// Datasets and their examples, as the dataset store keeps them and the evaluation routes show
// them (docs/plans/evaluation.md §2.1, §2.2, §3). Examples are temporal: every write is a new
// revision, so a dataset can be read as it was at any earlier time ("as_of").
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pharos::eval {

// LangSmith's dataset kinds; "kv" (free-form inputs/outputs) unless the caller says otherwise.
inline constexpr std::string_view kDataTypes[] = {"kv", "llm", "chat"};

struct Dataset {
  std::string id;
  std::string name;
  std::optional<std::string> description;
  std::string data_type = "kv";
  boost::json::value inputs_schema;   // a JSON Schema, or null for none
  boost::json::value outputs_schema;  // idem
  boost::json::value extra;           // object or null: {"source": "sdk", "metadata": {...}}
  std::int64_t created_at = 0;        // Unix microseconds
  std::int64_t modified_at = 0;       // the last write to the dataset or any of its examples
  // Read-only aggregates, filled by reads.
  std::int64_t example_count = 0;  // current examples (tombstones excluded)
  std::int64_t session_count = 0;  // projects whose reference_dataset_id is this dataset
  std::optional<std::int64_t> last_session_start_time;
};

// PATCH /datasets/{id}: nullopt = unchanged. A schema given as null or {} removes the schema.
struct DatasetUpdate {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<boost::json::value> inputs_schema;
  std::optional<boost::json::value> outputs_schema;
  std::optional<boost::json::object> metadata;  // replaces extra.metadata
};

struct DatasetListQuery {
  std::vector<std::string> ids;
  std::optional<std::string> name;           // exact
  std::optional<std::string> name_contains;  // case-insensitive substring
  std::optional<std::string> data_type;
  std::optional<boost::json::object> metadata;  // must be contained in extra.metadata
  std::size_t offset = 0;
  std::size_t limit = 100;
};

struct AttachmentUpload {
  std::string name;
  std::string content_type;
  std::string data;
};

// PATCH's `{id}.attachments_operations`: which stored attachments survive, and under which name.
struct AttachmentOperations {
  std::vector<std::pair<std::string, std::string>> rename;  // old name -> new name
  std::vector<std::string> retain;
};

// One example to create (inputs required) or update (nullopt = unchanged).
struct ExampleWrite {
  std::string id;  // lower-case UUID
  std::optional<boost::json::object> inputs;
  std::optional<boost::json::object> outputs;
  std::optional<boost::json::object> metadata;
  // Stored as metadata.dataset_split (an array); nullopt = none given.
  std::optional<std::vector<std::string>> splits;
  std::optional<std::string> source_run_id;
  bool use_source_run_io = false;          // copy inputs/outputs from the source run
  std::optional<std::int64_t> created_at;  // create only; default: the time of the write
  std::vector<AttachmentUpload> attachments;
  // Update only. Without it every stored attachment is kept (an upload of the same name
  // replaces it); with it, only the retained and renamed ones are.
  std::optional<AttachmentOperations> attachment_operations;
};

struct AttachmentInfo {
  std::string name;
  std::string content_type;
};

struct Example {
  std::string id;
  std::string dataset_id;
  boost::json::object inputs;
  std::optional<boost::json::object> outputs;
  boost::json::object metadata;  // dataset_split (array) when the example has splits
  std::optional<std::string> source_run_id;
  std::int64_t created_at = 0;              // of the example, the same in every revision
  std::int64_t modified_at = 0;             // of this revision
  std::vector<AttachmentInfo> attachments;  // by name
};

struct ExampleListQuery {
  std::optional<std::string> dataset_id;  // this or ids (or both)
  std::vector<std::string> ids;
  std::optional<std::int64_t> as_of;            // Unix microseconds; nullopt = current
  std::vector<std::string> splits;              // any of them
  std::optional<boost::json::object> metadata;  // must be contained in the example's metadata
  std::size_t offset = 0;
  std::size_t limit = 100;
};

// One way an example breaks its dataset's schema.
struct ExampleRejection {
  std::string example_id;
  std::size_t index = 0;  // of the example in the request
  std::string field;      // "inputs" or "outputs"
  std::string pointer;    // JSON pointer into that field
  std::string message;
};

// At most this many rejections are listed (the count of bad examples is always exact).
inline constexpr std::size_t kMaxListedRejections = 1000;
// A schema change names at most this many violations of existing examples.
inline constexpr std::size_t kMaxSchemaChangeRejections = 20;

// What an example write did. When `rejected` is not empty nothing was stored.
struct ExampleWriteOutcome {
  std::vector<std::string> example_ids;  // in request order (no-op upserts included)
  std::int64_t as_of = 0;                // the dataset version after the write
  std::vector<ExampleRejection> rejected;
  std::size_t rejected_examples = 0;  // distinct bad examples
};

// What a dataset update did. When `rejected` is not empty nothing changed.
struct DatasetUpdateOutcome {
  Dataset dataset;
  std::vector<ExampleRejection> rejected;  // existing examples the new schema would break
  std::size_t rejected_examples = 0;
};

struct DatasetVersion {
  std::int64_t as_of = 0;
};

}  // namespace pharos::eval
