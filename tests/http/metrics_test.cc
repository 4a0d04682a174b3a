// The Prometheus registry: exact text exposition, and lock-free recording from many threads.
#include "http/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace pharos::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, EmptyRegistryRendersNothing) {
  EXPECT_EQ(MetricsRegistry().render(), "");
}

TEST(MetricsTest, FamilyWithoutChildrenRendersOnlyHelpAndType) {
  MetricsRegistry registry;
  registry.counter("c_total", "Things counted", {"route"});
  EXPECT_EQ(registry.render(), "# HELP c_total Things counted\n# TYPE c_total counter\n");
}

TEST(MetricsTest, CounterRendersExactly) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter("c_total", "Things counted", {"route", "status"});
  family.with({"/b", "500"}).inc();
  family.with({"/a", "200"}).inc(2);
  family.with({"/a", "200"}).inc();  // the same child
  EXPECT_EQ(registry.render(),
            "# HELP c_total Things counted\n"
            "# TYPE c_total counter\n"
            "c_total{route=\"/a\",status=\"200\"} 3\n"
            "c_total{route=\"/b\",status=\"500\"} 1\n");
}

TEST(MetricsTest, FloatCounterAddsFractions) {
  MetricsRegistry registry;
  FloatCounterFamily& family = registry.floatCounter("cost_usd_total", "Dollars", {"model"});
  family.with({"m"}).add(0.25);
  family.with({"m"}).add(0.5);
  EXPECT_EQ(registry.render(),
            "# HELP cost_usd_total Dollars\n# TYPE cost_usd_total counter\n"
            "cost_usd_total{model=\"m\"} 0.75\n");
}

TEST(MetricsTest, UnlabelledCounterHasNoBraces) {
  MetricsRegistry registry;
  registry.counter("plain_total", "Plain").with({}).inc(7);
  EXPECT_EQ(registry.render(),
            "# HELP plain_total Plain\n# TYPE plain_total counter\nplain_total 7\n");
}

TEST(MetricsTest, GaugeRendersExactlyIncludingNegativeValues) {
  MetricsRegistry registry;
  GaugeFamily& family = registry.gauge("g", "A gauge", {"pool"});
  family.with({"x"}).set(5);
  family.with({"x"}).add(-2);
  family.with({"y"}).add(-4);
  EXPECT_EQ(registry.render(),
            "# HELP g A gauge\n"
            "# TYPE g gauge\n"
            "g{pool=\"x\"} 3\n"
            "g{pool=\"y\"} -4\n");
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsInfSumAndCount) {
  MetricsRegistry registry;
  // Bounds given out of order are sorted.
  HistogramFamily& family = registry.histogram("h_seconds", "Latency", {"route"}, {1, 0.25, 0.5});
  Histogram& h = family.with({"/a"});
  // Binary fractions keep the sum exact.
  h.observe(0.125);
  h.observe(0.25);  // a bound is inclusive: le="0.25"
  h.observe(0.5);
  h.observe(2);  // only in +Inf
  EXPECT_EQ(registry.render(),
            "# HELP h_seconds Latency\n"
            "# TYPE h_seconds histogram\n"
            "h_seconds_bucket{route=\"/a\",le=\"0.25\"} 2\n"
            "h_seconds_bucket{route=\"/a\",le=\"0.5\"} 3\n"
            "h_seconds_bucket{route=\"/a\",le=\"1\"} 3\n"
            "h_seconds_bucket{route=\"/a\",le=\"+Inf\"} 4\n"
            "h_seconds_sum{route=\"/a\"} 2.875\n"
            "h_seconds_count{route=\"/a\"} 4\n");
}

TEST(MetricsTest, UnlabelledEmptyHistogram) {
  MetricsRegistry registry;
  registry.histogram("h", "H", {}, {0.5}).with({});
  EXPECT_EQ(registry.render(),
            "# HELP h H\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"0.5\"} 0\n"
            "h_bucket{le=\"+Inf\"} 0\n"
            "h_sum 0\n"
            "h_count 0\n");
}

TEST(MetricsTest, SnapshotIsCumulative) {
  const std::vector<double> bounds = {1, 2, 3};
  Histogram h(&bounds);
  for (double v : {0.5, 1.5, 1.5, 2.5, 9.0}) h.observe(v);
  const Histogram::Snapshot snap = h.snapshot();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{1, 3, 4, 5}));
  EXPECT_EQ(snap.count, 5u);
  EXPECT_DOUBLE_EQ(snap.sum, 15.0);
}

