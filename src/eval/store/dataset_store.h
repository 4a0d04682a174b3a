// The dataset store: datasets, example revisions, splits and attachments in the SQLite database
// of the embedded store (schema: migration 3 in store/sqlite/migrations.cc). Every call is scoped
// by the caller's workspace; no query reads another workspace's rows.
//
// Invariant: every stored example satisfies its dataset's inputs/outputs schemas. Example writes
// are all-or-nothing (one bad example and none of the request is stored), and a schema change
// that an existing example breaks is refused. Each write is a new revision stamped with the
// write's time, which also becomes the dataset's modified_at (its latest version); a delete is a
// tombstone revision, so reads "as of" an earlier time still see what was there.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "eval/dataset.h"
#include "store/sqlite/database.h"
#include "store/sqlite/tenants.h"

namespace pharos::eval {

namespace asio = boost::asio;

class DatasetStore {
 public:
  explicit DatasetStore(store::sqlite::SqliteDatabase& database);

  // kAlreadyExists for a taken name or id; kInvalidArgument for a schema that does not compile
  // (the message names the field and the schema location), or an unknown data_type.
  asio::awaitable<core::Result<Dataset>> createDataset(std::string workspace_id, Dataset dataset);
  // Newest first (created_at DESC).
  asio::awaitable<core::Result<std::vector<Dataset>>> listDatasets(std::string workspace_id,
                                                                   DatasetListQuery query);
  // kNotFound when absent.
  asio::awaitable<core::Result<Dataset>> getDataset(std::string workspace_id, std::string id);
  // A schema change is checked against every current example: violations come back in the
  // outcome's `rejected` and nothing changes. kAlreadyExists for a taken name.
  asio::awaitable<core::Result<DatasetUpdateOutcome>> updateDataset(std::string workspace_id,
                                                                    std::string id,
                                                                    DatasetUpdate update);
  // Deletes the dataset, every revision of its examples, their splits and attachments.
  asio::awaitable<core::Status> deleteDataset(std::string workspace_id, std::string id);

  // Creates examples in the dataset. An id that is already a current example is kAlreadyExists,
  // unless `upsert`: then an identical example is left as it is and a changed one gets a new
  // revision. kNotFound for an unknown dataset or source run.
  asio::awaitable<core::Result<ExampleWriteOutcome>> createExamples(
      std::string workspace_id, std::string dataset_id, std::vector<ExampleWrite> examples,
      bool upsert);
  // Each example a new revision of a current example of the dataset (kNotFound otherwise).
  asio::awaitable<core::Result<ExampleWriteOutcome>> updateExamples(
      std::string workspace_id, std::string dataset_id, std::vector<ExampleWrite> examples);
  // The current revision, or the one valid at `as_of`; kNotFound when there is none.
  asio::awaitable<core::Result<Example>> getExample(std::string workspace_id, std::string id,
                                                    std::optional<std::int64_t> as_of);
  // Ordered by created_at, then id. kNotFound for an unknown dataset.
  asio::awaitable<core::Result<std::vector<Example>>> listExamples(std::string workspace_id,
                                                                   ExampleListQuery query);
  // Tombstones each example (kNotFound if one is not a current example; then none is deleted).
  asio::awaitable<core::Result<DatasetVersion>> deleteExamples(std::string workspace_id,
                                                               std::vector<std::string> ids);

  // nullopt when the example (in any revision) has no attachment of that name.
  asio::awaitable<core::Result<std::optional<AttachmentUpload>>> getAttachment(
      std::string workspace_id, std::string example_id, std::string name);

  // Distinct example-write times, newest first.
  asio::awaitable<core::Result<std::vector<DatasetVersion>>> listVersions(std::string workspace_id,
                                                                          std::string dataset_id,
                                                                          std::size_t offset,
                                                                          std::size_t limit);
  // The newest version at or before `as_of` (the dataset's creation when no example is older).
  asio::awaitable<core::Result<DatasetVersion>> versionAt(std::string workspace_id,
                                                          std::string dataset_id,
                                                          std::int64_t as_of);
  // The split names in use, sorted; as of a time, or now.
  asio::awaitable<core::Result<std::vector<std::string>>> listSplits(
      std::string workspace_id, std::string dataset_id, std::optional<std::int64_t> as_of);

  struct DatasetRef {
    std::int64_t ws = 0;
    std::int64_t seq = 0;
  };

 private:
  // The tenant number and datasets.seq of an existing dataset; kNotFound otherwise.
  core::Result<DatasetRef> findDataset(store::sqlite::Connection& connection,
                                       const std::string& workspace_id, const std::string& id);
  core::Result<ExampleWriteOutcome> writeExamples(store::sqlite::Connection& connection,
                                                  const std::string& workspace_id,
                                                  const std::string& dataset_id,
                                                  const std::vector<ExampleWrite>& examples,
                                                  bool create, bool upsert);

  store::sqlite::SqliteDatabase& database_;
  store::sqlite::TenantCache tenants_;
};

}  // namespace pharos::eval
