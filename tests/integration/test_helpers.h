// Assertions shared by the integration tests: the JSON error shape, "the server still answers",
// and reading Prometheus samples.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"

namespace pharos::testing {

// Every error Pharos answers is {"error":{"type":..., "message":...}} as application/json.
inline ::testing::AssertionResult isJsonError(const HttpResponse& response, int status,
                                              std::string_view type) {
  if (response.status != status) {
    return ::testing::AssertionFailure() << "status " << response.status << ", expected " << status
                                         << "; body: " << response.body;
  }
  const auto content_type = response.header("content-type");
  if (!content_type || content_type->find("application/json") != 0) {
    return ::testing::AssertionFailure()
           << "content-type " << content_type.value_or("(none)") << ", expected application/json";
  }
  try {
    const boost::json::value body = response.json();
    const boost::json::object& error = body.at("error").as_object();
    if (error.at("type").as_string() != type) {
      return ::testing::AssertionFailure() << "error type " << error.at("type") << ", expected \""
                                           << type << "\"; body: " << response.body;
    }
    if (error.at("message").as_string().empty()) {
      return ::testing::AssertionFailure() << "empty error message; body: " << response.body;
    }
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure()
           << "body is not a JSON error (" << e.what() << "): " << response.body;
  }
  return ::testing::AssertionSuccess();
}

inline std::string errorMessage(const HttpResponse& response) {
  try {
    return std::string(response.json().at("error").at("message").as_string());
  } catch (const std::exception&) {
    return {};
  }
}

// The server is alive and well: GET /healthz on a brand-new connection answers 200 {"status":"ok"}.
inline ::testing::AssertionResult answersHealthz(std::uint16_t port) {
  try {
    const HttpResponse response = get(port, "/healthz");
    if (response.status != 200 || response.json() != boost::json::value{{"status", "ok"}}) {
      return ::testing::AssertionFailure()
             << "GET /healthz answered " << response.status << " " << response.body;
    }
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "GET /healthz failed: " << e.what();
  }
  return ::testing::AssertionSuccess();
}

// The value of the Prometheus sample `name{...}` whose labels include all of `labels` (exposition
// format: one `name{a="x",b="y"} value` per line).
inline std::optional<double> metricValue(const std::string& exposition, std::string_view name,
                                         const std::map<std::string, std::string>& labels = {}) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string::npos || line.substr(0, name_end) != name) continue;
    std::map<std::string, std::string> found;
    std::size_t pos = name_end;
    if (line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const std::size_t eq = line.find("=\"", pos);
        if (eq == std::string::npos) break;
        const std::string key = line.substr(pos, eq - pos);
        std::string value;
        std::size_t i = eq + 2;
        for (; i < line.size() && line[i] != '"'; ++i) {
          if (line[i] == '\\' && i + 1 < line.size()) ++i;
          value.push_back(line[i]);
        }
        found[key] = value;
        pos = i + 1;
        if (pos < line.size() && line[pos] == ',') ++pos;
      }
      pos = line.find(' ', pos);
    }
    bool all = true;
    for (const auto& [key, value] : labels) {
      auto it = found.find(key);
      all = all && it != found.end() && it->second == value;
    }
    if (!all || pos == std::string::npos) continue;
    try {
      return std::stod(line.substr(pos + 1));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// GET /metrics until `ready(page)` holds (up to 5 s), returning the last page. Needed because
// the server counts a request after writing its response: a client can see the answer a moment
// before the counters do.
template <typename Predicate>
std::string metricsWhen(std::uint16_t port, Predicate ready) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string page = get(port, "/metrics").body;
  while (!ready(page) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    page = get(port, "/metrics").body;
  }
  return page;
}

// OTLP exports are acknowledged once durable in the span log and stored as runs just behind:
// waits (up to 10 s) until every span acknowledged so far has been stored or dropped.
inline ::testing::AssertionResult otlpMaterialized(std::uint16_t port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string page;
  while (std::chrono::steady_clock::now() < deadline) {
    page = get(port, "/metrics").body;
    const double accepted = metricValue(page, "pharos_otlp_spans_accepted_total").value_or(-1);
    const double done = metricValue(page, "pharos_otlp_spans_materialized_total").value_or(0) +
                        metricValue(page, "pharos_otlp_spans_dropped_total").value_or(0);
    if (accepted >= 0 && done >= accepted) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "accepted OTLP spans not stored as runs within 10 s:\n"
                                       << page;
}

inline std::string jsonText(const boost::json::object& object, std::string_view key) {
  const auto* value = object.if_contains(key);
  if (value == nullptr) return "(missing)";
  if (value->is_string()) return std::string(value->as_string());
  return boost::json::serialize(*value);
}

}  // namespace pharos::testing
