#include "policy/audit_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/crypto.h"
#include "core/log.h"
#include "core/time.h"

namespace pharos::policy {

namespace json = boost::json;

namespace {

const std::string kGenesis(64, '0');  // what the very first line's "prev" holds

std::string hashOf(std::string_view line) {
  return core::toHex(core::sha256(line));
}

std::string readAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

// The complete lines of a file's text (a torn last line, without its newline, is left out).
std::vector<std::string_view> completeLines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t end = text.find('\n'); end != std::string_view::npos;
       end = text.find('\n', start)) {
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::uint64_t seqOf(std::string_view line) {
  boost::system::error_code ec;
  const json::value value = json::parse(line, ec);
  if (ec || !value.is_object()) return 0;
  const json::value* seq = value.get_object().if_contains("seq");
  return seq != nullptr && seq->is_int64() ? static_cast<std::uint64_t>(seq->get_int64()) : 0;
}

}  // namespace

std::string auditEventJson(const AuditEvent& e) {
  json::object o;
  o["event"] = e.event;
  o["time"] = core::formatIso8601Micros(e.time_us);
  o["trace_id"] = e.trace_id;
  o["workspace_id"] = e.workspace_id;
  o["key_id"] = e.key_id;
  o["user_id"] = e.user_id;
  o["query_sha256"] = e.query_sha256;
  if (e.query_text) o["query_text"] = *e.query_text;
  o["model"] = e.model;
  o["target"] = e.target;
  o["prompt_tokens"] = e.prompt_tokens ? json::value(*e.prompt_tokens) : json::value(nullptr);
  o["completion_tokens"] =
      e.completion_tokens ? json::value(*e.completion_tokens) : json::value(nullptr);
  o["cost_usd"] = e.cost_usd ? json::value(*e.cost_usd) : json::value(nullptr);
  o["cache_status"] = e.cache_status;
  o["latency_ms"] = e.latency_ms ? json::value(*e.latency_ms) : json::value(nullptr);
  o["error_type"] = e.error_type;
  return json::serialize(o);
}

struct AuditLog::State {
  State(AuditLogOptions o, http::Counter& w, http::Counter& d)
      : options(std::move(o)), written(w), dropped(d) {}

  AuditLogOptions options;
  http::Counter& written;
  http::Counter& dropped;
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<AuditLog::Build> queue;
  bool stopping = false;
  // Writer thread only:
  int fd = -1;
  std::uint64_t file_bytes = 0;
  std::uint64_t seq = 0;
  std::string prev = kGenesis;

  std::filesystem::path current() const { return options.dir / kCurrentFile; }

  core::Status openCurrent() {
    fd = ::open(current().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      return core::Error::unavailable(
          fmt::format("cannot open {}: {}", current().string(), std::strerror(errno)));
    }
    return {};
  }

  core::Status rotate() {
    ::close(fd);
    const auto rotated = options.dir / fmt::format("audit-{:020}.jsonl", seq);
    std::error_code ec;
    std::filesystem::rename(current(), rotated, ec);
    if (ec) {
      return core::Error::unavailable(
          fmt::format("cannot rotate {}: {}", current().string(), ec.message()));
    }
    file_bytes = 0;
    return openCurrent();
  }
};

AuditLog::AuditLog(std::unique_ptr<State> state) : state_(std::move(state)) {
  thread_ = std::thread([this] { loop(); });
}

AuditLog::~AuditLog() {
  close();
}

core::Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditLogOptions options,
                                                       http::MetricsRegistry& metrics) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return core::Error::unavailable(
        fmt::format("cannot create {}: {}", options.dir.string(), ec.message()));
  }
  auto& events = metrics.counter("pharos_audit_events_total",
                                 "Audit log events, by result (written, dropped)", {"result"});
  auto state = std::make_unique<State>(std::move(options), events.with({"written"}),
                                       events.with({"dropped"}));
  // Continue the chain: from the current file, else from the newest rotated one.
  std::filesystem::path chain_source = state->current();
  if (!std::filesystem::exists(chain_source, ec) ||
      std::filesystem::file_size(chain_source, ec) == 0) {
    std::vector<std::filesystem::path> rotated;
    for (const auto& entry : std::filesystem::directory_iterator(state->options.dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("audit-") && name.ends_with(".jsonl")) rotated.push_back(entry.path());
    }
    std::sort(rotated.begin(), rotated.end());
    chain_source = rotated.empty() ? std::filesystem::path() : rotated.back();
  }
  if (!chain_source.empty()) {
    const std::string text = readAll(chain_source);
    const auto lines = completeLines(text);
    std::size_t complete_bytes = 0;
    for (auto line : lines) complete_bytes += line.size() + 1;
    if (complete_bytes < text.size() && chain_source == state->current()) {
      // A line torn by a crash mid-write: cut it, the chain ends at the last whole line.
      std::filesystem::resize_file(chain_source, complete_bytes, ec);
      core::log::warn("audit log: cut a torn last line",
                      {{"file", chain_source.string()}, {"bytes", text.size() - complete_bytes}});
    }
    if (!lines.empty()) {
      state->prev = hashOf(lines.back());
      state->seq = seqOf(lines.back());
    }
    if (chain_source == state->current()) state->file_bytes = complete_bytes;
  }
  if (auto opened = state->openCurrent(); !opened) return opened.error();
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(state)));
}

void AuditLog::append(AuditEvent event) {
  append([event = std::move(event)] { return event; });
}

