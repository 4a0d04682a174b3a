#include "store/log/append_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "core/async.h"
#include "core/log.h"

namespace pharos::store {

namespace {

using core::Error;

constexpr std::uint32_t kMagic = 0x314c5350;  // "PSL1" little-endian
constexpr std::size_t kHeaderBytes = 16;      // magic, length, crc32, reserved (all u32 LE)

std::uint32_t crcOf(std::string_view bytes) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

void putU32(char* out, std::uint32_t value) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
}

std::uint32_t getU32(const char* in) {
  std::uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << (8 * i);
  return value;
}

std::string systemError(std::string_view what, const std::filesystem::path& path) {
  return fmt::format("{} {}: {}", what, path.string(), std::strerror(errno));
}

std::filesystem::path segmentPath(const std::filesystem::path& dir, std::uint64_t segment) {
  return dir / fmt::format("{:016d}.seg", segment);
}

bool fsyncPath(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

bool preadAll(int fd, char* out, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::size_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

// Reads the record at `offset` of a segment whose valid data ends at `limit`. nullopt when the
// bytes there are not a whole, intact record.
std::optional<std::string> readRecord(int fd, std::uint64_t offset, std::uint64_t limit,
                                      std::uint64_t max_record_bytes) {
  if (limit < offset + kHeaderBytes) return std::nullopt;
  char header[kHeaderBytes];
  if (!preadAll(fd, header, kHeaderBytes, offset)) return std::nullopt;
  const std::uint32_t length = getU32(header + 4);
  if (getU32(header) != kMagic || length > max_record_bytes ||
      limit - offset - kHeaderBytes < length) {
    return std::nullopt;
  }
  std::string payload(length, '\0');
  if (!preadAll(fd, payload.data(), length, offset + kHeaderBytes)) return std::nullopt;
  if (crcOf(payload) != getU32(header + 8)) return std::nullopt;
  return payload;
}

std::uint64_t fileSize(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

}  // namespace

struct AppendLog::State {
  struct Pending {
    char header[kHeaderBytes];
    std::string payload;
    core::Completion<core::Result<bool>> done;
  };

  AppendLogOptions options;

  mutable std::mutex mutex;
  std::condition_variable writer_wake;  // pending appends, or closing
  std::condition_variable reader_wake;  // the durable end moved, or closing
  std::vector<Pending> pending;
  bool closing = false;
  LogPosition durable;  // end of the data known to be on disk
  std::atomic<std::uint64_t> backlog{0};

  // Writer thread only.
  int write_fd = -1;
  std::uint64_t write_segment = 0;
  std::uint64_t write_size = 0;
  std::thread writer;

  // Reader only.
  int read_fd = -1;
  std::uint64_t read_fd_segment = 0;
  LogPosition read;
  LogPosition committed;

  ~State() {
    if (write_fd >= 0) ::close(write_fd);
    if (read_fd >= 0) ::close(read_fd);
  }

  bool writeBatch(std::vector<Pending>& batch) {
    std::vector<iovec> iov;
    iov.reserve(batch.size() * 2);
    for (Pending& p : batch) {
      iov.push_back({p.header, kHeaderBytes});
      if (!p.payload.empty()) iov.push_back({p.payload.data(), p.payload.size()});
    }
    std::size_t next = 0;
    while (next < iov.size()) {
      const int count = static_cast<int>(std::min<std::size_t>(iov.size() - next, IOV_MAX));
      ssize_t n = ::writev(write_fd, iov.data() + next, count);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      while (n > 0 && next < iov.size()) {  // skip what was written, trim a partial entry
        const auto taken = std::min<std::size_t>(static_cast<std::size_t>(n), iov[next].iov_len);
        iov[next].iov_base = static_cast<char*>(iov[next].iov_base) + taken;
        iov[next].iov_len -= taken;
        n -= static_cast<ssize_t>(taken);
        if (iov[next].iov_len == 0) ++next;
      }
    }
    return ::fdatasync(write_fd) == 0;
  }

  bool openSegment(std::uint64_t segment, bool create) {
    const std::filesystem::path path = segmentPath(options.dir, segment);
    const int flags = O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    const int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      core::log::error("cannot open log segment", {{"error", systemError("open", path)}});
      return false;
    }
    if (create && !fsyncPath(options.dir)) {
      core::log::warn("cannot sync the log directory", {{"dir", options.dir.string()}});
    }
    if (write_fd >= 0) ::close(write_fd);
    write_fd = fd;
    write_segment = segment;
    write_size = fileSize(fd);
    ::lseek(fd, 0, SEEK_END);
    return true;
  }

  void writerLoop() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock lock(mutex);
        writer_wake.wait(lock, [&] { return closing || !pending.empty(); });
        if (closing) break;
        batch.swap(pending);
      }
      std::uint64_t bytes = 0;
      for (const Pending& p : batch) bytes += kHeaderBytes + p.payload.size();
      if (!writeBatch(batch)) {
        core::log::error("log append failed; the batch is refused",
                         {{"error", systemError("write", segmentPath(options.dir, write_segment))},
                          {"records", batch.size()}});
        // Cut whatever part of the batch reached the file: it was never acknowledged.
        if (::ftruncate(write_fd, static_cast<off_t>(write_size)) != 0 ||
            ::lseek(write_fd, static_cast<off_t>(write_size), SEEK_SET) < 0) {
          core::log::error("cannot cut a failed append from the log", {{"segment", write_segment}});
        }
        backlog.fetch_sub(bytes);
        for (Pending& p : batch) {
          std::move(p.done)(Error::unavailable("the span log could not be written to disk"));
        }
        continue;
      }
      write_size += bytes;
      {
        std::lock_guard lock(mutex);
        durable = {write_segment, write_size};
      }
      reader_wake.notify_all();
      for (Pending& p : batch) std::move(p.done)(true);
      if (write_size >= options.segment_bytes && openSegment(write_segment + 1, true)) {
        std::lock_guard lock(mutex);
        durable = {write_segment, 0};
      }
    }
    std::vector<Pending> left;
    {
      std::lock_guard lock(mutex);
      left.swap(pending);
    }
    for (Pending& p : left) std::move(p.done)(Error::unavailable("the span log is closing"));
  }

  void persistPosition(bool sync) {
    const std::filesystem::path path = options.dir / "position";
    const std::filesystem::path temp = options.dir / "position.tmp";
    {
      std::ofstream out(temp, std::ios::trunc);
      out << committed.segment << ' ' << committed.offset << '\n';
      if (!out) {
        core::log::warn("cannot write the log position", {{"path", temp.string()}});
        return;
      }
    }
    if (sync && !fsyncPath(temp)) {
      core::log::warn("cannot sync the log position", {{"path", temp.string()}});
    }
    std::error_code ec;
    std::filesystem::rename(temp, path, ec);
    if (ec) core::log::warn("cannot replace the log position", {{"error", ec.message()}});
    if (sync) fsyncPath(options.dir);
  }
};

