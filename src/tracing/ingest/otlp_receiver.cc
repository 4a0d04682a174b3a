#include "tracing/ingest/otlp_receiver.h"

#include <fmt/format.h>

#include <vector>

#include "tracing/ingest/otlp_decode.h"

namespace pharos::tracing::otlp {

namespace {

std::string joinReasons(const std::vector<std::string>& reasons, std::int64_t rejected) {
  std::string out = fmt::format("{} span(s) rejected", rejected);
  for (std::size_t i = 0; i < reasons.size(); ++i) out += (i == 0 ? ": " : "; ") + reasons[i];
  return out;
}

// What the materializer will accept and reject. Protobuf has a check that builds nothing; JSON
// is decoded (its parse is most of the cost either way).
core::Result<SpanCounts> countSpans(Encoding encoding, std::string_view body) {
  if (encoding == Encoding::kProtobuf) return validateProtobuf(body);
  auto decoded = decodeJson(body);
  if (!decoded) return decoded.error();
  return SpanCounts{static_cast<std::int64_t>(decoded->spans.size()), decoded->rejected,
                    std::move(decoded->reasons)};
}

}  // namespace

Receiver::Receiver(store::AppendLog& log, http::MetricsRegistry& metrics)
    : log_(log),
      accepted_(metrics
                    .counter("pharos_otlp_spans_accepted_total",
                             "OTLP spans accepted and durable in the span log")
                    .with({})),
      rejected_(metrics
                    .counter("pharos_otlp_spans_rejected_total",
                             "OTLP spans rejected at the door (bad ids, oversized or too deeply "
                             "nested values), reported to the exporter as partial success")
                    .with({})) {}

boost::asio::awaitable<core::Result<ExportSummary>> Receiver::receive(std::string workspace_id,
                                                                      Encoding encoding,
                                                                      std::string_view body,
                                                                      std::string project) {
  auto counts = countSpans(encoding, body);
  if (!counts) co_return counts.error();
  if (counts->accepted > 0) {
    auto logged = co_await log_.append(encodeLoggedExport(workspace_id, project, encoding, body));
    if (!logged) co_return logged.error();
  }
  accepted_.inc(static_cast<std::uint64_t>(counts->accepted));
  rejected_.inc(static_cast<std::uint64_t>(counts->rejected));
  ExportSummary summary;
  summary.accepted = counts->accepted;
  summary.rejected = counts->rejected;
  if (summary.rejected > 0) summary.message = joinReasons(counts->reasons, summary.rejected);
  co_return summary;
}

}  // namespace pharos::tracing::otlp
