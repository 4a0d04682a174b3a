// makeEvaluator(): the spec's name picks the factory; `key=` is common to all evaluators.
#include <fmt/format.h>

#include "eval/evaluators/builtin_evaluators.h"
#include "eval/evaluators/evaluator.h"
#include "eval/evaluators/evaluator_spec.h"

namespace pharos::eval {

core::Result<std::unique_ptr<Evaluator>> makeEvaluator(std::string_view spec,
                                                       const EvaluatorEnvironment& environment) {
  auto parsed = evaluators::parseEvaluatorSpec(spec);
  if (!parsed) return std::move(parsed).error();
  evaluators::SpecOptions options(std::move(parsed).value());

  if (auto key = options.take("key")) {
    const auto name = evaluators::trimmed(*key);
    if (name.empty()) return options.optionError("key", "must not be empty");
    options.setKey(std::string(name));
  }

  core::Result<std::unique_ptr<Evaluator>> made = core::Error::invalidArgument("");
  const auto& name = options.name();
  if (name == "exact_match") {
    made = evaluators::makeExactMatch(options);
  } else if (name == "contains") {
    made = evaluators::makeContains(options);
  } else if (name == "regex") {
    made = evaluators::makeRegex(options);
  } else if (name == "json_schema") {
    made = evaluators::makeJsonSchema(options, environment);
  } else if (name == "embedding_similarity") {
    made = evaluators::makeEmbeddingSimilarity(options);
  } else if (name == "judge") {
    made = evaluators::makeJudge(options);
  } else {
    return core::Error::invalidArgument(
        fmt::format("unknown evaluator \"{}\" (known: exact_match, contains, regex, json_schema, "
                    "embedding_similarity, judge)",
                    name));
  }
  if (!made) return made;
  if (auto unknown = options.finish(); !unknown) return std::move(unknown).error();
  return made;
}

}  // namespace pharos::eval
