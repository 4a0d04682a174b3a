// Model prices, for the cost of LLM calls that report tokens but no cost (traced runs now, the
// gateway's usage accounting later). Prices are US dollars per million tokens.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace pharos::economics {

struct ModelPrice {
  double input_per_million = 0;   // prompt tokens
  double output_per_million = 0;  // completion tokens
  // Prompt tokens the provider served from its prompt cache; nullopt: priced as input.
  std::optional<double> cached_input_per_million;
  // The most the model can answer with: what a request without max_tokens may cost. 0: unknown.
  std::int64_t max_output_tokens = 0;
  bool operator==(const ModelPrice&) const = default;
};

struct Cost {
  double prompt = 0;  // all prompt tokens, the cached ones at their own price
  double completion = 0;
  double total() const { return prompt + completion; }
};

class PriceTable {
 public:
  // The prices Pharos ships with (public list prices of common models; see pricing.cc).
  static PriceTable builtIn();

  // Adds or replaces the entries of a TOML file: [models."name"] input = 2.5, output = 10, and
  // optionally cached_input = 1.25, max_output_tokens = 16384.
  // kInvalidArgument naming the file, line and key when it is malformed.
  core::Status loadFile(const std::filesystem::path& path);
  core::Status loadToml(std::string_view text, std::string_view source_name);

  void set(std::string model, ModelPrice price) { prices_[std::move(model)] = price; }

  // The price of `model`: its exact entry, else the longest entry that `model` starts with where
  // the next character is '-' or '@' (dated or versioned names: "gpt-4o-2024-08-06" -> "gpt-4o").
  // A leading "provider/" (as in "openai/gpt-4o") is ignored when nothing matches with it.
  // Matching ignores ASCII case.
  const ModelPrice* find(std::string_view model) const;

  // The cost of a call, or nullopt when the model has no price.
  // `cached_prompt_tokens` are part of `prompt_tokens`.
  std::optional<Cost> cost(std::string_view model, std::int64_t prompt_tokens,
                           std::int64_t completion_tokens,
                           std::int64_t cached_prompt_tokens = 0) const;

  std::size_t size() const { return prices_.size(); }

 private:
  std::map<std::string, ModelPrice, std::less<>> prices_;  // keys lower-cased
};

}  // namespace pharos::economics
