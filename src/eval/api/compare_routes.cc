#include "eval/api/compare_routes.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <string_view>

#include "core/ids.h"
#include "core/json_text.h"
#include "tracing/api/request_json.h"
#include "tracing/query/filter_validate.h"

namespace pharos::eval {

namespace {

using core::Error;
using core::Result;
using http::Request;
using http::Response;

constexpr std::size_t kMaxCompareLimit = 100;

// Every value of a repeatable parameter, each also split at commas ("a,b&experiments=c").
std::vector<std::string> listParam(const Request& request, std::string_view key) {
  std::vector<std::string> out;
  for (const std::string& value : request.queryAll(key)) {
    std::size_t start = 0;
    while (start <= value.size()) {
      const std::size_t end = std::min(value.find(',', start), value.size());
      if (end > start) out.push_back(value.substr(start, end - start));
      start = end + 1;
    }
  }
  return out;
}

Result<CompareQuery> parseCompareQuery(const Request& request) {
  CompareQuery q;
  auto dataset = tracing::uuidParam(request, "dataset_id");
  if (!dataset) return std::move(dataset).error();
  q.dataset_id = std::move(dataset).value();
  for (const std::string& id : listParam(request, "experiments")) {
    if (!core::isUuid(id)) {
      return Error::invalidArgument(
          fmt::format("experiments: not a UUID: {}", core::jsonString(id)));
    }
    q.experiment_ids.push_back(tracing::lowerUuid(id));
  }
  if (q.experiment_ids.empty()) {
    return Error::invalidArgument("experiments: name at least one experiment id");
  }
  auto offset = tracing::queryCount(request, "offset", std::size_t{1} << 40);
  if (!offset) return std::move(offset).error();
  q.offset = offset->value_or(0);
  // Larger pages are clamped, as for the other list endpoints: the caller pages on.
  auto limit = tracing::queryCount(request, "limit", std::size_t{1} << 40);
  if (!limit) return std::move(limit).error();
  q.limit = std::min(limit->value_or(kMaxCompareLimit), kMaxCompareLimit);
  q.splits = listParam(request, "splits");
  if (auto as_of = request.query("as_of"); as_of && *as_of != "latest") {
    auto micros = tracing::query::parseTimestampMicros(*as_of);
    if (!micros) {
      return Error::invalidArgument(
          fmt::format("as_of: not an ISO-8601 time: {}", core::jsonString(*as_of)));
    }
    q.as_of = *micros;
  }
  return q;
}

}  // namespace

void addCompareRoutes(http::Router& router, std::shared_ptr<ExperimentStore> experiments) {
  router.add(http::Verb::get, "/api/v1/datasets/{dataset_id}/compare",
             [experiments](Request& request) -> http::Awaitable<Response> {
               auto query = parseCompareQuery(request);
               if (!query) co_return Response::fromError(query.error());
               auto compared =
                   experiments->compare(request.identity().workspace_id, std::move(query).value());
               auto result = co_await std::move(compared);
               if (!result) co_return Response::fromError(result.error());
               co_return Response::json(200, boost::json::serialize(*result));
             });
}

}  // namespace pharos::eval
