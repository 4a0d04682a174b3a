#include "http/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace pharos::http {

namespace {

void appendEscapedLabel(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
}

std::string labelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += names[i];
    out += "=\"";
    appendEscapedLabel(out, values[i]);
    out.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out.push_back(',');
    out += fmt::format("{}=\"{}\"", extra_name, extra_value);
  }
  out.push_back('}');
  return out;
}

std::string formatBound(double bound) {
  return fmt::format("{}", bound);
}

// HELP text escapes only backslash and line feed (exposition format 0.0.4).
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

template <class Family>
std::string familyHeader(const Family& family, std::string_view type) {
  return fmt::format("# HELP {} {}\n# TYPE {} {}\n", family.name(), escapeHelp(family.help()),
                     family.name(), type);
}

}  // namespace

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds->size() + 1]) {
  for (std::size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), value);
  buckets_[static_cast<std::size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snap;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    snap.cumulative.push_back(running);
  }
  snap.count = running;
  snap.sum = sum_.load(std::memory_order_relaxed);
  return snap;
}

const std::vector<double>& defaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                               0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                               1,      2.5,     5,      10,    30,     60};
  return kBuckets;
}

template <class Metric>
Metric& Family<Metric>::with(std::initializer_list<std::string_view> values) {
  std::string key;
  for (std::string_view v : values) {
    key.append(v);
    key.push_back('\x1f');  // unit separator: cannot collide with label text boundaries
  }
  std::lock_guard lock(mutex_);
  auto it = children_.find(key);
  if (it != children_.end()) return *it->second.metric;
  Child child;
  child.values.assign(values.begin(), values.end());
  if constexpr (std::is_same_v<Metric, Histogram>) {
    child.metric = std::make_unique<Histogram>(&bounds_);
  } else {
    child.metric = std::make_unique<Metric>();
  }
  Metric& metric = *child.metric;
  children_.emplace(std::move(key), std::move(child));
  return metric;
}

template class Family<Counter>;
template class Family<FloatCounter>;
template class Family<Gauge>;
template class Family<Histogram>;

CounterFamily& MetricsRegistry::counter(std::string name, std::string help,
                                        std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  return *counters_.emplace_back(
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labels)));
}

FloatCounterFamily& MetricsRegistry::floatCounter(std::string name, std::string help,
                                                  std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  return *float_counters_.emplace_back(
      std::make_unique<FloatCounterFamily>(std::move(name), std::move(help), std::move(labels)));
}

GaugeFamily& MetricsRegistry::gauge(std::string name, std::string help,
                                    std::vector<std::string> labels) {
  std::lock_guard lock(mutex_);
  return *gauges_.emplace_back(
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(labels)));
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help,
                                            std::vector<std::string> labels,
                                            std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  std::lock_guard lock(mutex_);
  return *histograms_.emplace_back(std::make_unique<HistogramFamily>(
      std::move(name), std::move(help), std::move(labels), std::move(bounds)));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& family : counters_) {
    out += familyHeader(*family, "counter");
    family->forEach([&](const std::vector<std::string>& values, const Counter& c) {
      out += fmt::format("{}{} {}\n", family->name(), labelSet(family->labelNames(), values),
                         c.value());
    });
  }
  for (const auto& family : float_counters_) {
    out += familyHeader(*family, "counter");
    family->forEach([&](const std::vector<std::string>& values, const FloatCounter& c) {
      out += fmt::format("{}{} {}\n", family->name(), labelSet(family->labelNames(), values),
                         c.value());
    });
  }
  for (const auto& family : gauges_) {
    out += familyHeader(*family, "gauge");
    family->forEach([&](const std::vector<std::string>& values, const Gauge& g) {
      out += fmt::format("{}{} {}\n", family->name(), labelSet(family->labelNames(), values),
                         g.value());
    });
  }
  for (const auto& family : histograms_) {
    out += familyHeader(*family, "histogram");
    family->forEach([&](const std::vector<std::string>& values, const Histogram& h) {
      const Histogram::Snapshot snap = h.snapshot();
      for (std::size_t i = 0; i + 1 < snap.cumulative.size(); ++i) {
        out += fmt::format(
            "{}_bucket{} {}\n", family->name(),
            labelSet(family->labelNames(), values, "le", formatBound(family->bounds()[i])),
            snap.cumulative[i]);
      }
      out += fmt::format("{}_bucket{} {}\n", family->name(),
                         labelSet(family->labelNames(), values, "le", "+Inf"), snap.count);
      out += fmt::format("{}_sum{} {}\n", family->name(), labelSet(family->labelNames(), values),
                         snap.sum);
      out += fmt::format("{}_count{} {}\n", family->name(), labelSet(family->labelNames(), values),
                         snap.count);
    });
  }
  return out;
}

}  // namespace pharos::http
