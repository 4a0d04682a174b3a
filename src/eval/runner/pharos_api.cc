#include "eval/runner/pharos_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <ctime>
#include <utility>

#include "core/ids.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;
using core::Result;

constexpr std::size_t kPageSize = 100;
constexpr std::size_t kMaxQuotedBody = 300;
constexpr std::string_view kApiPrefix = "/api/v1";

std::string percentEncode(std::string_view text) {
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// The server's words: Pharos `{"error":{"message"}}`, LangSmith `{"detail"}`, plus the rejected
// examples of a 422; else the start of the body.
std::string serverMessage(std::string_view body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  std::string message;
  if (!ec && parsed.is_object()) {
    const json::object& object = parsed.get_object();
    if (const json::value* error = object.if_contains("error")) {
      if (error->is_string()) {
        message = std::string(error->get_string());
      } else if (const json::object* inner = error->if_object()) {
        if (const json::value* text = inner->if_contains("message"); text && text->is_string()) {
          message = std::string(text->get_string());
        }
      }
    }
    if (const json::value* detail = object.if_contains("detail"); message.empty() && detail) {
      message = detail->is_string() ? std::string(detail->get_string()) : json::serialize(*detail);
    }
    if (const json::value* rejected = object.if_contains("rejected");
        rejected && rejected->is_array() && !rejected->get_array().empty()) {
      std::string listed = json::serialize(*rejected);
      if (listed.size() > 2 * kMaxQuotedBody) listed = listed.substr(0, 2 * kMaxQuotedBody) + "…";
      message += (message.empty() ? "" : "; ") + std::string("rejected: ") + listed;
    }
  }
  if (message.empty()) {
    message = std::string(body.substr(0, kMaxQuotedBody));
    if (body.size() > kMaxQuotedBody) message += "…";
  }
  return message.empty() ? "no error message" : message;
}

ErrorCode codeForStatus(unsigned status) {
  switch (status) {
    case 400:
    case 422:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kAlreadyExists;
    case 413:
      return ErrorCode::kTooLarge;
    case 429:
    case 503:
      return ErrorCode::kOverloaded;
    default:
      return status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument;
  }
}

// Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); nullopt when absent or unreadable.
std::optional<std::chrono::milliseconds> retryAfter(const boost::beast::http::fields& headers) {
  const auto found = headers.find("retry-after");
  if (found == headers.end()) return std::nullopt;
  const std::string value(found->value());
  double seconds = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec == std::errc() && end == value.data() + value.size() && seconds >= 0) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
  }
  std::tm tm{};
  if (const char* parsed = strptime(value.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
      parsed != nullptr && *parsed == '\0') {
    const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
        at - std::chrono::system_clock::now());
    return std::max(wait, std::chrono::milliseconds(0));
  }
  return std::nullopt;
}

void appendPart(std::string& out, std::string_view boundary, std::string_view name,
                std::string_view body) {
  out += fmt::format(
      "--{}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"blob\"\r\n"
      "Content-Type: application/json\r\n\r\n",
      boundary, name);
  out += body;
  out += "\r\n";
}

}  // namespace

std::string encodeExamplesMultipart(const std::vector<ExampleToUpload>& examples,
                                    std::string_view boundary) {
  std::string out;
  for (const ExampleToUpload& example : examples) {
    json::object head;
    if (example.metadata) head["metadata"] = *example.metadata;
    if (example.splits.size() == 1) {
      head["split"] = example.splits.front();
    } else if (!example.splits.empty()) {
      json::array splits;
      for (const std::string& split : example.splits) splits.emplace_back(split);
      head["split"] = std::move(splits);
    }
    appendPart(out, boundary, example.id, json::serialize(head));
    appendPart(out, boundary, example.id + ".inputs", json::serialize(example.inputs));
    if (example.outputs) {
      appendPart(out, boundary, example.id + ".outputs", json::serialize(*example.outputs));
    }
  }
  out += fmt::format("--{}--\r\n", boundary);
  return out;
}

PharosApi::PharosApi(http::ClientPool& pool, http::Origin origin, PharosApiOptions options)
    : pool_(pool), origin_(std::move(origin)), options_(std::move(options)) {}

