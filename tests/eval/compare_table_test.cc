#include "eval/runner/compare_table.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

namespace pharos::eval {
namespace {

namespace json = boost::json;

// Two experiments shaped as §4.2's compare response, with the figures of the plan's sample.
// Example 1 improves on exact_match (0 -> 1), example 2 stays 1, example 3 has repetitions
// (mean 0.5 -> 0.5), example 4 has an errored feedback in the current experiment (not counted).
constexpr const char* kCompare = R"({
  "dataset": {"id": "d", "name": "qa", "example_count": 4},
  "experiments": [
    {"id": "e1", "name": "v1.0-8d1e2f3a", "stats": {
      "example_count": 5, "run_count": 5, "error_count": 1, "error_rate": 0.2,
      "latency_p50": 0.12, "latency_p95": 0.4, "total_tokens": 1234, "total_cost": 0.0012,
      "feedback": {"exact_match": {"n": 5, "mean": 0.4, "errors": 0},
                   "judge": {"n": 4, "mean": 0.75, "errors": 1}}}},
    {"id": "e2", "name": "v1.1-3f2a9c1e", "stats": {
      "example_count": 5, "run_count": 5, "error_count": 0, "error_rate": 0,
      "latency_p50": 0.1, "latency_p95": 0.31, "total_tokens": 1101, "total_cost": 0.0011,
      "feedback": {"exact_match": {"n": 5, "mean": 0.6, "errors": 0},
                   "judge": {"n": 5, "mean": 0.8, "errors": 0}}}}
  ],
  "feedback_keys": ["exact_match", "judge"],
  "examples": [
    {"id": "x1", "results": [
      {"runs": [{"feedback": {"exact_match": {"score": 0, "error": false}}}]},
      {"runs": [{"feedback": {"exact_match": {"score": 1, "error": false}}}]}]},
    {"id": "x2", "results": [
      {"runs": [{"feedback": {"exact_match": {"score": 1}}}]},
      {"runs": [{"feedback": {"exact_match": {"score": 1}}}]}]},
    {"id": "x3", "results": [
      {"runs": [{"feedback": {"exact_match": {"score": 1}}},
                {"feedback": {"exact_match": {"score": 0}}}]},
      {"runs": [{"feedback": {"exact_match": {"score": 0.5}}}]}]},
    {"id": "x4", "results": [
      {"runs": [{"feedback": {"exact_match": {"score": 1}}}]},
      {"runs": [{"feedback": {"exact_match": {"score": null, "error": true}}}]}]}
  ],
  "orphans": [], "offset": 0, "limit": 100, "total": 4
})";

std::string rendered(const json::value& compare) {
  auto r = renderCompareTable(compare);
  if (!r) {
    ADD_FAILURE() << r.error().message;
    return {};
  }
  return std::move(r).value();
}

TEST(CompareTable, TwoExperiments) {
  EXPECT_EQ(rendered(json::parse(kCompare)),
            "                   v1.0-8d1e2f3a     v1.1-3f2a9c1e    delta\n"
            "exact_match        0.400 (5)         0.600 (5)        +0.200\n"
            "judge              0.750 (4, 1 err)  0.800 (5)        +0.050\n"
            "error rate         20.0%             0.0%             -20.0 pp\n"
            "latency p50 / p95  0.12s / 0.40s     0.10s / 0.31s\n"
            "tokens / cost      1,234 / $0.0012   1,101 / $0.0011\n"
            "examples: 1 improved, 0 regressed on exact_match\n");
}

TEST(CompareTable, RegressionsAndThreeExperimentsCompareFirstWithLast) {
  auto compare = json::parse(kCompare);
  auto& experiments = compare.at("experiments").as_array();
  // A middle experiment with no stats at all; the current one regresses on example 2.
  experiments.insert(experiments.begin() + 1, json::object{{"id", "e-mid"}});
  auto& examples = compare.at("examples").as_array();
  for (auto& example : examples) {
    auto& results = example.at("results").as_array();
    results.insert(results.begin() + 1, json::object{{"runs", json::array{}}});
  }
  examples[1].at("results").as_array()[2] =
      json::parse(R"({"runs": [{"feedback": {"exact_match": {"score": 0}}}]})");
  EXPECT_EQ(rendered(compare),
            "                   v1.0-8d1e2f3a     e-mid  v1.1-3f2a9c1e    delta\n"
            "exact_match        0.400 (5)         —      0.600 (5)        +0.200\n"
            "judge              0.750 (4, 1 err)  —      0.800 (5)        +0.050\n"
            "error rate         20.0%             —      0.0%             -20.0 pp\n"
            "latency p50 / p95  0.12s / 0.40s     — / —  0.10s / 0.31s\n"
            "tokens / cost      1,234 / $0.0012   — / —  1,101 / $0.0011\n"
            "examples: 1 improved, 1 regressed on exact_match\n");
}

