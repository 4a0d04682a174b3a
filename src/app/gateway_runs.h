// Gateway calls stored as LangSmith llm runs, and exported as OpenTelemetry spans (the gateway
// knows calls, tracing knows runs and spans; the app joins them). Each call becomes one run in its
// workspace and project, linked into the caller's trace when the request carried one, with the
// target, attempts, timings and usage as metadata; its span carries the GenAI conventions'
// attributes, with the same ids, so a collector that is Pharos itself stores the same run.
#pragma once

#include "gateway/call_record.h"
#include "tracing/export/otlp_exporter.h"
#include "tracing/ingest/run_recorder.h"
#include "tracing/run.h"

namespace pharos::app {

// The run for a call (pure: exposed for tests).
tracing::RunFields runForCall(const gateway::CallRecord& call);

class GatewayRunSink final : public gateway::CallSink {
 public:
  explicit GatewayRunSink(tracing::RunRecorder& recorder) : recorder_(recorder) {}
  void record(std::shared_ptr<const gateway::CallRecord> call) override;

 private:
  tracing::RunRecorder& recorder_;
};

// The span for a call (pure: exposed for tests).
tracing::ExportSpan spanForCall(const gateway::CallRecord& call);

class GatewaySpanSink final : public gateway::CallSink {
 public:
  explicit GatewaySpanSink(tracing::OtlpSpanExporter& exporter) : exporter_(exporter) {}
  void record(std::shared_ptr<const gateway::CallRecord> call) override;

 private:
  tracing::OtlpSpanExporter& exporter_;
};

}  // namespace pharos::app
