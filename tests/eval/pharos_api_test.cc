// PharosApi and the HTTP ModelClient against a real http::Server on 127.0.0.1 that plays the
// Pharos API and an OpenAI endpoint: the multipart examples body (decoded with the server's own
// decoder), 429/503 retries with Retry-After, paging, error messages, the api key header, and the
// OpenAI answer and error mapping.
#include "eval/runner/pharos_api.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "eval/api/examples_multipart.h"
#include "eval/runner/model_client.h"
#include "http/server.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class PharosApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.add(http::Verb::post, "/api/v1/platform/datasets/{id}/examples",
                [this](http::Request& request) -> http::Awaitable<http::Response> {
                  std::lock_guard lock(mutex_);
                  upload_content_type_ = std::string(request.header("content-type").value_or(""));
                  upload_target_ = std::string(request.target());
                  upload_bodies_.push_back(request.body());
                  auto decoded = decodeExamplesMultipart(request.body(), upload_content_type_,
                                                         /*for_update=*/false);
                  if (!decoded) co_return http::Response::fromError(decoded.error());
                  json::array ids;
                  for (const auto& example : *decoded) ids.emplace_back(example.id);
                  decoded_.insert(decoded_.end(), decoded->begin(), decoded->end());
                  json::object body{{"count", ids.size()}, {"example_ids", ids}};
                  co_return http::Response::json(201, json::serialize(body));
                });
    router_.add(http::Verb::post, "/api/v1/sessions",
                [this](http::Request& request) -> http::Awaitable<http::Response> {
                  const int call = ++session_calls_;
                  api_key_seen_ = std::string(request.header("x-api-key").value_or(""));
                  if (call <= busy_answers_) {
                    http::Response busy = http::Response::error(429, "rate_limited", "slow down");
                    busy.header("retry-after", "0");
                    co_return busy;
                  }
                  if (conflict_) {
                    co_return http::Response::error(409, "conflict",
                                                    "a project named \"v1\" already exists");
                  }
                  co_return http::Response::json(200, request.body());
                });
    router_.add(http::Verb::get, "/api/v1/examples",
                [this](http::Request& request) -> http::Awaitable<http::Response> {
                  const std::size_t offset = std::stoul(request.query("offset").value_or("0"));
                  {
                    std::lock_guard lock(mutex_);
                    offsets_.push_back(offset);
                    splits_ = request.queryAll("splits");
                  }
                  json::array page;
                  for (std::size_t i = offset; i < std::min<std::size_t>(offset + 100, 130); ++i) {
                    page.push_back(json::object{{"id", std::to_string(i)}});
                  }
                  co_return http::Response::json(200, json::serialize(page));
                });
    router_.add(http::Verb::get, "/api/v1/datasets",
                [](http::Request& request) -> http::Awaitable<http::Response> {
                  if (request.query("name") == "qa set") {
                    co_return http::Response::json(200, R"([{"id":"d1","name":"qa set"}])");
                  }
                  co_return http::Response::json(200, "[]");
                });
    router_.add(http::Verb::post, "/v1/chat/completions",
                [this](http::Request& request) -> http::Awaitable<http::Response> {
                  {
                    std::lock_guard lock(mutex_);
                    chat_bodies_.push_back(request.body());
                    chat_trace_ = std::string(request.header("langsmith-trace").value_or(""));
                    chat_auth_ = std::string(request.header("authorization").value_or(""));
                  }
                  const json::value body = json::parse(request.body());
                  if (body.at("model") == "missing") {
                    co_return http::Response::error(404, "not_found", "no model named missing");
                  }
                  if (body.at("model") == "broken") {
                    co_return http::Response::json(200, R"({"object":"nothing"})");
                  }
                  co_return http::Response::json(
                      200, R"({"choices":[{"message":{"role":"assistant","content":"Paris"}}],
                               "usage":{"prompt_tokens":7,"completion_tokens":1,"total_tokens":8}})");
                });
    router_.add(
        http::Verb::post, "/v1/embeddings", [](http::Request&) -> http::Awaitable<http::Response> {
          // Out of order on purpose: `index` decides.
          co_return http::Response::json(
              200, R"({"data":[{"index":1,"embedding":[0,1]},{"index":0,"embedding":[1,0.5]}]})");
        });

    http::ServerOptions options;
    options.settings.listen = {"127.0.0.1", 0};
    options.settings.io_threads = 1;
    options.settings.blocking_threads = 1;
    options.access_log = false;
    server_ = std::make_unique<http::Server>(options, router_, metrics_, nullptr);
    server_->start();
    origin_.host = "127.0.0.1";
    origin_.port = std::to_string(server_->localAddress().port);
  }

  void TearDown() override { server_->shutdown(); }

  template <class T>
  T run(std::function<asio::awaitable<T>()> body) {
    asio::io_context io;
    auto future = asio::co_spawn(io, body(), asio::use_future);
    io.run();
    pool_.clear();
    return future.get();
  }

  PharosApiOptions fastRetries() {
    PharosApiOptions options;
    options.api_key = "pk-test";
    options.first_backoff = 1ms;
    options.timeout = 5s;
    return options;
  }

  http::Router router_;
  http::MetricsRegistry metrics_;
  std::unique_ptr<http::Server> server_;
  http::Origin origin_;
  http::ClientPool pool_;

  std::mutex mutex_;
  std::string upload_content_type_, upload_target_;
  std::vector<std::string> upload_bodies_;
  std::vector<ExampleUpload> decoded_;
  std::atomic<int> session_calls_{0};
  int busy_answers_ = 0;
  bool conflict_ = false;
  std::string api_key_seen_;
  std::vector<std::size_t> offsets_;
  std::vector<std::string> splits_;
  std::vector<std::string> chat_bodies_;
  std::string chat_trace_, chat_auth_;
};

