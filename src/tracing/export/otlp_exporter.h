// Exports spans Pharos produces itself (gateway calls) to an external OpenTelemetry collector over
// OTLP/HTTP protobuf: queued without blocking the caller, built and sent in batches by a thread
// of its own, retried a few times when the collector fails or pushes back, dropped (and counted)
// rather than ever delaying a request.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "http/client.h"
#include "http/metrics.h"

namespace pharos::tracing {

using AttributeValue = std::variant<std::string, std::int64_t, double, bool>;

struct ExportSpan {
  std::string trace_id_hex;        // 32 hex digits
  std::string span_id_hex;         // 16
  std::string parent_span_id_hex;  // 16, or empty for a root
  std::string name;
  int kind = 3;  // SPAN_KIND_CLIENT
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  bool error = false;
  std::string status_message;
};

struct OtlpExporterOptions {
  std::string endpoint;                                          // http(s)://host:port/v1/traces
  std::vector<std::pair<std::string, AttributeValue>> resource;  // service.name, ...
  std::string scope_name = "pharos";
  std::size_t max_queued = 20'000;
  std::size_t max_batch = 512;
  std::chrono::milliseconds interval{1'000};  // a partial batch waits at most this long
  std::chrono::milliseconds timeout{10'000};
  unsigned max_attempts = 3;
};

class OtlpSpanExporter {
 public:
  using Build = std::function<ExportSpan()>;

  // Throws std::invalid_argument naming the problem when the endpoint is not a valid URL.
  OtlpSpanExporter(OtlpExporterOptions options, http::MetricsRegistry& metrics);
  ~OtlpSpanExporter();
  OtlpSpanExporter(const OtlpSpanExporter&) = delete;
  OtlpSpanExporter& operator=(const OtlpSpanExporter&) = delete;

  void start();
  // Thread-safe, never blocks; `build` runs on the exporter's thread.
  void submit(Build build);
  // Sends what is queued (one try each), then joins the thread.
  void stop();

  // The request body for a batch (exposed for tests).
  static std::string encode(const OtlpExporterOptions& options,
                            const std::vector<ExportSpan>& spans);

 private:
  void loop();

  OtlpExporterOptions options_;
  http::Origin origin_;
  std::string path_;
  http::CounterFamily& spans_;
  http::Counter& exported_;
  http::Counter& dropped_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Build> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pharos::tracing
