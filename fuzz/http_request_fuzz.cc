// Fuzzes what the server does with the bytes of an untrusted connection, in the order
// src/http/server.cc does it: Beast's request parser with the header and body limits (head first,
// then the body eagerly), pipelined requests on the same bytes, then for each complete request:
// http::Request, parseTarget(), Router::match on a realistic route table, percent-decoding of the
// path parameters, header and query look-ups (API key included), Content-Encoding parsing and
// bounded inflation, and the error body and access-log line built from the request's text.
#include <fmt/format.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/url/pct_string_view.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

#include "auth/api_key.h"
#include "auth/authenticator.h"
#include "core/log.h"
#include "http/content_coding.h"
#include "http/message.h"
#include "http/request_head.h"
#include "http/router.h"

namespace {

using namespace pharos;
namespace bhttp = boost::beast::http;

// Smaller than the server's defaults (64 KiB head, 64 MiB body, 256 MiB inflated) so that the
// fuzzer reaches the limits with inputs of a size it actually generates.
constexpr std::uint32_t kHeaderLimit = 8 * 1024;
constexpr std::uint64_t kBodyLimit = 64 * 1024;
constexpr std::size_t kInflateLimit = 1024 * 1024;
constexpr int kMaxPipelined = 16;

// PHAROS_FUZZ_TRACE=1 prints what happened to each request (to see what a seed exercises).
const bool kTrace = std::getenv("PHAROS_FUZZ_TRACE") != nullptr;

// A crash the sanitizers would not see: a broken invariant.
void check(bool condition) {
  if (!condition) std::abort();
}

http::Awaitable<http::Response> unused(http::Request&) {
  co_return http::Response::json(200, "{}");
}

// The shape of Pharos's route table: literals, parameters, literals after parameters, a literal
// and a parameter side by side, several methods on one path.
const http::Router& router() {
  static const http::Router* instance = [] {
    auto* r = new http::Router();
    const http::RouteOptions open{.is_public = true};
    using V = http::Verb;
    r->add(V::get, "/healthz", unused, open);
    r->add(V::get, "/readyz", unused, open);
    r->add(V::get, "/metrics", unused, open);
    r->add(V::get, "/api/v1/auth/whoami", unused);
    r->add(V::get, "/api/v1/info", unused);
    r->add(V::post, "/api/v1/runs", unused);
    r->add(V::post, "/api/v1/runs/batch", unused);
    r->add(V::post, "/api/v1/runs/multipart", unused);
    r->add(V::post, "/api/v1/runs/query", unused);
    r->add(V::get, "/api/v1/runs/{run_id}", unused);
    r->add(V::patch, "/api/v1/runs/{run_id}", unused);
    r->add(V::get, "/api/v1/runs/{run_id}/share", unused);
    r->add(V::put, "/api/v1/runs/{run_id}/share", unused);
    r->add(V::get, "/api/v1/sessions", unused);
    r->add(V::post, "/api/v1/sessions", unused);
    r->add(V::get, "/api/v1/sessions/{id}", unused);
    r->add(V::patch, "/api/v1/sessions/{id}", unused);
    r->add(V::delete_, "/api/v1/sessions/{id}", unused);
    r->add(V::get, "/api/v1/sessions/{id}/stats", unused);
    r->add(V::get, "/api/v1/datasets", unused);
    r->add(V::get, "/api/v1/datasets/{dataset_id}/examples", unused);
    r->add(V::get, "/api/v1/examples/{example_id}", unused);
    r->add(V::post, "/api/v1/feedback", unused);
    r->add(V::get, "/api/v1/feedback/{feedback_id}", unused);
    r->add(V::get, "/api/v1/prompts/{owner}/{repo}/commits/{commit}", unused);
    r->add(V::post, "/v1/chat/completions", unused);
    r->add(V::get, "/v1/models", unused);
    r->add(V::get, "/v1/models/{model}", unused);
    r->add(V::post, "/v1/traces", unused);
    r->add(V::get, "/", unused, open);
    return r;
  }();
  return *instance;
}

// The access-log line and the error body: arbitrary request text is escaped into JSON.
void logAndAnswer(std::string_view method, std::string_view path, unsigned status,
                  std::string_view user_agent, std::string_view message) {
  if (kTrace) {
    fmt::print(stderr, "  {} {} {} -> {} ({})\n", status, method, path, message.size(),
               message.substr(0, 80));
  }
  const http::Response response = http::Response::error(status, "fuzz", message);
  check(!response.body.empty());
  const std::string line = core::log::formatLine(
      core::LogLevel::kInfo, "request",
      {{"method", method}, {"path", path}, {"status", status}, {"user_agent", user_agent}});
  check(line.find('\n') == std::string::npos);
}

// The server's head phase (examineHead, then the key the authenticator would read), exactly as
// the server runs it. Returns false when the request is refused before its body is read.
bool examine(const http::RequestHead& head, bool chunked, http::HeadDecision& decision) {
  decision = http::examineHead(head, chunked, router());
  const std::string_view key = auth::presentedKey(head);
  if (auto parsed = auth::parseKey(key)) {
    check(parsed->id.size() == auth::kKeyIdLength);
    check(parsed->secret.size() == auth::kKeySecretLength);
  }
  (void)auth::looksLikePharosKey(key);
  if (!decision.refusal && decision.route == nullptr) {
    decision.refusal = http::unroutable(decision, head.method_string());
  }
  if (decision.refusal) {
    check(decision.refusal->status >= 400);
    logAndAnswer(http::methodLabel(head), decision.path, decision.refusal->status, "",
                 decision.refusal->body);
    return false;
  }
  check(decision.allowed.empty() && !decision.path.empty());
  for (const auto& [name, value] : decision.params) check(!value.empty() || name.empty());
  return true;
}

void handle(bhttp::request<bhttp::string_body> message, http::HeadDecision decision) {
  http::Request request(std::move(message), "fuzz", "127.0.0.1:1");
  std::string_view user_agent;
  if (auto ua = request.header("user-agent")) user_agent = ua->substr(0, 200);
  (void)request.header("x-request-id");
  (void)request.message().keep_alive();
  check(request.parseTarget());  // examineHead accepted the same target
  check(!request.path().empty() && !request.encodedPath().empty());
  request.setParams(std::move(decision.params));
  (void)request.param("run_id");
  (void)request.param("id");
  (void)request.param("commit");

  // What handlers read.
  (void)request.query("limit");
  (void)request.query("cursor");
  (void)request.queryAll("id");
  (void)request.header("content-type");

  if (auto encoding = request.header("content-encoding"); encoding && !request.body().empty()) {
    core::Result<http::ContentCoding> coding = http::parseContentCoding(*encoding);
    if (!coding) {
      logAndAnswer(request.methodString(), request.path(), 415, user_agent, coding.error().message);
      return;
    }
    if (*coding != http::ContentCoding::kIdentity) {
      core::Result<std::string> inflated = http::inflate(request.body(), *coding, kInflateLimit);
      if (!inflated) {
        const bool too_large = inflated.error().code == core::ErrorCode::kTooLarge;
        check(too_large || inflated.error().code == core::ErrorCode::kInvalidArgument);
        logAndAnswer(request.methodString(), request.path(), too_large ? 413 : 400, user_agent,
                     inflated.error().message);
        return;
      }
      check(inflated->size() <= kInflateLimit);
      request.mutableBody() = std::move(inflated).value();
    }
  }
  logAndAnswer(request.methodString(), request.path(), 200, user_agent, request.body());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int i = 0; i < kMaxPipelined && !rest.empty(); ++i) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(kBodyLimit);
    boost::system::error_code ec;

