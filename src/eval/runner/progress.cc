#include "eval/runner/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace pharos::eval {
namespace {

constexpr std::size_t kBarWidth = 20;
constexpr auto kMinRedraw = std::chrono::milliseconds(100);  // at most 10 redraws a second

}  // namespace

ProgressMode progressModeFor(std::FILE* stream, bool disabled) {
  if (disabled) return ProgressMode::kDisabled;
  return stream != nullptr && ::isatty(::fileno(stream)) == 1 ? ProgressMode::kTerminal
                                                              : ProgressMode::kLines;
}

ProgressDisplay::ProgressDisplay(std::ostream& out, ProgressMode mode, std::size_t total, Now now)
    : out_(out), mode_(mode), total_(total), now_(std::move(now)) {
  if (!now_) now_ = [] { return std::chrono::steady_clock::now(); };
  started_ = now_();
}

std::string ProgressDisplay::bar(std::size_t done, std::size_t total, std::size_t errors,
                                 double elapsed_seconds) {
  const std::size_t filled = total == 0 ? kBarWidth : std::min(kBarWidth, done * kBarWidth / total);
  std::string line = "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '-') + "] " +
                     fmt::format("{}/{}", done, total);
  if (errors > 0) line += fmt::format("  {} error{}", errors, errors == 1 ? "" : "s");
  if (elapsed_seconds > 0 && done > 0) {
    const double rate = static_cast<double>(done) / elapsed_seconds;
    line += fmt::format("  {:.1f}/s", rate);
    if (done < total) {
      const double eta = static_cast<double>(total - done) / rate;
      line += fmt::format("  eta {}s", static_cast<long long>(std::ceil(eta)));
    }
  }
  return line;
}

void ProgressDisplay::draw() {
  const double elapsed = std::chrono::duration<double>(now_() - started_).count();
  std::string line = bar(done_, total_, errors_, elapsed);
  const std::size_t width = line.size();
  // A shorter line (the eta went away) must blank what the longer one left behind.
  if (width < last_width_) line.append(last_width_ - width, ' ');
  last_width_ = width;
  out_ << '\r' << line << std::flush;
  drawn_ = true;
}

void ProgressDisplay::printLine() {
  out_ << fmt::format("progress: {}/{}\n", done_, total_) << std::flush;
  printed_done_ = done_;
}

void ProgressDisplay::update(std::size_t done, std::size_t errors) {
  if (finished_) return;
  done_ = done;
  errors_ = errors;
  switch (mode_) {
    case ProgressMode::kDisabled:
      return;
    case ProgressMode::kTerminal: {
      const auto now = now_();
      if (drawn_ && done_ < total_ && now - last_draw_ < kMinRedraw) return;
      last_draw_ = now;
      draw();
      return;
    }
    case ProgressMode::kLines: {
      const std::size_t tenth = total_ == 0 ? 10 : done_ * 10 / total_;
      if (tenth > last_tenth_) {
        last_tenth_ = tenth;
        printLine();
      }
      return;
    }
  }
}

void ProgressDisplay::finish() {
  if (finished_) return;
  finished_ = true;
  switch (mode_) {
    case ProgressMode::kDisabled:
      return;
    case ProgressMode::kTerminal:
      draw();
      out_ << '\n' << std::flush;
      return;
    case ProgressMode::kLines:
      // Stopped early: say where it stopped, unless that line is already out.
      if (printed_done_ != done_) printLine();
      return;
  }
}

}  // namespace pharos::eval
