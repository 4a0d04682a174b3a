#include "eval/runner/compare_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

namespace pharos::eval {
namespace {

namespace json = boost::json;

constexpr std::string_view kMissing = "—";
constexpr std::size_t kColumnGap = 2;
constexpr std::size_t kErrorsShown = 10;

const json::value* member(const json::value* value, std::string_view key) {
  if (value == nullptr || !value->is_object()) return nullptr;
  return value->as_object().if_contains(key);
}

std::optional<double> number(const json::value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is_double()) return value->as_double();
  if (value->is_int64()) return static_cast<double>(value->as_int64());
  if (value->is_uint64()) return static_cast<double>(value->as_uint64());
  return std::nullopt;
}

std::string text(const json::value* value) {
  if (value != nullptr && value->is_string()) return std::string(value->as_string());
  return {};
}

// 1234567 -> "1,234,567".
std::string grouped(double value) {
  const auto digits = fmt::format("{:.0f}", std::fabs(value));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string orMissing(std::optional<double> value, std::string_view format) {
  if (!value) return std::string(kMissing);
  return fmt::format(fmt::runtime(format), *value);
}

// "0.750 (4, 1 err)": mean, n and errors of one feedback key.
std::string feedbackCell(const json::value* key_stats) {
  if (key_stats == nullptr || !key_stats->is_object()) return std::string(kMissing);
  const auto n = number(member(key_stats, "n"));
  const auto errors = number(member(key_stats, "errors"));
  std::string cell = orMissing(number(member(key_stats, "mean")), "{:.3f}");
  if (n || errors) {
    cell += fmt::format(" ({}", n ? grouped(*n) : "0");
    if (errors && *errors > 0) cell += fmt::format(", {} err", grouped(*errors));
    cell += ')';
  }
  return cell;
}

std::string percent(std::optional<double> rate) {
  return orMissing(rate ? std::optional(*rate * 100) : rate, "{:.1f}%");
}

std::string latencyCell(const json::value* stats) {
  return orMissing(number(member(stats, "latency_p50")), "{:.2f}s") + " / " +
         orMissing(number(member(stats, "latency_p95")), "{:.2f}s");
}

std::string tokensCell(const json::value* stats) {
  const auto tokens = number(member(stats, "total_tokens"));
  return (tokens ? grouped(*tokens) : std::string(kMissing)) + " / " +
         orMissing(number(member(stats, "total_cost")), "${:.4f}");
}

// Columns on screen, not bytes: "—" is one column.
std::size_t displayWidth(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// Left-aligned columns separated by at least kColumnGap spaces; no trailing spaces.
std::string renderRows(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], displayWidth(row[c]));
    }
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] + kColumnGap - displayWidth(row[c]), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  }
  return out;
}

std::vector<std::string> feedbackKeys(const json::value& compare,
                                      const std::vector<const json::value*>& stats) {
  std::vector<std::string> keys;
  const auto add = [&](std::string_view key) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.emplace_back(key);
  };
  if (const auto* listed = member(&compare, "feedback_keys"); listed && listed->is_array()) {
    for (const auto& key : listed->as_array()) {
      if (key.is_string()) add(key.as_string());
    }
  }
  for (const auto* s : stats) {
    if (const auto* feedback = member(s, "feedback"); feedback && feedback->is_object()) {
      for (const auto& entry : feedback->as_object()) add(entry.key());
    }
  }
  return keys;
}

// The mean score of `key` over the runs of one experiment's result for an example.
std::optional<double> exampleScore(const json::value& result, std::string_view key) {
  const auto* runs = member(&result, "runs");
  if (runs == nullptr || !runs->is_array()) return std::nullopt;
  double sum = 0;
  int count = 0;
  for (const auto& run : runs->as_array()) {
    const auto* feedback = member(member(&run, "feedback"), key);
    const auto* failed = member(feedback, "error");
    if (failed && failed->is_bool() && failed->as_bool()) continue;
    if (const auto score = number(member(feedback, "score"))) {
      sum += *score;
      ++count;
    }
  }
  if (count == 0) return std::nullopt;
  return sum / count;
}

std::string examplesLine(const json::value& compare, std::size_t last, std::string_view key) {
  int improved = 0;
  int regressed = 0;
  if (const auto* examples = member(&compare, "examples"); examples && examples->is_array()) {
    for (const auto& example : examples->as_array()) {
      const auto* results = member(&example, "results");
      if (results == nullptr || !results->is_array() || results->as_array().size() <= last) {
        continue;
      }
      const auto before = exampleScore(results->as_array()[0], key);
      const auto after = exampleScore(results->as_array()[last], key);
      if (!before || !after) continue;
      constexpr double kSame = 1e-9;
      if (*after > *before + kSame) ++improved;
      if (*after < *before - kSame) ++regressed;
    }
  }
  return fmt::format("examples: {} improved, {} regressed on {}\n", improved, regressed, key);
}

}  // namespace

