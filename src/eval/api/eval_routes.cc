#include "eval/api/eval_routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <limits>
#include <utility>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/json_value.h"
#include "core/time.h"
#include "eval/api/examples_multipart.h"
#include "tracing/api/request_json.h"
#include "tracing/query/filter_validate.h"

namespace pharos::eval {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using http::Request;
using http::Response;
using tracing::baseUrl;
using tracing::optionalString;
using tracing::optionalTime;
using tracing::optionalUuid;
using tracing::parseObjectBody;
using tracing::present;
using tracing::queryCount;
using tracing::uuidParam;

// LangSmith's page size ceiling; a larger limit is served as a page of this size and the client
// pages on (it stops at a short page).
constexpr std::size_t kMaxPageLimit = 100;
// Examples one request may write: each becomes bound values of the store's statements, and
// SQLite binds at most 32,766 per statement. Larger imports go in several requests (as
// `pharos datasets import` sends them, 500 at a time).
constexpr std::size_t kMaxExamplesPerRequest = 10'000;
constexpr std::size_t kMaxOffset = std::size_t{1} << 40;

// ---- JSON out ----

json::value timeOrNull(const std::optional<std::int64_t>& micros) {
  if (!micros) return nullptr;
  return json::value(core::formatIso8601Micros(*micros));
}

json::object datasetJson(const Dataset& d, const std::string& workspace_id) {
  json::object out;
  out["id"] = d.id;
  out["name"] = d.name;
  out["description"] = core::optionalJson(d.description);
  out["tenant_id"] = workspace_id;
  out["data_type"] = d.data_type;
  out["inputs_schema_definition"] = d.inputs_schema;
  out["outputs_schema_definition"] = d.outputs_schema;
  out["extra"] = d.extra;
  out["created_at"] = core::formatIso8601Micros(d.created_at);
  out["modified_at"] = core::formatIso8601Micros(d.modified_at);
  out["example_count"] = d.example_count;
  out["session_count"] = d.session_count;
  out["last_session_start_time"] = timeOrNull(d.last_session_start_time);
  return out;
}

json::object exampleJson(const Example& e, const std::string& base_url) {
  json::object out;
  out["id"] = e.id;
  out["dataset_id"] = e.dataset_id;
  out["inputs"] = e.inputs;
  out["outputs"] = core::optionalJson(e.outputs);
  out["metadata"] = e.metadata;
  out["source_run_id"] = core::optionalJson(e.source_run_id);
  out["created_at"] = core::formatIso8601Micros(e.created_at);
  // Required by the JS client: _getDatasetVersion splits it on "T".
  out["modified_at"] = core::formatIso8601Micros(e.modified_at);
  out["runs"] = json::array();
  if (!e.attachments.empty()) {
    json::object urls;
    for (const AttachmentInfo& a : e.attachments) {
      const std::string url =
          fmt::format("{}/api/v1/examples/{}/attachments/{}", base_url, e.id, a.name);
      urls["attachment." + a.name] = {
          {"presigned_url", url}, {"s3_url", url}, {"mime_type", a.content_type}};
    }
    out["attachment_urls"] = std::move(urls);
  }
  return out;
}

std::string examplesJson(const std::vector<Example>& examples, const std::string& base_url) {
  json::array out;
  out.reserve(examples.size());
  for (const Example& e : examples) out.push_back(exampleJson(e, base_url));
  return json::serialize(out);
}

// 422: the request broke the dataset's schema; nothing of it was stored. The message names the
// first bad example (the JS client puts the whole body in the error it throws).
Response schemaViolation(const std::vector<ExampleRejection>& rejected, std::size_t bad_examples,
                         std::string_view what) {
  const ExampleRejection& first = rejected.front();
  std::string message = fmt::format(
      "{}: example {} (index {}) breaks the dataset's {} schema at {}: {}", what, first.example_id,
      first.index, first.field,
      first.pointer.empty() ? std::string("the top level") : core::jsonString(first.pointer),
      first.message);
  if (bad_examples > 1) message += fmt::format(" (and {} more bad examples)", bad_examples - 1);
  message += "; nothing was stored";
  json::array list;
  for (const ExampleRejection& r : rejected) {
    list.push_back({{"example_id", r.example_id},
                    {"index", r.index},
                    {"field", r.field},
                    {"pointer", r.pointer},
                    {"message", r.message}});
  }
  json::object body;
  body["error"] = {{"type", "schema_violation"}, {"message", message}};
  body["rejected"] = std::move(list);
  body["rejected_examples"] = bad_examples;
  return Response::json(422, json::serialize(body));
}

Response writeOutcome(const ExampleWriteOutcome& outcome, unsigned status) {
  if (!outcome.rejected.empty()) {
    return schemaViolation(outcome.rejected, outcome.rejected_examples,
                           "examples rejected by the dataset's schema");
  }
  json::object out;
  json::array ids;
  for (const std::string& id : outcome.example_ids) ids.emplace_back(id);
  out["example_ids"] = std::move(ids);
  out["count"] = outcome.example_ids.size();
  out["as_of"] = core::formatIso8601Micros(outcome.as_of);
  return Response::json(status, json::serialize(out));
}

// ---- parameters ----

struct Page {
  std::size_t offset = 0;
  std::size_t limit = kMaxPageLimit;
};

Result<Page> pageParams(const Request& request) {
  Page page;
  auto offset = queryCount(request, "offset", kMaxOffset);
  if (!offset) return std::move(offset).error();
  if (*offset) page.offset = **offset;
  auto limit = queryCount(request, "limit", std::numeric_limits<std::uint32_t>::max());
  if (!limit) return std::move(limit).error();
  if (*limit) page.limit = std::min(**limit, kMaxPageLimit);
  return page;
}

Result<std::int64_t> timeText(std::string_view text, std::string_view name) {
  auto micros = tracing::query::parseTimestampMicros(text);
  if (!micros) {
    return Error::invalidArgument(
        fmt::format("{}: not an ISO-8601 time: {}", name, core::jsonString(text)));
  }
  return *micros;
}

// `as_of`: an ISO time, or "latest" (the same as none).
Result<std::optional<std::int64_t>> asOfParam(const Request& request) {
  auto text = request.query("as_of");
  if (!text || text->empty() || *text == "latest") return std::optional<std::int64_t>();
  auto at = timeText(*text, "as_of");
  if (!at) return std::move(at).error();
  return std::optional<std::int64_t>(*at);
}

Result<std::optional<json::object>> metadataParam(const Request& request) {
  auto text = request.query("metadata");
  if (!text || text->empty()) return std::optional<json::object>();
  boost::system::error_code ec;
  json::value value = json::parse(*text, ec);
  if (ec || !value.is_object()) {
    return Error::invalidArgument("metadata: expected a JSON object");
  }
  return std::optional<json::object>(std::move(value.get_object()));
}

// UUIDs from repeated and/or comma-separated query parameters.
Result<std::vector<std::string>> uuidQueryList(const Request& request, std::string_view key) {
  std::vector<std::string> out;
  for (const std::string& value : request.queryAll(key)) {
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (item.empty()) continue;
      if (!core::isUuid(item)) {
        return Error::invalidArgument(
            fmt::format("{}: not a UUID: {}", key, core::jsonString(item)));
      }
      out.push_back(tracing::lowerUuid(item));
    }
  }
  return out;
}

