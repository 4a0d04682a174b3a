#include "tracing/api/feedback_routes.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <limits>
#include <string_view>

#include "core/ids.h"
#include "core/json_text.h"
#include "core/json_value.h"
#include "core/time.h"
#include "tracing/api/request_json.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;
using core::Error;
using core::Result;
using http::Request;
using http::Response;

// LangSmith's page size ceiling; a larger limit is clamped and the client pages on.
constexpr std::size_t kMaxListLimit = 100;
constexpr std::size_t kMaxKeyLength = 256;

// Members of a create body we read (or knowingly ignore); any other is reported in `warnings`.
constexpr std::string_view kKnownMembers[] = {
    "id",
    "run_id",
    "trace_id",
    "session_id",
    "key",
    "score",
    "value",
    "correction",
    "comment",
    "feedback_source",
    "extra",
    "start_time",
    "created_at",
    "modified_at",
    "feedbackConfig",
    "feedback_config",
    "comparative_experiment_id",
    "extend_trace_retention",
};
constexpr std::size_t kMaxWarnings = 100;

// Whole scores print as integers (1, not 1E0 as a double would).
json::value scoreJson(const std::optional<double>& score) {
  if (!score) return nullptr;
  if (std::trunc(*score) == *score && std::fabs(*score) < 9.0e15) {
    return static_cast<std::int64_t>(*score);
  }
  return *score;
}

std::size_t codePoints(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// score: a number, true/false (stored as 1/0) or null.
Result<std::optional<double>> scoreParam(const json::object& body) {
  const json::value* score = present(body, "score");
  if (score == nullptr) return std::optional<double>();
  if (score->is_bool()) return std::optional<double>(score->get_bool() ? 1.0 : 0.0);
  if (score->is_number()) {
    const double d = score->to_number<double>();
    if (std::isfinite(d)) return std::optional<double>(d);
  }
  return Error::invalidArgument("score: expected a number, true, false or null");
}

// Any JSON; absent and null are both "none".
json::value anyJson(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  return value == nullptr ? json::value(nullptr) : *value;
}

Result<json::value> optionalObject(const json::object& body, std::string_view key) {
  const json::value* value = present(body, key);
  if (value == nullptr) return json::value(nullptr);
  if (!value->is_object()) {
    return Error::invalidArgument(fmt::format("{}: expected an object", key));
  }
  return *value;
}

// feedback_source, stored whole; its type and evaluator run are copied out for filtering.
// Absent: {"type":"api","metadata":{}} (what the SDKs send by default).
Result<json::value> feedbackSource(const json::object& body, Feedback& f) {
  auto source = optionalObject(body, "feedback_source");
  if (!source) return source;
  if (source->is_null()) {
    f.source_type = "api";
    return json::value(json::object{{"type", "api"}, {"metadata", json::object{}}});
  }
  const json::object& object = source->get_object();
  auto type = optionalString(object, "type");
  if (!type) return Error::invalidArgument("feedback_source.type: expected a string");
  f.source_type = *type;
  if (const json::value* metadata = present(object, "metadata")) {
    if (!metadata->is_object()) {
      return Error::invalidArgument("feedback_source.metadata: expected an object");
    }
    if (const json::value* run = present(metadata->get_object(), "__run")) {
      if (!run->is_object()) {
        return Error::invalidArgument("feedback_source.metadata.__run: expected an object");
      }
      auto run_id = optionalUuid(run->get_object(), "run_id");
      if (!run_id) {
        return Error::invalidArgument("feedback_source.metadata.__run." + run_id.error().message);
      }
      f.source_run_id = *run_id;
    }
  }
  return source;
}

#define PHAROS_TRY(target, expr)           \
  do {                                     \
    auto _r = (expr);                      \
    if (!_r) return std::move(_r).error(); \
    target = std::move(_r).value();        \
  } while (false)

}  // namespace

