// How the evaluation runner and the model-backed evaluators reach language models: OpenAI-shaped
// chat and embedding calls. The runner uses an HTTP implementation (a Pharos gateway or any
// OpenAI-compatible endpoint); tests substitute their own.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace pharos::http {
class ClientPool;
struct Origin;
}  // namespace pharos::http

namespace pharos::eval {

namespace asio = boost::asio;

using ModelDeadline = std::chrono::steady_clock::time_point;

// Extra request headers, e.g. `langsmith-trace` and `x-pharos-project`, so that the gateway
// records the call as a child of the caller's run.
using ModelHeaders = std::vector<std::pair<std::string, std::string>>;

struct ChatRequest {
  std::string model;
  boost::json::array messages;     // OpenAI chat messages ({role, content})
  boost::json::object parameters;  // merged into the body: temperature, response_format, ...
  ModelHeaders headers;
};

struct ChatAnswer {
  std::string content;       // choices[0].message.content ("" when null)
  boost::json::value usage;  // the response's usage object, or null
  boost::json::value body;   // the whole parsed response
  double latency_seconds = 0;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;
  ModelHeaders headers;
};

// Errors: kTimeout (deadline passed), kUnavailable (unreachable, reset, 5xx), kInvalidArgument
// (a 4xx; the message carries the provider's error message), kInternal (an answer that is not
// an OpenAI response).
class ModelClient {
 public:
  virtual ~ModelClient() = default;
  virtual asio::awaitable<core::Result<ChatAnswer>> chat(const ChatRequest& request,
                                                         ModelDeadline deadline) = 0;
  // One vector per input, in input order.
  virtual asio::awaitable<core::Result<std::vector<std::vector<double>>>> embed(
      const EmbeddingRequest& request, ModelDeadline deadline) = 0;
};

// An OpenAI-compatible endpoint over HTTP: POST {base.base_path}/chat/completions and
// /embeddings. For a Pharos gateway give the base path "/v1"; `auth_headers` (e.g.
// `authorization: Bearer …` or `x-api-key`) go with every request. The pool must outlive the
// client; calls run on the caller's I/O context.
std::unique_ptr<ModelClient> makeHttpModelClient(http::ClientPool& pool, http::Origin base,
                                                 ModelHeaders auth_headers);

}  // namespace pharos::eval
