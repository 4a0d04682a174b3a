#include "tracing/api/langsmith_routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/json_value.h"
#include "core/log.h"
#include "core/time.h"
#include "http/multipart.h"
#include "tracing/api/request_json.h"
#include "tracing/ingest/langsmith_ingest.h"
#include "tracing/json_text.h"
#include "tracing/query/filter_validate.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using http::Request;
using http::Response;

// LangSmith's own page size ceiling for /runs/query.
constexpr std::size_t kMaxQueryLimit = 100;
constexpr std::size_t kMaxProjectLimit = 1000;
constexpr std::int64_t kMaxStatsBuckets = 10'000;

Result<query::FilterExpr> filterParam(const json::object& body, std::string_view key) {
  auto text = optionalString(body, key);
  if (!text) return std::move(text).error();
  if (!*text) return query::FilterExpr{};
  auto parsed = query::parseAndValidateFilter(**text);
  if (!parsed) {
    // The filter language's messages start "filter: "; name the key the caller actually used.
    std::string message = parsed.error().message;
    if (key != "filter" && message.starts_with("filter: ")) {
      message = std::string(key) + message.substr(6);
    }
    return Error::invalidArgument(std::move(message));
  }
  return std::move(parsed).value();
}

Result<RunQuery> parseRunQuery(const json::object& body) {
  RunQuery q;
#define PHAROS_TRY(target, expr)           \
  do {                                     \
    auto _r = (expr);                      \
    if (!_r) return std::move(_r).error(); \
    target = std::move(_r).value();        \
  } while (false)
  PHAROS_TRY(q.session_ids, uuidList(body, "session"));
  PHAROS_TRY(q.filter, filterParam(body, "filter"));
  PHAROS_TRY(q.trace_filter, filterParam(body, "trace_filter"));
  PHAROS_TRY(q.tree_filter, filterParam(body, "tree_filter"));
  PHAROS_TRY(q.is_root, optionalBool(body, "is_root"));
  PHAROS_TRY(q.run_type, optionalString(body, "run_type"));
  PHAROS_TRY(q.trace_id, optionalUuid(body, "trace"));
  PHAROS_TRY(q.parent_run_id, optionalUuid(body, "parent_run"));
  PHAROS_TRY(q.has_error, optionalBool(body, "error"));
  PHAROS_TRY(q.ids, uuidList(body, "id"));
  PHAROS_TRY(q.start_time_from, optionalTime(body, "start_time"));
  PHAROS_TRY(q.thread_id, optionalString(body, "thread_id"));
  std::vector<std::string> references;
  PHAROS_TRY(references, uuidList(body, "reference_example"));
  if (references.size() > 1) {
    // Rare (the Python SDK's list form): fold into the filter as in(...).
    return Error::invalidArgument("reference_example: give one example id");
  }
  if (!references.empty()) q.reference_example_id = references.front();
  // A larger limit is served as pages of kMaxQueryLimit (the JS client passes listRuns' limit
  // through and follows the cursor), rather than refused.
  std::optional<std::size_t> limit;
  PHAROS_TRY(limit, optionalCount(body, "limit", std::numeric_limits<std::int32_t>::max()));
  if (limit) q.limit = std::min(*limit, kMaxQueryLimit);
  std::optional<std::string> order;
  PHAROS_TRY(order, optionalString(body, "order"));
  if (order) {
    if (*order != "asc" && *order != "desc") {
      return Error::invalidArgument(
          fmt::format("order: expected \"asc\" or \"desc\", got {}", core::jsonString(*order)));
    }
    q.ascending = *order == "asc";
  }
  PHAROS_TRY(q.cursor, optionalString(body, "cursor"));
  if (const json::value* execution_order = present(body, "execution_order")) {
    // Deprecated; only "1" (roots) is meaningful without per-trace counters.
    if (!execution_order->is_number() || execution_order->to_number<double>() != 1) {
      return Error::invalidArgument("execution_order: only 1 (root runs) is supported");
    }
    q.is_root = true;
  }
  std::vector<std::string> select;
  PHAROS_TRY(select, stringList(body, "select"));
#undef PHAROS_TRY
  if (present(body, "select") != nullptr) {
    const auto has = [&](std::string_view name) {
      return std::find(select.begin(), select.end(), name) != select.end();
    };
    q.select.inputs = has("inputs");
    q.select.outputs = has("outputs");
    q.select.events = has("events");
    q.select.extra = has("extra");
    q.select.serialized = has("serialized");
  }
  if (const json::value* text = present(body, "query")) {
    // Natural-language search is LangSmith's experimental feature; a full-text search of the
    // words is the honest equivalent here.
    if (!text->is_string()) return Error::invalidArgument("query: expected a string");
    if (!text->get_string().empty()) {
      query::FilterExpr search;
      search.root = query::Call{query::Function::kSearch,
                                {query::Node{query::Literal{std::string(text->get_string()), 0}}},
                                0};
      if (q.filter.root) {
        q.filter.root = query::Call{
            query::Function::kAnd,
            {query::Node{std::move(*q.filter.root)}, query::Node{std::move(*search.root)}},
            0};
      } else {
        q.filter = std::move(search);
      }
    }
  }
  return q;
}

