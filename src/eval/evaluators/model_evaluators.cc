// embedding_similarity and judge: evaluators that call a model through the gateway at --url.
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "eval/evaluators/answer_json.h"
#include "eval/evaluators/builtin_evaluators.h"

namespace pharos::eval::evaluators {
namespace {

namespace json = boost::json;

// The model's error with the evaluator and model named, its code kept (a timeout stays one).
core::Error modelError(std::string_view evaluator, std::string_view model, const core::Error& e) {
  return core::Error{e.code, fmt::format("{} model {}: {}", evaluator, model, e.message)};
}

core::Error noModelClient(std::string_view evaluator) {
  return core::Error::internal(fmt::format("{}: no model client to call", evaluator));
}

class EmbeddingSimilarity final : public KeyedEvaluator {
 public:
  EmbeddingSimilarity(std::string key, std::string model)
      : KeyedEvaluator(std::move(key)), model_(std::move(model)) {}

  bool usesModel() const override { return true; }

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext& context) override {
    if (!evaluation.reference_text) {
      co_return core::Error::invalidArgument("embedding_similarity needs a reference output");
    }
    if (context.models == nullptr) co_return noModelClient("embedding_similarity");
    EmbeddingRequest request{
        model_, {evaluation.output_text, *evaluation.reference_text}, context.headers};
    auto call = context.models->embed(request, context.deadline);
    auto vectors = co_await std::move(call);
    if (!vectors) co_return modelError("embedding_similarity", model_, vectors.error());
    auto similarity = cosine(*vectors);
    if (!similarity) co_return std::move(similarity).error();
    co_return result(*similarity);
  }

 private:
  core::Result<double> cosine(const std::vector<std::vector<double>>& vectors) const {
    if (vectors.size() != 2) {
      return core::Error::internal(fmt::format(
          "embedding_similarity model {}: expected 2 vectors, got {}", model_, vectors.size()));
    }
    const auto& a = vectors[0];
    const auto& b = vectors[1];
    if (a.empty() || a.size() != b.size()) {
      return core::Error::internal(fmt::format(
          "embedding_similarity model {}: vectors of sizes {} and {}", model_, a.size(), b.size()));
    }
    double dot = 0, norm_a = 0, norm_b = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
      dot += a[i] * b[i];
      norm_a += a[i] * a[i];
      norm_b += b[i] * b[i];
    }
    if (norm_a == 0 || norm_b == 0) {
      return core::Error::internal(
          fmt::format("embedding_similarity model {}: a zero vector has no direction", model_));
    }
    return dot / (std::sqrt(norm_a) * std::sqrt(norm_b));
  }

  std::string model_;
};

struct Scale {
  long long min = 1;
  long long max = 5;
};

class Judge final : public KeyedEvaluator {
 public:
  Judge(std::string key, std::string model, std::string rubric, Scale scale, bool json_mode)
      : KeyedEvaluator(std::move(key)),
        model_(std::move(model)),
        rubric_(std::move(rubric)),
        scale_(scale),
        json_mode_(json_mode) {}

