#include "economics/pricing.h"

#include <fmt/format.h>
#include <toml++/toml.h>

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
  double output;
};

// List prices in USD per million tokens, as published by the providers (late 2025). A pricing
// file overrides any of them; they only price runs whose client reported no cost itself.
constexpr BuiltInPrice kBuiltIn[] = {
    {"gpt-4o", 2.50, 10.00},
    {"gpt-4o-mini", 0.15, 0.60},
    {"gpt-4.1", 2.00, 8.00},
    {"gpt-4.1-mini", 0.40, 1.60},
    {"gpt-4.1-nano", 0.10, 0.40},
    {"gpt-4-turbo", 10.00, 30.00},
    {"gpt-4", 30.00, 60.00},
    {"gpt-3.5-turbo", 0.50, 1.50},
    {"gpt-5", 1.25, 10.00},
    {"gpt-5-mini", 0.25, 2.00},
    {"gpt-5-nano", 0.05, 0.40},
    {"o1", 15.00, 60.00},
    {"o1-mini", 1.10, 4.40},
    {"o3", 2.00, 8.00},
    {"o3-mini", 1.10, 4.40},
    {"o4-mini", 1.10, 4.40},
    {"text-embedding-3-small", 0.02, 0},
    {"text-embedding-3-large", 0.13, 0},
    {"claude-3-5-sonnet", 3.00, 15.00},
    {"claude-3-5-haiku", 0.80, 4.00},
    {"claude-3-7-sonnet", 3.00, 15.00},
    {"claude-3-opus", 15.00, 75.00},
    {"claude-3-haiku", 0.25, 1.25},
    {"claude-sonnet-4", 3.00, 15.00},
    {"claude-opus-4", 15.00, 75.00},
    {"gemini-1.5-pro", 1.25, 5.00},
    {"gemini-1.5-flash", 0.075, 0.30},
    {"gemini-2.0-flash", 0.10, 0.40},
    {"gemini-2.5-pro", 1.25, 10.00},
    {"gemini-2.5-flash", 0.30, 2.50},
    {"mistral-large", 2.00, 6.00},
    {"mistral-small", 0.20, 0.60},
};

}  // namespace

PriceTable PriceTable::builtIn() {
  PriceTable table;
  for (const BuiltInPrice& p : kBuiltIn) table.set(std::string(p.model), {p.input, p.output});
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
      } else {
        return core::Error::invalidArgument(
            fmt::format("{}: unknown key \"{}\" (expected input, output)", where, field.str()));
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
                                     std::int64_t completion_tokens) const {
  const ModelPrice* price = find(model);
  if (price == nullptr) return std::nullopt;
  return Cost{static_cast<double>(prompt_tokens) * price->input_per_million / 1e6,
              static_cast<double>(completion_tokens) * price->output_per_million / 1e6};
}

}  // namespace pharos::economics
