// Evaluators of `pharos eval`: each scores one target answer against its example and returns one
// feedback result, or an error (which the runner records as error feedback, never as a score).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "eval/runner/model_client.h"

namespace pharos::eval {

// One example and what the target answered for it.
struct EvalCase {
  boost::json::value inputs;                  // the example's inputs object
  boost::json::value reference_outputs;       // the example's outputs object, or null
  std::string output_text;                    // the target's answer text
  std::optional<std::string> reference_text;  // the reference answer text, when there is one
};

struct EvalResult {
  std::string key;
  std::optional<double> score;
  boost::json::value value;  // null unless the evaluator has a raw value (e.g. the judge's 1-5)
  std::optional<std::string> comment;
};

// What model-backed evaluators need for their calls.
struct EvalContext {
  ModelClient* models = nullptr;  // the gateway at --url
  ModelHeaders headers;           // trace link of the evaluator run
  ModelDeadline deadline;
};

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // The feedback key (the evaluator's name unless the spec gave `key=`).
  virtual const std::string& key() const = 0;
  // True when evaluate() calls a model (the runner then traces it under an evaluator run).
  virtual bool usesModel() const { return false; }
  // `evaluation` and `context` outlive the returned awaitable.
  virtual asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                             const EvalContext& context) = 0;
};

// What a spec may refer to besides itself.
struct EvaluatorEnvironment {
  boost::json::value dataset_outputs_schema;  // for `json_schema:schema=dataset`; null when none
};

// Parses `NAME[:k=v,k=v]` (values `@path` are read from files); kInvalidArgument names the
// evaluator and the option at fault.
core::Result<std::unique_ptr<Evaluator>> makeEvaluator(std::string_view spec,
                                                       const EvaluatorEnvironment& environment);

}  // namespace pharos::eval