AppendLog::AppendLog(std::unique_ptr<State> state) : state_(std::move(state)) {}

core::Result<std::unique_ptr<AppendLog>> AppendLog::open(AppendLogOptions options) {
  auto state = std::make_unique<State>();
  state->options = options;
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Error::unavailable(
        fmt::format("cannot create the log directory {}: {}", options.dir.string(), ec.message()));
  }
  std::vector<std::uint64_t> segments;
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() == 20 && name.ends_with(".seg") &&
        std::all_of(name.begin(), name.begin() + 16, [](char c) { return c >= '0' && c <= '9'; })) {
      segments.push_back(std::stoull(name.substr(0, 16)));
    }
  }
  if (ec) return Error::unavailable("cannot list " + options.dir.string() + ": " + ec.message());
  std::sort(segments.begin(), segments.end());

  LogPosition position;
  if (std::ifstream in(options.dir / "position"); in) in >> position.segment >> position.offset;

  if (segments.empty()) {
    if (!state->openSegment(1, true)) {
      return Error::unavailable(systemError("cannot create", segmentPath(options.dir, 1)));
    }
    segments.push_back(1);
  } else {
    // The last segment may end in a record torn by a crash: keep the intact prefix.
    const std::uint64_t last = segments.back();
    const std::filesystem::path path = segmentPath(options.dir, last);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error::unavailable(systemError("cannot open", path));
    const std::uint64_t size = fileSize(fd);
    std::uint64_t offset = 0;
    while (auto record = readRecord(fd, offset, size, options.max_record_bytes)) {
      offset += kHeaderBytes + record->size();
    }
    ::close(fd);
    if (offset < size) {
      core::log::warn("cut a torn record from the end of the span log (never acknowledged)",
                      {{"segment", path.string()}, {"bytes", size - offset}});
      if (::truncate(path.c_str(), static_cast<off_t>(offset)) != 0) {
        return Error::unavailable(systemError("cannot cut the torn tail of", path));
      }
    }
    if (!state->openSegment(last, false))
      return Error::unavailable(systemError("cannot open", path));
  }
  state->durable = {state->write_segment, state->write_size};

  // Resume after the committed position; a position from before the oldest segment (its segments
  // were deleted) means the oldest segment's start.
  if (position.segment < segments.front() || position.segment > segments.back()) {
    position = {segments.front(), 0};
  }
  position.offset = std::min(position.offset, position.segment == state->write_segment
                                                  ? state->write_size
                                                  : std::numeric_limits<std::uint64_t>::max());
  state->read = position;
  state->committed = position;
  std::uint64_t backlog = 0;
  for (std::uint64_t segment : segments) {
    if (segment < position.segment) {
      std::filesystem::remove(segmentPath(options.dir, segment), ec);
      continue;
    }
    const std::uint64_t size =
        segment == state->write_segment
            ? state->write_size
            : std::filesystem::file_size(segmentPath(options.dir, segment), ec);
    backlog += segment == position.segment ? size - std::min(size, position.offset) : size;
  }
  state->backlog = backlog;
  state->writer = std::thread([raw = state.get()] { raw->writerLoop(); });
  return std::unique_ptr<AppendLog>(new AppendLog(std::move(state)));
}