// The JSON array of ignored-field warnings, at most kMaxWarnings of them.
constexpr std::size_t kMaxWarnings = 100;
std::string warningsJson(const std::vector<std::string>& warnings) {
  std::string out = "[";
  for (std::size_t i = 0; i < warnings.size() && i < kMaxWarnings; ++i) {
    if (i > 0) out.push_back(',');
    core::appendJsonString(out, warnings[i]);
  }
  out.push_back(']');
  return out;
}

// 202 when every run was stored; else 422 naming each rejected part (the valid runs are stored).
// Either way the body lists the unknown fields that were ignored, so a misspelt field shows up.
Response ingestResponse(const IngestOutcome& outcome,
                        const std::vector<RejectedRun>& decode_rejections,
                        const std::vector<std::string>& warnings) {
  std::vector<RejectedRun> all = decode_rejections;
  all.insert(all.end(), outcome.rejected.begin(), outcome.rejected.end());
  if (all.empty()) {
    return Response::json(202, fmt::format(R"({{"stored":{},"warnings":{}}})", outcome.stored,
                                           warningsJson(warnings)));
  }
  std::string body = R"({"error":{"type":"invalid_runs","message":)";
  core::appendJsonString(
      body, fmt::format("{} of {} runs rejected; the others were stored. First: {}: {}", all.size(),
                        all.size() + outcome.stored, all.front().origin, all.front().message));
  body += fmt::format(R"(}},"stored":{},"warnings":{},"rejected":[)", outcome.stored,
                      warningsJson(warnings));
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (i > 0) body.push_back(',');
    body += R"({"part":)";
    core::appendJsonString(body, all[i].origin);
    body += R"(,"message":)";
    core::appendJsonString(body, all[i].message);
    body.push_back('}');
  }
  body += "]}";
  return Response::json(422, std::move(body));
}

json::object projectJson(const Project& p, const std::string& workspace_id,
                         const std::optional<ProjectStats>& stats) {
  json::object out;
  out["id"] = p.id;
  out["name"] = p.name;
  out["tenant_id"] = workspace_id;
  out["description"] = core::optionalJson(p.description);
  out["extra"] = p.extra;
  out["reference_dataset_id"] = core::optionalJson(p.reference_dataset_id);
  out["start_time"] = core::formatIso8601Micros(p.start_time);
  out["end_time"] =
      p.end_time ? json::value(core::formatIso8601Micros(*p.end_time)) : json::value(nullptr);
  out["num_examples"] = core::optionalJson(p.num_examples);
  out["num_repetitions"] = core::optionalJson(p.num_repetitions);
  out["evaluator_keys"] = p.evaluator_keys;
  if (stats) {
    out["run_count"] = stats->run_count;
    out["error_rate"] = stats->run_count > 0 ? static_cast<double>(stats->error_count) /
                                                   static_cast<double>(stats->run_count)
                                             : 0.0;
    out["latency_p50"] = core::optionalJson(stats->latency_p50);
    out["latency_p95"] = core::optionalJson(stats->latency_p95);
    out["latency_p99"] = core::optionalJson(stats->latency_p99);
    out["prompt_tokens"] = stats->prompt_tokens;
    out["completion_tokens"] = stats->completion_tokens;
    out["total_tokens"] = stats->total_tokens;
    out["total_cost"] = stats->total_cost;
  }
  return out;
}