TEST(ExamplesMultipartEncodeTest, PartsAsTheLangSmithClientSendsThem) {
  ExampleToUpload example;
  example.id = "0190a0b0-0000-7000-8000-000000000001";
  example.inputs = {{"q", "2+2"}};
  example.outputs = json::object{{"a", "4"}};
  example.metadata = json::object{{"source", "file"}};
  example.splits = {"test"};
  EXPECT_EQ(encodeExamplesMultipart({example}, "B"),
            "--B\r\nContent-Disposition: form-data; name=\"0190a0b0-0000-7000-8000-000000000001\"; "
            "filename=\"blob\"\r\nContent-Type: application/json\r\n\r\n"
            "{\"metadata\":{\"source\":\"file\"},\"split\":\"test\"}\r\n"
            "--B\r\nContent-Disposition: form-data; "
            "name=\"0190a0b0-0000-7000-8000-000000000001.inputs\"; "
            "filename=\"blob\"\r\nContent-Type: application/json\r\n\r\n{\"q\":\"2+2\"}\r\n"
            "--B\r\nContent-Disposition: form-data; "
            "name=\"0190a0b0-0000-7000-8000-000000000001.outputs\"; "
            "filename=\"blob\"\r\nContent-Type: application/json\r\n\r\n{\"a\":\"4\"}\r\n"
            "--B--\r\n");
}

