// A durable, append-only log of opaque records, for data that must be safe the moment it is
// acknowledged but is turned into its queryable form later (OTLP exports: acknowledged when
// logged, materialized as runs behind). Many writers, one reader.
//
//  * append() completes after the record is on disk (write + fdatasync); concurrent appends share
//    one write and one fdatasync (group commit), which is what makes the log fast.
//  * Records live in numbered segment files (DIR/0000000000000001.seg, …) of about
//    `segment_bytes`; each record is framed by a magic number, its length and a CRC-32, so a torn
//    tail left by a crash is found and cut off at open (it was never acknowledged).
//  * The reader takes records in order with next() and reports what it has finished with
//    commit(); the committed position is kept in DIR/position and segments wholly before it are
//    deleted. Delivery is at-least-once: after a crash, records after the last persisted commit
//    are read again, so the reader's work must be idempotent.
//  * The backlog (bytes appended but not committed) is bounded: past `max_backlog_bytes`,
//    append() answers kOverloaded at once, which callers turn into "retry later".
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"

namespace pharos::store {

struct LogPosition {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  auto operator<=>(const LogPosition&) const = default;
};

struct LogEntry {
  std::string payload;
  LogPosition end;          // the position just after this record: pass it to commit()
  std::uint64_t bytes = 0;  // the record's size on disk
};

struct AppendLogOptions {
  std::filesystem::path dir;
  std::uint64_t segment_bytes = 64ull * 1024 * 1024;
  std::uint64_t max_backlog_bytes = 1024ull * 1024 * 1024;
  std::uint64_t max_record_bytes = 256ull * 1024 * 1024;
};

class AppendLog {
 public:
  // Opens (creating) the log in options.dir, cutting off a torn tail; starts the writer thread.
  // Errors: kUnavailable when the directory or a segment cannot be used.
  static core::Result<std::unique_ptr<AppendLog>> open(AppendLogOptions options);
  ~AppendLog();
  AppendLog(const AppendLog&) = delete;
  AppendLog& operator=(const AppendLog&) = delete;

  // Completes once the record is durable. kOverloaded: backlog full; kUnavailable: the disk
  // failed (nothing of this record is kept); kTooLarge: over max_record_bytes.
  boost::asio::awaitable<core::Result<bool>> append(std::string payload);

  // The next record after the last one returned, waiting up to `wait` for one to be appended;
  // nullopt on timeout or after close(). Records that fail their checksum in the middle of a
  // segment (disk damage) are skipped with an error logged, up to the segment's end.
  std::optional<LogEntry> next(std::chrono::milliseconds wait);

  // True when next() would return a record without waiting.
  bool hasNext() const;

  // Everything up to `end` (of an entry from next()) is done with; `bytes` of backlog are freed.
  // Persists the position (not synced: at-least-once) and deletes segments wholly before it.
  void commit(LogPosition end, std::uint64_t bytes);

  // Bytes appended and not yet committed.
  std::uint64_t backlogBytes() const;

  // Stops the writer (pending appends fail with kUnavailable) and wakes a waiting reader.
  void close();

 private:
  struct State;
  explicit AppendLog(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace pharos::store
