// The spec language of `--evaluator NAME[:k=v,k=v]` (internal to eval/evaluators): splitting a
// spec into its name and options, reading `@path` values, and taking options one by one so that
// whatever an evaluator did not take is reported as unknown.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace pharos::eval::evaluators {

struct EvaluatorSpec {
  std::string name;
  std::vector<std::pair<std::string, std::string>> options;  // in spec order, values read
};

// Options are separated by a comma that is followed by `name=` (so that a regex `a{1,3}` or a
// rubric "short, correct" keeps its commas). A value `@path` is replaced by the file's content
// without its trailing line breaks. kInvalidArgument for an empty name, an option without `=`, an
// empty or repeated option name, or a file that cannot be read.
core::Result<EvaluatorSpec> parseEvaluatorSpec(std::string_view spec);

// Hands an evaluator its options and remembers which it took.
class SpecOptions {
 public:
  explicit SpecOptions(EvaluatorSpec spec);

  const std::string& name() const { return spec_.name; }
  // The feedback key: the evaluator's name unless setKey() was called (for `key=`).
  const std::string& key() const { return key_; }
  void setKey(std::string key) { key_ = std::move(key); }

  std::optional<std::string> take(std::string_view option);
  // "true"/"false"/"1"/"0"/"yes"/"no"; the default when absent.
  core::Result<bool> takeBool(std::string_view option, bool fallback);
  // A non-empty value; kInvalidArgument naming the option when it is absent or empty.
  core::Result<std::string> takeRequired(std::string_view option);

  // kInvalidArgument naming the first option nobody took.
  core::Status finish() const;

  // "evaluator <name>: option <option>: <problem>" (the shape of every option error).
  core::Error optionError(std::string_view option, std::string_view problem) const;

 private:
  EvaluatorSpec spec_;
  std::string key_;
  std::vector<bool> taken_;
};

// `text` without leading and trailing ASCII whitespace.
std::string_view trimmed(std::string_view text);
// `text` shortened to `limit` bytes (on a UTF-8 boundary) with "…" appended when cut, for
// quoting untrusted text in messages.
std::string truncated(std::string_view text, std::size_t limit = 200);

}  // namespace pharos::eval::evaluators
