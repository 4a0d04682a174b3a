#include "http/request_head.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>

namespace pharos::http {

namespace bhttp = beast::http;

namespace {

std::string allowHeader(const std::vector<Verb>& verbs) {
  std::string out;
  for (Verb v : verbs) {
    if (!out.empty()) out += ", ";
    out += bhttp::to_string(v);
  }
  return out;
}

// Framing Beast accepts but RFC 9112 does not. A Transfer-Encoding other than exactly `chunked`
// leaves the body either unknowable (reading it as empty would let its bytes be parsed as a
// second, smuggled request, §6.3) or transfer-coded in a way Pharos does not undo.
std::optional<Response> framingProblem(const RequestHead& head, bool chunked) {
  if (head.version() >= 11 && head.count(bhttp::field::host) != 1) {
    return Response::error(400, "bad_request", "an HTTP/1.1 request needs exactly one Host header");
  }
  if (head.count(bhttp::field::transfer_encoding) > 0) {
    if (!chunked) {
      return Response::error(400, "bad_request", "Transfer-Encoding must end with chunked");
    }
    if (!beast::iequals(head[bhttp::field::transfer_encoding], "chunked")) {
      return Response::error(501, "not_implemented",
                             "only the chunked transfer coding is supported; send compressed "
                             "bodies with Content-Encoding instead");
    }
  }
  return std::nullopt;
}

}  // namespace

HeadDecision examineHead(const RequestHead& head, bool chunked, const Router& router) {
  HeadDecision decision;
  if (auto problem = framingProblem(head, chunked)) {
    decision.refusal = std::move(problem);
    decision.must_close = true;
    return decision;
  }
  auto target = boost::urls::parse_origin_form(head.target());
  if (!target) {
    decision.refusal =
        Response::error(400, "bad_request", "request target is not a valid origin-form path");
    return decision;
  }
  const std::string encoded_path =
      target->encoded_path().empty() ? std::string("/") : std::string(target->encoded_path());
  decision.path = encoded_path;
  Router::Match match = router.match(head.method(), encoded_path);
  decision.allowed = std::move(match.allowed);
  if (!match.route) {
    decision.route_label = decision.allowed.empty() ? "unmatched" : "method_not_allowed";
    return decision;
  }
  for (auto& [name, value] : match.params) {
    auto encoded = boost::urls::make_pct_string_view(value);
    if (!encoded) {
      decision.refusal =
          Response::error(400, "bad_request",
                          fmt::format("path parameter {} is not validly percent-encoded", name));
      return decision;
    }
    value = encoded->decode();
  }
  decision.route = match.route;
  decision.params = std::move(match.params);
  decision.route_label = match.route->pattern;
  decision.needs_identity = !match.route->options.is_public;
  return decision;
}

Response unroutable(const HeadDecision& decision, std::string_view method) {
  // The encoded path: ASCII, so the error body stays valid JSON whatever the client sent.
  if (decision.allowed.empty()) {
    return Response::error(404, "not_found",
                           fmt::format("no route for {} {}", method, decision.path));
  }
  const std::string allowed = allowHeader(decision.allowed);
  Response response = Response::error(
      405, "method_not_allowed",
      fmt::format("{} is not allowed on {}; allowed: {}", method, decision.path, allowed));
  response.header("allow", allowed);
  return response;
}

std::string_view methodLabel(const RequestHead& head) {
  if (head.method() == Verb::unknown) return "other";
  return head.method_string();
}

}  // namespace pharos::http
