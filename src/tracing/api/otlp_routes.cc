#include "tracing/api/otlp_routes.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tracing/ingest/otlp_decode.h"
#include "tracing/ingest/otlp_runs.h"

namespace pharos::tracing {

namespace {

using http::Request;
using http::Response;

enum class Encoding { kProtobuf, kJson };

std::optional<Encoding> encodingOf(const Request& request) {
  const auto type = request.header("content-type");
  if (!type) return std::nullopt;
  std::string_view media = type->substr(0, type->find(';'));
  while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
  std::string lower(media);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "application/x-protobuf" || lower == "application/protobuf") {
    return Encoding::kProtobuf;
  }
  if (lower == "application/json") return Encoding::kJson;
  return std::nullopt;
}

// An ExportTraceServiceResponse in the request's encoding; partial_success only when something
// was rejected (the spec wants it unset on full success).
Response exportResponse(Encoding encoding, std::int64_t rejected, const std::string& message) {
  if (encoding == Encoding::kJson) {
    if (rejected == 0) return Response::json(200, "{}");
    boost::json::object partial{{"rejectedSpans", std::to_string(rejected)},
                                {"errorMessage", message}};
    return Response::json(200,
                          boost::json::serialize(boost::json::object{{"partialSuccess", partial}}));
  }
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  if (rejected > 0) {
    response.mutable_partial_success()->set_rejected_spans(rejected);
    response.mutable_partial_success()->set_error_message(message);
  }
  return Response::text(200, response.SerializeAsString(), "application/x-protobuf");
}

std::string joinReasons(const std::vector<std::string>& reasons, std::int64_t rejected) {
  std::string out = fmt::format("{} span(s) rejected", rejected);
  for (std::size_t i = 0; i < reasons.size(); ++i) out += (i == 0 ? ": " : "; ") + reasons[i];
  return out;
}

}  // namespace

void addOtlpRoutes(http::Router& router, std::shared_ptr<RunStore> store) {
  router.add(
      http::Verb::post, "/v1/traces", [store](Request& request) -> http::Awaitable<Response> {
        const auto encoding = encodingOf(request);
        if (!encoding) {
          co_return Response::error(
              415, "unsupported_media_type",
              "Content-Type: expected application/x-protobuf or application/json for OTLP traces");
        }
        auto decoded = *encoding == Encoding::kProtobuf ? otlp::decodeProtobuf(request.body())
                                                        : otlp::decodeJson(request.body());
        if (!decoded) co_return Response::fromError(decoded.error());
        const std::string project(request.header("x-pharos-project").value_or(""));
        std::vector<PreparedRun> runs;
        runs.reserve(decoded->spans.size());
        for (const otlp::Span& span : decoded->spans) {
          runs.push_back(prepareRun(otlp::spanToRun(span, project),
                                    fmt::format("span {}", span.span_id), store->prices()));
        }
        std::int64_t rejected = decoded->rejected;
        std::vector<std::string> reasons = std::move(decoded->reasons);
        if (!runs.empty()) {
          auto outcome =
              co_await store->ingest(request.identity().workspace_id, std::move(runs), {});
          if (!outcome) co_return Response::fromError(outcome.error());
          rejected += static_cast<std::int64_t>(outcome->rejected.size());
          for (const RejectedRun& r : outcome->rejected) {
            if (reasons.size() < 5) reasons.push_back(r.origin + ": " + r.message);
          }
        }
        co_return exportResponse(*encoding, rejected,
                                 rejected > 0 ? joinReasons(reasons, rejected) : std::string());
      });
}

}  // namespace pharos::tracing
