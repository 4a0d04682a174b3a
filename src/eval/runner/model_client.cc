// The HTTP ModelClient: OpenAI chat completions and embeddings over http::ClientExchange, with
// the error mapping promised in model_client.h.
#include "eval/runner/model_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "http/client.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using core::Error;
using core::ErrorCode;
using core::Result;

// A chat answer or an embedding batch of a few thousand vectors fits comfortably.
constexpr std::size_t kMaxResponseBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxQuotedBody = 300;

struct RawResponse {
  unsigned status = 0;
  std::string body;
};

// The provider's own words for a failed call: OpenAI/Pharos `error.message`, LangSmith-style
// `detail`, or the start of the body.
std::string providerMessage(std::string_view body) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const json::object& object = parsed.get_object();
    if (const json::value* error = object.if_contains("error")) {
      if (error->is_string()) return std::string(error->get_string());
      if (error->is_object()) {
        if (const json::value* message = error->get_object().if_contains("message");
            message != nullptr && message->is_string()) {
          return std::string(message->get_string());
        }
      }
    }
    if (const json::value* detail = object.if_contains("detail"); detail != nullptr) {
      return detail->is_string() ? std::string(detail->get_string()) : json::serialize(*detail);
    }
  }
  std::string text(body.substr(0, kMaxQuotedBody));
  if (body.size() > kMaxQuotedBody) text += "…";
  return text.empty() ? "no error message" : text;
}

class HttpModelClient final : public ModelClient {
 public:
  HttpModelClient(http::ClientPool& pool, http::Origin base, ModelHeaders auth_headers)
      : pool_(pool), base_(std::move(base)), auth_headers_(std::move(auth_headers)) {}