asio::awaitable<Result<json::value>> PharosApi::send(Call call) {
  http::ClientRequest request;
  request.method = call.method;
  request.target = origin_.base_path + std::string(kApiPrefix) + call.path;
  request.headers.emplace_back("accept", "application/json");
  if (!call.body.empty() || call.method == http::Verb::post || call.method == http::Verb::patch) {
    request.headers.emplace_back("content-type", call.content_type);
  }
  if (options_.api_key) request.headers.emplace_back("x-api-key", *options_.api_key);
  request.body = std::move(call.body);
  // "POST /api/v1/sessions": how every error of this call starts.
  const std::string endpoint =
      fmt::format("{} {}", std::string_view(boost::beast::http::to_string(call.method)),
                  std::string(kApiPrefix) + call.path.substr(0, call.path.find('?')));

  std::chrono::milliseconds backoff = options_.first_backoff;
  for (int attempt = 1;; ++attempt) {
    const auto deadline = http::Clock::now() + options_.timeout;
    http::ClientExchange exchange(pool_);
    auto head = co_await exchange.begin(origin_, request, deadline);
    if (!head) {
      Error error = std::move(head).error();
      error.message = fmt::format("{}: {}", endpoint, error.message);
      co_return error;
    }
    auto body = co_await exchange.readAll(deadline, options_.max_response_bytes);
    if (!body) {
      Error error = std::move(body).error();
      error.message = fmt::format("{}: {}", endpoint, error.message);
      co_return error;
    }
    const unsigned status = head->status;
    if (status >= 200 && status <= 299) {
      if (body->empty()) co_return json::value(nullptr);
      boost::system::error_code ec;
      json::value parsed = json::parse(*body, ec);
      if (ec) {
        co_return Error::internal(
            fmt::format("{}: HTTP {} with a body that is not JSON", endpoint, status));
      }
      co_return parsed;
    }
    if ((status == 429 || status == 503) && attempt < options_.max_attempts) {
      const std::chrono::milliseconds wait =
          std::min(retryAfter(head->headers).value_or(backoff), options_.max_retry_wait);
      backoff *= 2;
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      co_await timer.async_wait(asio::use_awaitable);
      continue;
    }
    std::string message = fmt::format("{}: HTTP {}: {}", endpoint, status, serverMessage(*body));
    if (status == 429 || status == 503) {
      message += fmt::format(" (gave up after {} tries)", attempt);
    }
    co_return Error{codeForStatus(status), std::move(message)};
  }
}

asio::awaitable<Result<json::value>> PharosApi::getDatasetByName(std::string name) {
  auto call = send({http::Verb::get, "/datasets?limit=1&name=" + percentEncode(name), {}});
  auto found = co_await std::move(call);
  if (!found) co_return std::move(found).error();
  if (!found->is_array()) {
    co_return Error::internal("GET /api/v1/datasets: expected an array of datasets");
  }
  // `name` is an exact match on the server; checking again guards against an older server that
  // ignores the parameter.
  for (json::value& dataset : found->get_array()) {
    const json::object* object = dataset.if_object();
    const json::value* found_name = object ? object->if_contains("name") : nullptr;
    if (found_name && found_name->is_string() && found_name->get_string() == name) {
      co_return std::move(dataset);
    }
  }
  co_return Error::notFound(fmt::format("dataset \"{}\" not found", name));
}

asio::awaitable<Result<json::value>> PharosApi::createDataset(json::object body) {
  auto call = send({http::Verb::post, "/datasets", json::serialize(body)});
  co_return co_await std::move(call);
}

asio::awaitable<Result<json::array>> PharosApi::listAll(std::string path, std::string what) {
  json::array all;
  const char separator = path.find('?') == std::string::npos ? '?' : '&';
  for (std::size_t offset = 0;;) {
    auto call = send({http::Verb::get,
                      fmt::format("{}{}offset={}&limit={}", path, separator, offset, kPageSize),
                      {}});
    auto page = co_await std::move(call);
    if (!page) co_return std::move(page).error();
    if (!page->is_array()) {
      co_return Error::internal(fmt::format("GET /api/v1{}: expected an array of {}",
                                            path.substr(0, path.find('?')), what));
    }
    const std::size_t count = page->get_array().size();
    for (json::value& item : page->get_array()) all.push_back(std::move(item));
    // The server clamps `limit`; a page shorter than asked for is the last one.
    if (count < kPageSize) break;
    offset += count;
  }
  co_return all;
}

asio::awaitable<Result<json::array>> PharosApi::listExamples(std::string dataset_id,
                                                             std::vector<std::string> splits,
                                                             std::optional<std::string> as_of) {
  std::string path = "/examples?dataset=" + percentEncode(dataset_id);
  for (const std::string& split : splits) path += "&splits=" + percentEncode(split);
  if (as_of) path += "&as_of=" + percentEncode(*as_of);
  auto listing = listAll(std::move(path), "examples");
  co_return co_await std::move(listing);
}