// A schema member of a dataset body: absent = nullopt; null or an object otherwise.
Result<std::optional<json::value>> schemaMember(const json::object& body, std::string_view key) {
  const json::value* value = body.if_contains(key);
  if (value == nullptr) return std::optional<json::value>();
  if (!value->is_null() && !value->is_object() && !value->is_bool()) {
    return Error::invalidArgument(fmt::format("{}: expected a JSON Schema object", key));
  }
  return std::optional<json::value>(*value);
}

Result<std::optional<json::object>> objectMember(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  if (value == nullptr) return std::optional<json::object>();
  if (!value->is_object())
    return Error::invalidArgument(fmt::format("{}: expected an object", key));
  return std::optional<json::object>(value->get_object());
}

// ---- example writes ----

ExampleWrite fromUpload(ExampleUpload upload, std::optional<std::int64_t> created_at) {
  ExampleWrite w;
  w.id = std::move(upload.id);
  w.inputs = std::move(upload.inputs);
  w.outputs = std::move(upload.outputs);
  w.metadata = std::move(upload.metadata);
  if (!upload.splits.empty()) w.splits = std::move(upload.splits);
  w.source_run_id = std::move(upload.source_run_id);
  w.use_source_run_io = upload.use_source_run_io;
  w.created_at = created_at;
  for (ExampleAttachment& a : upload.attachments) {
    w.attachments.push_back({std::move(a.name), std::move(a.mime_type), std::move(a.data)});
  }
  if (upload.attachments_operations) {
    // Shape already checked by the decoder: {rename?: {string: string}, retain?: [string]}.
    AttachmentOperations ops;
    if (const json::value* rename = upload.attachments_operations->if_contains("rename")) {
      for (const auto& [from, to] : rename->get_object()) {
        ops.rename.emplace_back(std::string(from), std::string(to.get_string()));
      }
    }
    if (const json::value* retain = upload.attachments_operations->if_contains("retain")) {
      for (const json::value& name : retain->get_array()) {
        ops.retain.emplace_back(name.get_string());
      }
    }
    w.attachment_operations = std::move(ops);
  }
  return w;
}

