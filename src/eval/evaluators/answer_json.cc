#include "eval/evaluators/answer_json.h"

#include <boost/json/parse.hpp>

#include "eval/evaluators/evaluator_spec.h"

namespace pharos::eval::evaluators {

std::string_view stripCodeFence(std::string_view text) {
  text = trimmed(text);
  if (!text.starts_with("```")) return text;
  const auto first_line_end = text.find('\n');
  if (first_line_end == std::string_view::npos) return text;  // "```json{...}" is not a fence
  std::string_view body = text.substr(first_line_end + 1);
  body = trimmed(body);
  if (body.ends_with("```")) body.remove_suffix(3);
  return trimmed(body);
}

std::optional<boost::json::value> parseAnswerJson(std::string_view text, std::string& error) {
  const auto body = stripCodeFence(text);
  if (body.empty()) {
    error = "the answer is empty";
    return std::nullopt;
  }
  boost::json::error_code ec;
  auto value = boost::json::parse(body, ec);
  if (ec) {
    error = "not JSON (" + ec.message() + ")";
    return std::nullopt;
  }
  return value;
}

}  // namespace pharos::eval::evaluators