TEST_F(PharosApiTest, UploadsExamplesAsMultipartTheServerDecodes) {
  std::vector<ExampleToUpload> examples(3);
  for (int i = 0; i < 3; ++i) {
    examples[i].id = fmt::format("0190a0b0-0000-7000-8000-00000000000{}", i);
    examples[i].inputs = {{"q", i}};
  }
  examples[0].outputs = json::object{{"a", "zero"}};
  examples[1].splits = {"train", "hard"};
  examples[2].metadata = json::object{{"line", 3}};
  PharosApiOptions options = fastRetries();
  options.examples_per_upload = 2;  // two requests, answers merged
  PharosApi api(pool_, origin_, options);
  auto answer = run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
    auto uploading = api.uploadExamples("d 1", examples);
    co_return co_await std::move(uploading);
  });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(*answer, json::parse(R"({"count":3,"example_ids":[
      "0190a0b0-0000-7000-8000-000000000000","0190a0b0-0000-7000-8000-000000000001",
      "0190a0b0-0000-7000-8000-000000000002"]})"));
  EXPECT_EQ(upload_bodies_.size(), 2u);
  EXPECT_EQ(upload_target_, "/api/v1/platform/datasets/d%201/examples?upsert=true");
  EXPECT_THAT(upload_content_type_, ::testing::StartsWith("multipart/form-data; boundary=pharos-"));
  ASSERT_EQ(decoded_.size(), 3u);
  EXPECT_EQ(decoded_[0].outputs, json::object({{"a", "zero"}}));
  EXPECT_EQ(decoded_[0].inputs, json::object({{"q", 0}}));
  EXPECT_FALSE(decoded_[1].outputs.has_value());
  EXPECT_EQ(decoded_[1].splits, (std::vector<std::string>{"train", "hard"}));
  EXPECT_EQ(decoded_[2].metadata, json::object({{"line", 3}}));
  for (const auto& body : upload_bodies_) EXPECT_THAT(body, HasSubstr("filename=\"blob\""));
}

TEST_F(PharosApiTest, RetriesA429AndSendsTheApiKey) {
  busy_answers_ = 2;
  PharosApi api(pool_, origin_, fastRetries());
  auto answer = run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
    auto creating = api.createSession({{"name", "v1"}});
    co_return co_await std::move(creating);
  });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(*answer, json::parse(R"({"name":"v1"})"));
  EXPECT_EQ(session_calls_.load(), 3);
  EXPECT_EQ(api_key_seen_, "pk-test");
}

TEST_F(PharosApiTest, GivesUpAfterThreeTriesNamingTheEndpoint) {
  busy_answers_ = 10;
  PharosApi api(pool_, origin_, fastRetries());
  auto answer = run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
    auto creating = api.createSession({{"name", "v1"}});
    co_return co_await std::move(creating);
  });
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, core::ErrorCode::kOverloaded);
  EXPECT_EQ(answer.error().message,
            "POST /api/v1/sessions: HTTP 429: slow down (gave up after 3 tries)");
  EXPECT_EQ(session_calls_.load(), 3);
}

TEST_F(PharosApiTest, AConflictIsAlreadyExistsWithTheServersMessage) {
  conflict_ = true;
  PharosApi api(pool_, origin_, fastRetries());
  auto answer = run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
    auto creating = api.createSession({{"name", "v1"}});
    co_return co_await std::move(creating);
  });
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, core::ErrorCode::kAlreadyExists);
  EXPECT_EQ(answer.error().message,
            "POST /api/v1/sessions: HTTP 409: a project named \"v1\" already exists");
  EXPECT_EQ(session_calls_.load(), 1);
}

TEST_F(PharosApiTest, ListsExamplesPageByPage) {
  PharosApi api(pool_, origin_, fastRetries());
  auto listed = run<core::Result<json::array>>([&]() -> asio::awaitable<core::Result<json::array>> {
    auto listing = api.listExamples("d1", {"test", "hard one"});
    co_return co_await std::move(listing);
  });
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 130u);
  EXPECT_EQ((*listed)[129].at("id"), "129");
  EXPECT_EQ(offsets_, (std::vector<std::size_t>{0, 100}));
  EXPECT_EQ(splits_, (std::vector<std::string>{"test", "hard one"}));
}

TEST_F(PharosApiTest, FindsADatasetByNameOrSaysItIsMissing) {
  PharosApi api(pool_, origin_, fastRetries());
  auto found = run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
    auto getting = api.getDatasetByName("qa set");
    co_return co_await std::move(getting);
  });
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_EQ(found->at("id"), "d1");
  auto missing =
      run<core::Result<json::value>>([&]() -> asio::awaitable<core::Result<json::value>> {
        auto getting = api.getDatasetByName("nope");
        co_return co_await std::move(getting);
      });
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, core::ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message, "dataset \"nope\" not found");
}

