#include "tracing/ingest/otlp_receiver.h"

#include <fmt/format.h>

#include <vector>

#include "tracing/ingest/otlp_decode.h"
#include "tracing/ingest/otlp_runs.h"

namespace pharos::tracing::otlp {

namespace {

// Reasons are already bounded by the decoder and the store; the count is always exact.
constexpr std::size_t kMaxReasons = 5;

std::string joinReasons(const std::vector<std::string>& reasons, std::int64_t rejected) {
  std::string out = fmt::format("{} span(s) rejected", rejected);
  for (std::size_t i = 0; i < reasons.size(); ++i) out += (i == 0 ? ": " : "; ") + reasons[i];
  return out;
}

}  // namespace

Receiver::Receiver(std::shared_ptr<RunStore> store) : store_(std::move(store)) {}

boost::asio::awaitable<core::Result<ExportSummary>> Receiver::receive(std::string workspace_id,
                                                                      Encoding encoding,
                                                                      std::string_view body,
                                                                      std::string project) {
  auto decoded = encoding == Encoding::kProtobuf ? decodeProtobuf(body) : decodeJson(body);
  if (!decoded) co_return decoded.error();
  std::vector<PreparedRun> runs;
  runs.reserve(decoded->spans.size());
  for (const Span& span : decoded->spans) {
    runs.push_back(prepareRun(spanToRun(span, project), fmt::format("span {}", span.span_id),
                              store_->prices()));
  }
  ExportSummary summary;
  summary.rejected = decoded->rejected;
  std::vector<std::string> reasons = std::move(decoded->reasons);
  if (!runs.empty()) {
    auto outcome = co_await store_->ingest(std::move(workspace_id), std::move(runs), {});
    if (!outcome) co_return outcome.error();
    summary.accepted = static_cast<std::int64_t>(outcome->stored);
    summary.rejected += static_cast<std::int64_t>(outcome->rejected.size());
    for (const RejectedRun& r : outcome->rejected) {
      if (reasons.size() < kMaxReasons) reasons.push_back(r.origin + ": " + r.message);
    }
  }
  if (summary.rejected > 0) summary.message = joinReasons(reasons, summary.rejected);
  co_return summary;
}

}  // namespace pharos::tracing::otlp
