// Runs produced inside Pharos (gateway calls) are stored by a thread of their own, in batches, so
// recording never delays the request that produced the run. Building the run (parsing request and
// response bodies) happens on that thread too. The queue is bounded in bytes (what the queued
// builds hold): beyond it, runs are dropped, counted in pharos_recorded_runs_dropped_total and
// logged, never blocking the caller and never growing memory without bound.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "http/metrics.h"
#include "tracing/store/run_store.h"

namespace pharos::tracing {

class RunRecorder {
 public:
  using Build = std::function<RunFields()>;

  RunRecorder(std::shared_ptr<RunStore> store, http::MetricsRegistry& metrics,
              std::size_t max_queued_bytes = 32 * 1024 * 1024);
  ~RunRecorder();
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  void start();
  // Thread-safe, never blocks on the store. `build` runs on the recorder's thread; `bytes` is
  // roughly what it holds until then.
  void submit(std::string workspace_id, Build build, std::size_t bytes);
  // Stores what is queued, then joins the thread.
  void stop();

 private:
  struct Item {
    std::string workspace_id;
    Build build;
    std::size_t bytes = 0;
  };
  void loop();

  std::shared_ptr<RunStore> store_;
  const std::size_t max_queued_bytes_;
  std::size_t queued_bytes_ = 0;
  http::Counter& recorded_;
  http::Counter& dropped_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pharos::tracing