    // The head first (async_read_header), then the body (async_read, which parses eagerly).
    // need_more on the whole remaining input means the bytes ran out: the client closed.
    const auto feed = [&](auto done) {
      while (!done()) {
        const std::size_t used = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
        check(used <= rest.size());
        rest.remove_prefix(used);
        // Beast asks for more with need_more, or (given no bytes at all) by consuming nothing.
        if (ec == bhttp::error::need_more || (!ec && used == 0)) {
          ec = {};
          if (used == 0) {
            parser.put_eof(ec);
            return;
          }
          continue;
        }
        if (ec) return;
      }
    };
    feed([&] { return parser.is_header_done(); });
    if (ec || !parser.is_header_done()) {
      if (kTrace) fmt::print(stderr, "  head rejected: {}\n", ec.message());
      return 0;
    }

    const auto& head = parser.get();
    http::HeadDecision decision;
    if (!examine(head, parser.chunked(), decision)) {
      if (!parser.is_done() || !parser.keep_alive()) return 0;  // the server closes here
      continue;
    }
    (void)boost::beast::iequals(head[bhttp::field::expect], "100-continue");
    parser.eager(true);
    feed([&] { return parser.is_done(); });
    if (ec || !parser.is_done()) {
      if (kTrace) fmt::print(stderr, "  body rejected: {}\n", ec.message());
      return 0;
    }

    const bool keep_alive = parser.keep_alive();
    handle(parser.release(), std::move(decision));
    if (!keep_alive) break;
  }
  return 0;
}