json::object statsJson(const ProjectStats& s) {
  json::object out;
  out["run_count"] = s.run_count;
  out["error_count"] = s.error_count;
  out["error_rate"] =
      s.run_count > 0 ? static_cast<double>(s.error_count) / static_cast<double>(s.run_count) : 0.0;
  out["latency_p50"] = core::optionalJson(s.latency_p50);
  out["latency_p95"] = core::optionalJson(s.latency_p95);
  out["latency_p99"] = core::optionalJson(s.latency_p99);
  out["prompt_tokens"] = s.prompt_tokens;
  out["completion_tokens"] = s.completion_tokens;
  out["total_tokens"] = s.total_tokens;
  out["total_cost"] = s.total_cost;
  return out;
}

// The runs of a trace (dotted order) as a forest: each run gets "child_runs", children in tree
// order. Built by splicing the stored JSON texts, iteratively so a deep chain cannot overflow.
std::string traceTree(const std::string& trace_id, const std::vector<TraceRun>& runs) {
  std::unordered_map<std::string_view, std::size_t> index;
  for (std::size_t i = 0; i < runs.size(); ++i) index.emplace(runs[i].id, i);
  std::vector<std::vector<std::size_t>> children(runs.size());
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& parent = runs[i].parent_run_id;
    auto it = parent ? index.find(*parent) : index.end();
    if (it == index.end() || it->second == i) {
      roots.push_back(i);  // a root, or a run whose parent never arrived
    } else {
      children[it->second].push_back(i);
    }
  }
  std::string out = R"({"trace_id":)";
  core::appendJsonString(out, trace_id);
  out += fmt::format(R"(,"run_count":{},"runs":[)", runs.size());
  struct Frame {
    std::size_t run;
    std::size_t next_child = 0;
  };
  std::vector<Frame> stack;
  std::vector<bool> visited(runs.size(), false);
  for (std::size_t r = 0; r < roots.size(); ++r) {
    if (r > 0) out.push_back(',');
    stack.push_back({roots[r]});
    visited[roots[r]] = true;
    const std::string& first = runs[roots[r]].json;
    out.append(first, 0, first.size() - 1);
    out += R"(,"child_runs":[)";
    while (!stack.empty()) {
      Frame& top = stack.back();
      if (top.next_child < children[top.run].size()) {
        const std::size_t child = children[top.run][top.next_child];
        if (top.next_child > 0) out.push_back(',');
        ++top.next_child;
        if (visited[child]) continue;  // a cycle of parent links: show each run once
        visited[child] = true;
        const std::string& text = runs[child].json;
        out.append(text, 0, text.size() - 1);
        out += R"(,"child_runs":[)";
        stack.push_back({child});
      } else {
        out += "]}";
        stack.pop_back();
      }
    }
  }
  // Runs caught in a parent cycle (never reachable from a root) still show, flat.
  for (std::size_t i = 0; i < runs.size(); ++i) {
    if (visited[i]) continue;
    if (out.back() != '[') out.push_back(',');
    const std::string& text = runs[i].json;
    out.append(text, 0, text.size() - 1);
    out += R"(,"child_runs":[]})";
  }
  out += "]}";
  return out;
}

// POST /runs and PATCH /runs/{id}: one run, all or nothing.
http::Awaitable<Response> ingestOne(RunStore& store, const Request& request,
                                    Result<ParsedRun> parsed) {
  if (!parsed) co_return Response::fromError(parsed.error());
  std::vector<PreparedRun> runs;
  runs.push_back(prepareRun(std::move(parsed->run), "body", store.prices()));
  auto outcome = co_await store.ingest(request.identity().workspace_id, std::move(runs), {});
  if (!outcome) co_return Response::fromError(outcome.error());
  if (!outcome->rejected.empty()) {
    co_return Response::fromError(Error::invalidArgument(outcome->rejected.front().message));
  }
  co_return Response::json(
      202, fmt::format(R"({{"stored":1,"warnings":{}}})", warningsJson(parsed->warnings)));
}

