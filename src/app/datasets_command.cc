// `pharos datasets import | export | list`: dataset files in and out of a running Pharos.
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <fstream>

#include "app/commands.h"
#include "app/dataset_files.h"
#include "app/server_client.h"

namespace pharos::app {
namespace {

namespace json = boost::json;

asio::awaitable<int> importDataset(ServerClient& client, DatasetsImportOptions options) {
  DatasetFileSource source{options.file,          options.format,
                           options.dataset,       {options.input_keys, options.output_keys},
                           options.inputs_schema, options.outputs_schema};
  auto load = loadDatasetFile(*client.api, std::move(source), options.strict);
  auto loaded = co_await std::move(load);
  if (!loaded) co_return reportFailure(loaded.error());
  for (const RejectedRow& row : loaded->rejected) fmt::print(stderr, "{}\n", row.message);
  const std::string name = stringAt(loaded->dataset, "name");
  if (options.strict && !loaded->rejected.empty()) {
    fmt::print(stderr, "pharos: {} bad row(s); --strict: nothing imported into {}\n",
               loaded->rejected.size(), name);
    co_return 1;
  }
  fmt::print("{} {}: {} example(s) imported ({} new), {} row(s) rejected\n",
             loaded->created_dataset ? "created dataset" : "dataset", name, loaded->rows.size(),
             loaded->new_examples, loaded->rejected.size());
  co_return loaded->rejected.empty() ? 0 : 1;
}

asio::awaitable<int> exportDataset(ServerClient& client, DatasetsExportOptions options) {
  if (options.format != "jsonl" && options.format != "csv") {
    co_return reportFailure(core::Error::invalidArgument(
        fmt::format("--format: expected jsonl or csv, got \"{}\"", options.format)));
  }
  auto find = client.api->getDatasetByName(options.dataset);
  auto dataset = co_await std::move(find);
  if (!dataset) co_return reportFailure(dataset.error());
  std::optional<std::string> as_of;
  if (!options.as_of.empty()) as_of = options.as_of;
  auto list = client.api->listExamples(stringAt(*dataset, "id"), options.splits, as_of);
  auto examples = co_await std::move(list);
  if (!examples) co_return reportFailure(examples.error());
  const std::vector<eval::ExportedExample> exported = toExported(*examples);
  const std::string text =
      options.format == "csv" ? eval::writeCsv(exported) : eval::writeJsonl(exported);
  if (options.output.empty() || options.output == "-") {
    fmt::print("{}", text);
  } else {
    std::ofstream out(options.output, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      co_return reportFailure(
          core::Error::invalidArgument(fmt::format("cannot write {}", options.output)));
    }
    fmt::print(stderr, "{} example(s) written to {}\n", exported.size(), options.output);
  }
  co_return 0;
}

asio::awaitable<int> listDatasets(ServerClient& client, DatasetsListOptions options) {
  auto list = client.api->listDatasets();
  auto datasets = co_await std::move(list);
  if (!datasets) co_return reportFailure(datasets.error());
  if (options.json) {
    for (const json::value& dataset : *datasets) fmt::print("{}\n", json::serialize(dataset));
    co_return 0;
  }
  fmt::print("{:<36}  {:>8}  {:>11}  {}\n", "ID", "EXAMPLES", "EXPERIMENTS", "NAME");
  for (const json::value& item : *datasets) {
    if (!item.is_object()) continue;
    const json::object& dataset = item.get_object();
    const auto number = [&](std::string_view key) {
      const json::value* value = dataset.if_contains(key);
      return value != nullptr && value->is_int64() ? value->get_int64() : std::int64_t{0};
    };
    fmt::print("{:<36}  {:>8}  {:>11}  {}\n", stringAt(item, "id"), number("example_count"),
               number("session_count"), stringAt(item, "name"));
  }
  co_return 0;
}

}  // namespace

int datasetsImportCommand(const CommonOptions& options, const DatasetsImportOptions& import) {
  return runAgainstServer(options, import, &importDataset);
}

int datasetsExportCommand(const CommonOptions& options,
                          const DatasetsExportOptions& export_options) {
  return runAgainstServer(options, export_options, &exportDataset);
}

int datasetsListCommand(const CommonOptions& options, const DatasetsListOptions& list) {
  return runAgainstServer(options, list, &listDatasets);
}

}  // namespace pharos::app