  asio::awaitable<Result<ChatAnswer>> chat(const ChatRequest& request,
                                           ModelDeadline deadline) override {
    json::object body = request.parameters;
    body["model"] = request.model;
    body["messages"] = request.messages;
    const auto started = std::chrono::steady_clock::now();
    auto sent = post("/chat/completions", json::serialize(body), request.headers, deadline);
    auto response = co_await std::move(sent);
    if (!response) co_return std::move(response).error();
    const double latency =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

    auto parsed = parseObject(response->body, "chat completion");
    if (!parsed) co_return std::move(parsed).error();
    ChatAnswer answer;
    const json::object& object = parsed->get_object();
    const json::value* choices = object.if_contains("choices");
    if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
        !choices->get_array()[0].is_object()) {
      co_return Error::internal(fmt::format("{}: the answer has no choices[0]", where()));
    }
    const json::value* message = choices->get_array()[0].get_object().if_contains("message");
    if (message == nullptr || !message->is_object()) {
      co_return Error::internal(fmt::format("{}: choices[0] has no message", where()));
    }
    if (const json::value* content = message->get_object().if_contains("content");
        content != nullptr && content->is_string()) {
      answer.content = std::string(content->get_string());
    } else if (content != nullptr && !content->is_null()) {
      co_return Error::internal(
          fmt::format("{}: choices[0].message.content is neither a string nor null", where()));
    }
    if (const json::value* usage = object.if_contains("usage"); usage != nullptr) {
      answer.usage = *usage;
    }
    answer.latency_seconds = latency;
    answer.body = std::move(parsed).value();
    co_return answer;
  }

  asio::awaitable<Result<std::vector<std::vector<double>>>> embed(const EmbeddingRequest& request,
                                                                  ModelDeadline deadline) override {
    json::object body;
    body["model"] = request.model;
    json::array input;
    for (const std::string& text : request.inputs) input.emplace_back(text);
    body["input"] = std::move(input);
    auto sent = post("/embeddings", json::serialize(body), request.headers, deadline);
    auto response = co_await std::move(sent);
    if (!response) co_return std::move(response).error();
    auto parsed = parseObject(response->body, "embedding response");
    if (!parsed) co_return std::move(parsed).error();

    const json::value* data = parsed->get_object().if_contains("data");
    if (data == nullptr || !data->is_array()) {
      co_return Error::internal(
          fmt::format("{}: the embedding response has no data array", where("/embeddings")));
    }
    std::vector<std::vector<double>> vectors(request.inputs.size());
    std::vector<bool> seen(request.inputs.size(), false);
    std::size_t position = 0;
    for (const json::value& item : data->get_array()) {
      const json::object* entry = item.if_object();
      const json::value* embedding = entry ? entry->if_contains("embedding") : nullptr;
      if (embedding == nullptr || !embedding->is_array()) {
        co_return Error::internal(
            fmt::format("{}: data[{}] has no embedding array", where("/embeddings"), position));
      }
      // `index` says which input a vector belongs to; without it, the order is the input order.
      std::size_t index = position;
      if (const json::value* given = entry->if_contains("index"); given != nullptr) {
        if (!given->is_int64() || given->get_int64() < 0) {
          co_return Error::internal(
              fmt::format("{}: data[{}].index is not an index", where("/embeddings"), position));
        }
        index = static_cast<std::size_t>(given->get_int64());
      }
      if (index >= vectors.size() || seen[index]) {
        co_return Error::internal(
            fmt::format("{}: data[{}] names input {} of {} twice or out of "
                        "range",
                        where("/embeddings"), position, index, vectors.size()));
      }
      seen[index] = true;
      std::vector<double>& vector = vectors[index];
      vector.reserve(embedding->get_array().size());
      for (const json::value& number : embedding->get_array()) {
        if (!number.is_number()) {
          co_return Error::internal(fmt::format("{}: data[{}].embedding holds a non-number",
                                                where("/embeddings"), position));
        }
        vector.push_back(number.to_number<double>());
      }
      ++position;
    }
    if (std::find(seen.begin(), seen.end(), false) != seen.end()) {
      co_return Error::internal(fmt::format("{}: {} vectors for {} inputs", where("/embeddings"),
                                            position, vectors.size()));
    }
    co_return vectors;
  }

 private:
  std::string where(std::string_view path = "/chat/completions") const {
    return fmt::format("{}://{}{}{}", base_.tls ? "https" : "http", base_.hostHeader(),
                       base_.base_path, path);
  }

  Result<json::value> parseObject(std::string_view body, std::string_view what) const {
    boost::system::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) {
      return Error::internal(fmt::format("{}: the {} is not a JSON object", where(), what));
    }
    return parsed;
  }

  // One POST; a non-2xx answer becomes the error of model_client.h's contract.
  asio::awaitable<Result<RawResponse>> post(std::string path, std::string body,
                                            ModelHeaders extra_headers, ModelDeadline deadline) {
    http::ClientRequest request;
    request.method = http::Verb::post;
    request.target = base_.base_path + path;
    request.headers.emplace_back("content-type", "application/json");
    request.headers.emplace_back("accept", "application/json");
    for (const auto& header : auth_headers_) request.headers.push_back(header);
    for (auto& header : extra_headers) request.headers.push_back(std::move(header));
    request.body = std::move(body);

    http::ClientExchange exchange(pool_);
    auto head = co_await exchange.begin(base_, request, deadline);
    if (!head) co_return std::move(head).error();
    auto whole = co_await exchange.readAll(deadline, kMaxResponseBytes);
    if (!whole) {
      Error error = std::move(whole).error();
      if (error.code == ErrorCode::kTooLarge) error.code = ErrorCode::kInternal;
      co_return error;
    }
    const unsigned status = head->status;
    if (status >= 200 && status <= 299) co_return RawResponse{status, std::move(whole).value()};
    const std::string message =
        fmt::format("{} answered HTTP {}: {}", where(path), status, providerMessage(*whole));
    if (status >= 400 && status <= 499) co_return Error::invalidArgument(message);
    co_return Error::unavailable(message);
  }

  http::ClientPool& pool_;
  http::Origin base_;
  ModelHeaders auth_headers_;
};

}  // namespace

std::unique_ptr<ModelClient> makeHttpModelClient(http::ClientPool& pool, http::Origin base,
                                                 ModelHeaders auth_headers) {
  return std::make_unique<HttpModelClient>(pool, std::move(base), std::move(auth_headers));
}

}  // namespace pharos::eval