TEST_F(PharosApiTest, AnUnreachableServerIsUnavailable) {
  http::Origin closed = origin_;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::address_v4::loopback(), 0});
    closed.port = std::to_string(acceptor.local_endpoint().port());
  }
  PharosApi api(pool_, closed, fastRetries());
  auto status = run<core::Status>([&]() -> asio::awaitable<core::Status> {
    auto posting = api.postRuns({});
    co_return co_await std::move(posting);
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(status.error().message, ::testing::StartsWith("POST /api/v1/runs/batch: "));
}

// --- the HTTP ModelClient -----------------------------------------------------------------------

TEST_F(PharosApiTest, ModelClientChatsWithTheGateway) {
  http::Origin base = origin_;
  base.base_path = "/v1";
  auto client = makeHttpModelClient(pool_, base, {{"authorization", "Bearer sk-1"}});
  ChatRequest request;
  request.model = "gpt-test";
  request.messages = json::parse(R"([{"role":"user","content":"capital of France?"}])").as_array();
  request.parameters = {{"temperature", 0}};
  request.headers = {{"langsmith-trace", "20260102T030405123456Zabc"}};
  auto answer = run<core::Result<ChatAnswer>>([&]() -> asio::awaitable<core::Result<ChatAnswer>> {
    auto calling = client->chat(request, std::chrono::steady_clock::now() + 5s);
    co_return co_await std::move(calling);
  });
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(answer->content, "Paris");
  EXPECT_EQ(answer->usage.at("total_tokens"), 8);
  EXPECT_GT(answer->latency_seconds, 0);
  ASSERT_EQ(chat_bodies_.size(), 1u);
  EXPECT_EQ(json::parse(chat_bodies_[0]), json::parse(R"({"temperature":0,"model":"gpt-test",
                            "messages":[{"role":"user","content":"capital of France?"}]})"));
  EXPECT_EQ(chat_trace_, "20260102T030405123456Zabc");
  EXPECT_EQ(chat_auth_, "Bearer sk-1");
}

TEST_F(PharosApiTest, ModelClientMapsErrors) {
  http::Origin base = origin_;
  base.base_path = "/v1";
  auto client = makeHttpModelClient(pool_, base, {});
  const auto chat = [&](std::string model) {
    return run<core::Result<ChatAnswer>>([&]() -> asio::awaitable<core::Result<ChatAnswer>> {
      ChatRequest request;
      request.model = model;
      request.messages = json::parse(R"([{"role":"user","content":"x"}])").as_array();
      auto calling = client->chat(request, std::chrono::steady_clock::now() + 5s);
      co_return co_await std::move(calling);
    });
  };
  auto missing = chat("missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_THAT(missing.error().message, HasSubstr("HTTP 404: no model named missing"));
  EXPECT_THAT(missing.error().message, HasSubstr("/v1/chat/completions"));
  auto broken = chat("broken");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().code, core::ErrorCode::kInternal);
  EXPECT_THAT(broken.error().message, HasSubstr("no choices[0]"));
}

TEST_F(PharosApiTest, ModelClientEmbedsInInputOrder) {
  http::Origin base = origin_;
  base.base_path = "/v1";
  auto client = makeHttpModelClient(pool_, base, {});
  EmbeddingRequest request;
  request.model = "embed";
  request.inputs = {"a", "b"};
  auto vectors = run<core::Result<std::vector<std::vector<double>>>>(
      [&]() -> asio::awaitable<core::Result<std::vector<std::vector<double>>>> {
        auto calling = client->embed(request, std::chrono::steady_clock::now() + 5s);
        co_return co_await std::move(calling);
      });
  ASSERT_TRUE(vectors.ok()) << vectors.error().message;
  EXPECT_EQ(*vectors, (std::vector<std::vector<double>>{{1, 0.5}, {0, 1}}));
}

}  // namespace
}  // namespace pharos::eval
