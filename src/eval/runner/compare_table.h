// Text output of `pharos eval`: the comparison table of experiments (from the response of
// GET /api/v1/datasets/{id}/compare, docs/plans/evaluation.md §4.2) and the summary of one
// experiment (its §4.1 stats). Pure functions, so the layout is golden-tested.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::eval {

// One column per experiment in response order (the first is the baseline, the last the current
// one) and, with two or more, a delta column (last − first):
//
//                      v1.0-8d1e2f3a     v1.1-3f2a9c1e    delta
//   exact_match        0.400 (5)         0.600 (5)        +0.200
//   judge              0.750 (4, 1 err)  0.800 (5)        +0.050
//   error rate         20.0%             0.0%             -20.0 pp
//   latency p50 / p95  0.12s / 0.40s     0.10s / 0.31s
//   tokens / cost      1,234 / $0.0012   1,101 / $0.0011
//   examples: 1 improved, 0 regressed on exact_match
//
// Rows per feedback key in `feedback_keys` order (else the order keys appear in the stats);
// a missing figure or null mean shows "—". The last line compares, per example of the response's
// page, the mean score of the first key that both the first and the last experiment have, over
// their runs (examples without a score in both are not counted; no line when no key is shared).
// kInvalidArgument when `compare` has no `experiments` array.
core::Result<std::string> renderCompareTable(const boost::json::value& compare);

// An example whose target or evaluator failed, for the summary's error list.
struct SummaryError {
  std::string example_id;
  std::optional<std::size_t> line;  // the example's line in --file, when it came from one
  std::string message;
};

// The summary printed after a run: experiment, dataset, counts, error rate, latency, tokens,
// cost, mean per feedback key (n and errors), then the first 10 `errors`. `stats` has the §4.1
// shape (missing figures show "—").
std::string renderExperimentSummary(std::string_view experiment, std::string_view dataset,
                                    const boost::json::value& stats,
                                    const std::vector<SummaryError>& errors);

}  // namespace pharos::eval