Result<std::vector<ExampleWrite>> decodeMultipart(const Request& request, bool for_update) {
  const auto content_type = request.header("content-type");
  if (!content_type) {
    return Error::invalidArgument("content-type: expected multipart/form-data with a boundary");
  }
  auto uploads = decodeExamplesMultipart(request.body(), *content_type, for_update);
  if (!uploads) return std::move(uploads).error();
  if (uploads->size() > kMaxExamplesPerRequest) {
    return Error::invalidArgument(
        fmt::format("{} examples in one request; send at most {} per request", uploads->size(),
                    kMaxExamplesPerRequest));
  }
  std::vector<ExampleWrite> writes;
  writes.reserve(uploads->size());
  for (ExampleUpload& upload : *uploads) {
    std::optional<std::int64_t> created_at;
    if (upload.created_at) {
      auto at = timeText(*upload.created_at, upload.id + ": created_at");
      if (!at) return std::move(at).error();
      created_at = *at;
    }
    writes.push_back(fromUpload(std::move(upload), created_at));
  }
  return writes;
}

// One example of the JSON routes (POST /examples, /examples/bulk, PATCH /examples/{id}).
Result<ExampleWrite> exampleFromJson(const json::object& body, bool for_update) {
  ExampleWrite w;
#define PHAROS_TRY(target, expr)           \
  do {                                     \
    auto _r = (expr);                      \
    if (!_r) return std::move(_r).error(); \
    target = std::move(_r).value();        \
  } while (false)
  std::optional<std::string> id;
  PHAROS_TRY(id, optionalUuid(body, "id"));
  w.id = id ? *id : core::newUuidV7();
  PHAROS_TRY(w.inputs, objectMember(body, "inputs"));
  PHAROS_TRY(w.outputs, objectMember(body, "outputs"));
  PHAROS_TRY(w.metadata, objectMember(body, "metadata"));
  PHAROS_TRY(w.source_run_id, optionalUuid(body, "source_run_id"));
  PHAROS_TRY(w.created_at, optionalTime(body, "created_at"));
  std::vector<std::string> splits;
  PHAROS_TRY(splits, tracing::stringList(body, "split"));
  if (present(body, "split") != nullptr) w.splits = std::move(splits);
  std::optional<bool> use_io;
  PHAROS_TRY(use_io, tracing::optionalBool(body, "use_source_run_io"));
  w.use_source_run_io = use_io.value_or(false);
#undef PHAROS_TRY
  if (!for_update && !w.inputs && !w.use_source_run_io) {
    return Error::invalidArgument("inputs: an example needs inputs (an object)");
  }
  return w;
}

