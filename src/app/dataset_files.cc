#include "app/dataset_files.h"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <unordered_set>

#include "app/server_client.h"
#include "eval/files/example_id.h"
#include "eval/json_schema.h"

namespace pharos::app {
namespace {

namespace json = boost::json;
using core::Error;
using core::Result;

Result<json::value> readSchemaFile(const std::string& path, std::string_view what) {
  auto text = readWholeFile(path);
  if (!text) return std::move(text).error();
  boost::system::error_code ec;
  json::value schema = json::parse(*text, ec);
  if (ec) {
    return Error::invalidArgument(fmt::format("{} {}: not JSON: {}", what, path, ec.message()));
  }
  if (auto compiled = eval::JsonSchema::compile(schema); !compiled) {
    return Error::invalidArgument(fmt::format("{} {}: {}", what, path, compiled.error().message));
  }
  return schema;
}

// The dataset's schema for `field`, compiled; nullopt when it has none.
Result<std::optional<eval::JsonSchema>> datasetSchema(const json::value& dataset,
                                                      std::string_view field) {
  const json::value* schema =
      dataset.is_object() ? dataset.get_object().if_contains(field) : nullptr;
  if (schema == nullptr || schema->is_null()) return std::optional<eval::JsonSchema>();
  if (schema->is_object() && schema->get_object().empty()) return std::optional<eval::JsonSchema>();
  auto compiled = eval::JsonSchema::compile(*schema);
  if (!compiled) {
    return Error::invalidArgument(
        fmt::format("the dataset's {}: {}", field, compiled.error().message));
  }
  return std::optional<eval::JsonSchema>(std::move(*compiled));
}

std::string firstViolations(const std::vector<eval::SchemaViolation>& violations) {
  std::string out;
  for (std::size_t i = 0; i < violations.size() && i < 3; ++i) {
    if (i > 0) out += "; ";
    out += fmt::format("{}: {}", violations[i].pointer.empty() ? "(root)" : violations[i].pointer,
                       violations[i].message);
  }
  if (violations.size() > 3) out += fmt::format(" (+{} more)", violations.size() - 3);
  return out;
}

std::string formatOf(const DatasetFileSource& source) {
  if (!source.format.empty()) return source.format;
  const std::string extension = std::filesystem::path(source.path).extension().string();
  return extension == ".csv" ? "csv" : "jsonl";
}

}  // namespace

asio::awaitable<Result<LoadedDatasetFile>> loadDatasetFile(eval::PharosApi& api,
                                                           DatasetFileSource source, bool strict) {
  const std::string format = formatOf(source);
  if (format != "jsonl" && format != "csv") {
    co_return Error::invalidArgument(
        fmt::format("--format: expected jsonl or csv, got \"{}\"", format));
  }
  auto text = readWholeFile(source.path);
  if (!text) co_return std::move(text).error();
  eval::ReadResult read = format == "csv" ? eval::readCsv(*text, source.mapping)
                                          : eval::readJsonl(*text, source.mapping);
  for (const eval::RowError& error : read.errors) {
    if (error.line == 0) {
      co_return Error::invalidArgument(fmt::format("{}: {}", source.path, error.message));
    }
  }
  const std::string name = source.dataset_name.empty()
                               ? std::filesystem::path(source.path).stem().string()
                               : source.dataset_name;

  LoadedDatasetFile loaded;
  auto found = api.getDatasetByName(name);
  auto dataset = co_await std::move(found);
  if (!dataset && dataset.error().code == core::ErrorCode::kNotFound) {
    json::object body;
    body["name"] = name;
    body["description"] =
        fmt::format("imported from {}", std::filesystem::path(source.path).filename().string());
    for (auto [path, field, what] :
         {std::tuple{&source.inputs_schema_path, "inputs_schema_definition", "--inputs-schema"},
          std::tuple{&source.outputs_schema_path, "outputs_schema_definition",
                     "--outputs-schema"}}) {
      if (path->empty()) continue;
      auto schema = readSchemaFile(*path, what);
      if (!schema) co_return std::move(schema).error();
      body[field] = std::move(*schema);
    }
    auto create = api.createDataset(std::move(body));
    dataset = co_await std::move(create);
    loaded.created_dataset = true;
  }
  if (!dataset) co_return std::move(dataset).error();
  loaded.dataset = std::move(*dataset);
  const std::string dataset_id = stringAt(loaded.dataset, "id");
  if (dataset_id.empty()) co_return Error::internal("the server's dataset answer has no id");

  auto inputs_schema = datasetSchema(loaded.dataset, "inputs_schema_definition");
  if (!inputs_schema) co_return std::move(inputs_schema).error();
  auto outputs_schema = datasetSchema(loaded.dataset, "outputs_schema_definition");
  if (!outputs_schema) co_return std::move(outputs_schema).error();

  for (const eval::RowError& error : read.errors) {
    loaded.rejected.push_back(
        {error.line, eval::unreadableLineExampleId(dataset_id, error.line), {}, toString(error)});
  }
  for (eval::ExampleRow& row : read.rows) {
    const std::string id = eval::fileRowExampleId(dataset_id, row);
    std::string problem;
    if (*inputs_schema) {
      if (auto violations = (*inputs_schema)->validate(row.inputs); !violations.empty()) {
        problem = "breaks the dataset's inputs schema: " + firstViolations(violations);
      }
    }
    if (problem.empty() && *outputs_schema && !row.outputs.empty()) {
      if (auto violations = (*outputs_schema)->validate(row.outputs); !violations.empty()) {
        problem = "breaks the dataset's outputs schema: " + firstViolations(violations);
      }
    }
    if (!problem.empty()) {
      loaded.rejected.push_back(
          {row.line, id, row.inputs, fmt::format("line {}: example {}", row.line, problem)});
      continue;
    }
    loaded.row_ids.push_back(id);
    loaded.rows.push_back(std::move(row));
  }
  std::sort(loaded.rejected.begin(), loaded.rejected.end(),
            [](const RejectedRow& a, const RejectedRow& b) { return a.line < b.line; });
  if (strict && !loaded.rejected.empty()) co_return loaded;

  auto existing_call = api.listExamples(dataset_id);
  auto existing = co_await std::move(existing_call);
  if (!existing) co_return std::move(existing).error();
  std::unordered_set<std::string> known;
  for (const json::value& example : *existing) {
    if (std::string id = stringAt(example, "id"); !id.empty()) known.emplace(std::move(id));
  }
  // A file exported from another dataset carries that dataset's ids; examples belong to one
  // dataset, so such rows get the id their content gives them here.
  std::vector<std::string> foreign_candidates;
  for (std::size_t i = 0; i < loaded.rows.size(); ++i) {
    if (loaded.rows[i].id && !known.contains(loaded.row_ids[i])) {
      foreign_candidates.push_back(loaded.row_ids[i]);
    }
  }
  if (!foreign_candidates.empty()) {
    auto lookup = api.examplesWithIds(foreign_candidates);
    auto elsewhere = co_await std::move(lookup);
    if (!elsewhere) co_return std::move(elsewhere).error();
    std::unordered_set<std::string> foreign;
    for (const json::value& example : *elsewhere) {
      const std::string owner = stringAt(example, "dataset_id");
      if (!owner.empty() && owner != dataset_id) foreign.emplace(stringAt(example, "id"));
    }
    for (std::size_t i = 0; i < loaded.rows.size(); ++i) {
      if (!foreign.contains(loaded.row_ids[i])) continue;
      loaded.rows[i].id.reset();
      loaded.row_ids[i] = eval::fileRowExampleId(dataset_id, loaded.rows[i]);
    }
  }
  std::vector<eval::ExampleToUpload> uploads;
  std::unordered_set<std::string> seen;
  for (std::size_t i = 0; i < loaded.rows.size(); ++i) {
    // Two identical rows are one example.
    if (!seen.insert(loaded.row_ids[i]).second) continue;
    const eval::ExampleRow& row = loaded.rows[i];
    if (!known.contains(loaded.row_ids[i])) ++loaded.new_examples;
    eval::ExampleToUpload upload;
    upload.id = loaded.row_ids[i];
    upload.inputs = row.inputs;
    if (!row.outputs.empty()) upload.outputs = row.outputs;
    if (!row.metadata.empty()) upload.metadata = row.metadata;
    upload.splits = row.splits;
    uploads.push_back(std::move(upload));
  }
  if (!uploads.empty()) {
    auto upload = api.uploadExamples(dataset_id, std::move(uploads));
    auto uploaded = co_await std::move(upload);
    if (!uploaded) co_return std::move(uploaded).error();
  }
  co_return loaded;
}

std::vector<eval::ExportedExample> toExported(const json::array& examples) {
  std::vector<eval::ExportedExample> out;
  out.reserve(examples.size());
  const auto objectAt = [](const json::object& from, std::string_view key) {
    const json::value* value = from.if_contains(key);
    return value != nullptr && value->is_object() ? value->get_object() : json::object();
  };
  const auto stringAt = [](const json::object& from, std::string_view key) {
    const json::value* value = from.if_contains(key);
    return value != nullptr && value->is_string() ? std::string(value->get_string())
                                                  : std::string();
  };
  for (const json::value& item : examples) {
    if (!item.is_object()) continue;
    const json::object& example = item.get_object();
    eval::ExportedExample exported;
    exported.id = stringAt(example, "id");
    exported.inputs = objectAt(example, "inputs");
    exported.outputs = objectAt(example, "outputs");
    exported.metadata = objectAt(example, "metadata");
    // Splits live in metadata.dataset_split on the server; in files they are their own field.
    if (const json::value* splits = exported.metadata.if_contains("dataset_split")) {
      if (splits->is_array()) {
        for (const json::value& split : splits->get_array()) {
          if (split.is_string()) exported.splits.emplace_back(split.get_string());
        }
      }
      exported.metadata.erase("dataset_split");
    }
    exported.created_at = stringAt(example, "created_at");
    exported.modified_at = stringAt(example, "modified_at");
    out.push_back(std::move(exported));
  }
  return out;
}

}  // namespace pharos::app