asio::awaitable<Result<json::array>> PharosApi::examplesWithIds(std::vector<std::string> ids) {
  constexpr std::size_t kIdsPerRequest = 50;  // keeps the query string short
  json::array found;
  for (std::size_t start = 0; start < ids.size(); start += kIdsPerRequest) {
    std::string path = "/examples?";
    for (std::size_t i = start; i < std::min(ids.size(), start + kIdsPerRequest); ++i) {
      if (i > start) path += '&';
      path += "id=" + percentEncode(ids[i]);
    }
    auto listing = listAll(std::move(path), "examples");
    auto page = co_await std::move(listing);
    if (!page) co_return std::move(page).error();
    for (json::value& example : *page) found.push_back(std::move(example));
  }
  co_return found;
}

asio::awaitable<Result<json::value>> PharosApi::uploadExamples(
    std::string dataset_id, std::vector<ExampleToUpload> examples) {
  json::array example_ids;
  const std::size_t per_request = std::max<std::size_t>(options_.examples_per_upload, 1);
  for (std::size_t start = 0; start < examples.size(); start += per_request) {
    const std::size_t end = std::min(examples.size(), start + per_request);
    const std::vector<ExampleToUpload> chunk(examples.begin() + static_cast<std::ptrdiff_t>(start),
                                             examples.begin() + static_cast<std::ptrdiff_t>(end));
    const std::string boundary = "pharos-" + core::randomAlphanumeric(32);
    Call call{http::Verb::post,
              "/platform/datasets/" + percentEncode(dataset_id) + "/examples?upsert=true",
              encodeExamplesMultipart(chunk, boundary),
              "multipart/form-data; boundary=" + boundary};
    auto sent = send(std::move(call));
    auto answer = co_await std::move(sent);
    if (!answer) co_return std::move(answer).error();
    const json::object* object = answer->if_object();
    const json::value* ids = object ? object->if_contains("example_ids") : nullptr;
    if (ids == nullptr || !ids->is_array()) {
      co_return Error::internal(
          "POST /api/v1/platform/datasets/{id}/examples: the answer has no example_ids");
    }
    for (const json::value& id : ids->get_array()) example_ids.push_back(id);
  }
  json::object merged;
  merged["count"] = example_ids.size();
  merged["example_ids"] = std::move(example_ids);
  co_return json::value(std::move(merged));
}

asio::awaitable<Result<json::value>> PharosApi::createSession(json::object body) {
  auto call = send({http::Verb::post, "/sessions", json::serialize(body)});
  co_return co_await std::move(call);
}

asio::awaitable<Result<json::value>> PharosApi::patchSession(std::string session_id,
                                                             json::object body) {
  auto call =
      send({http::Verb::patch, "/sessions/" + percentEncode(session_id), json::serialize(body)});
  co_return co_await std::move(call);
}

asio::awaitable<Result<json::array>> PharosApi::listSessions(std::string reference_dataset_id) {
  auto listing = listAll(
      "/sessions?reference_dataset=" + percentEncode(reference_dataset_id) + "&include_stats=true",
      "sessions");
  co_return co_await std::move(listing);
}

asio::awaitable<Result<json::array>> PharosApi::listDatasets() {
  auto listing = listAll("/datasets", "datasets");
  co_return co_await std::move(listing);
}

asio::awaitable<core::Status> PharosApi::postRuns(json::array post, json::array patch) {
  json::object body;
  body["post"] = std::move(post);
  body["patch"] = std::move(patch);
  auto call = send({http::Verb::post, "/runs/batch", json::serialize(body)});
  auto answer = co_await std::move(call);
  if (!answer) co_return std::move(answer).error();
  co_return core::Status{};
}

asio::awaitable<Result<json::value>> PharosApi::createFeedback(json::object body) {
  auto call = send({http::Verb::post, "/feedback", json::serialize(body)});
  co_return co_await std::move(call);
}

asio::awaitable<Result<json::value>> PharosApi::compare(std::string dataset_id,
                                                        std::vector<std::string> experiment_ids,
                                                        std::size_t offset) {
  std::string ids;
  for (const std::string& id : experiment_ids) {
    if (!ids.empty()) ids += ',';
    ids += percentEncode(id);
  }
  auto call = send({http::Verb::get,
                    fmt::format("/datasets/{}/compare?experiments={}&offset={}&limit={}",
                                percentEncode(dataset_id), ids, offset, kPageSize),
                    {}});
  co_return co_await std::move(call);
}

}  // namespace pharos::eval
