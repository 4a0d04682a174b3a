#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "eval/evaluators/evaluator.h"

namespace pharos::eval {
namespace {

namespace json = boost::json;

// Answers chat and embedding calls with what the test set, and keeps the requests.
class FakeModels final : public ModelClient {
 public:
  core::Result<ChatAnswer> chat_answer = core::Error::internal("no chat answer set");
  core::Result<std::vector<std::vector<double>>> embeddings =
      core::Error::internal("no embeddings set");
  std::vector<ChatRequest> chats;
  std::vector<EmbeddingRequest> embeds;

  void answer(std::string content) {
    ChatAnswer a;
    a.content = std::move(content);
    chat_answer = std::move(a);
  }

  asio::awaitable<core::Result<ChatAnswer>> chat(const ChatRequest& request,
                                                 ModelDeadline) override {
    chats.push_back(request);
    co_return chat_answer;
  }
  asio::awaitable<core::Result<std::vector<std::vector<double>>>> embed(
      const EmbeddingRequest& request, ModelDeadline) override {
    embeds.push_back(request);
    co_return embeddings;
  }
};

std::unique_ptr<Evaluator> made(std::string_view spec, const EvaluatorEnvironment& env = {}) {
  auto r = makeEvaluator(spec, env);
  if (!r) {
    ADD_FAILURE() << spec << ": " << r.error().message;
    return nullptr;
  }
  return std::move(r).value();
}

std::string specError(std::string_view spec, const EvaluatorEnvironment& env = {}) {
  auto r = makeEvaluator(spec, env);
  if (r) return "<made>";
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument) << spec;
  return r.error().message;
}

EvalCase answerCase(std::string output, std::optional<std::string> reference = std::nullopt) {
  EvalCase c;
  c.inputs = json::object{{"question", "What is 2+2?"}};
  if (reference) c.reference_outputs = json::object{{"answer", *reference}};
  c.output_text = std::move(output);
  c.reference_text = std::move(reference);
  return c;
}

core::Result<EvalResult> run(Evaluator& evaluator, const EvalCase& evaluation,
                             ModelClient* models = nullptr) {
  EvalContext context;
  context.models = models;
  context.headers = {{"langsmith-trace", "20260101T000000000000Zabc"},
                     {"x-pharos-project", "evaluators"}};
  context.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  asio::io_context io;
  auto future = asio::co_spawn(io, evaluator.evaluate(evaluation, context), asio::use_future);
  io.run();
  return future.get();
}

// The score of a successful evaluation (NaN after reporting the error).
double score(Evaluator& evaluator, const EvalCase& evaluation, ModelClient* models = nullptr) {
  auto r = run(evaluator, evaluation, models);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return std::nan("");
  }
  EXPECT_EQ(r->key, evaluator.key());
  EXPECT_TRUE(r->score.has_value());
  return r->score.value_or(std::nan(""));
}

std::string evalError(Evaluator& evaluator, const EvalCase& evaluation,
                      ModelClient* models = nullptr) {
  auto r = run(evaluator, evaluation, models);
  if (r) return "<scored>";
  return r.error().message;
}

