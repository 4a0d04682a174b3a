#include "eval/evaluators/evaluator_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace pharos::eval::evaluators {
namespace {

bool isOptionNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// True when `rest` (the text after a comma) starts with `name=`.
bool startsOption(std::string_view rest) {
  std::size_t i = 0;
  while (i < rest.size() && isOptionNameChar(rest[i])) ++i;
  return i > 0 && i < rest.size() && rest[i] == '=';
}

core::Result<std::string> readValueFile(std::string_view name, std::string_view option,
                                        std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) {
    return core::Error::invalidArgument(
        fmt::format("evaluator {}: option {}: cannot read file {}", name, option, path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string content = std::move(text).str();
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  return content;
}

}  // namespace

core::Result<EvaluatorSpec> parseEvaluatorSpec(std::string_view spec) {
  EvaluatorSpec parsed;
  const auto colon = spec.find(':');
  parsed.name = std::string(trimmed(spec.substr(0, colon)));
  if (parsed.name.empty()) {
    return core::Error::invalidArgument(
        fmt::format("evaluator spec \"{}\": missing evaluator name (NAME[:k=v,k=v])", spec));
  }
  if (colon == std::string_view::npos) return parsed;

  // Split at commas that start a new `name=`; other commas belong to the value.
  std::string_view rest = spec.substr(colon + 1);
  std::vector<std::string_view> pieces;
  std::size_t start = 0;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == ',' && startsOption(rest.substr(i + 1))) {
      pieces.push_back(rest.substr(start, i - start));
      start = i + 1;
    }
  }
  pieces.push_back(rest.substr(start));

  for (const auto piece : pieces) {
    const auto equals = piece.find('=');
    if (equals == std::string_view::npos) {
      return core::Error::invalidArgument(fmt::format(
          "evaluator {}: option \"{}\" is not of the form name=value", parsed.name, piece));
    }
    const std::string option{trimmed(piece.substr(0, equals))};
    if (option.empty()) {
      return core::Error::invalidArgument(
          fmt::format("evaluator {}: option \"{}\" has no name", parsed.name, piece));
    }
    const bool repeated = std::any_of(parsed.options.begin(), parsed.options.end(),
                                      [&](const auto& o) { return o.first == option; });
    if (repeated) {
      return core::Error::invalidArgument(
          fmt::format("evaluator {}: option {} given twice", parsed.name, option));
    }
    std::string_view value = piece.substr(equals + 1);
    if (value.starts_with('@')) {
      auto content = readValueFile(parsed.name, option, value.substr(1));
      if (!content) return std::move(content).error();
      parsed.options.emplace_back(option, std::move(content).value());
    } else {
      parsed.options.emplace_back(option, std::string(value));
    }
  }
  return parsed;
}

SpecOptions::SpecOptions(EvaluatorSpec spec)
    : spec_(std::move(spec)), key_(spec_.name), taken_(spec_.options.size(), false) {}

std::optional<std::string> SpecOptions::take(std::string_view option) {
  for (std::size_t i = 0; i < spec_.options.size(); ++i) {
    if (spec_.options[i].first == option) {
      taken_[i] = true;
      return spec_.options[i].second;
    }
  }
  return std::nullopt;
}

core::Result<bool> SpecOptions::takeBool(std::string_view option, bool fallback) {
  const auto value = take(option);
  if (!value) return fallback;
  const auto text = trimmed(*value);
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return optionError(option, fmt::format("expected true or false, got \"{}\"", truncated(*value)));
}

core::Result<std::string> SpecOptions::takeRequired(std::string_view option) {
  auto value = take(option);
  if (!value) return optionError(option, "required");
  if (trimmed(*value).empty()) return optionError(option, "must not be empty");
  return std::move(*value);
}

core::Status SpecOptions::finish() const {
  for (std::size_t i = 0; i < spec_.options.size(); ++i) {
    if (!taken_[i]) {
      return core::Error::invalidArgument(
          fmt::format("evaluator {}: unknown option {}", spec_.name, spec_.options[i].first));
    }
  }
  return {};
}

core::Error SpecOptions::optionError(std::string_view option, std::string_view problem) const {
  return core::Error::invalidArgument(
      fmt::format("evaluator {}: option {}: {}", spec_.name, option, problem));
}

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\n\f\v";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kSpace);
  return text.substr(first, last - first + 1);
}

std::string truncated(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "…";
}

}  // namespace pharos::eval::evaluators
