#include "tracing/ingest/run_recorder.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <map>
#include <vector>

#include "core/log.h"

namespace pharos::tracing {

namespace {
constexpr std::size_t kBatch = 512;
}

RunRecorder::RunRecorder(std::shared_ptr<RunStore> store, http::MetricsRegistry& metrics,
                         std::size_t max_queued_bytes)
    : store_(std::move(store)),
      max_queued_bytes_(max_queued_bytes),
      recorded_(metrics
                    .counter("pharos_recorded_runs_total",
                             "Runs produced inside Pharos (gateway calls) and stored")
                    .with({})),
      dropped_(metrics
                   .counter("pharos_recorded_runs_dropped_total",
                            "Runs produced inside Pharos that could not be stored (queue full "
                            "or store failure)")
                   .with({})) {}

RunRecorder::~RunRecorder() {
  stop();
}

void RunRecorder::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void RunRecorder::submit(std::string workspace_id, Build build, std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queued_bytes_ + bytes <= max_queued_bytes_) {
      queued_bytes_ += bytes;
      queue_.push_back({std::move(workspace_id), std::move(build), bytes});
      if (queue_.size() == 1) wake_.notify_one();
      return;
    }
  }
  dropped_.inc();
  // The first drop of a burst is logged; the count is in the metric.
  if (dropped_.value() % 10'000 == 1) {
    core::log::warn(
        "recorded runs dropped: the recorder queue is full (see "
        "pharos_recorded_runs_dropped_total)",
        {{"max_queued_bytes", max_queued_bytes_}, {"dropped_so_far", dropped_.value()}});
  }
}

void RunRecorder::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RunRecorder::loop() {
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });
  for (;;) {
    std::vector<Item> items;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) break;
      while (!queue_.empty() && items.size() < kBatch) {
        queued_bytes_ -= queue_.front().bytes;
        items.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::map<std::string, std::vector<PreparedRun>> by_workspace;
    for (Item& item : items) {
      RunFields run = item.build();
      by_workspace[item.workspace_id].push_back(
          prepareRun(std::move(run), "gateway call", store_->prices()));
    }
    for (auto& [workspace, runs] : by_workspace) {
      const std::size_t count = runs.size();
      for (int tries = 0;; ++tries) {
        auto outcome =
            boost::asio::co_spawn(io, store_->ingest(workspace, runs, {}), boost::asio::use_future)
                .get();
        if (outcome) {
          recorded_.inc(outcome->stored);
          if (!outcome->rejected.empty()) {
            dropped_.inc(outcome->rejected.size());
            core::log::warn("recorded run rejected",
                            {{"reason", outcome->rejected.front().message}});
          }
          break;
        }
        // Back-pressure from the store: wait and try again rather than lose the runs.
        if (outcome.error().code == core::ErrorCode::kOverloaded && tries < 50) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
          continue;
        }
        dropped_.inc(count);
        core::log::error("recorded runs could not be stored",
                         {{"count", count}, {"error", outcome.error().message}});
        break;
      }
    }
  }
  work.reset();
  io_thread.join();
}

}  // namespace pharos::tracing
