// json_schema: the answer must be JSON that the schema accepts.
#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "eval/evaluators/answer_json.h"
#include "eval/evaluators/builtin_evaluators.h"
#include "eval/json_schema.h"

namespace pharos::eval::evaluators {
namespace {

constexpr std::size_t kViolationsInComment = 3;

std::string describe(const std::vector<SchemaViolation>& violations) {
  std::string comment;
  const auto shown = std::min(violations.size(), kViolationsInComment);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) comment += "; ";
    const auto& v = violations[i];
    comment += fmt::format("{}: {}", v.pointer.empty() ? "(root)" : v.pointer, v.message);
  }
  if (violations.size() > shown) {
    comment += fmt::format(" (+{} more)", violations.size() - shown);
  }
  return comment;
}

class JsonSchemaValid final : public KeyedEvaluator {
 public:
  JsonSchemaValid(std::string key, JsonSchema schema)
      : KeyedEvaluator(std::move(key)), schema_(std::move(schema)) {}

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext&) override {
    std::string error;
    const auto value = parseAnswerJson(evaluation.output_text, error);
    if (!value) {
      auto failed = pass(false);
      failed.comment = "output is " + error;
      co_return failed;
    }
    const auto violations = schema_.validate(*value);
    auto checked = pass(violations.empty());
    if (!violations.empty()) checked.comment = describe(violations);
    co_return checked;
  }

 private:
  JsonSchema schema_;
};

}  // namespace

core::Result<EvaluatorPtr> makeJsonSchema(SpecOptions& options,
                                          const EvaluatorEnvironment& environment) {
  auto text = options.takeRequired("schema");
  if (!text) return std::move(text).error();

  boost::json::value document;
  if (trimmed(*text) == "dataset") {
    if (environment.dataset_outputs_schema.is_null()) {
      return options.optionError("schema", "schema=dataset, but the dataset has no outputs schema");
    }
    document = environment.dataset_outputs_schema;
  } else {
    boost::json::error_code ec;
    document = boost::json::parse(*text, ec);
    if (ec) {
      return options.optionError(
          "schema", fmt::format("not JSON ({}): \"{}\"", ec.message(), truncated(*text, 80)));
    }
  }
  auto schema = JsonSchema::compile(document);
  if (!schema) return options.optionError("schema", schema.error().message);
  return EvaluatorPtr(std::make_unique<JsonSchemaValid>(options.key(), std::move(schema).value()));
}

}  // namespace pharos::eval::evaluators