Result<std::int64_t> durationParam(std::string_view text, std::string_view name) {
  auto seconds = query::parseDurationSeconds(text);
  // At least a microsecond (the unit of stored times), at most ten years.
  if (!seconds || *seconds < 1e-6 || *seconds > 10 * 366 * 86400.0) {
    return Error::invalidArgument(
        fmt::format("{}: expected a duration such as \"15m\", \"1h\" or \"30s\", got {}", name,
                    core::jsonString(text)));
  }
  return static_cast<std::int64_t>(*seconds * 1e6);
}

Result<std::int64_t> timeQueryParam(std::string_view text, std::string_view name) {
  auto micros = query::parseTimestampMicros(text);
  if (!micros) {
    return Error::invalidArgument(
        fmt::format("{}: not an ISO-8601 time: {}", name, core::jsonString(text)));
  }
  return *micros;
}

// A project's JSON with its stats: the run figures, and whatever `more_stats` adds.
http::Awaitable<Result<json::object>> projectWithStats(std::shared_ptr<RunStore> store,
                                                       ProjectStatsFields more_stats,
                                                       std::string workspace, Project project) {
  auto computing = store->projectStats(workspace, project.id);
  auto stats = co_await std::move(computing);
  if (!stats) co_return stats.error();
  json::object out = projectJson(project, workspace, *stats);
  if (more_stats) {
    auto adding = more_stats(workspace, project);
    auto more = co_await std::move(adding);
    if (!more) co_return more.error();
    for (auto& [key, value] : *more) out[key] = std::move(value);
  }
  co_return out;
}

}  // namespace

