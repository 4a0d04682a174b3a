// exact_match, contains, regex: deterministic checks of the answer text.
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <memory>

#include "eval/evaluators/builtin_evaluators.h"

namespace pharos::eval::evaluators {
namespace {

// ASCII case folding: enough for identifiers and labels, and never changes byte lengths.
std::string lowered(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
  return out;
}

class ExactMatch final : public KeyedEvaluator {
 public:
  ExactMatch(std::string key, bool ignore_case, bool trim)
      : KeyedEvaluator(std::move(key)), ignore_case_(ignore_case), trim_(trim) {}

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext&) override {
    if (!evaluation.reference_text) {
      co_return core::Error::invalidArgument("exact_match needs a reference output");
    }
    co_return pass(normal(evaluation.output_text) == normal(*evaluation.reference_text));
  }

 private:
  std::string normal(std::string_view text) const {
    if (trim_) text = trimmed(text);
    return ignore_case_ ? lowered(text) : std::string(text);
  }

  bool ignore_case_;
  bool trim_;
};

class Contains final : public KeyedEvaluator {
 public:
  Contains(std::string key, std::optional<std::string> text, bool ignore_case)
      : KeyedEvaluator(std::move(key)), text_(std::move(text)), ignore_case_(ignore_case) {}

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext&) override {
    const std::optional<std::string>& needle = text_ ? text_ : evaluation.reference_text;
    if (!needle) {
      co_return core::Error::invalidArgument("contains needs text= or a reference output");
    }
    if (ignore_case_) {
      co_return pass(lowered(evaluation.output_text).find(lowered(*needle)) != std::string::npos);
    }
    co_return pass(evaluation.output_text.find(*needle) != std::string::npos);
  }

 private:
  std::optional<std::string> text_;
  bool ignore_case_;
};

class Regex final : public KeyedEvaluator {
 public:
  Regex(std::string key, std::unique_ptr<const RE2> pattern)
      : KeyedEvaluator(std::move(key)), pattern_(std::move(pattern)) {}

  asio::awaitable<core::Result<EvalResult>> evaluate(const EvalCase& evaluation,
                                                     const EvalContext&) override {
    co_return pass(RE2::PartialMatch(evaluation.output_text, *pattern_));
  }

 private:
  std::unique_ptr<const RE2> pattern_;
};

}  // namespace

core::Result<EvaluatorPtr> makeExactMatch(SpecOptions& options) {
  auto ignore_case = options.takeBool("ignore_case", false);
  if (!ignore_case) return std::move(ignore_case).error();
  auto trim = options.takeBool("trim", true);
  if (!trim) return std::move(trim).error();
  return EvaluatorPtr(std::make_unique<ExactMatch>(options.key(), *ignore_case, *trim));
}

core::Result<EvaluatorPtr> makeContains(SpecOptions& options) {
  auto text = options.take("text");
  if (text && text->empty()) return options.optionError("text", "must not be empty");
  auto ignore_case = options.takeBool("ignore_case", false);
  if (!ignore_case) return std::move(ignore_case).error();
  return EvaluatorPtr(std::make_unique<Contains>(options.key(), std::move(text), *ignore_case));
}

core::Result<EvaluatorPtr> makeRegex(SpecOptions& options) {
  auto text = options.takeRequired("pattern");
  if (!text) return std::move(text).error();
  RE2::Options re2_options;
  re2_options.set_log_errors(false);
  auto pattern = std::make_unique<const RE2>(*text, re2_options);
  if (!pattern->ok()) {
    return options.optionError(
        "pattern", fmt::format("bad pattern \"{}\": {}", truncated(*text), pattern->error()));
  }
  return EvaluatorPtr(std::make_unique<Regex>(options.key(), std::move(pattern)));
}

}  // namespace pharos::eval::evaluators
