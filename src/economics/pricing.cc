#include "economics/pricing.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace pharos::economics {

namespace {

std::string lowered(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

struct BuiltInPrice {
  std::string_view model;
  double input;
  double cached_input;  // < 0: the provider gives cached prompt tokens no price of their own
  double output;
  std::int64_t max_output_tokens;
};

// List prices in USD per million tokens, as published by the providers (late 2025), and each
// model's largest answer. A pricing file overrides any of them.
constexpr BuiltInPrice kBuiltIn[] = {
    {"gpt-4o", 2.50, 1.25, 10.00, 16'384},
    {"gpt-4o-mini", 0.15, 0.075, 0.60, 16'384},
    {"gpt-4.1", 2.00, 0.50, 8.00, 32'768},
    {"gpt-4.1-mini", 0.40, 0.10, 1.60, 32'768},
    {"gpt-4.1-nano", 0.10, 0.025, 0.40, 32'768},
    {"gpt-4-turbo", 10.00, -1, 30.00, 4'096},
    {"gpt-4", 30.00, -1, 60.00, 8'192},
    {"gpt-3.5-turbo", 0.50, -1, 1.50, 4'096},
    {"gpt-5", 1.25, 0.125, 10.00, 128'000},
    {"gpt-5-mini", 0.25, 0.025, 2.00, 128'000},
    {"gpt-5-nano", 0.05, 0.005, 0.40, 128'000},
    {"o1", 15.00, 7.50, 60.00, 100'000},
    {"o1-mini", 1.10, 0.55, 4.40, 65'536},
    {"o3", 2.00, 0.50, 8.00, 100'000},
    {"o3-mini", 1.10, 0.55, 4.40, 100'000},
    {"o4-mini", 1.10, 0.275, 4.40, 100'000},
    {"text-embedding-3-small", 0.02, -1, 0, 0},
    {"text-embedding-3-large", 0.13, -1, 0, 0},
    {"text-embedding-ada-002", 0.10, -1, 0, 0},
    {"claude-3-5-sonnet", 3.00, 0.30, 15.00, 8'192},
    {"claude-3-5-haiku", 0.80, 0.08, 4.00, 8'192},
    {"claude-3-7-sonnet", 3.00, 0.30, 15.00, 64'000},
    {"claude-3-opus", 15.00, 1.50, 75.00, 4'096},
    {"claude-3-haiku", 0.25, 0.03, 1.25, 4'096},
    {"claude-sonnet-4", 3.00, 0.30, 15.00, 64'000},
    {"claude-opus-4", 15.00, 1.50, 75.00, 32'000},
    {"gemini-1.5-pro", 1.25, 0.3125, 5.00, 8'192},
    {"gemini-1.5-flash", 0.075, 0.01875, 0.30, 8'192},
    {"gemini-2.0-flash", 0.10, 0.025, 0.40, 8'192},
    {"gemini-2.5-pro", 1.25, 0.31, 10.00, 65'536},
    {"gemini-2.5-flash", 0.30, 0.075, 2.50, 65'536},
    {"mistral-large", 2.00, -1, 6.00, 0},
    {"mistral-small", 0.20, -1, 0.60, 0},
};

}  // namespace

PriceTable PriceTable::builtIn() {
  PriceTable table;
  for (const BuiltInPrice& p : kBuiltIn) {
    ModelPrice price{.input_per_million = p.input,
                     .output_per_million = p.output,
                     .max_output_tokens = p.max_output_tokens};
    if (p.cached_input >= 0) price.cached_input_per_million = p.cached_input;
    table.set(std::string(p.model), price);
  }
  return table;
}

core::Status PriceTable::loadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return core::Error::invalidArgument(fmt::format("{}: cannot read the file", path.string()));
  std::stringstream text;
  text << in.rdbuf();
  return loadToml(text.str(), path.string());
}

core::Status PriceTable::loadToml(std::string_view text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return core::Error::invalidArgument(
        fmt::format("{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
  for (const auto& [key, node] : root) {
    if (key.str() != "models") {
      return core::Error::invalidArgument(fmt::format(
          "{}: unknown table \"{}\" (prices go under [models.\"name\"])", source_name, key.str()));
    }
  }
  const toml::table* models = root["models"].as_table();
  if (models == nullptr) return {};
  std::map<std::string, ModelPrice, std::less<>> loaded;
  for (const auto& [name, node] : *models) {
    const toml::table* entry = node.as_table();
    const std::string where =
        fmt::format("{}:{}: models.\"{}\"", source_name, node.source().begin.line, name.str());
    if (entry == nullptr) {
      return core::Error::invalidArgument(where + ": expected a table with input and output");
    }
    ModelPrice price;
    bool has_input = false;
    for (const auto& [field, value] : *entry) {
      if (field.str() == "max_output_tokens") {
        std::optional<std::int64_t> tokens = value.value<std::int64_t>();
        if (!value.is_integer() || !tokens || *tokens < 0) {
          return core::Error::invalidArgument(
              fmt::format("{}.{}: expected a whole number of tokens >= 0", where, field.str()));
        }
        price.max_output_tokens = *tokens;
        continue;
      }
      std::optional<double> number = value.value<double>();
      if (!number || *number < 0) {
        return core::Error::invalidArgument(fmt::format(
            "{}.{}: expected a price >= 0 in USD per million tokens", where, field.str()));
      }
      if (field.str() == "input") {
        price.input_per_million = *number;
        has_input = true;
      } else if (field.str() == "output") {
        price.output_per_million = *number;
      } else if (field.str() == "cached_input") {
        price.cached_input_per_million = *number;
      } else {
        return core::Error::invalidArgument(
            fmt::format("{}: unknown key \"{}\" (expected input, cached_input, output, "
                        "max_output_tokens)",
                        where, field.str()));
      }
    }
    if (!has_input) return core::Error::invalidArgument(where + ": input price is missing");
    loaded[lowered(name.str())] = price;
  }
  for (auto& [name, price] : loaded) prices_[name] = price;
  return {};
}

const ModelPrice* PriceTable::find(std::string_view model) const {
  const std::string key = lowered(model);
  if (auto it = prices_.find(key); it != prices_.end()) return &it->second;
  const ModelPrice* best = nullptr;
  std::size_t best_length = 0;
  for (const auto& [name, price] : prices_) {
    if (name.size() > best_length && key.size() > name.size() && key.starts_with(name) &&
        (key[name.size()] == '-' || key[name.size()] == '@')) {
      best = &price;
      best_length = name.size();
    }
  }
  if (best != nullptr) return best;
  if (const std::size_t slash = key.find('/'); slash != std::string::npos) {
    return find(std::string_view(key).substr(slash + 1));
  }
  return nullptr;
}

std::optional<Cost> PriceTable::cost(std::string_view model, std::int64_t prompt_tokens,
                                     std::int64_t completion_tokens,
                                     std::int64_t cached_prompt_tokens) const {
  const ModelPrice* price = find(model);
  if (price == nullptr) return std::nullopt;
  const std::int64_t cached = std::clamp<std::int64_t>(cached_prompt_tokens, 0, prompt_tokens);
  const double cached_price = price->cached_input_per_million.value_or(price->input_per_million);
  return Cost{(static_cast<double>(prompt_tokens - cached) * price->input_per_million +
               static_cast<double>(cached) * cached_price) /
                  1e6,
              static_cast<double>(completion_tokens) * price->output_per_million / 1e6};
}

}  // namespace pharos::economics