TEST(CompareTable, NullMeansAndMissingKeys) {
  const auto compare = json::parse(R"({
    "experiments": [
      {"name": "base", "stats": {"error_rate": null, "total_tokens": 1234567,
        "feedback": {"judge": {"n": 0, "mean": null, "errors": 3}}}},
      {"name": "new", "stats": {"error_rate": 0.5,
        "feedback": {"judge": {"n": 2, "mean": 1, "errors": 0}, "regex": {"n": 2, "mean": 0.5}}}}
    ]})");
  EXPECT_EQ(rendered(compare),
            "                   base           new        delta\n"
            "judge              — (0, 3 err)   1.000 (2)  —\n"
            "regex              —              0.500 (2)  —\n"
            "error rate         —              50.0%      —\n"
            "latency p50 / p95  — / —          — / —\n"
            "tokens / cost      1,234,567 / —  — / —\n");
}

TEST(CompareTable, TheExamplesLineUsesAKeyBothEndsWereScoredOn) {
  auto compare = json::parse(kCompare);
  // The baseline also had an evaluator the current experiment did not run, listed first.
  compare.at("feedback_keys")
      .as_array()
      .insert(compare.at("feedback_keys").as_array().begin(), "contains");
  compare.at("experiments").as_array()[0].at("stats").at("feedback").as_object()["contains"] =
      json::parse(R"({"n": 5, "mean": 0.4, "errors": 0})");
  const std::string table = rendered(compare);
  EXPECT_NE(table.find("contains           0.400 (5)         —                —\n"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("examples: 1 improved, 0 regressed on exact_match\n"), std::string::npos)
      << table;
}

TEST(CompareTable, OneExperimentHasNoDelta) {
  const auto compare = json::parse(R"({"experiments": [
      {"name": "only", "stats": {"error_rate": 0.125, "latency_p50": 1.5, "latency_p95": 2,
       "total_tokens": 10, "total_cost": 0}}]})");
  EXPECT_EQ(rendered(compare),
            "                   only\n"
            "error rate         12.5%\n"
            "latency p50 / p95  1.50s / 2.00s\n"
            "tokens / cost      10 / $0.0000\n");
}

TEST(CompareTable, BadResponses) {
  auto r = renderCompareTable(json::parse(R"({"dataset": {}})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message, "compare response has no \"experiments\" array");
  EXPECT_FALSE(renderCompareTable(json::value(3)));
  EXPECT_EQ(rendered(json::parse(R"({"experiments": []})")), "no experiments to compare\n");
}

TEST(ExperimentSummary, StatsAndErrors) {
  const auto stats = json::parse(R"({
    "example_count": 5, "expected_examples": 6, "complete": false, "run_count": 5,
    "error_count": 1, "error_rate": 0.2, "latency_p50": 0.1, "latency_p95": 0.31,
    "total_tokens": 1101, "total_cost": 0.0011, "evaluator_errors": 1,
    "feedback": {"exact_match": {"n": 5, "mean": 0.6, "errors": 0},
                 "judge": {"n": 4, "mean": 0.8, "errors": 1}}})");
  EXPECT_EQ(renderExperimentSummary("v1.1-3f2a9c1e", "qa", stats,
                                    {{"0a1b", 3, "timeout after 60s"}, {"9f8e", {}, "HTTP 500"}}),
            "experiment         v1.1-3f2a9c1e\n"
            "dataset            qa\n"
            "examples           5 of 6 (5 runs)\n"
            "errors             1 (20.0%)\n"
            "latency p50 / p95  0.10s / 0.31s\n"
            "tokens / cost      1,101 / $0.0011\n"
            "exact_match        0.600 (5)\n"
            "judge              0.800 (4, 1 err)\n"
            "evaluator errors   1\n"
            "errors:\n"
            "  example 0a1b (line 3): timeout after 60s\n"
            "  example 9f8e: HTTP 500\n");
}

TEST(ExperimentSummary, FirstTenErrorsAndMissingStats) {
  std::vector<SummaryError> errors;
  for (int i = 0; i < 12; ++i) errors.push_back({"ex" + std::to_string(i), {}, "boom"});
  const auto text = renderExperimentSummary("e", "d", json::value(nullptr), errors);
  EXPECT_EQ(text.substr(0, text.find("first")),
            "experiment         e\n"
            "dataset            d\n"
            "examples           —\n"
            "errors             — (—)\n"
            "latency p50 / p95  — / —\n"
            "tokens / cost      — / —\n");
  EXPECT_NE(text.find("first 10 of 12 errors:\n  example ex0: boom\n"), std::string::npos);
  EXPECT_NE(text.find("  example ex9: boom\n"), std::string::npos);
  EXPECT_EQ(text.find("ex10"), std::string::npos);
}

}  // namespace
}  // namespace pharos::eval