Result<Feedback> parseFeedbackCreate(const json::object& body) {
  Feedback f;
  std::optional<std::string> id;
  PHAROS_TRY(id, optionalUuid(body, "id"));
  f.id = id ? *id : core::newUuidV7();
  PHAROS_TRY(f.run_id, optionalUuid(body, "run_id"));
  PHAROS_TRY(f.trace_id, optionalUuid(body, "trace_id"));
  PHAROS_TRY(f.session_id, optionalUuid(body, "session_id"));
  if (!f.run_id && !f.session_id) {
    return Error::invalidArgument("run_id: feedback needs a run_id or a session_id");
  }
  std::optional<std::string> key;
  PHAROS_TRY(key, optionalString(body, "key"));
  if (!key || key->empty()) return Error::invalidArgument("key: feedback needs a key");
  if (codePoints(*key) > kMaxKeyLength) {
    return Error::invalidArgument(fmt::format("key: longer than {} characters", kMaxKeyLength));
  }
  f.key = std::move(*key);
  PHAROS_TRY(f.score, scoreParam(body));
  f.value = anyJson(body, "value");
  f.correction = anyJson(body, "correction");
  PHAROS_TRY(f.comment, optionalString(body, "comment"));
  PHAROS_TRY(f.feedback_source, feedbackSource(body, f));
  PHAROS_TRY(f.extra, optionalObject(body, "extra"));
  // The JS client sends camelCase feedbackConfig; the Python one feedback_config.
  const std::string_view config_key =
      present(body, "feedbackConfig") != nullptr ? "feedbackConfig" : "feedback_config";
  PHAROS_TRY(f.feedback_config, optionalObject(body, config_key));
  PHAROS_TRY(f.comparative_experiment_id, optionalUuid(body, "comparative_experiment_id"));
  PHAROS_TRY(f.start_time, optionalTime(body, "start_time"));
  std::optional<std::int64_t> created_at;
  PHAROS_TRY(created_at, optionalTime(body, "created_at"));
  f.created_at = created_at.value_or(core::unixMicrosNow());
  f.modified_at = f.created_at;
  return f;
}

Result<FeedbackUpdate> parseFeedbackUpdate(const json::object& body) {
  // Absent and null both leave a member as it is (the JS client drops null members anyway).
  FeedbackUpdate update;
  PHAROS_TRY(update.score, scoreParam(body));
  if (const json::value* value = present(body, "value")) update.value = *value;
  if (const json::value* correction = present(body, "correction")) {
    update.correction = *correction;
  }
  PHAROS_TRY(update.comment, optionalString(body, "comment"));
  return update;
}

#undef PHAROS_TRY

namespace {

std::vector<std::string> unknownMembers(const json::object& body) {
  std::vector<std::string> out;
  for (const auto& member : body) {
    const std::string_view name = member.key();
    if (std::find(std::begin(kKnownMembers), std::end(kKnownMembers), name) ==
        std::end(kKnownMembers)) {
      if (out.size() < kMaxWarnings) out.push_back(fmt::format("unknown field ignored: {}", name));
    }
  }
  return out;
}

Result<std::vector<std::string>> uuidQuery(const Request& request, std::string_view key) {
  std::vector<std::string> out;
  for (const std::string& id : request.queryAll(key)) {
    if (!core::isUuid(id)) {
      return Error::invalidArgument(fmt::format("{}: not a UUID: {}", key, core::jsonString(id)));
    }
    out.push_back(lowerUuid(id));
  }
  return out;
}

Result<FeedbackQuery> parseListQuery(const Request& request) {
  FeedbackQuery q;
  auto runs = uuidQuery(request, "run");
  if (!runs) return std::move(runs).error();
  q.run_ids = std::move(*runs);
  auto sessions = uuidQuery(request, "session");
  if (!sessions) return std::move(sessions).error();
  q.session_ids = std::move(*sessions);
  q.keys = request.queryAll("key");
  q.source_types = request.queryAll("source");
  if (auto has_score = request.query("has_score")) {
    if (*has_score != "true" && *has_score != "false") {
      return Error::invalidArgument(
          fmt::format("has_score: expected true or false, got {}", core::jsonString(*has_score)));
    }
    q.has_score = *has_score == "true";
  }
  auto offset = queryCount(request, "offset", std::numeric_limits<std::int32_t>::max());
  if (!offset) return std::move(offset).error();
  q.offset = offset->value_or(0);
  auto limit = queryCount(request, "limit", std::numeric_limits<std::int32_t>::max());
  if (!limit) return std::move(limit).error();
  if (*limit && **limit == 0) return Error::invalidArgument("limit: must be at least 1");
  q.limit = std::min(limit->value_or(kMaxListLimit), kMaxListLimit);
  return q;
}

}  // namespace

