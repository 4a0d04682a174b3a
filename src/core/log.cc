#include "core/log.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <iterator>
#include <mutex>
#include <thread>

#include "core/time.h"

namespace pharos::core::log {
namespace {

constexpr std::size_t kFlushAt = 64 * 1024;
constexpr std::size_t kDropAbove = 16 * 1024 * 1024;

std::string_view levelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void writeAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(STDERR_FILENO, data.data(), data.size());
    if (n <= 0) return;  // nowhere to report a failure to log
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

class Sink {
 public:
  ~Sink() { stop(); }

  void start() {
    std::lock_guard lock(mutex_);
    if (running_) return;
    running_ = true;
    thread_ = std::thread([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (!running_) return;
      running_ = false;
    }
    wake_.notify_one();
    thread_.join();
    writeAll(buffer_);
    buffer_.clear();
  }

  void append(std::string_view line) {
    bool wake = false;
    {
      std::lock_guard lock(mutex_);
      if (!running_) {
        writeAll(line);
        return;
      }
      if (buffer_.size() > kDropAbove) {
        ++dropped_;
        return;
      }
      buffer_.append(line);
      wake = buffer_.size() >= kFlushAt;
    }
    if (wake) wake_.notify_one();
  }

  void flush() {
    std::string out;
    {
      std::lock_guard lock(mutex_);
      out.swap(buffer_);
    }
    writeAll(out);
  }

 private:
  void run() {
    std::string out;
    std::unique_lock lock(mutex_);
    while (running_) {
      wake_.wait_for(lock, std::chrono::milliseconds(50),
                     [&] { return !running_ || buffer_.size() >= kFlushAt; });
      out.swap(buffer_);
      const std::uint64_t dropped = std::exchange(dropped_, 0);
      lock.unlock();
      if (dropped > 0) {
        out += formatLine(LogLevel::kWarn, "log lines dropped: stderr is not keeping up",
                          {{"dropped", dropped}});
        out += '\n';
      }
      writeAll(out);
      out.clear();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::string buffer_;
  std::uint64_t dropped_ = 0;
  bool running_ = false;
  std::thread thread_;
};

Sink& sink() {
  static Sink instance;
  return instance;
}

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

// Every access-log line needs a timestamp; the date and time to the second change once a
// second, so each thread formats them once and appends only the milliseconds.
void appendTimestampNow(std::string& out) {
  thread_local std::int64_t cached_second = -1;
  thread_local std::string cached_prefix;  // "2026-11-26T21:10:41."
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::int64_t second = ms / 1000;
  if (second != cached_second) {
    const std::string full = formatIso8601(
        std::chrono::system_clock::time_point(std::chrono::seconds(second)));  // "...:41.000Z"
    cached_prefix = full.substr(0, full.size() - 4);
    cached_second = second;
  }
  out += cached_prefix;
  const auto millis = static_cast<int>(ms % 1000);
  out.push_back(static_cast<char>('0' + millis / 100));
  out.push_back(static_cast<char>('0' + millis / 10 % 10));
  out.push_back(static_cast<char>('0' + millis % 10));
  out.push_back('Z');
}

}  // namespace

void init(LogLevel level) {
  min_level.store(static_cast<int>(level));
  sink().start();
}

void flush() {
  sink().flush();
}

bool enabled(LogLevel level) {
  return static_cast<int>(level) >= min_level.load();
}

void write(LogLevel level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  std::string line = formatLine(level, message, fields);
  line.push_back('\n');
  sink().append(line);
}

std::string isoTimestampNow() {
  std::string out;
  appendTimestampNow(out);
  return out;
}

std::string formatLine(LogLevel level, std::string_view message,
                       std::initializer_list<Field> fields) {
  std::string out;
  out.reserve(384 + message.size());  // an access-log line without reallocation
  out += "{\"ts\":\"";
  appendTimestampNow(out);
  out += "\",\"level\":\"";
  out += levelName(level);
  out += "\",\"msg\":";
  appendJsonString(out, message);
  for (const Field& field : fields) {
    out.push_back(',');
    appendJsonString(out, field.key);
    out.push_back(':');
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            appendJsonString(out, v);
          } else if constexpr (std::is_same_v<V, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<V, double>) {
            if (std::isfinite(v)) {
              fmt::format_to(std::back_inserter(out), "{}", v);
            } else {
              out += "null";
            }
          } else {
            fmt::format_to(std::back_inserter(out), "{}", v);
          }
        },
        field.value);
  }
  out.push_back('}');
  return out;
}

}  // namespace pharos::core::log