  bool usesModel() const override { return true; }

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext& context) override {
    if (context.models == nullptr) co_return noModelClient("judge");
    const auto request = chatRequest(evaluation, context.headers);
    auto call = context.models->chat(request, context.deadline);
    auto answer = co_await std::move(call);
    if (!answer) co_return modelError("judge", model_, answer.error());
    co_return grade(answer->content);
  }

 private:
  ChatRequest chatRequest(const EvalCase& evaluation, const ModelHeaders& headers) const {
    const std::string system = fmt::format(
        "You are an impartial grader. Score the RESPONSE against the RUBRIC on an integer scale "
        "from {} to {}. Reply with JSON only: {{\"score\": <int>, \"reasoning\": \"<short>\"}}",
        scale_.min, scale_.max);
    std::string reference = "(none)";
    if (evaluation.reference_text) {
      reference = *evaluation.reference_text;
    } else if (!evaluation.reference_outputs.is_null()) {
      reference = json::serialize(evaluation.reference_outputs);
    }
    const std::string user =
        fmt::format("RUBRIC:\n{}\n\nINPUT:\n{}\n\nREFERENCE:\n{}\n\nRESPONSE:\n{}", rubric_,
                    json::serialize(evaluation.inputs), reference, evaluation.output_text);

    ChatRequest request;
    request.model = model_;
    request.messages.push_back(json::object{{"role", "system"}, {"content", system}});
    request.messages.push_back(json::object{{"role", "user"}, {"content", user}});
    request.parameters["temperature"] = 0;
    if (json_mode_) request.parameters["response_format"] = json::object{{"type", "json_object"}};
    request.headers = headers;
    return request;
  }

  // The verdict {"score": <int in scale>, "reasoning": "..."} as a result.
  core::Result<EvalResult> grade(std::string_view content) const {
    const auto bad = [&](std::string_view problem) {
      return core::Error::internal(
          fmt::format("judge model {} answered \"{}\": {}", model_, truncated(content), problem));
    };
    std::string parse_error;
    const auto verdict = parseAnswerJson(content, parse_error);
    if (!verdict) return bad(parse_error);
    if (!verdict->is_object()) return bad("expected a JSON object");
    const auto* score = verdict->as_object().if_contains("score");
    if (score == nullptr) return bad("no \"score\"");
    long long s = 0;
    if (score->is_int64()) {
      s = score->as_int64();
    } else if (score->is_uint64()) {  // above INT64_MAX, so above any scale
      return bad(
          fmt::format("score {} is outside {}-{}", score->as_uint64(), scale_.min, scale_.max));
    } else if (score->is_double() && std::isfinite(score->as_double()) &&
               std::trunc(score->as_double()) == score->as_double() &&
               std::fabs(score->as_double()) < 1e15) {
      s = static_cast<long long>(score->as_double());  // 4.0 is the integer 4
    } else {
      return bad("\"score\" is not an integer");
    }
    if (s < scale_.min || s > scale_.max) {
      return bad(fmt::format("score {} is outside {}-{}", s, scale_.min, scale_.max));
    }
    auto graded =
        result(static_cast<double>(s - scale_.min) / static_cast<double>(scale_.max - scale_.min));
    graded.value = s;
    if (const auto* reasoning = verdict->as_object().if_contains("reasoning");
        reasoning != nullptr && reasoning->is_string()) {
      graded.comment = std::string(reasoning->as_string());
    }
    return graded;
  }

  std::string model_;
  std::string rubric_;
  Scale scale_;
  bool json_mode_;
};

bool parseInteger(std::string_view text, long long& out) {
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc{} && ptr == end;
}

// Far beyond any sensible grading scale; keeps MAX - MIN and the double division exact.
constexpr long long kScaleBound = 1'000'000;

// "MIN-MAX" with integers MIN < MAX (MIN may be negative: "-2-2").
core::Result<Scale> parseScale(SpecOptions& options) {
  const auto text = options.take("scale");
  if (!text) return Scale{};
  const auto value = trimmed(*text);
  const auto dash = value.find('-', 1);
  Scale scale;
  if (dash == std::string_view::npos || !parseInteger(value.substr(0, dash), scale.min) ||
      !parseInteger(value.substr(dash + 1), scale.max) || scale.min >= scale.max ||
      std::llabs(scale.min) > kScaleBound || std::llabs(scale.max) > kScaleBound) {
    return options.optionError(
        "scale", fmt::format("expected MIN-MAX with integers MIN < MAX (within ±{}), got \"{}\"",
                             kScaleBound, truncated(*text, 40)));
  }
  return scale;
}

}  // namespace

core::Result<EvaluatorPtr> makeEmbeddingSimilarity(SpecOptions& options) {
  auto model = options.takeRequired("model");
  if (!model) return std::move(model).error();
  return EvaluatorPtr(
      std::make_unique<EmbeddingSimilarity>(options.key(), std::string(trimmed(*model))));
}

core::Result<EvaluatorPtr> makeJudge(SpecOptions& options) {
  auto model = options.takeRequired("model");
  if (!model) return std::move(model).error();
  auto rubric = options.takeRequired("rubric");
  if (!rubric) return std::move(rubric).error();
  auto scale = parseScale(options);
  if (!scale) return std::move(scale).error();
  auto json_mode = options.takeBool("json_mode", true);
  if (!json_mode) return std::move(json_mode).error();
  return EvaluatorPtr(std::make_unique<Judge>(options.key(), std::string(trimmed(*model)),
                                              std::move(rubric).value(), *scale, *json_mode));
}

}  // namespace pharos::eval::evaluators