void AuditLog::append(Build build) {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (!s.stopping && s.queue.size() < s.options.max_queued) {
      s.queue.push_back(std::move(build));
      if (s.queue.size() == 1) s.wake.notify_one();
      return;
    }
  }
  s.dropped.inc();
  if (s.dropped.value() % 1'000 == 1) {
    core::log::error(
        "audit events dropped: the audit log cannot keep up (see "
        "pharos_audit_events_total{result=\"dropped\"})",
        {{"dropped_so_far", s.dropped.value()}});
  }
}

void AuditLog::close() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (thread_.joinable()) thread_.join();
  if (state_->fd >= 0) {
    ::close(state_->fd);
    state_->fd = -1;
  }
}

void AuditLog::loop() {
  State& s = *state_;
  for (;;) {
    std::deque<Build> batch;
    {
      std::unique_lock lock(s.mutex);
      s.wake.wait(lock, [&] { return s.stopping || !s.queue.empty(); });
      if (s.queue.empty()) return;
      batch.swap(s.queue);
    }
    std::string out;
    std::size_t lines = 0;
    const auto flush = [&]() -> bool {
      std::size_t done = 0;
      while (done < out.size()) {
        const ssize_t n = ::write(s.fd, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      s.file_bytes += out.size();
      out.clear();
      return ::fdatasync(s.fd) == 0;
    };
    bool ok = true;
    for (Build& build : batch) {
      const std::string body = auditEventJson(build());
      std::string line = fmt::format(R"({{"seq":{},"prev":"{}",)", s.seq + 1, s.prev);
      line.append(body, 1, std::string::npos);  // the event's members after its '{'
      if (s.file_bytes + out.size() + line.size() + 1 > s.options.max_file_bytes &&
          s.file_bytes + out.size() > 0) {
        ok = ok && flush();
        if (auto rotated = s.rotate(); !rotated) {
          core::log::error("audit log rotation failed", {{"error", rotated.error().message}});
          ok = false;
        }
      }
      ++s.seq;
      s.prev = hashOf(line);
      out += line;
      out.push_back('\n');
      ++lines;
    }
    ok = ok && flush();
    if (ok) {
      s.written.inc(lines);
    } else {
      s.dropped.inc(lines);
      core::log::error("audit log write failed",
                       {{"file", s.current().string()}, {"error", std::strerror(errno)}});
    }
  }
}

core::Result<AuditVerification> verifyAuditFile(const std::filesystem::path& file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    return core::Error::unavailable(fmt::format("{}: no such file", file.string()));
  }
  const std::string text = readAll(file);
  AuditVerification result;
  const auto lines = completeLines(text);
  result.lines = lines.size();
  std::string prev_hash;
  std::uint64_t prev_seq = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fail = [&](std::string reason) {
      result.first_bad_line = i + 1;
      result.reason = std::move(reason);
      return result;
    };
    boost::system::error_code parse_ec;
    const json::value value = json::parse(lines[i], parse_ec);
    if (parse_ec || !value.is_object()) return fail("not a JSON object");
    const json::object& o = value.get_object();
    const json::value* prev = o.if_contains("prev");
    const json::value* seq = o.if_contains("seq");
    if (prev == nullptr || !prev->is_string() || seq == nullptr || !seq->is_int64()) {
      return fail("no \"prev\" hash or \"seq\" number");
    }
    if (i == 0) {
      result.first_prev = std::string(prev->get_string());
    } else {
      if (prev->get_string() != prev_hash) {
        return fail(
            fmt::format("\"prev\" is {} but line {} hashes to {}: line {} or {} was "
                        "changed, or lines were removed or reordered",
                        std::string_view(prev->get_string()), i, prev_hash, i, i + 1));
      }
      if (static_cast<std::uint64_t>(seq->get_int64()) != prev_seq + 1) {
        return fail(fmt::format("\"seq\" is {} after {}", seq->get_int64(), prev_seq));
      }
    }
    prev_hash = hashOf(lines[i]);
    prev_seq = static_cast<std::uint64_t>(seq->get_int64());
  }
  std::size_t complete_bytes = 0;
  for (auto line : lines) complete_bytes += line.size() + 1;
  if (complete_bytes != text.size()) {
    result.first_bad_line = lines.size() + 1;
    result.reason = "the last line is incomplete (no newline)";
    return result;
  }
  result.intact = true;
  result.file = file;
  result.last_hash = prev_hash;
  return result;
}

core::Result<AuditVerification> verifyAuditDirectory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("audit-") && name.ends_with(".jsonl")) files.push_back(entry.path());
  }
  if (ec)
    return core::Error::unavailable(fmt::format("cannot read {}: {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());  // zero-padded sequence numbers: name order is chain order
  if (std::filesystem::exists(dir / AuditLog::kCurrentFile, ec)) {
    files.push_back(dir / AuditLog::kCurrentFile);
  }
  if (files.empty()) {
    return core::Error::unavailable(fmt::format("{}: no audit files", dir.string()));
  }
  AuditVerification total;
  for (std::size_t i = 0; i < files.size(); ++i) {
    auto verified = verifyAuditFile(files[i]);
    if (!verified) return verified.error();
    verified->file = files[i];
    if (!verified->intact) {
      verified->lines += total.lines;
      return verified;
    }
    if (i == 0) {
      total.first_prev = verified->first_prev;
    } else if (verified->lines > 0 && verified->first_prev != total.last_hash) {
      verified->intact = false;
      verified->first_bad_line = 1;
      verified->reason = fmt::format(
          "the first line's \"prev\" is {} but {} ends with a line hashing to {}: a file "
          "between them was removed or replaced",
          verified->first_prev, files[i - 1].filename().string(), total.last_hash);
      verified->lines += total.lines;
      return verified;
    }
    total.lines += verified->lines;
    if (verified->lines > 0) total.last_hash = verified->last_hash;
  }
  total.intact = true;
  total.file = dir;
  return total;
}

}  // namespace pharos::policy
