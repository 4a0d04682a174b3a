#include "tracing/store/feedback_stats.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "core/json_value.h"

namespace pharos::tracing {

namespace {

namespace json = boost::json;

// How a value is counted: a string as itself, other JSON as its text; numbers and null are not
// counted (scores carry the numbers).
std::optional<std::string> valueLabel(std::string_view json_text) {
  boost::system::error_code ec;
  const json::value v = json::parse(json_text, ec);
  if (ec) return std::string(json_text);
  if (v.is_null() || v.is_number()) return std::nullopt;
  if (v.is_string()) return std::string(v.get_string());
  return json::serialize(v);
}

}  // namespace

void FeedbackStatsAccumulator::add(std::string_view key, std::optional<double> score,
                                   std::optional<std::string_view> value_json, bool error) {
  auto found = keys_.find(key);
  if (found == keys_.end()) found = keys_.emplace(std::string(key), Key{}).first;
  Key& k = found->second;
  if (error) {
    ++k.stats.errors;
    return;
  }
  if (score) {
    // Welford's update: a stable mean and variance in one pass, for scores of any spread.
    ++k.stats.n;
    const double delta = *score - k.mean;
    k.mean += delta / static_cast<double>(k.stats.n);
    k.m2 += delta * (*score - k.mean);
    k.stats.min = k.stats.min ? std::min(*k.stats.min, *score) : *score;
    k.stats.max = k.stats.max ? std::max(*k.stats.max, *score) : *score;
  }
  if (value_json) {
    if (auto label = valueLabel(*value_json)) ++k.values[*label];
  }
}

FeedbackStats FeedbackStatsAccumulator::finish() && {
  FeedbackStats out;
  for (auto& [key, k] : keys_) {
    FeedbackKeyStats& stats = k.stats;
    if (stats.n > 0) {
      stats.avg = k.mean;
      stats.stdev = std::sqrt(k.m2 / static_cast<double>(stats.n));
    }
    stats.values.assign(k.values.begin(), k.values.end());
    // The map is in label order, so a stable sort by count breaks ties by label.
    std::stable_sort(stats.values.begin(), stats.values.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    if (stats.values.size() > kMaxDistinctValues) stats.values.resize(kMaxDistinctValues);
    out.emplace(key, std::move(stats));
  }
  return out;
}

json::object feedbackStatsJson(const FeedbackStats& stats) {
  json::object out;
  for (const auto& [key, k] : stats) {
    json::object values;
    for (const auto& [label, count] : k.values) values[label] = count;
    json::object entry;
    entry["n"] = k.n;
    entry["avg"] = core::optionalJson(k.avg);
    entry["stdev"] = core::optionalJson(k.stdev);
    entry["min"] = core::optionalJson(k.min);
    entry["max"] = core::optionalJson(k.max);
    entry["errors"] = k.errors;
    entry["values"] = std::move(values);
    out[key] = std::move(entry);
  }
  return out;
}

}  // namespace pharos::tracing
