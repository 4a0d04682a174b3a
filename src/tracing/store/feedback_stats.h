// Per-key statistics of feedback rows: LangSmith's `feedback_stats` ({n, avg, stdev, min, max,
// values} per key) plus `errors` (ours). One implementation for every reader: a project's
// feedback_stats (feedbackStatsForProject in feedback_store.h) and an experiment's feedback
// aggregates (eval's ExperimentStore), which differ only in which rows they feed in.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pharos::tracing {

// How many distinct non-numeric values a key keeps (the most frequent).
inline constexpr std::size_t kMaxDistinctValues = 20;

// Feedback of one key. Rows reporting a failed evaluator (extra {"error": true}) count only in
// `errors`; the others with a score make up n, avg, stdev (the population's), min and max.
struct FeedbackKeyStats {
  std::int64_t n = 0;
  std::optional<double> avg, stdev, min, max;
  std::int64_t errors = 0;
  // Non-numeric values (a string as itself, other JSON as its serialization) and how often each
  // came, failed evaluators excluded: the kMaxDistinctValues most frequent, most frequent first
  // (ties in label order).
  std::vector<std::pair<std::string, std::int64_t>> values;
};
using FeedbackStats = std::map<std::string, FeedbackKeyStats, std::less<>>;  // by key

// Collects feedback rows one at a time, in any order, then yields the statistics per key.
class FeedbackStatsAccumulator {
 public:
  // One row: its key, score, value as stored JSON text (nullopt: none) and whether it reports a
  // failed evaluator. Value text that is not JSON counts as a label of its own.
  void add(std::string_view key, std::optional<double> score,
           std::optional<std::string_view> value_json, bool error);

  FeedbackStats finish() &&;

 private:
  struct Key {
    FeedbackKeyStats stats;
    double mean = 0, m2 = 0;  // Welford's running mean and sum of squared deviations
    std::map<std::string, std::int64_t, std::less<>> values;  // every distinct one
  };
  std::map<std::string, Key, std::less<>> keys_;
};

// LangSmith's `feedback_stats` JSON: {key: {n, avg, stdev, min, max, errors, values: {label:
// count}}}, numbers as doubles and absent ones as null; values in the order of `values`.
boost::json::object feedbackStatsJson(const FeedbackStats& stats);

}  // namespace pharos::tracing