AppendLog::~AppendLog() {
  close();
}

void AppendLog::close() {
  {
    std::lock_guard lock(state_->mutex);
    state_->closing = true;
  }
  state_->writer_wake.notify_all();
  state_->reader_wake.notify_all();
  if (state_->writer.joinable()) state_->writer.join();
}

boost::asio::awaitable<core::Result<bool>> AppendLog::append(std::string payload) {
  State& s = *state_;
  if (payload.size() > s.options.max_record_bytes) {
    co_return Error{core::ErrorCode::kTooLarge,
                    fmt::format("a log record of {} bytes is over the {}-byte limit",
                                payload.size(), s.options.max_record_bytes)};
  }
  const std::uint64_t bytes = kHeaderBytes + payload.size();
  if (s.backlog.fetch_add(bytes) + bytes > s.options.max_backlog_bytes) {
    s.backlog.fetch_sub(bytes);
    co_return Error::overloaded(fmt::format(
        "{} bytes of accepted spans are still waiting to be stored as runs (limit {}); retry "
        "later",
        s.backlog.load(), s.options.max_backlog_bytes));
  }
  co_return co_await core::suspendUntil<core::Result<bool>>(
      [&s, &payload, bytes](core::Completion<core::Result<bool>> done) {
        State::Pending pending{{}, std::move(payload), std::move(done)};
        putU32(pending.header, kMagic);
        putU32(pending.header + 4, static_cast<std::uint32_t>(pending.payload.size()));
        putU32(pending.header + 8, crcOf(pending.payload));
        putU32(pending.header + 12, 0);
        {
          std::lock_guard lock(s.mutex);
          if (!s.closing) {
            s.pending.push_back(std::move(pending));
            s.writer_wake.notify_one();
            return;
          }
        }
        s.backlog.fetch_sub(bytes);
        std::move(pending.done)(Error::unavailable("the span log is closing"));
      });
}

std::optional<LogEntry> AppendLog::next(std::chrono::milliseconds wait) {
  State& s = *state_;
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    LogPosition durable;
    {
      std::unique_lock lock(s.mutex);
      const bool ready = s.reader_wake.wait_until(lock, deadline,
                                                  [&] { return s.closing || s.read != s.durable; });
      if (!ready || s.closing) return std::nullopt;
      durable = s.durable;
    }
    if (s.read_fd < 0 || s.read_fd_segment != s.read.segment) {
      if (s.read_fd >= 0) ::close(s.read_fd);
      const std::filesystem::path path = segmentPath(s.options.dir, s.read.segment);
      s.read_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      s.read_fd_segment = s.read.segment;
      if (s.read_fd < 0) {
        if (s.read.segment < durable.segment) {  // gone: nothing to read there
          s.read = {s.read.segment + 1, 0};
          continue;
        }
        core::log::error("cannot read the span log", {{"error", systemError("open", path)}});
        return std::nullopt;
      }
    }
    const bool sealed = s.read.segment < durable.segment;
    const std::uint64_t limit = sealed ? fileSize(s.read_fd) : durable.offset;
    if (s.read.offset >= limit) {
      if (!sealed) return std::nullopt;
      s.read = {s.read.segment + 1, 0};
      continue;
    }
    auto payload = readRecord(s.read_fd, s.read.offset, limit, s.options.max_record_bytes);
    if (!payload) {
      core::log::error("damaged span log record: skipping the rest of the segment",
                       {{"segment", segmentPath(s.options.dir, s.read.segment).string()},
                        {"offset", s.read.offset},
                        {"bytes", limit - s.read.offset}});
      s.backlog.fetch_sub(std::min(s.backlog.load(), limit - s.read.offset));
      s.read.offset = limit;
      continue;
    }
    LogEntry entry;
    entry.bytes = kHeaderBytes + payload->size();
    entry.end = {s.read.segment, s.read.offset + entry.bytes};
    entry.payload = std::move(*payload);
    s.read = entry.end;
    return entry;
  }
}

void AppendLog::commit(LogPosition end, std::uint64_t bytes) {
  State& s = *state_;
  s.backlog.fetch_sub(std::min(s.backlog.load(), bytes));
  const bool leaves_segments = end.segment > s.committed.segment;
  const std::uint64_t first_kept = s.committed.segment;
  s.committed = end;
  // Segments are deleted only once a synced position says they are done with.
  s.persistPosition(leaves_segments);
  if (leaves_segments) {
    for (std::uint64_t segment = first_kept; segment < end.segment; ++segment) {
      std::error_code ec;
      std::filesystem::remove(segmentPath(s.options.dir, segment), ec);
    }
  }
}

bool AppendLog::hasNext() const {
  std::lock_guard lock(state_->mutex);
  return state_->read != state_->durable;
}

std::uint64_t AppendLog::backlogBytes() const {
  return state_->backlog.load();
}

}  // namespace pharos::store