class TempFile {
 public:
  explicit TempFile(std::string_view content) {
    static int counter = 0;
    path_ =
        std::filesystem::temp_directory_path() /
        ("pharos_evaluators_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// --- spec parsing ---

TEST(EvaluatorSpec, UnknownEvaluatorIsNamed) {
  EXPECT_NE(specError("exact").find("unknown evaluator \"exact\""), std::string::npos);
  EXPECT_NE(specError("").find("missing evaluator name"), std::string::npos);
  EXPECT_NE(specError(":trim=true").find("missing evaluator name"), std::string::npos);
}

TEST(EvaluatorSpec, UnknownOptionIsNamed) {
  EXPECT_EQ(specError("exact_match:field=answer"), "evaluator exact_match: unknown option field");
  EXPECT_EQ(specError("regex:pattern=a,colour=red"), "evaluator regex: unknown option colour");
}

TEST(EvaluatorSpec, MalformedOptions) {
  EXPECT_EQ(specError("exact_match:trim"),
            "evaluator exact_match: option \"trim\" is not of the form name=value");
  EXPECT_EQ(specError("exact_match:=1"), "evaluator exact_match: option \"=1\" has no name");
  EXPECT_EQ(specError("exact_match:trim=true,trim=false"),
            "evaluator exact_match: option trim given twice");
  EXPECT_EQ(specError("exact_match:trim=maybe"),
            "evaluator exact_match: option trim: expected true or false, got \"maybe\"");
  EXPECT_EQ(specError("exact_match:key="), "evaluator exact_match: option key: must not be empty");
}

TEST(EvaluatorSpec, KeyOverridesTheFeedbackKey) {
  auto e = made("exact_match");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key(), "exact_match");
  e = made("exact_match:key=correct,ignore_case=true");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key(), "correct");
  auto r = run(*e, answerCase("Four", "four"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->key, "correct");
  EXPECT_EQ(r->score, 1.0);
}

TEST(EvaluatorSpec, CommasNotFollowedByAnOptionBelongToTheValue) {
  auto e = made("regex:pattern=^a{1,3}$,key=short");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->key(), "short");
  EXPECT_EQ(score(*e, answerCase("aaa")), 1.0);
  EXPECT_EQ(score(*e, answerCase("aaaa")), 0.0);
}

TEST(EvaluatorSpec, AtPathReadsTheFile) {
  TempFile needle("needle\n");
  auto e = made("contains:text=@" + needle.path());
  ASSERT_TRUE(e);
  EXPECT_EQ(score(*e, answerCase("a needle in a haystack")), 1.0);  // trailing newline dropped
  EXPECT_EQ(score(*e, answerCase("hay only")), 0.0);

  const auto message = specError("contains:text=@/nonexistent/pharos/needle.txt");
  EXPECT_EQ(message,
            "evaluator contains: option text: cannot read file /nonexistent/pharos/needle.txt");
}

// --- exact_match ---

TEST(ExactMatch, TrimsByDefaultAndIsCaseSensitive) {
  auto e = made("exact_match");
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->usesModel());
  EXPECT_EQ(score(*e, answerCase("  4\n", "4")), 1.0);
  EXPECT_EQ(score(*e, answerCase("Four", "four")), 0.0);
  EXPECT_EQ(score(*e, answerCase("5", "4")), 0.0);
}

TEST(ExactMatch, Options) {
  auto strict = made("exact_match:trim=false");
  ASSERT_TRUE(strict);
  EXPECT_EQ(score(*strict, answerCase(" 4", "4")), 0.0);
  auto folded = made("exact_match:ignore_case=true");
  ASSERT_TRUE(folded);
  EXPECT_EQ(score(*folded, answerCase("PARIS ", "Paris")), 1.0);
}

TEST(ExactMatch, NeedsAReference) {
  auto e = made("exact_match");
  ASSERT_TRUE(e);
  EXPECT_EQ(evalError(*e, answerCase("4")), "exact_match needs a reference output");
}

// --- contains ---

TEST(Contains, LiteralOrReference) {
  auto literal = made("contains:text=Paris");
  ASSERT_TRUE(literal);
  EXPECT_EQ(score(*literal, answerCase("It is Paris.")), 1.0);
  EXPECT_EQ(score(*literal, answerCase("It is paris.")), 0.0);

  auto reference = made("contains");
  ASSERT_TRUE(reference);
  EXPECT_EQ(score(*reference, answerCase("The answer is 4.", "4")), 1.0);
  EXPECT_EQ(score(*reference, answerCase("The answer is 5.", "4")), 0.0);
  EXPECT_EQ(evalError(*reference, answerCase("4")), "contains needs text= or a reference output");

  auto folded = made("contains:text=PARIS,ignore_case=true");
  ASSERT_TRUE(folded);
  EXPECT_EQ(score(*folded, answerCase("it is paris")), 1.0);
  EXPECT_EQ(specError("contains:text="), "evaluator contains: option text: must not be empty");
}

