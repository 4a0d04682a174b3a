#include "tracing/export/otlp_exporter.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <stdexcept>

#include "core/log.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace pharos::tracing {

namespace {

namespace otlp = opentelemetry::proto;

std::string bytesFromHex(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
  };
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1])));
  }
  return out;
}

void setAttributes(const std::vector<std::pair<std::string, AttributeValue>>& attributes,
                   google::protobuf::RepeatedPtrField<otlp::common::v1::KeyValue>& out) {
  for (const auto& [key, value] : attributes) {
    auto* kv = out.Add();
    kv->set_key(key);
    auto* any = kv->mutable_value();
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            any->set_string_value(v);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            any->set_int_value(v);
          } else if constexpr (std::is_same_v<T, double>) {
            any->set_double_value(v);
          } else {
            any->set_bool_value(v);
          }
        },
        value);
  }
}

}  // namespace

OtlpSpanExporter::OtlpSpanExporter(OtlpExporterOptions options, http::MetricsRegistry& metrics)
    : options_(std::move(options)),
      spans_(metrics.counter("pharos_otlp_export_spans_total",
                             "Spans Pharos produced for the configured collector, by result "
                             "(exported, dropped)",
                             {"result"})),
      exported_(spans_.with({"exported"})),
      dropped_(spans_.with({"dropped"})) {
  auto origin = http::parseBaseUrl(options_.endpoint);
  if (!origin) throw std::invalid_argument(origin.error().message);
  origin_ = std::move(origin).value();
  path_ = origin_.base_path.empty() ? "/v1/traces" : origin_.base_path;
}

OtlpSpanExporter::~OtlpSpanExporter() {
  stop();
}

void OtlpSpanExporter::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void OtlpSpanExporter::submit(Build build) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < options_.max_queued) {
      queue_.push_back(std::move(build));
      if (queue_.size() >= options_.max_batch) wake_.notify_one();
      return;
    }
  }
  dropped_.inc();
}

void OtlpSpanExporter::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string OtlpSpanExporter::encode(const OtlpExporterOptions& options,
                                     const std::vector<ExportSpan>& spans) {
  otlp::collector::trace::v1::ExportTraceServiceRequest request;
  auto* resource_spans = request.add_resource_spans();
  setAttributes(options.resource, *resource_spans->mutable_resource()->mutable_attributes());
  auto* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name(options.scope_name);
  for (const ExportSpan& span : spans) {
    auto* out = scope_spans->add_spans();
    out->set_trace_id(bytesFromHex(span.trace_id_hex));
    out->set_span_id(bytesFromHex(span.span_id_hex));
    if (!span.parent_span_id_hex.empty()) {
      out->set_parent_span_id(bytesFromHex(span.parent_span_id_hex));
    }
    out->set_name(span.name);
    out->set_kind(static_cast<otlp::trace::v1::Span::SpanKind>(span.kind));
    out->set_start_time_unix_nano(span.start_unix_nano);
    out->set_end_time_unix_nano(span.end_unix_nano);
    setAttributes(span.attributes, *out->mutable_attributes());
    auto* status = out->mutable_status();
    status->set_code(span.error ? otlp::trace::v1::Status::STATUS_CODE_ERROR
                                : otlp::trace::v1::Status::STATUS_CODE_OK);
    if (span.error) status->set_message(span.status_message);
  }
  return request.SerializeAsString();
}

void OtlpSpanExporter::loop() {
  boost::asio::io_context io;
  http::ClientPool pool;
  for (;;) {
    std::vector<Build> builds;
    bool stopping = false;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.interval,
                     [&] { return stopping_ || queue_.size() >= options_.max_batch; });
      stopping = stopping_;
      while (!queue_.empty() && builds.size() < options_.max_batch) {
        builds.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (builds.empty()) {
      if (stopping) break;
      continue;
    }
    std::vector<ExportSpan> spans;
    spans.reserve(builds.size());
    for (Build& build : builds) spans.push_back(build());
    const std::string body = encode(options_, spans);

    bool sent = false;
    std::string last_error;
    const unsigned attempts = stopping ? 1 : options_.max_attempts;
    for (unsigned attempt = 1; attempt <= attempts && !sent; ++attempt) {
      auto post = [&]() -> boost::asio::awaitable<core::Result<unsigned>> {
        http::ClientExchange exchange(pool);
        http::ClientRequest request{
            http::Verb::post, path_, {{"content-type", "application/x-protobuf"}}, body};
        const auto deadline = http::Clock::now() + options_.timeout;
        auto head = co_await exchange.begin(origin_, request, deadline);
        if (!head) co_return head.error();
        (void)co_await exchange.readAll(deadline, 1024 * 1024);
        co_return head->status;
      };
      auto future = boost::asio::co_spawn(io, post(), boost::asio::use_future);
      io.restart();
      io.run();
      const core::Result<unsigned> status = future.get();
      if (status && *status >= 200 && *status <= 299) {
        sent = true;
      } else {
        last_error = status ? fmt::format("HTTP {}", *status) : status.error().message;
        if (attempt < attempts)
          std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
      }
    }
    if (sent) {
      exported_.inc(spans.size());
    } else {
      dropped_.inc(spans.size());
      core::log::warn(
          "gateway spans not exported",
          {{"endpoint", options_.endpoint}, {"spans", spans.size()}, {"error", last_error}});
    }
    if (stopping) {
      std::lock_guard lock(mutex_);
      if (queue_.empty()) break;
    }
  }
  pool.clear();
}

}  // namespace pharos::tracing