// ---- handlers ----

http::Awaitable<Response> createDatasetHandler(std::shared_ptr<DatasetStore> store,
                                               Request& request) {
  auto body = parseObjectBody(request);
  if (!body) co_return Response::fromError(body.error());
  Dataset d;
  auto name = optionalString(*body, "name");
  if (!name) co_return Response::fromError(name.error());
  if (!*name || (*name)->empty()) {
    co_return Response::fromError(Error::invalidArgument("name: a dataset needs a name"));
  }
  d.name = std::move(**name);
  auto id = optionalUuid(*body, "id");
  if (!id) co_return Response::fromError(id.error());
  d.id = *id ? **id : core::newUuidV7();
  auto description = optionalString(*body, "description");
  if (!description) co_return Response::fromError(description.error());
  d.description = std::move(*description);
  auto data_type = optionalString(*body, "data_type");
  if (!data_type) co_return Response::fromError(data_type.error());
  if (*data_type) d.data_type = **data_type;
  for (auto [key, target] : {std::pair{"inputs_schema_definition", &d.inputs_schema},
                             std::pair{"outputs_schema_definition", &d.outputs_schema}}) {
    auto schema = schemaMember(*body, key);
    if (!schema) co_return Response::fromError(schema.error());
    if (*schema) *target = std::move(**schema);
  }
  auto extra = objectMember(*body, "extra");
  if (!extra) co_return Response::fromError(extra.error());
  if (*extra) d.extra = std::move(**extra);
  d.created_at = d.modified_at = core::unixMicrosNow();
  const std::string& workspace = request.identity().workspace_id;
  auto created_call = store->createDataset(workspace, std::move(d));
  auto created = co_await std::move(created_call);
  if (!created) co_return Response::fromError(created.error());
  co_return Response::json(200, json::serialize(datasetJson(*created, workspace)));
}

http::Awaitable<Response> listDatasetsHandler(std::shared_ptr<DatasetStore> store,
                                              Request& request) {
  DatasetListQuery q;
  auto ids = uuidQueryList(request, "id");
  if (!ids) co_return Response::fromError(ids.error());
  q.ids = std::move(*ids);
  q.name = request.query("name");
  q.name_contains = request.query("name_contains");
  q.data_type = request.query("data_type");
  auto metadata = metadataParam(request);
  if (!metadata) co_return Response::fromError(metadata.error());
  q.metadata = std::move(*metadata);
  auto page = pageParams(request);
  if (!page) co_return Response::fromError(page.error());
  q.offset = page->offset;
  q.limit = page->limit;
  const std::string& workspace = request.identity().workspace_id;
  auto listed_call = store->listDatasets(workspace, std::move(q));
  auto listed = co_await std::move(listed_call);
  if (!listed) co_return Response::fromError(listed.error());
  json::array out;
  for (const Dataset& d : *listed) out.push_back(datasetJson(d, workspace));
  co_return Response::json(200, json::serialize(out));
}

http::Awaitable<Response> updateDatasetHandler(std::shared_ptr<DatasetStore> store,
                                               Request& request) {
  auto id = uuidParam(request, "dataset_id");
  if (!id) co_return Response::fromError(id.error());
  auto body = parseObjectBody(request);
  if (!body) co_return Response::fromError(body.error());
  DatasetUpdate update;
  auto name = optionalString(*body, "name");
  if (!name) co_return Response::fromError(name.error());
  if (*name && (*name)->empty()) {
    co_return Response::fromError(Error::invalidArgument("name: must not be empty"));
  }
  update.name = std::move(*name);
  auto description = optionalString(*body, "description");
  if (!description) co_return Response::fromError(description.error());
  update.description = std::move(*description);
  // null = unchanged (as for the other members); {} removes the schema.
  for (auto [key, target] : {std::pair{"inputs_schema_definition", &update.inputs_schema},
                             std::pair{"outputs_schema_definition", &update.outputs_schema}}) {
    if (present(*body, key) == nullptr) continue;
    auto schema = schemaMember(*body, key);
    if (!schema) co_return Response::fromError(schema.error());
    *target = std::move(*schema);
  }
  auto metadata = objectMember(*body, "metadata");
  if (!metadata) co_return Response::fromError(metadata.error());
  update.metadata = std::move(*metadata);
  const std::string& workspace = request.identity().workspace_id;
  auto updated_call = store->updateDataset(workspace, *id, std::move(update));
  auto updated = co_await std::move(updated_call);
  if (!updated) co_return Response::fromError(updated.error());
  if (!updated->rejected.empty()) {
    co_return schemaViolation(updated->rejected, updated->rejected_examples,
                              "the new schema is broken by existing examples");
  }
  co_return Response::json(200, json::serialize(datasetJson(updated->dataset, workspace)));
}