void addLangSmithRoutes(http::Router& router, std::shared_ptr<RunStore> store,
                        const core::TracingSettings& settings, std::string_view version,
                        ProjectStatsFields more_stats) {
  const auto withStats = [store, more_stats](const std::string& workspace, const Project& p) {
    return projectWithStats(store, more_stats, workspace, p);
  };

  const std::string info_body = [&] {
    json::object info;
    info["version"] = std::string(version);
    info["instance_flags"] = {{"dataset_examples_multipart_enabled", true},
                              {"gzip_body_enabled", settings.gzip_ingest},
                              {"zstd_compression_enabled", false}};
    info["batch_ingest_config"] = {{"use_multipart_endpoint", settings.multipart_ingest},
                                   {"size_limit", 100},
                                   {"size_limit_bytes", 20 * 1024 * 1024},
                                   {"scale_up_qsize_trigger", 1000},
                                   {"scale_up_nthreads_limit", 16},
                                   {"scale_down_nempty_trigger", 4}};
    info["license_expiration_time"] = nullptr;
    return json::serialize(info);
  }();
  router.add(http::Verb::get, "/api/v1/info", [info_body](Request&) -> http::Awaitable<Response> {
    co_return Response::json(200, info_body);
  });

  // ---- ingest ----

  router.add(
      http::Verb::post, "/api/v1/runs", [store](Request& request) -> http::Awaitable<Response> {
        auto body = parseBody(request);
        if (!body) co_return Response::fromError(body.error());
        auto response = co_await ingestOne(*store, request, parseRunJson(*body, RunOp::kPost));
        co_return response;
      });

  router.add(http::Verb::patch, "/api/v1/runs/{run_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "run_id");
               if (!id) co_return Response::fromError(id.error());
               auto body = parseBody(request);
               if (!body) co_return Response::fromError(body.error());
               auto response =
                   co_await ingestOne(*store, request, parseRunJson(*body, RunOp::kPatch, *id));
               co_return response;
             });

  router.add(http::Verb::post, "/api/v1/runs/batch",
             [store](Request& request) -> http::Awaitable<Response> {
               auto batch = decodeBatchBody(request.body(), store->prices());
               if (!batch) co_return Response::fromError(batch.error());
               auto outcome = co_await store->ingest(request.identity().workspace_id,
                                                     std::move(batch->runs), {});
               if (!outcome) co_return Response::fromError(outcome.error());
               co_return ingestResponse(*outcome, batch->rejected, batch->warnings);
             });

  router.add(http::Verb::post, "/api/v1/runs/multipart",
             [store](Request& request) -> http::Awaitable<Response> {
               auto content_type = request.header("content-type");
               auto boundary = http::multipartBoundary(content_type ? *content_type : "");
               if (!boundary) co_return Response::fromError(boundary.error());
               auto batch = decodeMultipartBody(request.body(), *boundary, store->prices());
               if (!batch) co_return Response::fromError(batch.error());
               auto outcome =
                   co_await store->ingest(request.identity().workspace_id, std::move(batch->runs),
                                          std::move(batch->attachments));
               if (!outcome) co_return Response::fromError(outcome.error());
               co_return ingestResponse(*outcome, batch->rejected, batch->warnings);
             });

  // ---- reads ----

  router.add(http::Verb::get, "/api/v1/runs/{run_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "run_id");
               if (!id) co_return Response::fromError(id.error());
               auto run =
                   co_await store->getRun(request.identity().workspace_id, *id, baseUrl(request));
               if (!run) co_return Response::fromError(run.error());
               co_return Response::json(200, std::move(run).value());
             });

  router.add(http::Verb::get, "/api/v1/runs/{run_id}/attachments/{name}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "run_id");
               if (!id) co_return Response::fromError(id.error());
               auto found = co_await store->getAttachment(request.identity().workspace_id, *id,
                                                          std::string(request.param("name")));
               if (!found) co_return Response::fromError(found.error());
               if (!*found) {
                 co_return Response::fromError(Error::notFound(fmt::format(
                     "run {} has no attachment {}", *id, core::jsonString(request.param("name")))));
               }
               // Served as a download, never rendered: an attachment is untrusted content.
               Response response =
                   Response::text(200, std::move((*found)->data), (*found)->content_type);
               response.header("content-disposition", "attachment");
               response.header("x-content-type-options", "nosniff");
               co_return response;
             });

  router.add(http::Verb::post, "/api/v1/runs/query",
             [store](Request& request) -> http::Awaitable<Response> {
               auto body = parseObjectBody(request);
               if (!body) co_return Response::fromError(body.error());
               auto q = parseRunQuery(*body);
               if (!q) co_return Response::fromError(q.error());
               auto page = co_await store->queryRuns(request.identity().workspace_id,
                                                     std::move(q).value(), baseUrl(request));
               if (!page) co_return Response::fromError(page.error());
               std::string out = R"({"runs":[)";
               for (std::size_t i = 0; i < page->runs.size(); ++i) {
                 if (i > 0) out.push_back(',');
                 out += page->runs[i];
               }
               out += R"(],"cursors":{"next":)";
               if (page->next_cursor) {
                 core::appendJsonString(out, *page->next_cursor);
               } else {
                 out += "null";
               }
               out += "}}";
               co_return Response::json(200, std::move(out));
             });

  router.add(http::Verb::get, "/api/v1/traces/{trace_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "trace_id");
               if (!id) co_return Response::fromError(id.error());
               auto runs = co_await store->traceRuns(request.identity().workspace_id, *id);
               if (!runs) co_return Response::fromError(runs.error());
               co_return Response::json(200, traceTree(*id, *runs));
             });

  // ---- projects ("sessions") ----

  router.add(
      http::Verb::post, "/api/v1/sessions", [store](Request& request) -> http::Awaitable<Response> {
        auto body = parseObjectBody(request);
        if (!body) co_return Response::fromError(body.error());
        Project project;
        auto name = optionalString(*body, "name");
        if (!name) co_return Response::fromError(name.error());
        if (!*name || (*name)->empty()) {
          co_return Response::fromError(Error::invalidArgument("name: a project needs a name"));
        }
        project.name = std::move(**name);
        auto id = optionalUuid(*body, "id");
        if (!id) co_return Response::fromError(id.error());
        project.id = *id ? **id : core::newUuidV7();
        auto description = optionalString(*body, "description");
        if (!description) co_return Response::fromError(description.error());
        project.description = *description;
        if (const json::value* extra = present(*body, "extra")) {
          if (!extra->is_object()) {
            co_return Response::fromError(Error::invalidArgument("extra: expected an object"));
          }
          project.extra = *extra;
        }
        auto dataset = optionalUuid(*body, "reference_dataset_id");
        if (!dataset) co_return Response::fromError(dataset.error());
        project.reference_dataset_id = *dataset;
        for (auto [field, target] : {std::pair{"num_examples", &project.num_examples},
                                     std::pair{"num_repetitions", &project.num_repetitions}}) {
          const json::value* count = present(*body, field);
          if (count == nullptr) continue;
          if (!count->is_int64() || count->as_int64() < 0) {
            co_return Response::fromError(
                Error::invalidArgument(fmt::format("{}: expected a whole number", field)));
          }
          *target = count->as_int64();
        }
        if (const json::value* keys = present(*body, "evaluator_keys")) {
          const bool strings =
              keys->is_array() && std::ranges::all_of(keys->as_array(), [](const json::value& key) {
                return key.is_string();
              });
          if (!strings) {
            co_return Response::fromError(
                Error::invalidArgument("evaluator_keys: expected an array of strings"));
          }
          project.evaluator_keys = *keys;
        }
        auto start = optionalTime(*body, "start_time");
        if (!start) co_return Response::fromError(start.error());
        project.start_time = start->value_or(core::unixMicrosNow());
        auto end = optionalTime(*body, "end_time");
        if (!end) co_return Response::fromError(end.error());
        project.end_time = *end;
        const auto upsert = request.query("upsert");
        auto created = co_await store->createProject(
            request.identity().workspace_id, std::move(project), upsert && *upsert == "true");
        if (!created) co_return Response::fromError(created.error());
        co_return Response::json(
            200, json::serialize(projectJson(*created, request.identity().workspace_id, {})));
      });

  router.add(
      http::Verb::get, "/api/v1/sessions",
      [store, withStats](Request& request) -> http::Awaitable<Response> {
        ProjectListQuery q;
        for (std::string& id : request.queryAll("id")) {
          if (!core::isUuid(id)) {
            co_return Response::fromError(
                Error::invalidArgument(fmt::format("id: not a UUID: {}", core::jsonString(id))));
          }
          q.ids.push_back(lowerUuid(id));
        }
        q.name = request.query("name");
        q.name_contains = request.query("name_contains");
        q.reference_dataset_id = request.query("reference_dataset");
        for (auto [key, target, max] : {std::tuple{"offset", &q.offset, std::size_t{1} << 40},
                                        std::tuple{"limit", &q.limit, kMaxProjectLimit}}) {
          if (auto text = request.query(key)) {
            std::size_t n = 0;
            auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
            if (ec != std::errc() || ptr != text->data() + text->size() || n > max) {
              co_return Response::fromError(Error::invalidArgument(
                  fmt::format("{}: expected a whole number up to {}", key, max)));
            }
            *target = n;
          }
        }
        const auto include_stats = request.query("include_stats");
        const std::string& workspace = request.identity().workspace_id;
        auto projects = co_await store->listProjects(workspace, q);
        if (!projects) co_return Response::fromError(projects.error());
        json::array out;
        for (const Project& p : *projects) {
          if (include_stats && *include_stats == "true") {
            auto computing = withStats(workspace, p);
            auto computed = co_await std::move(computing);
            if (!computed) co_return Response::fromError(computed.error());
            out.push_back(std::move(*computed));
          } else {
            out.push_back(projectJson(p, workspace, {}));
          }
        }
        co_return Response::json(200, json::serialize(out));
      });

  router.add(http::Verb::get, "/api/v1/sessions/{session_id}",
             [store, withStats](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "session_id");
               if (!id) co_return Response::fromError(id.error());
               const std::string& workspace = request.identity().workspace_id;
               auto project = co_await store->getProject(workspace, *id);
               if (!project) co_return Response::fromError(project.error());
               if (auto include = request.query("include_stats"); include && *include == "true") {
                 auto computing = withStats(workspace, *project);
                 auto computed = co_await std::move(computing);
                 if (!computed) co_return Response::fromError(computed.error());
                 co_return Response::json(200, json::serialize(*computed));
               }
               co_return Response::json(200, json::serialize(projectJson(*project, workspace, {})));
             });

  router.add(
      http::Verb::patch, "/api/v1/sessions/{session_id}",
      [store](Request& request) -> http::Awaitable<Response> {
        auto id = uuidParam(request, "session_id");
        if (!id) co_return Response::fromError(id.error());
        auto body = parseObjectBody(request);
        if (!body) co_return Response::fromError(body.error());
        // null means "leave unchanged" (evaluate() sends name: null).
        ProjectUpdate update;
        auto name = optionalString(*body, "name");
        if (!name) co_return Response::fromError(name.error());
        if (*name && (*name)->empty()) {
          co_return Response::fromError(Error::invalidArgument("name: must not be empty"));
        }
        update.name = *name;
        auto description = optionalString(*body, "description");
        if (!description) co_return Response::fromError(description.error());
        update.description = *description;
        if (const json::value* extra = present(*body, "extra")) {
          if (!extra->is_object()) {
            co_return Response::fromError(Error::invalidArgument("extra: expected an object"));
          }
          update.extra = *extra;
        }
        auto end = optionalTime(*body, "end_time");
        if (!end) co_return Response::fromError(end.error());
        update.end_time = *end;
        const std::string& workspace = request.identity().workspace_id;
        auto updated = co_await store->updateProject(workspace, *id, std::move(update));
        if (!updated) co_return Response::fromError(updated.error());
        co_return Response::json(200, json::serialize(projectJson(*updated, workspace, {})));
      });

  router.add(http::Verb::delete_, "/api/v1/sessions/{session_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "session_id");
               if (!id) co_return Response::fromError(id.error());
               auto deleted = co_await store->deleteProject(request.identity().workspace_id, *id);
               if (!deleted) co_return Response::fromError(deleted.error());
               co_return Response::json(200, "{}");
             });

  router.add(http::Verb::get, "/api/v1/sessions/{session_id}/stats",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "session_id");
               if (!id) co_return Response::fromError(id.error());
               StatsQuery q;
               q.to = core::unixMicrosNow() + 1;
               q.from = q.to - 24LL * 3600 * 1'000'000;
               q.interval = 3600LL * 1'000'000;
               if (auto text = request.query("start_time")) {
                 auto t = timeQueryParam(*text, "start_time");
                 if (!t) co_return Response::fromError(t.error());
                 q.from = *t;
               }
               if (auto text = request.query("end_time")) {
                 auto t = timeQueryParam(*text, "end_time");
                 if (!t) co_return Response::fromError(t.error());
                 q.to = *t;
               }
               if (auto text = request.query("interval")) {
                 auto d = durationParam(*text, "interval");
                 if (!d) co_return Response::fromError(d.error());
                 q.interval = *d;
               }
               if (q.to <= q.from) {
                 co_return Response::fromError(
                     Error::invalidArgument("end_time: must be after start_time"));
               }
               if ((q.to - q.from) / q.interval >= kMaxStatsBuckets) {
                 co_return Response::fromError(Error::invalidArgument(fmt::format(
                     "interval: the range would have more than {} buckets; use a longer interval",
                     kMaxStatsBuckets)));
               }
               auto stats =
                   co_await store->projectStatsOverTime(request.identity().workspace_id, *id, q);
               if (!stats) co_return Response::fromError(stats.error());
               json::object out;
               out["session_id"] = *id;
               out["start_time"] = core::formatIso8601Micros(q.from);
               out["end_time"] = core::formatIso8601Micros(q.to);
               out["interval_seconds"] = static_cast<double>(q.interval) / 1e6;
               out["total"] = statsJson(stats->total);
               json::array buckets;
               for (const StatsBucket& b : stats->buckets) {
                 json::object bucket = statsJson(b.stats);
                 bucket["start_time"] = core::formatIso8601Micros(b.start);
                 buckets.push_back(std::move(bucket));
               }
               out["buckets"] = std::move(buckets);
               co_return Response::json(200, json::serialize(out));
             });
}

}  // namespace pharos::tracing