json::object feedbackJson(const Feedback& f) {
  json::object out;
  out["id"] = f.id;
  out["run_id"] = core::optionalJson(f.run_id);
  out["trace_id"] = core::optionalJson(f.trace_id);
  out["session_id"] = core::optionalJson(f.session_id);
  out["key"] = f.key;
  out["score"] = scoreJson(f.score);
  out["value"] = f.value;
  out["comment"] = core::optionalJson(f.comment);
  out["correction"] = f.correction;
  out["feedback_source"] = f.feedback_source;
  out["extra"] = f.extra;
  out["created_at"] = core::formatIso8601Micros(f.created_at);
  out["modified_at"] = core::formatIso8601Micros(f.modified_at);
  if (f.start_time) out["start_time"] = core::formatIso8601Micros(*f.start_time);
  if (f.comparative_experiment_id) out["comparative_experiment_id"] = *f.comparative_experiment_id;
  if (!f.feedback_config.is_null()) out["feedback_config"] = f.feedback_config;
  return out;
}

void addFeedbackRoutes(http::Router& router, std::shared_ptr<FeedbackStore> store) {
  router.add(http::Verb::post, "/api/v1/feedback",
             [store](Request& request) -> http::Awaitable<Response> {
               auto body = parseObjectBody(request);
               if (!body) co_return Response::fromError(body.error());
               auto feedback = parseFeedbackCreate(*body);
               if (!feedback) co_return Response::fromError(feedback.error());
               std::vector<std::string> warnings = unknownMembers(*body);
               auto creating = store->create(request.identity().workspace_id, std::move(*feedback));
               auto created = co_await std::move(creating);
               if (!created) co_return Response::fromError(created.error());
               json::object out = feedbackJson(*created);
               if (!warnings.empty()) {
                 json::array list;
                 for (std::string& warning : warnings) list.emplace_back(std::move(warning));
                 out["warnings"] = std::move(list);
               }
               co_return Response::json(200, json::serialize(out));
             });

  router.add(http::Verb::get, "/api/v1/feedback",
             [store](Request& request) -> http::Awaitable<Response> {
               auto q = parseListQuery(request);
               if (!q) co_return Response::fromError(q.error());
               auto listing = store->list(request.identity().workspace_id, std::move(*q));
               auto rows = co_await std::move(listing);
               if (!rows) co_return Response::fromError(rows.error());
               json::array out;
               for (const Feedback& f : *rows) out.push_back(feedbackJson(f));
               co_return Response::json(200, json::serialize(out));
             });

  router.add(http::Verb::get, "/api/v1/feedback/{feedback_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "feedback_id");
               if (!id) co_return Response::fromError(id.error());
               auto getting = store->get(request.identity().workspace_id, *id);
               auto found = co_await std::move(getting);
               if (!found) co_return Response::fromError(found.error());
               co_return Response::json(200, json::serialize(feedbackJson(*found)));
             });

  router.add(http::Verb::patch, "/api/v1/feedback/{feedback_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "feedback_id");
               if (!id) co_return Response::fromError(id.error());
               auto body = parseObjectBody(request);
               if (!body) co_return Response::fromError(body.error());
               auto update = parseFeedbackUpdate(*body);
               if (!update) co_return Response::fromError(update.error());
               auto updating =
                   store->update(request.identity().workspace_id, *id, std::move(*update));
               auto updated = co_await std::move(updating);
               if (!updated) co_return Response::fromError(updated.error());
               co_return Response::json(200, json::serialize(feedbackJson(*updated)));
             });

  router.add(http::Verb::delete_, "/api/v1/feedback/{feedback_id}",
             [store](Request& request) -> http::Awaitable<Response> {
               auto id = uuidParam(request, "feedback_id");
               if (!id) co_return Response::fromError(id.error());
               auto removing = store->remove(request.identity().workspace_id, *id);
               auto removed = co_await std::move(removing);
               if (!removed) co_return Response::fromError(removed.error());
               co_return Response::json(200, "{}");
             });
}

}  // namespace pharos::tracing
