// A small Prometheus registry. Families are declared once (at start-up, by whichever module owns
// them) and their children looked up by label values on the hot path: the lookup takes the
// family's mutex briefly (about 65 ns, see bench/), the update itself is an atomic. Label values
// must come from bounded sets (route patterns, known methods), never raw client text.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::http {

class Counter {
 public:
  void inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// A counter of fractional amounts (dollars).
class FloatCounter {
 public:
  void add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void add(std::int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  void set(std::int64_t n) { value_.store(n, std::memory_order_relaxed); }
  std::int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double>* bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;  // bounds + 1 (+Inf)
  std::atomic<double> sum_{0};
};

// Seconds, from 100 µs to 60 s: covers a /healthz hit and a slow LLM call alike.
const std::vector<double>& defaultLatencyBuckets();

template <class Metric>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  // The child for these label values (in declaration order), created on first use.
  Metric& with(std::initializer_list<std::string_view> values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& labelNames() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_; }
  template <class Fn>
  void forEach(Fn&& fn) const {
    std::lock_guard lock(mutex_);
    for (const auto& [key, child] : children_) fn(child.values, *child.metric);
  }

 private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<Metric> metric;
  };
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::map<std::string, Child, std::less<>> children_;
};

using CounterFamily = Family<Counter>;
using FloatCounterFamily = Family<FloatCounter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

class MetricsRegistry {
 public:
  CounterFamily& counter(std::string name, std::string help, std::vector<std::string> labels = {});
  FloatCounterFamily& floatCounter(std::string name, std::string help,
                                   std::vector<std::string> labels = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(std::string name, std::string help, std::vector<std::string> labels,
                             std::vector<double> bounds = defaultLatencyBuckets());

  // Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<CounterFamily>> counters_;
  std::vector<std::unique_ptr<FloatCounterFamily>> float_counters_;
  std::vector<std::unique_ptr<GaugeFamily>> gauges_;
  std::vector<std::unique_ptr<HistogramFamily>> histograms_;
};

}  // namespace pharos::http
