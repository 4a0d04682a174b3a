// The progress display of `pharos eval` (stderr, docs/plans/evaluation.md §6.2):
//  * a terminal: one line redrawn in place, at most 10 times a second (and always for the last
//    example):  `\r[#########-----------] 45/100  2 errors  12.3/s  eta 4s`
//  * not a terminal (a log, CI): a line `progress: k/n` each time another 10% is done, and at the
//    end, so logs stay short;
//  * disabled (--no-progress): nothing.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdio>
#include <functional>
#include <ostream>
#include <string>

namespace pharos::eval {

enum class ProgressMode { kDisabled, kTerminal, kLines };

// kTerminal when `stream` is a TTY, kLines otherwise; kDisabled when `disabled`.
ProgressMode progressModeFor(std::FILE* stream, bool disabled);

class ProgressDisplay {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  // `now` is for tests; the default is the steady clock.
  ProgressDisplay(std::ostream& out, ProgressMode mode, std::size_t total, Now now = {});

  // `done` of `total` examples finished, `errors` of them failed.
  void update(std::size_t done, std::size_t errors);
  // Draws the final state and ends the terminal line; safe to call more than once.
  void finish();

  // The terminal line for a state (without the leading \r): for tests and the redraw.
  static std::string bar(std::size_t done, std::size_t total, std::size_t errors,
                         double elapsed_seconds);

 private:
  void draw();
  void printLine();

  std::ostream& out_;
  ProgressMode mode_;
  std::size_t total_;
  Now now_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
  bool finished_ = false;
  std::size_t done_ = 0, errors_ = 0;
  std::size_t last_tenth_ = 0;                               // lines mode: tenths already reported
  std::size_t printed_done_ = static_cast<std::size_t>(-1);  // lines mode: `done` of the last line
  std::size_t last_width_ = 0;  // terminal mode: to blank out a longer previous line
};

}  // namespace pharos::eval
