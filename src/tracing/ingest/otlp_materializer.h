// Turns the exports in the span log into runs, in log order, on a thread of its own: decode (the
// same rules the receiver counted by), map spans to runs, store them, then commit the log past
// them. Storing is idempotent (a span's run id is derived from its ids and a re-stored run merges
// into itself), so the log's at-least-once delivery after a crash stores nothing twice. When the
// store pushes back, the same export is retried; nothing is skipped except an export that can
// never be stored, which is logged with its reason.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "http/metrics.h"
#include "store/log/append_log.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing::otlp {

class Materializer {
 public:
  // `log` and `metrics` must outlive the materializer.
  Materializer(store::AppendLog& log, std::shared_ptr<RunStore> store,
               http::MetricsRegistry& metrics);
  ~Materializer();
  Materializer(const Materializer&) = delete;
  Materializer& operator=(const Materializer&) = delete;

  void start();
  // Finishes the export in hand (or leaves it for the next start, while the store refuses it)
  // and joins the thread.
  void stop();

 private:
  void loop();

  store::AppendLog& log_;
  std::shared_ptr<RunStore> store_;
  http::Counter& materialized_;
  http::Counter& dropped_;
  http::Gauge& backlog_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace pharos::tracing::otlp