http::Awaitable<Response> uploadExamplesHandler(std::shared_ptr<DatasetStore> store,
                                                Request& request) {
  auto dataset_id = uuidParam(request, "dataset_id");
  if (!dataset_id) co_return Response::fromError(dataset_id.error());
  auto writes = decodeMultipart(request, false);
  if (!writes) co_return Response::fromError(writes.error());
  const auto upsert = request.query("upsert");
  auto outcome_call = store->createExamples(request.identity().workspace_id, *dataset_id,
                                            std::move(*writes), upsert && *upsert == "true");
  auto outcome = co_await std::move(outcome_call);
  if (!outcome) co_return Response::fromError(outcome.error());
  co_return writeOutcome(*outcome, 201);
}

http::Awaitable<Response> updateExamplesMultipartHandler(std::shared_ptr<DatasetStore> store,
                                                         Request& request) {
  auto dataset_id = uuidParam(request, "dataset_id");
  if (!dataset_id) co_return Response::fromError(dataset_id.error());
  auto writes = decodeMultipart(request, true);
  if (!writes) co_return Response::fromError(writes.error());
  auto outcome_call =
      store->updateExamples(request.identity().workspace_id, *dataset_id, std::move(*writes));
  auto outcome = co_await std::move(outcome_call);
  if (!outcome) co_return Response::fromError(outcome.error());
  co_return writeOutcome(*outcome, 200);
}

http::Awaitable<Response> listExamplesHandler(std::shared_ptr<DatasetStore> store,
                                              Request& request) {
  ExampleListQuery q;
  if (auto dataset = request.query("dataset")) {
    if (!core::isUuid(*dataset)) {
      co_return Response::fromError(Error::invalidArgument(
          fmt::format("dataset: not a UUID: {}", core::jsonString(*dataset))));
    }
    q.dataset_id = tracing::lowerUuid(*dataset);
  }
  auto ids = uuidQueryList(request, "id");
  if (!ids) co_return Response::fromError(ids.error());
  q.ids = std::move(*ids);
  if (!q.dataset_id && q.ids.empty()) {
    co_return Response::fromError(
        Error::invalidArgument("dataset: give a dataset id (or example ids with id=)"));
  }
  auto as_of = asOfParam(request);
  if (!as_of) co_return Response::fromError(as_of.error());
  q.as_of = *as_of;
  for (std::string& split : request.queryAll("splits")) {
    if (!split.empty()) q.splits.push_back(std::move(split));
  }
  auto metadata = metadataParam(request);
  if (!metadata) co_return Response::fromError(metadata.error());
  q.metadata = std::move(*metadata);
  if (auto filter = request.query("filter"); filter && !filter->empty()) {
    co_return Response::fromError(
        Error::invalidArgument("filter: not supported on examples yet (use metadata= or splits=)"));
  }
  // `select` and `inline_s3_urls` are accepted and ignored: every field is always returned.
  auto page = pageParams(request);
  if (!page) co_return Response::fromError(page.error());
  q.offset = page->offset;
  q.limit = page->limit;
  auto listed_call = store->listExamples(request.identity().workspace_id, std::move(q));
  auto listed = co_await std::move(listed_call);
  if (!listed) co_return Response::fromError(listed.error());
  co_return Response::json(200, examplesJson(*listed, baseUrl(request)));
}

