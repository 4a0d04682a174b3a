#include "http/message.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/url_view.hpp>

namespace pharos::http {

Request::Request(beast::http::request<beast::http::string_body> message, std::string request_id,
                 std::string remote_address)
    : message_(std::move(message)),
      request_id_(std::move(request_id)),
      remote_address_(std::move(remote_address)) {}

bool Request::parseTarget() {
  auto parsed = boost::urls::parse_origin_form(message_.target());
  if (!parsed) return false;
  path_ = parsed->path();  // decoded
  encoded_path_ = std::string(parsed->encoded_path());
  if (path_.empty()) path_ = encoded_path_ = "/";
  raw_query_ = std::string(parsed->encoded_query());
  return true;
}

namespace {

// Form-style decoding: browsers, URLSearchParams and Python's urlencode send spaces as '+'.
const boost::urls::encoding_opts kQueryDecoding{/*space_as_plus=*/true};

template <class Visit>
void forEachQueryParam(std::string_view raw_query, std::string_view name, Visit visit) {
  auto parsed = boost::urls::parse_query(raw_query);
  if (!parsed) return;
  for (auto param : *parsed) {
    if (param.key.decode(kQueryDecoding) != name) continue;
    if (!visit(param.has_value ? param.value.decode(kQueryDecoding) : std::string())) return;
  }
}

}  // namespace

std::optional<std::string> Request::query(std::string_view name) const {
  std::optional<std::string> found;
  forEachQueryParam(raw_query_, name, [&](std::string value) {
    found = std::move(value);
    return false;
  });
  return found;
}

std::vector<std::string> Request::queryAll(std::string_view name) const {
  std::vector<std::string> values;
  forEachQueryParam(raw_query_, name, [&](std::string value) {
    values.push_back(std::move(value));
    return true;
  });
  return values;
}

std::optional<std::string_view> Request::header(std::string_view name) const {
  auto it = message_.find(name);
  if (it == message_.end()) return std::nullopt;
  return it->value();
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [key, value] : params_) {
    if (key == name) return value;
  }
  return {};
}

Response Response::json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Response::text(unsigned status, std::string body, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response Response::error(unsigned status, std::string_view type, std::string_view message) {
  boost::json::value body = {{"error", {{"type", type}, {"message", message}}}};
  return json(status, boost::json::serialize(body));
}

Response Response::fromError(const core::Error& error) {
  using core::ErrorCode;
  const auto [status, type] = [&]() -> std::pair<unsigned, std::string_view> {
    switch (error.code) {
      case ErrorCode::kInvalidArgument:
        return {400, "invalid_request"};
      case ErrorCode::kUnauthenticated:
        return {401, "unauthenticated"};
      case ErrorCode::kPermissionDenied:
        return {403, "permission_denied"};
      case ErrorCode::kNotFound:
        return {404, "not_found"};
      case ErrorCode::kAlreadyExists:
        return {409, "conflict"};
      case ErrorCode::kTooLarge:
        return {413, "too_large"};
      case ErrorCode::kOverloaded:
        return {503, "overloaded"};
      case ErrorCode::kUnavailable:
        return {503, "unavailable"};
      case ErrorCode::kTimeout:
        return {504, "timeout"};
      case ErrorCode::kCancelled:
        return {499, "cancelled"};
      case ErrorCode::kInternal:
        break;
    }
    return {500, "internal"};
  }();
  Response response = Response::error(status, type, error.message);
  if (error.code == ErrorCode::kOverloaded || error.code == ErrorCode::kUnavailable) {
    response.header("retry-after", "1");
  }
  return response;
}

Response Response::eventStream(StreamProducer producer) {
  Response r;
  r.content_type = "text/event-stream";
  r.headers.emplace_back("cache-control", "no-cache");
  r.stream = std::move(producer);
  return r;
}

}  // namespace pharos::http
