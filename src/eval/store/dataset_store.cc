#include "eval/store/dataset_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>
#include <utility>

#include "core/json_text.h"
#include "core/time.h"
#include "eval/json_schema.h"
#include "store/sqlite/statement_helpers.h"
#include "tracing/store/stored_json.h"

namespace pharos::eval {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using core::Status;
using store::sqlite::appendIn;
using store::sqlite::bindJsonOrNull;
using store::sqlite::Connection;
using store::sqlite::eachRow;
using store::sqlite::Sql;
using store::sqlite::SqlValue;
using store::sqlite::Statement;

// Examples nest deeply in real data; the same bound as the multipart decoder.
constexpr std::size_t kMaxStoredJsonDepth = 512;

// inputs/outputs are stored like run payloads: JSON text, or a zlib BLOB when large.
void bindStoredJson(Statement& s, int i, const json::object& v) {
  tracing::bindStoredJson(s, i, tracing::encodeStoredJson(json::serialize(v)));
}

Result<json::value> parseJsonText(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxStoredJsonDepth;
  boost::system::error_code ec;
  json::value value = json::parse(text, ec, {}, options);
  if (ec) return Error::internal("stored JSON is damaged: " + ec.message());
  return value;
}

// A JSON column (TEXT or compressed BLOB) as a value; null when NULL.
Result<json::value> jsonColumn(const Statement& s, int c) {
  if (s.columnIsNull(c)) return json::value();
  if (s.columnIsBlob(c)) {
    auto text = tracing::decompressStoredJson(s.columnBlob(c));
    if (!text) return std::move(text).error();
    return parseJsonText(*text);
  }
  return parseJsonText(s.columnText(c));
}

Result<std::optional<json::object>> objectColumn(const Statement& s, int c) {
  auto value = jsonColumn(s, c);
  if (!value) return std::move(value).error();
  if (value->is_null()) return std::optional<json::object>();
  if (!value->is_object()) return Error::internal("stored example JSON is not an object");
  return std::optional<json::object>(std::move(value->get_object()));
}

// True when `part` is contained in `whole`, as Postgres' jsonb @> does: objects member by member
// (recursively), arrays element by element (each element of `part` in some element of `whole`),
// scalars by equality.
bool jsonContains(const json::value& whole, const json::value& part) {
  if (part.is_object()) {
    if (!whole.is_object()) return false;
    const json::object& w = whole.get_object();
    for (const auto& [key, value] : part.get_object()) {
      const json::value* member = w.if_contains(key);
      if (member == nullptr || !jsonContains(*member, value)) return false;
    }
    return true;
  }
  if (part.is_array()) {
    if (!whole.is_array()) return false;
    for (const json::value& element : part.get_array()) {
      const auto& w = whole.get_array();
      if (std::none_of(w.begin(), w.end(), [&](const json::value& candidate) {
            return jsonContains(candidate, element);
          })) {
        return false;
      }
    }
    return true;
  }
  if (part.is_number() && whole.is_number()) {
    return part.to_number<double>() == whole.to_number<double>();
  }
  return whole == part;
}

// ---- schemas ----

// A schema given as null or {} means "none".
bool isNoSchema(const json::value& schema) {
  return schema.is_null() || (schema.is_object() && schema.get_object().empty());
}

Result<std::optional<JsonSchema>> compileSchema(const json::value& schema, std::string_view field) {
  if (isNoSchema(schema)) return std::optional<JsonSchema>();
  auto compiled = JsonSchema::compile(schema);
  if (!compiled) {
    return Error::invalidArgument(fmt::format("{}: {}", field, compiled.error().message));
  }
  return std::optional<JsonSchema>(std::move(compiled).value());
}

// The schemas of a stored dataset (compiled when it was stored, so failing now is a bug).
struct DatasetSchemas {
  std::optional<JsonSchema> inputs, outputs;
};

// Adds the violations of one example (at most kMaxListedRejections overall); true when it had any.
bool checkExample(const DatasetSchemas& schemas, const std::string& id, std::size_t index,
                  const json::object& inputs, const std::optional<json::object>& outputs,
                  std::vector<ExampleRejection>& rejected, std::size_t max_listed) {
  bool bad = false;
  const auto check = [&](const std::optional<JsonSchema>& schema, std::string_view field,
                         const json::object& value) {
    if (!schema) return;
    for (SchemaViolation& v : schema->validate(value)) {
      bad = true;
      if (rejected.size() < max_listed) {
        rejected.push_back(
            {id, index, std::string(field), std::move(v.pointer), std::move(v.message)});
      }
    }
  };
  check(schemas.inputs, "inputs", inputs);
  if (outputs) check(schemas.outputs, "outputs", *outputs);
  return bad;
}

// ---- datasets ----

constexpr std::string_view kDatasetColumns =
    "d.seq, d.id, d.name, d.description, d.data_type, d.inputs_schema, d.outputs_schema, d.extra, "
    "d.created_at, d.modified_at, "
    "(SELECT count(*) FROM examples e WHERE e.dataset = d.seq AND e.valid_to IS NULL AND "
    "e.deleted = 0), "
    "(SELECT count(*) FROM sessions s WHERE s.ws = d.ws AND s.reference_dataset_id = d.id), "
    "(SELECT max(s.start_time) FROM sessions s WHERE s.ws = d.ws AND s.reference_dataset_id = "
    "d.id)";

Result<Dataset> datasetRow(const Statement& s) {
  Dataset d;
  d.id = std::string(s.columnText(1));
  d.name = std::string(s.columnText(2));
  d.description = s.optionalText(3);
  d.data_type = std::string(s.columnText(4));
  for (auto [column, target] :
       {std::pair{5, &d.inputs_schema}, std::pair{6, &d.outputs_schema}, std::pair{7, &d.extra}}) {
    auto value = jsonColumn(s, column);
    if (!value) return std::move(value).error();
    *target = std::move(*value);
  }
  d.created_at = s.columnInt64(8);
  d.modified_at = s.columnInt64(9);
  d.example_count = s.columnInt64(10);
  d.session_count = s.columnInt64(11);
  d.last_session_start_time = s.optionalInt64(12);
  return d;
}

Result<std::optional<Dataset>> selectDataset(Connection& c, std::int64_t ws, std::int64_t seq) {
  auto s = c.prepare(
      fmt::format("SELECT {} FROM datasets d WHERE d.ws = ?1 AND d.seq = ?2", kDatasetColumns));
  if (!s) return std::move(s).error();
  auto row = s->bindInt64(1, ws).bindInt64(2, seq).step();
  if (!row) return std::move(row).error();
  if (!*row) return std::optional<Dataset>();
  auto dataset = datasetRow(*s);
  if (!dataset) return std::move(dataset).error();
  return std::optional<Dataset>(std::move(dataset).value());
}

Result<DatasetSchemas> loadSchemas(Connection& c, std::int64_t seq) {
  auto s = c.cached("SELECT inputs_schema, outputs_schema FROM datasets WHERE seq = ?1");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, seq).step();
  if (!row) return std::move(row).error();
  if (!*row) return Error::internal("dataset vanished");
  DatasetSchemas out;
  for (auto [column, target] : {std::pair{0, &out.inputs}, std::pair{1, &out.outputs}}) {
    auto value = jsonColumn(**s, column);
    if (!value) return std::move(value).error();
    auto compiled = compileSchema(*value, column == 0 ? "inputs_schema" : "outputs_schema");
    if (!compiled) return Error::internal("stored schema: " + compiled.error().message);
    *target = std::move(*compiled);
  }
  (*s)->reset();
  return out;
}