// POST /examples (one JSON example) and /examples/bulk (an array): the same store call as the
// multipart upload, for curl users.
http::Awaitable<Response> createExamplesJsonHandler(std::shared_ptr<DatasetStore> store,
                                                    Request& request, bool bulk) {
  auto parsed = tracing::parseBody(request);
  if (!parsed) co_return Response::fromError(parsed.error());
  std::vector<const json::object*> items;
  if (bulk) {
    if (!parsed->is_array()) {
      co_return Response::fromError(Error::invalidArgument("body: expected an array of examples"));
    }
    for (const json::value& item : parsed->get_array()) {
      if (!item.is_object()) {
        co_return Response::fromError(
            Error::invalidArgument(fmt::format("[{}]: expected an object", items.size())));
      }
      items.push_back(&item.get_object());
    }
  } else {
    if (!parsed->is_object()) {
      co_return Response::fromError(Error::invalidArgument("body: expected a JSON object"));
    }
    items.push_back(&parsed->get_object());
  }
  if (items.empty()) co_return Response::json(200, "[]");
  if (items.size() > kMaxExamplesPerRequest) {
    co_return Response::fromError(Error::invalidArgument(
        fmt::format("{} examples in one request; send at most {} per request", items.size(),
                    kMaxExamplesPerRequest)));
  }
  std::optional<std::string> dataset_id;
  std::vector<ExampleWrite> writes;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string where = bulk ? fmt::format("[{}].", i) : std::string();
    auto dataset = optionalUuid(*items[i], "dataset_id");
    if (!dataset)
      co_return Response::fromError(Error::invalidArgument(where + dataset.error().message));
    if (!*dataset) {
      co_return Response::fromError(Error::invalidArgument(where + "dataset_id: required"));
    }
    if (dataset_id && *dataset_id != **dataset) {
      co_return Response::fromError(Error::invalidArgument(
          where + "dataset_id: every example of one request must be in the same dataset"));
    }
    dataset_id = **dataset;
    auto write = exampleFromJson(*items[i], false);
    if (!write)
      co_return Response::fromError(Error::invalidArgument(where + write.error().message));
    writes.push_back(std::move(*write));
  }
  const std::string& workspace = request.identity().workspace_id;
  auto outcome_call = store->createExamples(workspace, *dataset_id, std::move(writes), false);
  auto outcome = co_await std::move(outcome_call);
  if (!outcome) co_return Response::fromError(outcome.error());
  if (!outcome->rejected.empty()) co_return writeOutcome(*outcome, 200);
  ExampleListQuery q;
  q.ids = outcome->example_ids;
  q.limit = q.ids.size();
  auto created_call = store->listExamples(workspace, std::move(q));
  auto created = co_await std::move(created_call);
  if (!created) co_return Response::fromError(created.error());
  if (bulk) co_return Response::json(200, examplesJson(*created, baseUrl(request)));
  if (created->empty()) co_return Response::fromError(Error::internal("example vanished"));
  co_return Response::json(200, json::serialize(exampleJson(created->front(), baseUrl(request))));
}

http::Awaitable<Response> updateExampleJsonHandler(std::shared_ptr<DatasetStore> store,
                                                   Request& request) {
  auto id = uuidParam(request, "example_id");
  if (!id) co_return Response::fromError(id.error());
  auto body = parseObjectBody(request);
  if (!body) co_return Response::fromError(body.error());
  auto write = exampleFromJson(*body, true);
  if (!write) co_return Response::fromError(write.error());
  write->id = *id;
  const std::string& workspace = request.identity().workspace_id;
  auto current_call = store->getExample(workspace, *id, std::nullopt);
  auto current = co_await std::move(current_call);
  if (!current) co_return Response::fromError(current.error());
  std::vector<ExampleWrite> writes;
  writes.push_back(std::move(*write));
  auto outcome_call = store->updateExamples(workspace, current->dataset_id, std::move(writes));
  auto outcome = co_await std::move(outcome_call);
  if (!outcome) co_return Response::fromError(outcome.error());
  if (!outcome->rejected.empty()) co_return writeOutcome(*outcome, 200);
  auto updated_call = store->getExample(workspace, *id, std::nullopt);
  auto updated = co_await std::move(updated_call);
  if (!updated) co_return Response::fromError(updated.error());
  co_return Response::json(200, json::serialize(exampleJson(*updated, baseUrl(request))));
}

}  // namespace

