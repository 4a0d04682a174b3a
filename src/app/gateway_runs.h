// Gateway calls stored as LangSmith llm runs (the gateway knows calls, tracing knows runs; the app
// joins them). Each call becomes one run in its workspace and project, linked into the caller's
// trace when the request carried one, with the target, attempts, timings and usage as metadata.
#pragma once

#include "gateway/call_record.h"
#include "tracing/ingest/run_recorder.h"
#include "tracing/run.h"

namespace pharos::app {

// The run for a call (pure: exposed for tests).
tracing::RunFields runForCall(const gateway::CallRecord& call);

class GatewayRunSink final : public gateway::CallSink {
 public:
  explicit GatewayRunSink(tracing::RunRecorder& recorder) : recorder_(recorder) {}
  void record(const gateway::CallRecord& call) override;

 private:
  tracing::RunRecorder& recorder_;
};

}  // namespace pharos::app