Result<std::int64_t> datasetModifiedAt(Connection& c, std::int64_t seq) {
  auto s = c.cached("SELECT modified_at FROM datasets WHERE seq = ?1");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, seq).step();
  if (!row) return std::move(row).error();
  if (!*row) return Error::internal("dataset vanished");
  const std::int64_t at = (*s)->columnInt64(0);
  (*s)->reset();
  return at;
}

Status touchDataset(Connection& c, std::int64_t seq, std::int64_t at) {
  auto s = c.cached("UPDATE datasets SET modified_at = ?2 WHERE seq = ?1");
  if (!s) return std::move(s).error();
  return (*s)->bindInt64(1, seq).bindInt64(2, at).run();
}

// The time of a write to a dataset: now, but always after its last version, so versions are
// distinct and increasing even if the clock steps back.
Result<std::int64_t> writeTime(Connection& c, std::int64_t seq) {
  auto last = datasetModifiedAt(c, seq);
  if (!last) return last;
  return std::max(core::unixMicrosNow(), *last + 1);
}

// ---- examples ----

constexpr std::string_view kExampleColumns =
    "e.seq, e.id, d.id, e.inputs, e.outputs, e.metadata, e.source_run_id, e.created_at, "
    "e.modified_at, e.deleted, e.dataset";

struct ExampleRow {
  std::int64_t seq = 0;
  std::int64_t dataset = 0;  // datasets.seq
  bool deleted = false;
  Example example;
};

Result<ExampleRow> exampleRow(const Statement& s) {
  ExampleRow row;
  row.seq = s.columnInt64(0);
  row.example.id = std::string(s.columnText(1));
  row.example.dataset_id = std::string(s.columnText(2));
  auto inputs = objectColumn(s, 3);
  if (!inputs) return std::move(inputs).error();
  row.example.inputs = inputs->value_or(json::object());
  auto outputs = objectColumn(s, 4);
  if (!outputs) return std::move(outputs).error();
  row.example.outputs = std::move(*outputs);
  auto metadata = objectColumn(s, 5);
  if (!metadata) return std::move(metadata).error();
  row.example.metadata = metadata->value_or(json::object());
  row.example.source_run_id = s.optionalText(6);
  row.example.created_at = s.columnInt64(7);
  row.example.modified_at = s.columnInt64(8);
  row.deleted = s.columnInt64(9) != 0;
  row.dataset = s.columnInt64(10);
  return row;
}

// The current revision (tombstone or not) of an example id in the workspace.
Result<std::optional<ExampleRow>> currentRevision(Connection& c, std::int64_t ws,
                                                  const std::string& id) {
  static const std::string kSql = fmt::format(
      "SELECT {} FROM examples e JOIN datasets d ON d.seq = e.dataset "
      "WHERE e.ws = ?1 AND e.id = ?2 AND e.valid_to IS NULL",
      kExampleColumns);
  auto s = c.cached(kSql);
  if (!s) return std::move(s).error();
  auto more = (*s)->bindInt64(1, ws).bindText(2, id).step();
  if (!more) return std::move(more).error();
  if (!*more) return std::optional<ExampleRow>();
  auto row = exampleRow(**s);
  (*s)->reset();
  if (!row) return std::move(row).error();
  return std::optional<ExampleRow>(std::move(row).value());
}

Status loadAttachmentInfo(Connection& c, std::int64_t ws, Example& example) {
  auto s = c.cached(
      "SELECT name, content_type FROM example_attachments WHERE ws = ?1 AND example_id = ?2 "
      "ORDER BY name");
  if (!s) return std::move(s).error();
  (*s)->bindInt64(1, ws).bindText(2, example.id);
  return eachRow(**s, [&](const Statement& row) {
    example.attachments.push_back({std::string(row.columnText(0)), std::string(row.columnText(1))});
  });
}