// --- regex ---

TEST(Regex, PartialMatch) {
  auto e = made("regex:pattern=\\b4\\b");
  ASSERT_TRUE(e);
  EXPECT_EQ(score(*e, answerCase("The answer is 4.")), 1.0);
  EXPECT_EQ(score(*e, answerCase("The answer is 44.")), 0.0);
}

TEST(Regex, BadOrMissingPattern) {
  const auto message = specError("regex:pattern=(unclosed");
  EXPECT_EQ(message.find("evaluator regex: option pattern: bad pattern \"(unclosed\""), 0u)
      << message;
  EXPECT_NE(message.find("missing )"), std::string::npos) << message;
  EXPECT_EQ(specError("regex"), "evaluator regex: option pattern: required");
}

// --- json_schema ---

constexpr std::string_view kAnswerSchema =
    R"({"type":"object","required":["answer"],"properties":{"answer":{"type":"integer"}}})";

TEST(JsonSchemaEvaluator, ValidJsonPasses) {
  auto e = made("json_schema:schema=" + std::string(kAnswerSchema));
  ASSERT_TRUE(e);
  auto r = run(*e, answerCase(R"({"answer": 4})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->score, 1.0);
  EXPECT_FALSE(r->comment.has_value());
  // A fenced answer is read without its fence.
  EXPECT_EQ(score(*e, answerCase("```json\n{\"answer\": 4}\n```")), 1.0);
  EXPECT_EQ(score(*e, answerCase("```\n{\"answer\": 4}\n```\n")), 1.0);
}

TEST(JsonSchemaEvaluator, ViolationsAndParseErrorsScoreZeroWithAComment) {
  TempFile schema(R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"},)"
                  R"("c":{"type":"string"},"d":{"type":"string"}}})");
  auto e = made("json_schema:schema=@" + schema.path());
  ASSERT_TRUE(e);
  auto r = run(*e, answerCase(R"({"a":1,"b":2,"c":3,"d":4})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->score, 0.0);
  ASSERT_TRUE(r->comment);
  EXPECT_EQ(*r->comment,
            "/a: expected a string, got a number; /b: expected a string, got a number; /c: "
            "expected a string, got a number (+1 more)");

  r = run(*e, answerCase("4"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->score, 0.0);
  EXPECT_EQ(r->comment.value_or(""), "(root): expected an object, got a number");

  r = run(*e, answerCase("The answer is {\"a\": \"x\"}"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->score, 0.0);
  EXPECT_EQ(r->comment.value_or("").find("output is not JSON"), 0u) << r->comment.value_or("");
}

TEST(JsonSchemaEvaluator, DatasetSchema) {
  EvaluatorEnvironment env;
  env.dataset_outputs_schema = json::parse(kAnswerSchema);
  auto e = made("json_schema:schema=dataset", env);
  ASSERT_TRUE(e);
  EXPECT_EQ(score(*e, answerCase(R"({"answer": 4})")), 1.0);
  EXPECT_EQ(score(*e, answerCase(R"({"answer": "four"})")), 0.0);

  EXPECT_EQ(specError("json_schema:schema=dataset"),
            "evaluator json_schema: option schema: schema=dataset, but the dataset has no "
            "outputs schema");
}

TEST(JsonSchemaEvaluator, BadSchemas) {
  EXPECT_EQ(specError("json_schema"), "evaluator json_schema: option schema: required");
  EXPECT_EQ(specError("json_schema:schema={not json")
                .find("evaluator json_schema: option schema: not JSON"),
            0u);
  const auto message = specError(R"(json_schema:schema={"type":"strng"})");
  EXPECT_EQ(message.find("evaluator json_schema: option schema: "), 0u) << message;
  EXPECT_NE(message.find("strng"), std::string::npos) << message;
}

// --- embedding_similarity ---

TEST(EmbeddingSimilarity, CosineOfOneCall) {
  auto e = made("embedding_similarity:model=text-embedding-3-small");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->usesModel());
  FakeModels models;
  models.embeddings = std::vector<std::vector<double>>{{1, 0, 1}, {1, 0, 0}};
  EXPECT_NEAR(score(*e, answerCase("four", "4"), &models), 1 / std::sqrt(2.0), 1e-12);
  ASSERT_EQ(models.embeds.size(), 1u);
  EXPECT_EQ(models.embeds[0].model, "text-embedding-3-small");
  EXPECT_EQ(models.embeds[0].inputs, (std::vector<std::string>{"four", "4"}));
  ASSERT_EQ(models.embeds[0].headers.size(), 2u);
  EXPECT_EQ(models.embeds[0].headers[1].second, "evaluators");
}

TEST(EmbeddingSimilarity, Errors) {
  EXPECT_EQ(specError("embedding_similarity"),
            "evaluator embedding_similarity: option model: required");
  auto e = made("embedding_similarity:model=emb");
  ASSERT_TRUE(e);
  FakeModels models;
  EXPECT_EQ(evalError(*e, answerCase("four"), &models),
            "embedding_similarity needs a reference output");
  EXPECT_TRUE(models.embeds.empty());

  models.embeddings = core::Error{core::ErrorCode::kTimeout, "deadline passed"};
  auto r = run(*e, answerCase("four", "4"), &models);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kTimeout);
  EXPECT_EQ(r.error().message, "embedding_similarity model emb: deadline passed");

  models.embeddings = std::vector<std::vector<double>>{{1, 0}};
  EXPECT_EQ(evalError(*e, answerCase("four", "4"), &models),
            "embedding_similarity model emb: expected 2 vectors, got 1");
  models.embeddings = std::vector<std::vector<double>>{{0, 0}, {1, 0}};
  EXPECT_EQ(evalError(*e, answerCase("four", "4"), &models),
            "embedding_similarity model emb: a zero vector has no direction");
}

// --- judge ---

TEST(Judge, SendsTheFixedPromptAndScalesTheScore) {
  TempFile rubric("Is the answer correct?\n");
  auto e = made("judge:model=gpt-4o-mini,rubric=@" + rubric.path());
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->usesModel());
  FakeModels models;
  models.answer(R"({"score": 4, "reasoning": "correct but terse"})");
  auto r = run(*e, answerCase("4", "four"), &models);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->key, "judge");
  EXPECT_EQ(r->score, 0.75);
  EXPECT_EQ(r->value, json::value(4));
  EXPECT_EQ(r->comment, "correct but terse");

  ASSERT_EQ(models.chats.size(), 1u);
  const auto& request = models.chats[0];
  EXPECT_EQ(request.model, "gpt-4o-mini");
  EXPECT_EQ(json::serialize(request.parameters),
            R"({"temperature":0,"response_format":{"type":"json_object"}})");
  ASSERT_EQ(request.messages.size(), 2u);
  EXPECT_EQ(request.messages[0].at("role"), "system");
  EXPECT_EQ(request.messages[0].at("content"),
            "You are an impartial grader. Score the RESPONSE against the RUBRIC on an integer "
            "scale from 1 to 5. Reply with JSON only: {\"score\": <int>, \"reasoning\": "
            "\"<short>\"}");
  EXPECT_EQ(request.messages[1].at("role"), "user");
  EXPECT_EQ(request.messages[1].at("content"),
            "RUBRIC:\nIs the answer correct?\n\nINPUT:\n{\"question\":\"What is 2+2?\"}\n\n"
            "REFERENCE:\nfour\n\nRESPONSE:\n4");
  EXPECT_EQ(request.headers.size(), 2u);
  EXPECT_EQ(request.headers[0].first, "langsmith-trace");
}

TEST(Judge, ScaleJsonModeAndNoReference) {
  auto e = made("judge:model=m,rubric=Be kind, be brief.,scale=0-10,json_mode=false");
  ASSERT_TRUE(e);
  FakeModels models;
  models.answer("```json\n{\"score\": 10.0}\n```");
  auto r = run(*e, answerCase("4"), &models);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->score, 1.0);
  EXPECT_EQ(r->value, json::value(10));
  EXPECT_FALSE(r->comment.has_value());
  ASSERT_EQ(models.chats.size(), 1u);
  EXPECT_EQ(json::serialize(models.chats[0].parameters), R"({"temperature":0})");
  const auto user = std::string(models.chats[0].messages[1].at("content").as_string());
  EXPECT_EQ(user.find("RUBRIC:\nBe kind, be brief.\n\n"), 0u) << user;
  EXPECT_NE(user.find("REFERENCE:\n(none)\n\n"), std::string::npos) << user;
  EXPECT_NE(std::string(models.chats[0].messages[0].at("content").as_string()).find("from 0 to 10"),
            std::string::npos);
}

TEST(Judge, BadVerdictsAreErrorsNamingTheAnswer) {
  auto e = made("judge:model=m,rubric=r");
  ASSERT_TRUE(e);
  FakeModels models;
  const auto verdict = [&](std::string content) {
    models.answer(std::move(content));
    return evalError(*e, answerCase("4", "4"), &models);
  };
  EXPECT_EQ(verdict("I'd say 4"), "judge model m answered \"I'd say 4\": not JSON (syntax error)");
  EXPECT_EQ(verdict("[4]"), "judge model m answered \"[4]\": expected a JSON object");
  EXPECT_EQ(verdict(R"({"grade": 4})"), "judge model m answered \"{\"grade\": 4}\": no \"score\"");
  EXPECT_EQ(verdict(R"({"score": 6})"),
            "judge model m answered \"{\"score\": 6}\": score 6 is outside 1-5");
  EXPECT_EQ(verdict(R"({"score": 0})"),
            "judge model m answered \"{\"score\": 0}\": score 0 is outside 1-5");
  EXPECT_EQ(verdict(R"({"score": 18446744073709551615})"),
            "judge model m answered \"{\"score\": 18446744073709551615}\": score "
            "18446744073709551615 is outside 1-5");
  EXPECT_EQ(verdict(R"({"score": 3.5})"),
            "judge model m answered \"{\"score\": 3.5}\": \"score\" is not an integer");
  EXPECT_EQ(verdict(R"({"score": "4"})"),
            "judge model m answered \"{\"score\": \"4\"}\": \"score\" is not an integer");
  const auto long_answer = verdict(std::string(500, 'x'));
  EXPECT_EQ(long_answer,
            "judge model m answered \"" + std::string(200, 'x') + "…\": not JSON (syntax error)");
}

TEST(Judge, ModelErrorKeepsItsCode) {
  auto e = made("judge:model=m,rubric=r");
  ASSERT_TRUE(e);
  FakeModels models;
  models.chat_answer = core::Error::unavailable("connection refused");
  auto r = run(*e, answerCase("4", "4"), &models);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnavailable);
  EXPECT_EQ(r.error().message, "judge model m: connection refused");
}

TEST(Judge, SpecErrors) {
  EXPECT_EQ(specError("judge:rubric=r"), "evaluator judge: option model: required");
  EXPECT_EQ(specError("judge:model=m"), "evaluator judge: option rubric: required");
  EXPECT_EQ(specError("judge:model=m,rubric=r,scale=5-1"),
            "evaluator judge: option scale: expected MIN-MAX with integers MIN < MAX (within "
            "±1000000), got \"5-1\"");
  EXPECT_EQ(specError("judge:model=m,rubric=r,scale=high"),
            "evaluator judge: option scale: expected MIN-MAX with integers MIN < MAX (within "
            "±1000000), got \"high\"");
  EXPECT_NE(specError("judge:model=m,rubric=r,scale=-9223372036854775807-9223372036854775807")
                .find("option scale"),
            std::string::npos);
  EXPECT_EQ(specError("judge:model=m,rubric=r,json_mode=perhaps"),
            "evaluator judge: option json_mode: expected true or false, got \"perhaps\"");
  EXPECT_EQ(specError("judge:model=m,rubric=r,temperature=1"),
            "evaluator judge: unknown option temperature");
}

}  // namespace
}  // namespace pharos::eval
