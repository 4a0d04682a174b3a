// Summary statistics shared by the runs store (project stats) and the evaluation module
// (experiment aggregates), so both report the same percentiles for the same latencies.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
#include <vector>

namespace pharos::tracing {

// Percentile by nearest rank over sorted values; nullopt when there are none.
inline std::optional<double> percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return std::nullopt;
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

}  // namespace pharos::tracing
