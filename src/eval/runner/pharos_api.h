// A client of a running Pharos' LangSmith-compatible API (docs/plans/evaluation.md §2), for
// `pharos eval` and `pharos datasets`: datasets, examples, experiments (sessions), runs,
// feedback and compare. Everything goes to /api/v1 with `x-api-key` when a key is given.
//
// Answers are the server's JSON as boost::json values (the CLI reads a few fields; modelling the
// whole API here would only duplicate the server). Errors name the endpoint and carry the
// server's message; the code follows the status: 400/422 kInvalidArgument, 401
// kUnauthenticated, 403 kPermissionDenied, 404 kNotFound, 409 kAlreadyExists, 413 kTooLarge,
// 429/503 kOverloaded (after the retries), other 5xx and transport failures kUnavailable, a
// body that is not JSON kInternal. 429 and 503 are retried, honouring Retry-After, up to
// `max_attempts` tries in all.
//
// Calls run on the caller's I/O context; the pool must outlive the client.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/client.h"

namespace pharos::eval {

namespace asio = boost::asio;

struct PharosApiOptions {
  std::optional<std::string> api_key;                // sent as x-api-key
  std::chrono::milliseconds timeout{60'000};         // per attempt
  int max_attempts = 3;                              // 429/503 retries included
  std::chrono::milliseconds first_backoff{500};      // without Retry-After: 0.5 s, 1 s, ...
  std::chrono::milliseconds max_retry_wait{30'000};  // a longer Retry-After is cut to this
  std::size_t max_response_bytes = std::size_t{256} << 20;
  std::size_t examples_per_upload = 500;  // larger uploads are split into several requests
};

// One example for the multipart upload (§1 row 3).
struct ExampleToUpload {
  std::string id;  // a UUID
  boost::json::object inputs;
  std::optional<boost::json::object> outputs;
  std::optional<boost::json::object> metadata;
  std::vector<std::string> splits;
};

// The multipart/form-data body of POST /platform/datasets/{id}/examples: per example the parts
// `{id}` (application/json: {metadata?, split?}), `{id}.inputs` and `{id}.outputs` (when there
// are outputs), each with filename="blob", as the LangSmith client sends them. Pure.
std::string encodeExamplesMultipart(const std::vector<ExampleToUpload>& examples,
                                    std::string_view boundary);

class PharosApi {
 public:
  // `origin` is the server's base URL (its base_path is kept: "http://host/prefix" works).
  PharosApi(http::ClientPool& pool, http::Origin origin, PharosApiOptions options = {});

  // GET /datasets?name=&limit=1 → the dataset object; kNotFound naming the dataset when none.
  asio::awaitable<core::Result<boost::json::value>> getDatasetByName(std::string name);
  // POST /datasets with `body` ({name, description?, inputs_schema_definition?, ...}).
  asio::awaitable<core::Result<boost::json::value>> createDataset(boost::json::object body);
  // GET /examples?dataset=&offset=&limit=100 (plus splits/as_of), paged until a short page.
  asio::awaitable<core::Result<boost::json::array>> listExamples(
      std::string dataset_id, std::vector<std::string> splits = {},
      std::optional<std::string> as_of = std::nullopt);
  // GET /examples?id=…: those of `ids` that exist, in whatever dataset.
  asio::awaitable<core::Result<boost::json::array>> examplesWithIds(std::vector<std::string> ids);
  // POST /platform/datasets/{id}/examples?upsert=true (multipart) → {example_ids, count}; more
  // than `examples_per_upload` examples go in several requests whose answers are merged.
  asio::awaitable<core::Result<boost::json::value>> uploadExamples(
      std::string dataset_id, std::vector<ExampleToUpload> examples);
  // POST /sessions {name, extra:{metadata}, reference_dataset_id, num_examples,
  // num_repetitions}; kAlreadyExists on a taken name (the caller retries with a suffix).
  asio::awaitable<core::Result<boost::json::value>> createSession(boost::json::object body);
  // PATCH /sessions/{id} with `body` ({end_time, extra}).
  asio::awaitable<core::Result<boost::json::value>> patchSession(std::string session_id,
                                                                 boost::json::object body);
  // GET /datasets (all pages), newest first.
  asio::awaitable<core::Result<boost::json::array>> listDatasets();
  // GET /sessions?reference_dataset=&include_stats=true (all pages), newest first.
  asio::awaitable<core::Result<boost::json::array>> listSessions(std::string reference_dataset_id);
  // POST /runs/batch {post, patch}.
  asio::awaitable<core::Status> postRuns(boost::json::array post, boost::json::array patch = {});
  // POST /feedback.
  asio::awaitable<core::Result<boost::json::value>> createFeedback(boost::json::object body);
  // GET /datasets/{id}/compare?experiments=a,b (first page of 100 examples).
  asio::awaitable<core::Result<boost::json::value>> compare(std::string dataset_id,
                                                            std::vector<std::string> experiment_ids,
                                                            std::size_t offset = 0);

  const http::Origin& origin() const { return origin_; }

 private:
  struct Call {
    http::Verb method = http::Verb::get;
    std::string path;  // after /api/v1, query included
    std::string body;
    std::string content_type = "application/json";
  };
  // One call with the retries; the parsed JSON answer (null for an empty body).
  asio::awaitable<core::Result<boost::json::value>> send(Call call);
  asio::awaitable<core::Result<boost::json::array>> listAll(std::string path, std::string what);

  http::ClientPool& pool_;
  http::Origin origin_;
  PharosApiOptions options_;
};

}  // namespace pharos::eval