// metadata.dataset_split as a list of split names (a string is one split).
std::vector<std::string> splitsOf(const json::object& metadata) {
  std::vector<std::string> out;
  const json::value* splits = metadata.if_contains("dataset_split");
  if (splits == nullptr) return out;
  if (splits->is_string()) out.emplace_back(splits->get_string());
  if (splits->is_array()) {
    for (const json::value& split : splits->get_array()) {
      if (split.is_string()) out.emplace_back(split.get_string());
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void setSplits(json::object& metadata, const std::vector<std::string>& splits) {
  json::array array;
  for (const std::string& split : splits) array.emplace_back(split);
  metadata["dataset_split"] = std::move(array);
}

Result<std::pair<std::optional<json::object>, std::optional<json::object>>> sourceRunIo(
    Connection& c, std::int64_t ws, const std::string& run_id) {
  auto s = c.cached("SELECT inputs, outputs FROM runs WHERE ws = ?1 AND id = ?2");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, ws).bindText(2, run_id).step();
  if (!row) return std::move(row).error();
  if (!*row) {
    return Error::notFound(fmt::format("source_run_id: no run has the id {}", run_id));
  }
  auto inputs = objectColumn(**s, 0);
  if (!inputs) return std::move(inputs).error();
  auto outputs = objectColumn(**s, 1);
  if (!outputs) return std::move(outputs).error();
  (*s)->reset();
  return std::pair{std::move(*inputs), std::move(*outputs)};
}

// What one example write will do, decided before anything is written.
struct PlannedWrite {
  const ExampleWrite* write = nullptr;
  std::optional<ExampleRow> previous;  // the current revision being replaced (maybe a tombstone)
  Example next;                        // the new revision's content
  bool no_op = false;                  // an identical upsert
  bool replace_attachments = false;    // a (re)created example: start from no attachments
};

struct StoredAttachment {
  std::string name, content_type, data;
};

Result<std::vector<StoredAttachment>> loadAttachments(Connection& c, std::int64_t ws,
                                                      const std::string& example_id) {
  auto s = c.cached(
      "SELECT name, content_type, data FROM example_attachments WHERE ws = ?1 AND "
      "example_id = ?2");
  if (!s) return std::move(s).error();
  (*s)->bindInt64(1, ws).bindText(2, example_id);
  std::vector<StoredAttachment> out;
  auto walked = eachRow(**s, [&](const Statement& row) {
    out.push_back({std::string(row.columnText(0)), std::string(row.columnText(1)),
                   std::string(row.columnBlob(2))});
  });
  if (!walked) return walked.error();
  return out;
}

// Rewrites an example's attachments: the stored ones that survive `operations`, then uploads.
Status writeAttachments(Connection& c, std::int64_t ws, const PlannedWrite& plan) {
  const ExampleWrite& write = *plan.write;
  const std::string& id = write.id;
  std::vector<StoredAttachment> kept;
  if (!plan.replace_attachments) {
    auto stored = loadAttachments(c, ws, id);
    if (!stored) return std::move(stored).error();
    if (!write.attachment_operations) {
      kept = std::move(*stored);
    } else {
      const AttachmentOperations& ops = *write.attachment_operations;
      for (const auto& [from, to] : ops.rename) {
        if (std::none_of(stored->begin(), stored->end(),
                         [&](const StoredAttachment& a) { return a.name == from; })) {
          return Error::invalidArgument(
              fmt::format("{}.attachments_operations: rename: the example has no attachment {}", id,
                          core::jsonString(from)));
        }
      }
      for (const std::string& name : ops.retain) {
        if (std::none_of(stored->begin(), stored->end(),
                         [&](const StoredAttachment& a) { return a.name == name; })) {
          return Error::invalidArgument(
              fmt::format("{}.attachments_operations: retain: the example has no attachment {}", id,
                          core::jsonString(name)));
        }
      }
      for (StoredAttachment& a : *stored) {
        auto renamed = std::find_if(ops.rename.begin(), ops.rename.end(),
                                    [&](const auto& r) { return r.first == a.name; });
        if (renamed != ops.rename.end()) {
          a.name = renamed->second;
          kept.push_back(std::move(a));
        } else if (std::find(ops.retain.begin(), ops.retain.end(), a.name) != ops.retain.end()) {
          kept.push_back(std::move(a));
        }
      }
    }
  }
  auto clear = c.cached("DELETE FROM example_attachments WHERE ws = ?1 AND example_id = ?2");
  if (!clear) return std::move(clear).error();
  if (auto done = (*clear)->bindInt64(1, ws).bindText(2, id).run(); !done) return done;
  auto insert = c.cached(
      "INSERT OR REPLACE INTO example_attachments(ws, example_id, name, content_type, data) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  if (!insert) return std::move(insert).error();
  const auto put = [&](const std::string& name, const std::string& type,
                       const std::string& data) -> Status {
    (*insert)->reset();  // bindings are replaced below
    return (*insert)
        ->bindInt64(1, ws)
        .bindText(2, id)
        .bindText(3, name)
        .bindText(4, type)
        .bindBlob(5, data)
        .run();
  };
  for (const StoredAttachment& a : kept) {
    if (auto done = put(a.name, a.content_type, a.data); !done) return done;
  }
  for (const AttachmentUpload& a : write.attachments) {
    if (auto done = put(a.name, a.content_type, a.data); !done) return done;
  }
  return {};
}

Status rewriteSplits(Connection& c, std::int64_t dataset, const std::string& id,
                     const std::vector<std::string>& splits) {
  auto clear = c.cached("DELETE FROM example_splits WHERE dataset = ?1 AND example_id = ?2");
  if (!clear) return std::move(clear).error();
  if (auto done = (*clear)->bindInt64(1, dataset).bindText(2, id).run(); !done) return done;
  auto insert = c.cached(
      "INSERT OR IGNORE INTO example_splits(dataset, split, example_id) VALUES (?1, ?2, ?3)");
  if (!insert) return std::move(insert).error();
  for (const std::string& split : splits) {
    (*insert)->reset();
    if (auto done = (*insert)->bindInt64(1, dataset).bindText(2, split).bindText(3, id).run();
        !done) {
      return done;
    }
  }
  return {};
}

Status closeRevision(Connection& c, std::int64_t seq, std::int64_t at) {
  auto s = c.cached("UPDATE examples SET valid_to = ?2 WHERE seq = ?1");
  if (!s) return std::move(s).error();
  return (*s)->bindInt64(1, seq).bindInt64(2, at).run();
}

Status insertRevision(Connection& c, std::int64_t ws, std::int64_t dataset, const Example& e,
                      bool deleted) {
  auto s = c.cached(
      "INSERT INTO examples(ws, dataset, id, inputs, outputs, metadata, source_run_id, "
      "created_at, modified_at, valid_to, deleted) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL, ?10)");
  if (!s) return std::move(s).error();
  (*s)->bindInt64(1, ws).bindInt64(2, dataset).bindText(3, e.id);
  bindStoredJson(**s, 4, e.inputs);
  if (e.outputs) {
    bindStoredJson(**s, 5, *e.outputs);
  } else {
    (*s)->bindNull(5);
  }
  (*s)->bindText(6, json::serialize(e.metadata));
  (*s)->bindOptionalText(7, e.source_run_id);
  (*s)->bindInt64(8, e.created_at).bindInt64(9, e.modified_at).bindInt64(10, deleted ? 1 : 0);
  return (*s)->run();
}

// Rows of an example query, in order; attachments filled in.
Result<std::vector<Example>> collectExamples(Connection& c, std::int64_t ws, Statement& s,
                                             const std::optional<json::object>& metadata,
                                             std::size_t offset, std::size_t limit) {
  std::vector<Example> out;
  std::size_t skipped = 0;
  for (;;) {
    auto more = s.step();
    if (!more) return std::move(more).error();
    if (!*more) break;
    auto row = exampleRow(s);
    if (!row) return std::move(row).error();
    if (metadata) {
      // Filtered here (JSON containment is not SQL's), so the page is cut here too.
      if (!jsonContains(row->example.metadata, *metadata)) continue;
      if (skipped < offset) {
        ++skipped;
        continue;
      }
      if (out.size() >= limit) break;
    }
    out.push_back(std::move(row->example));
  }
  for (Example& e : out) {
    if (auto done = loadAttachmentInfo(c, ws, e); !done) return done.error();
  }
  return out;
}

// The revisions valid at `as_of` (for an example query, alias e).
constexpr std::string_view kValidAt =
    " AND e.modified_at <= ? AND (e.valid_to IS NULL OR e.valid_to > ?) AND e.deleted = 0";

}  // namespace

// ---------------------------------------------------------------------------------------------

DatasetStore::DatasetStore(store::sqlite::SqliteDatabase& database) : database_(database) {}

Result<DatasetStore::DatasetRef> DatasetStore::findDataset(Connection& c,
                                                           const std::string& workspace_id,
                                                           const std::string& id) {
  const Error missing = Error::notFound(fmt::format("no dataset has the id {}", id));
  auto ws = tenants_.lookup(c, workspace_id, false);
  if (!ws) return std::move(ws).error();
  if (!*ws) return missing;
  auto s = c.cached("SELECT seq FROM datasets WHERE ws = ?1 AND id = ?2");
  if (!s) return std::move(s).error();
  auto row = (*s)->bindInt64(1, **ws).bindText(2, id).step();
  if (!row) return std::move(row).error();
  if (!*row) return missing;
  const std::int64_t seq = (*s)->columnInt64(0);
  (*s)->reset();
  return DatasetRef{**ws, seq};
}

asio::awaitable<Result<Dataset>> DatasetStore::createDataset(std::string workspace_id,
                                                             Dataset dataset) {
  if (std::find(std::begin(kDataTypes), std::end(kDataTypes), dataset.data_type) ==
      std::end(kDataTypes)) {
    co_return Error::invalidArgument(
        fmt::format("data_type: expected \"kv\", \"llm\" or \"chat\", got {}",
                    core::jsonString(dataset.data_type)));
  }
  for (auto [schema, field] : {std::pair{&dataset.inputs_schema, "inputs_schema_definition"},
                               std::pair{&dataset.outputs_schema, "outputs_schema_definition"}}) {
    auto compiled = compileSchema(*schema, field);
    if (!compiled) co_return std::move(compiled).error();
    if (isNoSchema(*schema)) *schema = nullptr;
  }
  std::function<Result<Dataset>(Connection&)> job = [this, workspace_id,
                                                     dataset](Connection& c) -> Result<Dataset> {
    auto ws = tenants_.lookup(c, workspace_id, true);
    if (!ws) return std::move(ws).error();
    if (!*ws) return Error::internal("workspace has no tenant number");
    auto taken = c.cached("SELECT 1 FROM datasets WHERE ws = ?1 AND name = ?2");
    if (!taken) return std::move(taken).error();
    auto exists = (*taken)->bindInt64(1, **ws).bindText(2, dataset.name).step();
    if (!exists) return std::move(exists).error();
    (*taken)->reset();
    if (*exists) {
      return Error::alreadyExists(
          fmt::format("a dataset named {} already exists", core::jsonString(dataset.name)));
    }
    auto s = c.cached(
        "INSERT INTO datasets(ws, id, name, description, data_type, inputs_schema, "
        "outputs_schema, extra, created_at, modified_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)");
    if (!s) return std::move(s).error();
    (*s)->bindInt64(1, **ws).bindText(2, dataset.id).bindText(3, dataset.name);
    (*s)->bindOptionalText(4, dataset.description);
    (*s)->bindText(5, dataset.data_type);
    bindJsonOrNull(**s, 6, dataset.inputs_schema);
    bindJsonOrNull(**s, 7, dataset.outputs_schema);
    bindJsonOrNull(**s, 8, dataset.extra);
    (*s)->bindInt64(9, dataset.created_at);
    if (auto done = (*s)->run(); !done) {
      if (done.error().code == core::ErrorCode::kAlreadyExists) {
        return Error::alreadyExists(
            fmt::format("a dataset with the id {} already exists", dataset.id));
      }
      return done.error();
    }
    Dataset out = dataset;
    out.modified_at = out.created_at;
    return out;
  };
  auto pending = database_.write<Dataset>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<std::vector<Dataset>>> DatasetStore::listDatasets(std::string workspace_id,
                                                                         DatasetListQuery query) {
  std::function<Result<std::vector<Dataset>>(Connection&)> job =
      [this, workspace_id, query](Connection& c) -> Result<std::vector<Dataset>> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    std::vector<Dataset> out;
    if (!*ws) return out;
    Sql sql;
    sql.add(fmt::format("SELECT {} FROM datasets d WHERE d.ws = ?", kDatasetColumns))
        .bind(**ws)
        .andIn("d.id", query.ids)
        .andEqual("d.name", query.name)
        .andContains("d.name", query.name_contains)
        .andEqual("d.data_type", query.data_type)
        .add(" ORDER BY d.created_at DESC, d.seq DESC");
    if (!query.metadata) sql.page(query.limit, query.offset);
    auto s = prepare(c, sql);
    if (!s) return std::move(s).error();
    std::size_t skipped = 0;
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      auto dataset = datasetRow(*s);
      if (!dataset) return std::move(dataset).error();
      if (query.metadata) {
        const json::value* metadata = dataset->extra.is_object()
                                          ? dataset->extra.get_object().if_contains("metadata")
                                          : nullptr;
        if (metadata == nullptr || !jsonContains(*metadata, *query.metadata)) continue;
        if (skipped < query.offset) {
          ++skipped;
          continue;
        }
        if (out.size() >= query.limit) break;
      }
      out.push_back(std::move(dataset).value());
    }
    return out;
  };
  auto pending = database_.read<std::vector<Dataset>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<Dataset>> DatasetStore::getDataset(std::string workspace_id,
                                                          std::string id) {
  std::function<Result<Dataset>(Connection&)> job = [this, workspace_id,
                                                     id](Connection& c) -> Result<Dataset> {
    auto ref = findDataset(c, workspace_id, id);
    if (!ref) return std::move(ref).error();
    auto dataset = selectDataset(c, ref->ws, ref->seq);
    if (!dataset) return std::move(dataset).error();
    if (!*dataset) return Error::notFound(fmt::format("no dataset has the id {}", id));
    return std::move(**dataset);
  };
  auto pending = database_.read<Dataset>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<DatasetUpdateOutcome>> DatasetStore::updateDataset(std::string workspace_id,
                                                                          std::string id,
                                                                          DatasetUpdate update) {
  // Compile first: a bad schema is the caller's error whatever the examples.
  std::optional<JsonSchema> new_inputs, new_outputs;
  for (auto [schema, compiled, field] :
       {std::tuple{&update.inputs_schema, &new_inputs, "inputs_schema_definition"},
        std::tuple{&update.outputs_schema, &new_outputs, "outputs_schema_definition"}}) {
    if (!*schema) continue;
    auto c = compileSchema(**schema, field);
    if (!c) co_return std::move(c).error();
    *compiled = std::move(*c);
    if (isNoSchema(**schema)) **schema = nullptr;
  }
  std::function<Result<DatasetUpdateOutcome>(Connection&)> job =
      [this, workspace_id, id, update, new_inputs,
       new_outputs](Connection& c) -> Result<DatasetUpdateOutcome> {
    auto ref = findDataset(c, workspace_id, id);
    if (!ref) return std::move(ref).error();
    auto loaded = selectDataset(c, ref->ws, ref->seq);
    if (!loaded) return std::move(loaded).error();
    if (!*loaded) return Error::notFound(fmt::format("no dataset has the id {}", id));
    DatasetUpdateOutcome outcome;
    Dataset& d = outcome.dataset;
    d = std::move(**loaded);
    // A changed schema must hold for every current example, so stored examples stay valid.
    const bool inputs_changed = update.inputs_schema && *update.inputs_schema != d.inputs_schema;
    const bool outputs_changed =
        update.outputs_schema && *update.outputs_schema != d.outputs_schema;
    if ((inputs_changed && new_inputs) || (outputs_changed && new_outputs)) {
      DatasetSchemas schemas;
      if (inputs_changed) schemas.inputs = new_inputs;
      if (outputs_changed) schemas.outputs = new_outputs;
      auto s = c.prepare(fmt::format(
          "SELECT {} FROM examples e JOIN datasets d ON d.seq = e.dataset WHERE e.dataset = ?1 "
          "AND e.valid_to IS NULL AND e.deleted = 0 ORDER BY e.created_at, e.id",
          kExampleColumns));
      if (!s) return std::move(s).error();
      s->bindInt64(1, ref->seq);
      for (std::size_t index = 0;; ++index) {
        auto more = s->step();
        if (!more) return std::move(more).error();
        if (!*more) break;
        auto row = exampleRow(*s);
        if (!row) return std::move(row).error();
        if (checkExample(schemas, row->example.id, index, row->example.inputs, row->example.outputs,
                         outcome.rejected, kMaxSchemaChangeRejections)) {
          ++outcome.rejected_examples;
        }
      }
      if (!outcome.rejected.empty()) return outcome;
    }
    if (update.name) d.name = *update.name;
    if (update.description) d.description = *update.description;
    if (update.inputs_schema) d.inputs_schema = *update.inputs_schema;
    if (update.outputs_schema) d.outputs_schema = *update.outputs_schema;
    if (update.metadata) {
      if (!d.extra.is_object()) d.extra = json::object();
      d.extra.get_object()["metadata"] = *update.metadata;
    }
    auto at = writeTime(c, ref->seq);
    if (!at) return std::move(at).error();
    d.modified_at = *at;
    auto s = c.cached(
        "UPDATE datasets SET name = ?2, description = ?3, inputs_schema = ?4, outputs_schema = ?5, "
        "extra = ?6, modified_at = ?7 WHERE seq = ?1");
    if (!s) return std::move(s).error();
    (*s)->bindInt64(1, ref->seq).bindText(2, d.name);
    (*s)->bindOptionalText(3, d.description);
    bindJsonOrNull(**s, 4, d.inputs_schema);
    bindJsonOrNull(**s, 5, d.outputs_schema);
    bindJsonOrNull(**s, 6, d.extra);
    (*s)->bindInt64(7, d.modified_at);
    if (auto done = (*s)->run(); !done) {
      if (done.error().code == core::ErrorCode::kAlreadyExists) {
        return Error::alreadyExists(
            fmt::format("a dataset named {} already exists", core::jsonString(d.name)));
      }
      return done.error();
    }
    return outcome;
  };
  auto pending = database_.write<DatasetUpdateOutcome>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Status> DatasetStore::deleteDataset(std::string workspace_id, std::string id) {
  std::function<Result<bool>(Connection&)> job = [this, workspace_id,
                                                  id](Connection& c) -> Result<bool> {
    auto ref = findDataset(c, workspace_id, id);
    if (!ref) return std::move(ref).error();
    constexpr std::string_view kDeletes[] = {
        // Attachments go with the dataset's examples, unless the id lives on in another dataset
        // (deleted here, then created there).
        "DELETE FROM example_attachments WHERE ws = ?1 AND example_id IN "
        "(SELECT id FROM examples WHERE dataset = ?2) AND example_id NOT IN "
        "(SELECT id FROM examples WHERE ws = ?1 AND dataset != ?2 AND valid_to IS NULL)",
        "DELETE FROM example_splits WHERE dataset = ?2",
        "DELETE FROM examples WHERE ws = ?1 AND dataset = ?2",
        "DELETE FROM datasets WHERE ws = ?1 AND seq = ?2",
    };
    for (std::string_view sql : kDeletes) {
      auto s = c.prepare(sql);
      if (!s) return std::move(s).error();
      if (auto done = s->bindInt64(1, ref->ws).bindInt64(2, ref->seq).run(); !done) {
        return done.error();
      }
    }
    return true;
  };
  auto pending = database_.write<bool>(std::move(job));
  auto result = co_await std::move(pending);
  if (!result) co_return result.error();
  co_return Status{};
}

Result<ExampleWriteOutcome> DatasetStore::writeExamples(Connection& c,
                                                        const std::string& workspace_id,
                                                        const std::string& dataset_id,
                                                        const std::vector<ExampleWrite>& examples,
                                                        bool create, bool upsert) {
  auto ref = findDataset(c, workspace_id, dataset_id);
  if (!ref) return std::move(ref).error();
  const std::int64_t ws = ref->ws;
  auto schemas = loadSchemas(c, ref->seq);
  if (!schemas) return std::move(schemas).error();
  auto at = writeTime(c, ref->seq);
  if (!at) return std::move(at).error();
  const std::int64_t now = *at;

  // First decide every write and check every example; nothing is written unless all pass.
  ExampleWriteOutcome outcome;
  std::vector<PlannedWrite> plans;
  plans.reserve(examples.size());
  std::set<std::string> seen;
  for (std::size_t index = 0; index < examples.size(); ++index) {
    const ExampleWrite& write = examples[index];
    if (!seen.insert(write.id).second) {
      return Error::invalidArgument(
          fmt::format("example {} appears more than once in the request", write.id));
    }
    PlannedWrite plan;
    plan.write = &write;
    auto previous = currentRevision(c, ws, write.id);
    if (!previous) return std::move(previous).error();
    plan.previous = std::move(*previous);
    const bool live = plan.previous && !plan.previous->deleted;
    if (live && plan.previous->dataset != ref->seq) {
      return Error::alreadyExists(fmt::format("example {} already exists in another dataset ({})",
                                              write.id, plan.previous->example.dataset_id));
    }
    Example& next = plan.next;
    next.id = write.id;
    next.dataset_id = dataset_id;
    std::optional<json::object> inputs = write.inputs;
    std::optional<json::object> outputs = write.outputs;
    if (write.use_source_run_io) {
      if (!write.source_run_id) {
        return Error::invalidArgument(
            fmt::format("example {}: use_source_run_io needs a source_run_id", write.id));
      }
      auto io = sourceRunIo(c, ws, *write.source_run_id);
      if (!io) return std::move(io).error();
      inputs = std::move(io->first);
      outputs = std::move(io->second);
    }
    if (create) {
      if (live && !upsert) {
        return Error::alreadyExists(fmt::format("example {} already exists", write.id));
      }
      if (!inputs)
        return Error::invalidArgument(fmt::format("example {}: inputs are required", write.id));
      next.inputs = std::move(*inputs);
      next.outputs = std::move(outputs);
      next.metadata = write.metadata.value_or(json::object());
      if (write.splits) {
        setSplits(next.metadata, *write.splits);
      } else if (next.metadata.contains("dataset_split")) {
        setSplits(next.metadata, splitsOf(next.metadata));
      }
      next.source_run_id = write.source_run_id;
      next.created_at = live ? plan.previous->example.created_at : write.created_at.value_or(now);
      plan.replace_attachments = !live;
      plan.no_op = live && write.attachments.empty() &&
                   next.inputs == plan.previous->example.inputs &&
                   next.outputs == plan.previous->example.outputs &&
                   next.metadata == plan.previous->example.metadata &&
                   next.source_run_id == plan.previous->example.source_run_id;
    } else {
      if (!live || plan.previous->dataset != ref->seq) {
        return Error::notFound(
            fmt::format("dataset {} has no example with the id {}", dataset_id, write.id));
      }
      const Example& old = plan.previous->example;
      next.inputs = inputs ? std::move(*inputs) : old.inputs;
      next.outputs = outputs ? std::move(outputs) : old.outputs;
      next.metadata = write.metadata ? *write.metadata : old.metadata;
      if (write.splits) {
        setSplits(next.metadata, *write.splits);
      } else if (next.metadata.contains("dataset_split")) {
        setSplits(next.metadata, splitsOf(next.metadata));
      } else if (const json::value* splits = old.metadata.if_contains("dataset_split")) {
        next.metadata["dataset_split"] = *splits;  // a metadata update keeps the splits
      }
      next.source_run_id = write.source_run_id ? write.source_run_id : old.source_run_id;
      next.created_at = old.created_at;
    }
    next.modified_at = now;
    if (checkExample(*schemas, write.id, index, next.inputs, next.outputs, outcome.rejected,
                     kMaxListedRejections)) {
      ++outcome.rejected_examples;
    }
    outcome.example_ids.push_back(write.id);
    plans.push_back(std::move(plan));
  }
  if (!outcome.rejected.empty()) {
    outcome.example_ids.clear();
    return outcome;
  }

  bool wrote = false;
  for (const PlannedWrite& plan : plans) {
    if (plan.no_op) continue;
    wrote = true;
    if (plan.previous) {
      if (auto done = closeRevision(c, plan.previous->seq, now); !done) return done.error();
      if (plan.previous->dataset != ref->seq) {
        if (auto done = rewriteSplits(c, plan.previous->dataset, plan.next.id, {}); !done) {
          return done.error();
        }
      }
    }
    if (auto done = insertRevision(c, ws, ref->seq, plan.next, false); !done) return done.error();
    if (auto done = rewriteSplits(c, ref->seq, plan.next.id, splitsOf(plan.next.metadata)); !done) {
      return done.error();
    }
    if (auto done = writeAttachments(c, ws, plan); !done) return done.error();
  }
  if (wrote) {
    if (auto done = touchDataset(c, ref->seq, now); !done) return done.error();
    outcome.as_of = now;
  } else {
    auto last = datasetModifiedAt(c, ref->seq);
    if (!last) return std::move(last).error();
    outcome.as_of = *last;
  }
  return outcome;
}

asio::awaitable<Result<ExampleWriteOutcome>> DatasetStore::createExamples(
    std::string workspace_id, std::string dataset_id, std::vector<ExampleWrite> examples,
    bool upsert) {
  std::function<Result<ExampleWriteOutcome>(Connection&)> job =
      [this, workspace_id, dataset_id, examples = std::move(examples),
       upsert](Connection& c) -> Result<ExampleWriteOutcome> {
    return writeExamples(c, workspace_id, dataset_id, examples, true, upsert);
  };
  auto pending = database_.write<ExampleWriteOutcome>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<ExampleWriteOutcome>> DatasetStore::updateExamples(
    std::string workspace_id, std::string dataset_id, std::vector<ExampleWrite> examples) {
  std::function<Result<ExampleWriteOutcome>(Connection&)> job =
      [this, workspace_id, dataset_id,
       examples = std::move(examples)](Connection& c) -> Result<ExampleWriteOutcome> {
    return writeExamples(c, workspace_id, dataset_id, examples, false, false);
  };
  auto pending = database_.write<ExampleWriteOutcome>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<Example>> DatasetStore::getExample(std::string workspace_id, std::string id,
                                                          std::optional<std::int64_t> as_of) {
  std::function<Result<Example>(Connection&)> job = [this, workspace_id, id,
                                                     as_of](Connection& c) -> Result<Example> {
    const Error missing = Error::notFound(
        as_of ? fmt::format("no example had the id {} at {}", id, core::formatIso8601Micros(*as_of))
              : fmt::format("no example has the id {}", id));
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return missing;
    std::string sql = fmt::format(
        "SELECT {} FROM examples e JOIN datasets d ON d.seq = e.dataset WHERE e.ws = ? AND "
        "e.id = ?",
        kExampleColumns);
    std::vector<SqlValue> params{**ws, id};
    if (as_of) {
      sql += kValidAt;
      params.emplace_back(*as_of);
      params.emplace_back(*as_of);
    } else {
      sql += " AND e.valid_to IS NULL AND e.deleted = 0";
    }
    auto s = c.prepare(sql);
    if (!s) return std::move(s).error();
    s->bindAll(params);
    auto found = collectExamples(c, **ws, *s, std::nullopt, 0, 1);
    if (!found) return std::move(found).error();
    if (found->empty()) return missing;
    return std::move(found->front());
  };
  auto pending = database_.read<Example>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<std::vector<Example>>> DatasetStore::listExamples(std::string workspace_id,
                                                                         ExampleListQuery query) {
  std::function<Result<std::vector<Example>>(Connection&)> job =
      [this, workspace_id, query](Connection& c) -> Result<std::vector<Example>> {
    std::vector<SqlValue> params;
    std::int64_t ws = 0;
    std::string sql =
        fmt::format("SELECT {} FROM examples e JOIN datasets d ON d.seq = e.dataset WHERE e.ws = ?",
                    kExampleColumns);
    if (query.dataset_id) {
      auto ref = findDataset(c, workspace_id, *query.dataset_id);
      if (!ref) return std::move(ref).error();
      ws = ref->ws;
      params.emplace_back(ws);
      sql += " AND e.dataset = ?";
      params.emplace_back(ref->seq);
    } else {
      auto tenant = tenants_.lookup(c, workspace_id, false);
      if (!tenant) return std::move(tenant).error();
      if (!*tenant) return std::vector<Example>();
      ws = **tenant;
      params.emplace_back(ws);
    }
    if (!query.ids.empty()) appendIn(sql, params, "e.id", query.ids);
    if (query.as_of) {
      sql += kValidAt;
      params.emplace_back(*query.as_of);
      params.emplace_back(*query.as_of);
      if (!query.splits.empty()) {
        // Past revisions: their splits are only in their metadata.
        sql += " AND EXISTS (SELECT 1 FROM json_each(e.metadata, '$.dataset_split') j WHERE 1";
        appendIn(sql, params, "j.value", query.splits);
        sql += ")";
      }
    } else {
      sql += " AND e.valid_to IS NULL AND e.deleted = 0";
      if (!query.splits.empty()) {
        sql += " AND e.id IN (SELECT example_id FROM example_splits x WHERE x.dataset = e.dataset";
        appendIn(sql, params, "x.split", query.splits);
        sql += ")";
      }
    }
    sql += " ORDER BY e.created_at, e.id";
    if (!query.metadata) {
      sql += " LIMIT ? OFFSET ?";
      params.emplace_back(static_cast<std::int64_t>(query.limit));
      params.emplace_back(static_cast<std::int64_t>(query.offset));
    }
    auto s = c.prepare(sql);
    if (!s) return std::move(s).error();
    s->bindAll(params);
    return collectExamples(c, ws, *s, query.metadata, query.offset, query.limit);
  };
  auto pending = database_.read<std::vector<Example>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<DatasetVersion>> DatasetStore::deleteExamples(std::string workspace_id,
                                                                     std::vector<std::string> ids) {
  std::function<Result<DatasetVersion>(Connection&)> job =
      [this, workspace_id, ids](Connection& c) -> Result<DatasetVersion> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    std::vector<ExampleRow> rows;
    std::set<std::int64_t> datasets;
    std::set<std::string> seen;
    for (const std::string& id : ids) {
      if (!seen.insert(id).second) continue;
      std::optional<ExampleRow> row;
      if (*ws) {
        auto found = currentRevision(c, **ws, id);
        if (!found) return std::move(found).error();
        row = std::move(*found);
      }
      if (!row || row->deleted) return Error::notFound(fmt::format("no example has the id {}", id));
      datasets.insert(row->dataset);
      rows.push_back(std::move(*row));
    }
    // One time for the whole delete: after the last version of every dataset it touches.
    std::int64_t now = core::unixMicrosNow();
    for (std::int64_t dataset : datasets) {
      auto at = writeTime(c, dataset);
      if (!at) return std::move(at).error();
      now = std::max(now, *at);
    }
    for (ExampleRow& row : rows) {
      if (auto done = closeRevision(c, row.seq, now); !done) return done.error();
      row.example.modified_at = now;
      if (auto done = insertRevision(c, **ws, row.dataset, row.example, true); !done) {
        return done.error();
      }
      if (auto done = rewriteSplits(c, row.dataset, row.example.id, {}); !done) {
        return done.error();
      }
    }
    for (std::int64_t dataset : datasets) {
      if (auto done = touchDataset(c, dataset, now); !done) return done.error();
    }
    return DatasetVersion{now};
  };
  auto pending = database_.write<DatasetVersion>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<std::optional<AttachmentUpload>>> DatasetStore::getAttachment(
    std::string workspace_id, std::string example_id, std::string name) {
  std::function<Result<std::optional<AttachmentUpload>>(Connection&)> job =
      [this, workspace_id, example_id,
       name](Connection& c) -> Result<std::optional<AttachmentUpload>> {
    auto ws = tenants_.lookup(c, workspace_id, false);
    if (!ws) return std::move(ws).error();
    if (!*ws) return std::optional<AttachmentUpload>();
    auto s = c.cached(
        "SELECT content_type, data FROM example_attachments WHERE ws = ?1 AND example_id = ?2 "
        "AND name = ?3");
    if (!s) return std::move(s).error();
    auto row = (*s)->bindInt64(1, **ws).bindText(2, example_id).bindText(3, name).step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<AttachmentUpload>();
    AttachmentUpload out{name, std::string((*s)->columnText(0)), std::string((*s)->columnBlob(1))};
    (*s)->reset();
    return std::optional<AttachmentUpload>(std::move(out));
  };
  auto pending = database_.read<std::optional<AttachmentUpload>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<std::vector<DatasetVersion>>> DatasetStore::listVersions(
    std::string workspace_id, std::string dataset_id, std::size_t offset, std::size_t limit) {
  std::function<Result<std::vector<DatasetVersion>>(Connection&)> job =
      [this, workspace_id, dataset_id, offset,
       limit](Connection& c) -> Result<std::vector<DatasetVersion>> {
    auto ref = findDataset(c, workspace_id, dataset_id);
    if (!ref) return std::move(ref).error();
    auto s = c.prepare(
        "SELECT DISTINCT modified_at FROM examples WHERE dataset = ?1 ORDER BY modified_at DESC "
        "LIMIT ?2 OFFSET ?3");
    if (!s) return std::move(s).error();
    s->bindInt64(1, ref->seq)
        .bindInt64(2, static_cast<std::int64_t>(limit))
        .bindInt64(3, static_cast<std::int64_t>(offset));
    std::vector<DatasetVersion> out;
    auto walked = eachRow(*s, [&](const Statement& row) { out.push_back({row.columnInt64(0)}); });
    if (!walked) return walked.error();
    return out;
  };
  auto pending = database_.read<std::vector<DatasetVersion>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<DatasetVersion>> DatasetStore::versionAt(std::string workspace_id,
                                                                std::string dataset_id,
                                                                std::int64_t as_of) {
  std::function<Result<DatasetVersion>(Connection&)> job =
      [this, workspace_id, dataset_id, as_of](Connection& c) -> Result<DatasetVersion> {
    auto ref = findDataset(c, workspace_id, dataset_id);
    if (!ref) return std::move(ref).error();
    auto s = c.prepare(
        "SELECT coalesce((SELECT max(modified_at) FROM examples WHERE dataset = ?1 AND "
        "modified_at <= ?2), (SELECT created_at FROM datasets WHERE seq = ?1))");
    if (!s) return std::move(s).error();
    auto row = s->bindInt64(1, ref->seq).bindInt64(2, as_of).step();
    if (!row) return std::move(row).error();
    return DatasetVersion{s->columnInt64(0)};
  };
  auto pending = database_.read<DatasetVersion>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

asio::awaitable<Result<std::vector<std::string>>> DatasetStore::listSplits(
    std::string workspace_id, std::string dataset_id, std::optional<std::int64_t> as_of) {
  std::function<Result<std::vector<std::string>>(Connection&)> job =
      [this, workspace_id, dataset_id, as_of](Connection& c) -> Result<std::vector<std::string>> {
    auto ref = findDataset(c, workspace_id, dataset_id);
    if (!ref) return std::move(ref).error();
    std::string sql;
    std::vector<SqlValue> params{ref->seq};
    if (as_of) {
      sql = fmt::format(
          "SELECT DISTINCT j.value FROM examples e, json_each(e.metadata, '$.dataset_split') j "
          "WHERE e.dataset = ? AND typeof(j.value) = 'text'{} ORDER BY 1",
          kValidAt);
      params.emplace_back(*as_of);
      params.emplace_back(*as_of);
    } else {
      sql = "SELECT DISTINCT split FROM example_splits WHERE dataset = ? ORDER BY 1";
    }
    auto s = c.prepare(sql);
    if (!s) return std::move(s).error();
    s->bindAll(params);
    std::vector<std::string> out;
    auto walked = eachRow(*s, [&](const Statement& row) { out.emplace_back(row.columnText(0)); });
    if (!walked) return walked.error();
    return out;
  };
  auto pending = database_.read<std::vector<std::string>>(std::move(job));
  auto result = co_await std::move(pending);
  co_return result;
}

}  // namespace pharos::eval
