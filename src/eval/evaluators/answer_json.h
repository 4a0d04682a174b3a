// Reading JSON out of a model's answer (internal to eval/evaluators): models often wrap JSON in
// a Markdown code fence (``` or ```json), which is not part of the value.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace pharos::eval::evaluators {

// `text` trimmed, without an enclosing ``` fence (its info string, e.g. "json", dropped too).
std::string_view stripCodeFence(std::string_view text);

// The answer parsed as one JSON value (after stripCodeFence); nullopt with `error` saying why.
std::optional<boost::json::value> parseAnswerJson(std::string_view text, std::string& error);

}  // namespace pharos::eval::evaluators