core::Result<std::string> renderCompareTable(const json::value& compare) {
  const auto* experiments = member(&compare, "experiments");
  if (experiments == nullptr || !experiments->is_array()) {
    return core::Error::invalidArgument("compare response has no \"experiments\" array");
  }
  const auto& list = experiments->as_array();
  if (list.empty()) return std::string("no experiments to compare\n");

  std::vector<const json::value*> stats;
  std::vector<std::string> header{""};
  for (std::size_t i = 0; i < list.size(); ++i) {
    stats.push_back(member(&list[i], "stats"));
    auto name = text(member(&list[i], "name"));
    if (name.empty()) name = text(member(&list[i], "id"));
    if (name.empty()) name = fmt::format("experiment {}", i + 1);
    header.push_back(std::move(name));
  }
  const bool with_delta = list.size() >= 2;
  if (with_delta) header.emplace_back("delta");

  std::vector<std::vector<std::string>> rows{header};
  const auto addRow = [&](std::string label, const auto& cell, const auto& delta) {
    std::vector<std::string> row{std::move(label)};
    for (const auto* s : stats) row.push_back(cell(s));
    if (with_delta) row.push_back(delta(stats.front(), stats.back()));
    rows.push_back(std::move(row));
  };
  const auto noDelta = [](const json::value*, const json::value*) { return std::string(); };

  const auto keys = feedbackKeys(compare, stats);
  for (const auto& key : keys) {
    const auto keyStats = [&](const json::value* s) { return member(member(s, "feedback"), key); };
    const auto mean = [&](const json::value* s) { return number(member(keyStats(s), "mean")); };
    addRow(
        key, [&](const json::value* s) { return feedbackCell(keyStats(s)); },
        [&](const json::value* first, const json::value* last) {
          const auto a = mean(first);
          const auto b = mean(last);
          return a && b ? fmt::format("{:+.3f}", *b - *a) : std::string(kMissing);
        });
  }
  const auto rate = [](const json::value* s) { return number(member(s, "error_rate")); };
  addRow(
      "error rate", [&](const json::value* s) { return percent(rate(s)); },
      [&](const json::value* first, const json::value* last) {
        const auto a = rate(first);
        const auto b = rate(last);
        return a && b ? fmt::format("{:+.1f} pp", (*b - *a) * 100) : std::string(kMissing);
      });
  addRow("latency p50 / p95", latencyCell, noDelta);
  addRow("tokens / cost", tokensCell, noDelta);

  std::string out = renderRows(rows);
  // Per example, on the first key both the baseline and the current experiment were scored on.
  const auto scored = [&](const json::value* s, const std::string& key) {
    return number(member(member(member(s, "feedback"), key), "mean")).has_value();
  };
  const auto shared = std::find_if(keys.begin(), keys.end(), [&](const std::string& key) {
    return scored(stats.front(), key) && scored(stats.back(), key);
  });
  if (with_delta && shared != keys.end()) {
    out += examplesLine(compare, list.size() - 1, *shared);
  }
  return out;
}

std::string renderExperimentSummary(std::string_view experiment, std::string_view dataset,
                                    const json::value& stats,
                                    const std::vector<SummaryError>& errors) {
  const auto figure = [&](std::string_view key) { return number(member(&stats, key)); };
  const auto count = [](std::optional<double> value) {
    return value ? grouped(*value) : std::string(kMissing);
  };

  std::string examples = count(figure("example_count"));
  if (const auto expected = figure("expected_examples")) examples += " of " + grouped(*expected);
  if (const auto runs = figure("run_count")) examples += fmt::format(" ({} runs)", grouped(*runs));

  std::vector<std::vector<std::string>> rows{
      {"experiment", std::string(experiment)},
      {"dataset", std::string(dataset)},
      {"examples", examples},
      {"errors", count(figure("error_count")) + " (" + percent(figure("error_rate")) + ")"},
      {"latency p50 / p95", latencyCell(&stats)},
      {"tokens / cost", tokensCell(&stats)},
  };
  if (const auto* feedback = member(&stats, "feedback"); feedback && feedback->is_object()) {
    for (const auto& entry : feedback->as_object()) {
      rows.push_back({std::string(entry.key()), feedbackCell(&entry.value())});
    }
  }
  if (const auto evaluator_errors = figure("evaluator_errors");
      evaluator_errors && *evaluator_errors > 0) {
    rows.push_back({"evaluator errors", grouped(*evaluator_errors)});
  }

  std::string out = renderRows(rows);
  if (!errors.empty()) {
    out += errors.size() > kErrorsShown
               ? fmt::format("first {} of {} errors:\n", kErrorsShown, errors.size())
               : fmt::format("errors:\n");
    for (std::size_t i = 0; i < std::min(errors.size(), kErrorsShown); ++i) {
      const auto& e = errors[i];
      out += fmt::format("  example {}", e.example_id);
      if (e.line) out += fmt::format(" (line {})", *e.line);
      out += fmt::format(": {}\n", e.message);
    }
  }
  return out;
}

}  // namespace pharos::eval
