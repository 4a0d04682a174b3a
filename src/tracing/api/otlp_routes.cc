#include "tracing/api/otlp_routes.h"

#include <boost/json/serialize.hpp>
#include <string>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "tracing/api/otlp_status.h"

namespace pharos::tracing {

namespace {

using http::Request;
using http::Response;
using otlp::Encoding;

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
Response exportResponse(Encoding encoding, const otlp::ExportSummary& summary) {
  if (encoding == Encoding::kJson) {
    if (summary.rejected == 0) return Response::json(200, "{}");
    boost::json::object partial{{"rejectedSpans", std::to_string(summary.rejected)},
                                {"errorMessage", summary.message}};
    return Response::json(200,
                          boost::json::serialize(boost::json::object{{"partialSuccess", partial}}));
  }
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse response;
  if (summary.rejected > 0) {
    response.mutable_partial_success()->set_rejected_spans(summary.rejected);
    response.mutable_partial_success()->set_error_message(summary.message);
  }
  return Response::text(200, response.SerializeAsString(), "application/x-protobuf");
}

// The status and headers Pharos uses for the error everywhere (400, 503 + Retry-After, …), with
// a google.rpc.Status body in the request's encoding.
Response errorResponse(Encoding encoding, const core::Error& error) {
  Response response = Response::fromError(error);
  if (encoding == Encoding::kJson) {
    response.body = otlp::statusJson(error);
  } else {
    response.body = otlp::statusProtobuf(error);
    response.content_type = "application/x-protobuf";
  }
  return response;
}

}  // namespace

void addOtlpRoutes(http::Router& router, std::shared_ptr<otlp::Receiver> receiver) {
  router.add(
      http::Verb::post, "/v1/traces", [receiver](Request& request) -> http::Awaitable<Response> {
        const auto encoding = encodingOf(request);
        if (!encoding) {
          co_return Response::error(
              415, "unsupported_media_type",
              "Content-Type: expected application/x-protobuf or application/json for OTLP traces");
        }
        auto summary = co_await receiver->receive(
            request.identity().workspace_id, *encoding, request.body(),
            std::string(request.header("x-pharos-project").value_or("")));
        if (!summary) co_return errorResponse(*encoding, summary.error());
        co_return exportResponse(*encoding, *summary);
      });
}

}  // namespace pharos::tracing
