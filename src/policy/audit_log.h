// The audit log: one JSON line per event (query_received, query_completed, query_failed), each
// carrying the SHA-256 of the line before it, so editing, removing or reordering a line breaks
// the chain where it happened (`pharos audit verify FILE`). Lines are written by a thread of
// their own and group-committed (write + fdatasync per batch): appending never blocks a request.
// The queue is bounded; an event that does not fit is counted in pharos_audit_dropped_total and
// logged — never dropped silently. Files rotate by size; the chain continues across files (the
// first line of a new file carries the hash of the last line of the one before).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/result.h"
#include "http/metrics.h"

namespace pharos::policy {

struct AuditEvent {
  std::string event;  // query_received, query_completed, query_failed
  std::int64_t time_us = 0;
  std::string trace_id;
  std::string workspace_id;
  std::string key_id;
  std::string user_id;
  std::string query_sha256;
  std::optional<std::string> query_text;  // only when configured to keep it
  std::string model;
  std::string target;
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> completion_tokens;
  std::optional<double> cost_usd;
  std::string cache_status;
  std::optional<double> latency_ms;
  std::string error_type;
};

// The JSON line of an event (without the chain fields and the newline).
std::string auditEventJson(const AuditEvent& event);

struct AuditLogOptions {
  std::filesystem::path dir;  // holds audit.jsonl and rotated audit-*.jsonl
  std::uint64_t max_file_bytes = 64 * 1024 * 1024;
  std::size_t max_queued = 100'000;
};

class AuditLog {
 public:
  // Creates the directory; continues the chain of an existing audit.jsonl (a torn last line,
  // from a crash mid-write, is cut first). kUnavailable names the path on I/O errors.
  static core::Result<std::unique_ptr<AuditLog>> open(AuditLogOptions options,
                                                      http::MetricsRegistry& metrics);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  using Build = std::function<AuditEvent()>;
  // Thread-safe; never blocks on I/O. `build` runs on the writer's thread, so the caller's
  // thread does no hashing or parsing for the log.
  void append(Build build);
  void append(AuditEvent event);
  // Writes what is queued, then stops the thread.
  void close();

  static constexpr std::string_view kCurrentFile = "audit.jsonl";

 private:
  struct State;
  explicit AuditLog(std::unique_ptr<State> state);
  void loop();

  std::unique_ptr<State> state_;
  std::thread thread_;
};

struct AuditVerification {
  bool intact = false;
  std::filesystem::path file;  // where the chain broke (directory verification), else the file
  std::size_t lines = 0;
  std::size_t first_bad_line = 0;  // 1-based; 0 when intact
  std::string reason;
  std::string first_prev;  // the hash the file's chain starts from
  std::string last_hash;   // hash of its last line (where the next file's chain continues)
};

// Checks every link of one file; kUnavailable when it cannot be read.
core::Result<AuditVerification> verifyAuditFile(const std::filesystem::path& file);

// Checks a whole audit directory: the rotated files in order, then audit.jsonl, each file's
// first line linked to the last line of the one before (a removed or replaced file breaks the
// chain there). `lines` counts every file's lines.
core::Result<AuditVerification> verifyAuditDirectory(const std::filesystem::path& dir);

}  // namespace pharos::policy