void addEvalRoutes(http::Router& router, std::shared_ptr<DatasetStore> store) {
  // ---- datasets (§2.1) ----

  router.add(http::Verb::post, "/api/v1/datasets",
             [store](Request& request) { return createDatasetHandler(store, request); });
  router.add(http::Verb::get, "/api/v1/datasets",
             [store](Request& request) { return listDatasetsHandler(store, request); });

  // readDataset({datasetId}) sends ?limit=1 here: ignored.
  router.add(http::Verb::get, "/api/v1/datasets/{dataset_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "dataset_id");
               if (!id) co_return Response::fromError(id.error());
               const std::string& workspace = request.identity().workspace_id;
               auto dataset_call = store->getDataset(workspace, *id);
               auto dataset = co_await std::move(dataset_call);
               if (!dataset) co_return Response::fromError(dataset.error());
               co_return Response::json(200, json::serialize(datasetJson(*dataset, workspace)));
             });

  router.add(http::Verb::patch, "/api/v1/datasets/{dataset_id}",
             [store](Request& request) { return updateDatasetHandler(store, request); });

  router.add(http::Verb::delete_, "/api/v1/datasets/{dataset_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "dataset_id");
               if (!id) co_return Response::fromError(id.error());
               auto deleted_call = store->deleteDataset(request.identity().workspace_id, *id);
               auto deleted = co_await std::move(deleted_call);
               if (!deleted) co_return Response::fromError(deleted.error());
               co_return Response::json(200, "{}");
             });

  router.add(
      http::Verb::get, "/api/v1/datasets/{dataset_id}/versions",
      [store](Request& request) -> http::Awaitable<Response> {
        auto id = uuidParam(request, "dataset_id");
        if (!id) co_return Response::fromError(id.error());
        auto page = pageParams(request);
        if (!page) co_return Response::fromError(page.error());
        auto versions_call =
            store->listVersions(request.identity().workspace_id, *id, page->offset, page->limit);
        auto versions = co_await std::move(versions_call);
        if (!versions) co_return Response::fromError(versions.error());
        json::array out;
        for (const DatasetVersion& v : *versions) {
          out.push_back({{"as_of", core::formatIso8601Micros(v.as_of)}, {"tags", json::array()}});
        }
        co_return Response::json(200, json::serialize(out));
      });

  router.add(http::Verb::get, "/api/v1/datasets/{dataset_id}/version",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "dataset_id");
               if (!id) co_return Response::fromError(id.error());
               auto as_of = asOfParam(request);
               if (!as_of) co_return Response::fromError(as_of.error());
               auto version_call =
                   store->versionAt(request.identity().workspace_id, *id,
                                    as_of->value_or(std::numeric_limits<std::int64_t>::max()));
               auto version = co_await std::move(version_call);
               if (!version) co_return Response::fromError(version.error());
               json::object out{{"as_of", core::formatIso8601Micros(version->as_of)},
                                {"tags", json::array()}};
               co_return Response::json(200, json::serialize(out));
             });

  router.add(http::Verb::get, "/api/v1/datasets/{dataset_id}/splits",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "dataset_id");
               if (!id) co_return Response::fromError(id.error());
               auto as_of = asOfParam(request);
               if (!as_of) co_return Response::fromError(as_of.error());
               auto splits_call = store->listSplits(request.identity().workspace_id, *id, *as_of);
               auto splits = co_await std::move(splits_call);
               if (!splits) co_return Response::fromError(splits.error());
               json::array out;
               for (const std::string& split : *splits) out.emplace_back(split);
               co_return Response::json(200, json::serialize(out));
             });

  // GET /api/v1/datasets/{dataset_id}/compare (§4.2) is not registered here: it belongs to the
  // experiment store and is added by compare_routes.cc (WP7), next to this call in commands.cc.

  // ---- examples (§2.2) ----

  // The JS client's platform path (apiUrl ending in /v1), and the same under the bare origin for
  // users who point LANGSMITH_ENDPOINT there (no clash with the gateway's /v1 routes).
  for (std::string_view prefix : {"/api/v1/platform", "/v1/platform"}) {
    const std::string path = fmt::format("{}/datasets/{{dataset_id}}/examples", prefix);
    router.add(http::Verb::post, path,
               [store](Request& request) { return uploadExamplesHandler(store, request); });
    router.add(http::Verb::patch, path, [store](Request& request) {
      return updateExamplesMultipartHandler(store, request);
    });
  }

  router.add(http::Verb::get, "/api/v1/examples",
             [store](Request& request) { return listExamplesHandler(store, request); });
  router.add(http::Verb::post, "/api/v1/examples", [store](Request& request) {
    return createExamplesJsonHandler(store, request, false);
  });
  router.add(http::Verb::post, "/api/v1/examples/bulk",
             [store](Request& request) { return createExamplesJsonHandler(store, request, true); });

  router.add(http::Verb::get, "/api/v1/examples/{example_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "example_id");
               if (!id) co_return Response::fromError(id.error());
               auto as_of = asOfParam(request);
               if (!as_of) co_return Response::fromError(as_of.error());
               auto example_call = store->getExample(request.identity().workspace_id, *id, *as_of);
               auto example = co_await std::move(example_call);
               if (!example) co_return Response::fromError(example.error());
               co_return Response::json(200,
                                        json::serialize(exampleJson(*example, baseUrl(request))));
             });

  router.add(http::Verb::patch, "/api/v1/examples/{example_id}",
             [store](Request& request) { return updateExampleJsonHandler(store, request); });

  router.add(http::Verb::delete_, "/api/v1/examples/{example_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "example_id");
               if (!id) co_return Response::fromError(id.error());
               std::vector<std::string> ids{*id};
               auto deleting =
                   store->deleteExamples(request.identity().workspace_id, std::move(ids));
               auto deleted = co_await std::move(deleting);
               if (!deleted) co_return Response::fromError(deleted.error());
               co_return Response::json(200, "{}");
             });

  router.add(http::Verb::delete_, "/api/v1/examples",
             [store](Request& request) -> http::Awaitable<Response> {
               auto ids = uuidQueryList(request, "example_ids");
               if (!ids) co_return Response::fromError(ids.error());
               if (ids->empty()) {
                 co_return Response::fromError(
                     Error::invalidArgument("example_ids: give the ids of the examples to delete"));
               }
               auto deleted_call =
                   store->deleteExamples(request.identity().workspace_id, std::move(*ids));
               auto deleted = co_await std::move(deleted_call);
               if (!deleted) co_return Response::fromError(deleted.error());
               co_return Response::json(200, "{}");
             });

  router.add(http::Verb::get, "/api/v1/examples/{example_id}/attachments/{name}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "example_id");
               if (!id) co_return Response::fromError(id.error());
               const std::string name(request.param("name"));
               auto found_call = store->getAttachment(request.identity().workspace_id, *id, name);
               auto found = co_await std::move(found_call);
               if (!found) co_return Response::fromError(found.error());
               if (!*found) {
                 co_return Response::fromError(Error::notFound(
                     fmt::format("example {} has no attachment {}", *id, core::jsonString(name))));
               }
               // Served as a download, never rendered: an attachment is untrusted content.
               Response response =
                   Response::text(200, std::move((*found)->data), (*found)->content_type);
               response.header("content-disposition", "attachment");
               response.header("x-content-type-options", "nosniff");
               co_return response;
             });
}

}  // namespace pharos::eval
