// Output sanitization (the seed's sanitize_llm_output, generalized): PII and secret redaction plus
// removal of forbidden fenced code blocks, over whole texts and over streams.
//
// Detectors (all RE2, linear time; a SIMD prefilter finds where a match can start and each
// detector's pattern runs anchored there only, so most text is skipped 64 bytes at a time):
//   ssn      \b\d{3}-\d{2}-\d{4}\b, except area 000/666/9xx, group 00 or serial 0000 (never
//            issued), so "000-12-3456" is left alone; inside longer digit runs nothing matches.
//   card     13-19 digits, plain or grouped the way cards are printed (4-4-4-4[-3] with single
//            spaces or dashes, Amex 4-6-5), Luhn-checked: a digit run that fails Luhn is left
//            alone (the longest Luhn-valid prefix of at least 13 digits that ends between groups
//            is taken, so "<card> 123" redacts just the card). Free-form groupings like
//            "000-12-3456 666-12-3456" are not cards.
//   email    local@domain.tld (local part up to 64 characters, domain up to 100, TLD 2-24).
//   phone    NANP: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567, with an optional
//            +1 prefix (area code 2-9xx); E.164: +<8-15 digits>.
//   api_key  sk-… (sk-proj-, sk-ant-, …), sk_live_/rk_test_…, AKIA + 16, ghp_/gho_/ghu_/ghs_/ghr_,
//            github_pat_, xox[baprs]-, AIza + 35, "Bearer <token of 20+ chars>". A key longer than
//            the pattern's cap is swallowed to its end (its remaining token characters are
//            dropped too), so no tail of a long secret leaks.
// Forbidden code: a fenced block ``` + language + body + ``` whose language equals the rule's
// (case-insensitive; an empty rule language means every block) and whose body contains a match of
// the rule's regex is replaced whole by the code replacement ("[code removed]"). Fences pair in
// order, like the seed's lazy ```python…``` pattern. Removal runs first, redaction on its output.
//
// Streaming: Stream::feed emits text as soon as no later input can change it. Outside a policed
// code block it holds back at most maxHoldback() bytes (the longest any detector's match can be,
// plus the two backticks a fence may start with). A block whose language a rule polices is held
// until it closes; one longer than max_code_block_bytes is removed (fail closed: a block too big
// to inspect is not shown), and an unclosed one at the end of the stream is judged on what came.
// For every split of a text, the concatenated outputs of feed() + finish() equal sanitize(text).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::policy {

enum class Detector : std::uint8_t { kSsn, kCard, kEmail, kPhone, kApiKey };
inline constexpr std::size_t kDetectorCount = 5;
// "ssn", "card", "email", "phone", "api_key": the names used in config and metrics.
std::string_view detectorName(Detector detector);

struct ForbiddenCode {
  std::string language;  // e.g. "python"; empty = any fenced block
  std::string contains;  // RE2 searched in the block's body; empty = every such block
};

struct OutputPolicy {
  std::array<bool, kDetectorCount> enabled{true, true, true, true, true};
  std::array<std::string, kDetectorCount> replacement{"[SSN REDACTED]", "[CARD REDACTED]",
                                                      "[EMAIL REDACTED]", "[PHONE REDACTED]",
                                                      "[SECRET REDACTED]"};
  std::vector<ForbiddenCode> forbidden_code;
  std::string code_replacement = "[code removed]";
  std::size_t max_code_block_bytes = 64 * 1024;

  bool& on(Detector d) { return enabled[static_cast<std::size_t>(d)]; }
  bool on(Detector d) const { return enabled[static_cast<std::size_t>(d)]; }
};

// What was redacted, for the run's metadata and metrics.
struct Redactions {
  std::array<std::uint64_t, kDetectorCount> by_detector{};
  std::uint64_t code_blocks = 0;

  std::uint64_t count(Detector d) const { return by_detector[static_cast<std::size_t>(d)]; }
  std::uint64_t total() const;
  bool any() const { return total() != 0; }
  Redactions& operator+=(const Redactions& other);
};

class OutputSanitizer {
 public:
  // kInvalidArgument naming the rule when a forbidden_code regex does not compile.
  static core::Result<OutputSanitizer> compile(const OutputPolicy& policy);

  // Thread-safe (const): one compiled sanitizer serves every request.
  std::string sanitize(std::string_view text, Redactions* redactions = nullptr) const;

  // The most bytes a stream holds back outside a policed code block.
  std::size_t maxHoldback() const;
  const OutputPolicy& policy() const;

  class Stream {
   public:
    explicit Stream(const OutputSanitizer& sanitizer);
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;

    // Returns the text that can be sent now.
    std::string feed(std::string_view chunk);
    // The end of the text: returns what was held back. The stream is then done.
    std::string finish();
    const Redactions& redactions() const;
    // Bytes currently held back (tests and metrics).
    std::size_t held() const;

   private:
    struct State;
    std::unique_ptr<State> state_;
  };
  Stream stream() const { return Stream(*this); }

  struct Compiled;  // the RE2 programs; shared by copies

 private:
  explicit OutputSanitizer(std::shared_ptr<const Compiled> compiled);
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace pharos::policy
