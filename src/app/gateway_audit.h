// Gateway calls in the audit log (policy/audit_log): query_received when a call is accepted,
// query_completed or query_failed when it is over, with the query's SHA-256 (its text only when
// audit.include_query_text is set).
#pragma once

#include "gateway/call_record.h"
#include "policy/audit_log.h"

namespace pharos::app {

// The audit events of a call (pure: exposed for tests).
policy::AuditEvent receivedEvent(const gateway::CallRecord& call, bool include_text);
policy::AuditEvent finishedEvent(const gateway::CallRecord& call, bool include_text);

class GatewayAuditSink final : public gateway::CallSink {
 public:
  GatewayAuditSink(policy::AuditLog& log, bool include_text)
      : log_(log), include_text_(include_text) {}
  void received(const gateway::CallRecord& call) override;
  void record(std::shared_ptr<const gateway::CallRecord> call) override;

 private:
  policy::AuditLog& log_;
  bool include_text_;
};

}  // namespace pharos::app
