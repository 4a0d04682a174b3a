// The evaluators makeEvaluator() knows (internal to eval/evaluators). Each factory takes its
// options from `options` (SpecOptions::finish() then reports the rest as unknown) and checks
// them up front, so that a bad spec fails before any example runs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/result.h"
#include "eval/evaluators/evaluator.h"
#include "eval/evaluators/evaluator_spec.h"

namespace pharos::eval::evaluators {

using EvaluatorPtr = std::unique_ptr<Evaluator>;

// What every evaluator has: its feedback key.
class KeyedEvaluator : public Evaluator {
 public:
  explicit KeyedEvaluator(std::string key) : key_(std::move(key)) {}
  const std::string& key() const override { return key_; }

 protected:
  EvalResult result(std::optional<double> score) const { return EvalResult{key_, score, {}, {}}; }
  EvalResult pass(bool passed) const { return result(passed ? 1.0 : 0.0); }

 private:
  std::string key_;
};

core::Result<EvaluatorPtr> makeExactMatch(SpecOptions& options);
core::Result<EvaluatorPtr> makeContains(SpecOptions& options);
core::Result<EvaluatorPtr> makeRegex(SpecOptions& options);
core::Result<EvaluatorPtr> makeJsonSchema(SpecOptions& options,
                                          const EvaluatorEnvironment& environment);
core::Result<EvaluatorPtr> makeEmbeddingSimilarity(SpecOptions& options);
core::Result<EvaluatorPtr> makeJudge(SpecOptions& options);

}  // namespace pharos::eval::evaluators
