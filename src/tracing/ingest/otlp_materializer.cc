#include "tracing/ingest/otlp_materializer.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>
#include <future>
#include <optional>
#include <vector>

#include "core/log.h"
#include "tracing/ingest/otlp_decode.h"
#include "tracing/ingest/otlp_logged_export.h"
#include "tracing/ingest/otlp_runs.h"

namespace pharos::tracing::otlp {

namespace {

constexpr std::chrono::milliseconds kPoll{200};
constexpr std::chrono::milliseconds kRetryDelay{200};
constexpr std::size_t kMaxInFlight = 4;

core::Result<DecodedSpans> decodeLogged(const LoggedExport& logged) {
  return logged.encoding == Encoding::kProtobuf ? decodeProtobuf(logged.body)
                                                : decodeJson(logged.body);
}

}  // namespace

Materializer::Materializer(store::AppendLog& log, std::shared_ptr<RunStore> store,
                           http::MetricsRegistry& metrics)
    : log_(log),
      store_(std::move(store)),
      materialized_(metrics
                        .counter("pharos_otlp_spans_materialized_total",
                                 "OTLP spans stored as runs (queryable)")
                        .with({})),
      dropped_(metrics
                   .counter("pharos_otlp_spans_dropped_total",
                            "Accepted OTLP spans the run store refused, with the reason logged")
                   .with({})),
      backlog_(metrics
                   .gauge("pharos_otlp_backlog_bytes",
                          "Bytes of accepted OTLP exports in the span log not yet stored as runs")
                   .with({})) {}

Materializer::~Materializer() {
  stop();
}

void Materializer::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Materializer::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

namespace {

// An export on its way into the store.
struct InFlight {
  store::LogEntry entry;
  LoggedExport logged;
  std::size_t spans = 0;
  std::future<core::Result<IngestOutcome>> outcome;
};

}  // namespace

void Materializer::loop() {
  // Acknowledging exports comes first: decoding them into runs yields the CPU to it.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 5);
  // The store's coroutines complete here; several exports are in flight at once so that decoding
  // the next overlaps storing the last, and the store can commit them in one transaction.
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::thread io_thread([&io] { io.run(); });

  // Decodes an export and hands its runs to the store; nullopt when it cannot be read back.
  auto submit = [&](const LoggedExport& logged) -> std::optional<InFlight> {
    auto decoded = decodeLogged(logged);
    if (!decoded) return std::nullopt;
    std::vector<PreparedRun> runs;
    runs.reserve(decoded->spans.size());
    for (const Span& span : decoded->spans) {
      runs.push_back(prepareRun(spanToRun(span, logged.project),
                                fmt::format("span {}", span.span_id), store_->prices()));
    }
    InFlight flight;
    flight.spans = runs.size();
    flight.outcome = boost::asio::co_spawn(
        io, store_->ingest(logged.workspace_id, std::move(runs), {}), boost::asio::use_future);
    return flight;
  };

  // Waits for the oldest export in flight, resubmitting it while the store pushes back, and
  // commits the log past it. False when stopping leaves it for the next start.
  auto finish = [&](InFlight& flight) -> bool {
    for (;;) {
      auto outcome = flight.outcome.get();
      if (!outcome && (outcome.error().code == core::ErrorCode::kOverloaded ||
                       outcome.error().code == core::ErrorCode::kUnavailable)) {
        if (stopping_) return false;
        std::this_thread::sleep_for(kRetryDelay);
        auto again = submit(flight.logged);
        if (!again) break;
        flight.outcome = std::move(again->outcome);
        continue;
      }
      if (!outcome) {
        dropped_.inc(flight.spans);
        core::log::error("accepted OTLP spans could not be stored as runs",
                         {{"spans", flight.spans}, {"error", outcome.error().message}});
      } else {
        materialized_.inc(outcome->stored);
        dropped_.inc(outcome->rejected.size());
        for (const RejectedRun& rejected : outcome->rejected) {
          core::log::warn("accepted OTLP span refused by the run store",
                          {{"span", rejected.origin}, {"reason", rejected.message}});
        }
      }
      break;
    }
    log_.commit(flight.entry.end, flight.entry.bytes);
    return true;
  };

  std::deque<InFlight> in_flight;
  while (!stopping_) {
    backlog_.set(static_cast<std::int64_t>(log_.backlogBytes()));
    if (in_flight.size() >= kMaxInFlight || (!in_flight.empty() && !log_.hasNext())) {
      if (!finish(in_flight.front())) break;
      in_flight.pop_front();
      continue;
    }
    auto entry = log_.next(kPoll);
    if (!entry) continue;
    auto logged = decodeLoggedExport(entry->payload);
    std::optional<InFlight> flight = logged ? submit(*logged) : std::nullopt;
    if (!flight) {
      core::log::error("span log record cannot be read back; skipped",
                       {{"segment", entry->end.segment}, {"offset", entry->end.offset}});
      // Commits stay in log order: this one waits behind the exports still in flight.
      InFlight skipped;
      skipped.entry = std::move(*entry);
      std::promise<core::Result<IngestOutcome>> done;
      done.set_value(IngestOutcome{});
      skipped.outcome = done.get_future();
      in_flight.push_back(std::move(skipped));
      continue;
    }
    flight->entry = std::move(*entry);
    flight->entry.payload.clear();
    flight->logged = std::move(*logged);
    in_flight.push_back(std::move(*flight));
  }
  // Stopping: what is in flight completes (the store is still open) and is committed in order;
  // exports the store refused stay in the log.
  for (InFlight& flight : in_flight) {
    if (!finish(flight)) break;
  }
  work.reset();
  io_thread.join();
}

}  // namespace pharos::tracing::otlp