TEST(MetricsTest, DefaultLatencyBucketsRenderWithoutExponents) {
  MetricsRegistry registry;
  registry.histogram("lat", "L", {}).with({}).observe(0.003);
  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"0.0001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"0.0025\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"0.005\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"60\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lat_bucket{le=\"+Inf\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("e-")));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  MetricsRegistry registry;
  registry.counter("esc_total", "E", {"v"}).with({"a\\b\"c\nd"}).inc();
  EXPECT_THAT(registry.render(), HasSubstr("esc_total{v=\"a\\\\b\\\"c\\nd\"} 1\n"));
}

TEST(MetricsTest, HistogramLabelValuesAreEscapedToo) {
  MetricsRegistry registry;
  registry.histogram("hh", "H", {"route"}, {1}).with({"/\"x\""}).observe(0.5);
  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("hh_bucket{route=\"/\\\"x\\\"\",le=\"1\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("hh_sum{route=\"/\\\"x\\\"\"} 0.5\n"));
}

TEST(MetricsTest, LabelValuesThatShareAPrefixStayDistinct) {
  MetricsRegistry registry;
  CounterFamily& family = registry.counter("k_total", "K", {"a", "b"});
  family.with({"x", "yz"}).inc();
  family.with({"xy", "z"}).inc(2);
  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("k_total{a=\"x\",b=\"yz\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("k_total{a=\"xy\",b=\"z\"} 2\n"));
}

TEST(MetricsTest, HelpTextIsEscaped) {
  // The exposition format escapes '\' and newline in HELP; a raw newline would end the line and
  // make the rest of the help text an unparsable sample.
  MetricsRegistry registry;
  registry.gauge("help_gauge", "first line\nsecond \\ line");
  EXPECT_EQ(registry.render(),
            "# HELP help_gauge first line\\nsecond \\\\ line\n# TYPE help_gauge gauge\n");
}

TEST(MetricsTest, FamiliesRenderCountersThenGaugesThenHistograms) {
  MetricsRegistry registry;
  registry.histogram("z_h", "H", {}, {1});
  registry.gauge("y_g", "G");
  registry.counter("x_c", "C");
  const std::string text = registry.render();
  EXPECT_LT(text.find("x_c"), text.find("y_g"));
  EXPECT_LT(text.find("y_g"), text.find("z_h"));
}

TEST(MetricsTest, ConcurrentRecordingSumsCorrectly) {
  MetricsRegistry registry;
  CounterFamily& counters = registry.counter("cc_total", "C", {"route"});
  GaugeFamily& gauges = registry.gauge("gg", "G", {"route"});
  HistogramFamily& histograms = registry.histogram("hh", "H", {"route"}, {0.5, 1.5});

  constexpr int kThreads = 8;
  constexpr int kIterations = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Every thread looks the children up each time, as the server does per request, so
      // creation races with lookups.
      const std::string own = "/t" + std::to_string(t);
      for (int i = 0; i < kIterations; ++i) {
        counters.with({"/shared"}).inc();
        counters.with({own}).inc(2);
        gauges.with({"/shared"}).add(1);
        histograms.with({"/shared"}).observe(1.0);
      }
    });
  }
  for (auto& thread : threads) thread.join();

  constexpr std::uint64_t kTotal = std::uint64_t{kThreads} * kIterations;
  EXPECT_EQ(counters.with({"/shared"}).value(), kTotal);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(counters.with({"/t" + std::to_string(t)}).value(), 2u * kIterations);
  }
  EXPECT_EQ(gauges.with({"/shared"}).value(), static_cast<std::int64_t>(kTotal));
  const Histogram::Snapshot snap = histograms.with({"/shared"}).snapshot();
  EXPECT_EQ(snap.count, kTotal);
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{0, kTotal, kTotal}));
  EXPECT_DOUBLE_EQ(snap.sum, static_cast<double>(kTotal));

  const std::string text = registry.render();
  EXPECT_THAT(text, HasSubstr("cc_total{route=\"/shared\"} " + std::to_string(kTotal) + "\n"));
  EXPECT_THAT(text, HasSubstr("hh_count{route=\"/shared\"} " + std::to_string(kTotal) + "\n"));
  int families_children = 0;
  counters.forEach([&](const std::vector<std::string>&, const Counter&) { ++families_children; });
  EXPECT_EQ(families_children, kThreads + 1);
}

}  // namespace
}  // namespace pharos::http
