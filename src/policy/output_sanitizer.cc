#include "policy/output_sanitizer.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace pharos::policy {

namespace {

constexpr std::string_view kDetectorNames[kDetectorCount] = {"ssn", "card", "email", "phone",
                                                             "api_key"};

// The order detectors are tried in (as a combined alternation would): at one start position the
// first that matches wins (an email whose local part starts with digits is an email, not a phone).
constexpr Detector kOrder[kDetectorCount] = {Detector::kEmail, Detector::kApiKey, Detector::kSsn,
                                             Detector::kCard, Detector::kPhone};

// Each pattern is ASCII and bounded: its longest match is kMaxLength[detector] bytes, which is what
// lets a stream decide a match (or its absence) with bounded look-ahead. Keep the two in step, and
// keep couldStart() and simdBlock() below necessary conditions of them (they decide where RE2 is
// asked at all: a start they reject is never redacted).
constexpr std::string_view kPatterns[kDetectorCount] = {
    // ssn: 3-2-4 digits on word boundaries (area/group/serial validity is checked in code).
    R"(\b\d{3}-\d{2}-\d{4}\b)",
    // card: 13-19 digits, plain or grouped as cards print them (4-4-4-1..4[-1..3] with spaces
    // or with dashes; Amex 4-6-5); Luhn is checked in code.
    R"(\b(?:\d{13,19}|\d{4}(?: \d{4}){2} \d{1,4}(?: \d{1,3})?|\d{4}(?:-\d{4}){2}-\d{1,4}(?:-\d{1,3})?|)"
    R"(\d{4}[ \-]\d{6}[ \-]\d{4,5})\b)",
    // email
    R"([A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9.\-]{1,100}\.[A-Za-z]{2,24}\b)",
    // phone: NANP with optional +1, or E.164.
    R"((?:\+1[ .\-]?)?(?:\([2-9]\d{2}\) ?|\b[2-9]\d{2}[ .\-])\d{3}[ .\-]\d{4}\b|\+[1-9]\d{7,14}\b)",
    // api_key: provider key shapes. Caps keep the match bounded; longer keys are swallowed.
    R"(\bsk-[A-Za-z0-9_\-]{20,64}|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,64}|\bAKIA[0-9A-Z]{16}\b|)"
    R"(\bgh[pousr]_[A-Za-z0-9]{36,64}|\bgithub_pat_[A-Za-z0-9_]{22,64}|)"
    R"(\bxox[baprs]-[A-Za-z0-9\-]{10,64}|\bAIza[0-9A-Za-z_\-]{35}|)"
    R"(\bBearer[ \t]{1,4}[A-Za-z0-9._~+/=\-]{20,64})",
};
// Longest possible match per detector (bytes). api_key: github_pat_ + 64 = 75.
constexpr std::size_t kMaxLength[kDetectorCount] = {11, 23, 64 + 1 + 100 + 1 + 24, 17, 75};
constexpr std::size_t kBearerMaxLength = 6 + 4 + 64;
constexpr std::size_t kMaxLanguage = 64;

using CharTable = std::array<bool, 256>;

constexpr CharTable makeTable(std::string_view extra, bool digits, bool letters) {
  CharTable t{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    t[c] = (digits && digit) || (letters && letter);
  }
  for (char c : extra) t[static_cast<unsigned char>(c)] = true;
  return t;
}

// Every byte any match of the detector can contain: a start whose run of such bytes ends inside
// the buffer is decided.
constexpr CharTable kClass[kDetectorCount] = {
    makeTable("-", true, false),       // ssn
    makeTable(" -", true, false),      // card
    makeTable("._%+@-", true, true),   // email
    makeTable(" ().+-", true, false),  // phone
    makeTable("_-", true, true),       // api_key (but Bearer: below)
};
// Every byte a match of the detector can start with.
constexpr CharTable kStart[kDetectorCount] = {
    makeTable("", true, false),      // ssn
    makeTable("", true, false),      // card
    makeTable("._%+-", true, true),  // email
    makeTable("(+", true, false),    // phone
    makeTable("", false, true),      // api_key, Bearer included
};
constexpr CharTable kBearerToken = makeTable("._~+/=-", true, true);
constexpr CharTable kKeyToken = makeTable("_-", true, true);
constexpr CharTable kWord = makeTable("_", true, true);
constexpr CharTable kLanguageChar = makeTable("_+#.-", true, true);

bool in(const CharTable& table, char c) {
  return table[static_cast<unsigned char>(c)];
}

bool luhn(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The bytes a word-starting match can begin with: digits (ssn, card, phone) and the first letters
// of the key prefixes (sk-, rk_, AKIA, AIza, gh*_, github_pat_, xox*-, Bearer).
constexpr CharTable kTrigger = makeTable("srAgxB", true, false);
constexpr CharTable kEmailLocal = makeTable("._%+-", true, true);

bool digit(char c) {
  return c >= '0' && c <= '9';
}

// Bit i set: text[base + i] (i < count <= 64) can start a match that is not an email's: a '+' or
// '(' (phone; no \b before them), or a trigger byte starting a word (every pattern but email's
// begins with \b then a digit or a letter). `before` is whether text[base - 1] is a word byte.
[[maybe_unused]] std::uint64_t scalarBlock(const unsigned char* b, std::size_t count, bool before) {
  std::uint64_t mask = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const bool word = kWord[b[i]];
    if ((kTrigger[b[i]] && !before) || b[i] == '+' || b[i] == '(') mask |= std::uint64_t{1} << i;
    before = word;
  }
  return mask;
}

#if defined(__SSE2__)
// Bytes simdBlock reads: 64 positions and the 16 after them, which the checks below look at.
constexpr std::size_t kSimdSpan = 80;

// The same for 64 bytes, 16 at a time (SSE2 is baseline on x86-64), and sharper: besides starting
// a word, a digit must begin what ssn, card or phone need (3 digits then a separator, 4 digits,
// a blank or dash and a digit, or 13 digits), a letter a key prefix's first two letters, and a
// '+' or '(' be followed by a digit. Prose, numbers and timestamps then cost a few instructions
// per 16 bytes instead of a check per word. Still a superset of couldStart().
std::uint64_t simdBlock(const unsigned char* b, bool before) {
  __extension__ using Bits = unsigned __int128;  // one bit per byte of the 80 read
  const auto eq = [](__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
  // c - lo < hi - lo + 1 as unsigned bytes, via a signed compare of both shifted by 128.
  const auto range = [](__m128i v, char lo, char hi) {
    const __m128i shifted = _mm_xor_si128(_mm_sub_epi8(v, _mm_set1_epi8(lo)), _mm_set1_epi8(-128));
    return _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(hi - lo + 1 - 128)));
  };
  // Masks per 16 bytes, then put together: shifting 128-bit masks by a variable costs more.
  std::uint16_t word[4], key[4], opener[4], digits[5], blank_dash[5], separator[5];
  const auto bits = [](__m128i m) { return static_cast<std::uint16_t>(_mm_movemask_epi8(m)); };
  for (int k = 0; k < 5; ++k) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * k));
    const __m128i d = range(v, '0', '9');
    const __m128i bd = _mm_or_si128(eq(v, ' '), eq(v, '-'));
    digits[k] = bits(d);
    blank_dash[k] = bits(bd);
    separator[k] = bits(_mm_or_si128(bd, eq(v, '.')));
    if (k == 4) break;  // the last 16 bytes are only looked at
    const __m128i letters = range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 'z');
    word[k] = bits(_mm_or_si128(_mm_or_si128(d, letters), eq(v, '_')));
    // The byte after each: its first two letters tell a key prefix.
    const __m128i n = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 * k + 1));
    const __m128i sk = _mm_and_si128(_mm_or_si128(eq(v, 's'), eq(v, 'r')), eq(n, 'k'));
    const __m128i ak = _mm_and_si128(eq(v, 'A'), _mm_or_si128(eq(n, 'K'), eq(n, 'I')));
    const __m128i gh = _mm_and_si128(eq(v, 'g'), _mm_or_si128(eq(n, 'h'), eq(n, 'i')));
    const __m128i xo = _mm_and_si128(eq(v, 'x'), eq(n, 'o'));
    const __m128i be = _mm_and_si128(eq(v, 'B'), eq(n, 'e'));
    key[k] = bits(_mm_or_si128(_mm_or_si128(sk, ak), _mm_or_si128(_mm_or_si128(gh, xo), be)));
    opener[k] = bits(_mm_and_si128(_mm_or_si128(eq(v, '+'), eq(v, '(')), range(n, '0', '9')));
  }
  const auto join = [](const std::uint16_t* m, bool tail) {
    const std::uint64_t lo = m[0] | (std::uint64_t{m[1]} << 16) | (std::uint64_t{m[2]} << 32) |
                             (std::uint64_t{m[3]} << 48);
    return static_cast<Bits>(lo) | (tail ? static_cast<Bits>(m[4]) << 64 : 0);
  };
  const std::uint64_t w = static_cast<std::uint64_t>(join(word, false));
  const std::uint64_t word_start = w & ~((w << 1) | (before ? 1 : 0));
  const Bits d = join(digits, true), bd = join(blank_dash, true), sep = join(separator, true);
  const Bits d3 = d & (d >> 1) & (d >> 2);
  const Bits d13 = d3 & (d3 >> 3) & (d3 >> 6) & (d3 >> 9) & (d >> 12);
  const Bits numeric = d3 & ((sep >> 3) | ((d >> 3) & (((bd >> 4) & (d >> 5)) | d13)));
  return static_cast<std::uint64_t>(join(opener, false)) |
         (word_start &
          (static_cast<std::uint64_t>(join(key, false)) | static_cast<std::uint64_t>(numeric)));
}
#endif

// Finds, left to right, the positions where some detector's match can start: the bits above, and
// the local part before an '@' (at most 64 bytes of local-part characters). A superset of the
// real starts; the rest of the text is skipped 64 bytes at a time.
class Candidates {
 public:
  Candidates(std::string_view text, bool email)
      : text_(text), known_(!email), at_(text.size()), from_(text.size()) {}

  // The first candidate in [p, limit), or limit.
  std::size_t next(std::size_t p, std::size_t limit) {
    // The next email start: in the local part before the first '@' whose run reaches p or later.
    if (!known_) findAt(p);
    while (at_ < text_.size() && std::max(from_, p) >= at_) findAt(std::max(p, at_ + 1));
    limit = std::min(limit, std::max(from_, p));
    while (p < limit) {
      if (p < base_ || p >= base_ + count_) load(p);
      const std::uint64_t left = mask_ >> (p - base_);
      if (left != 0) return std::min(limit, p + static_cast<std::size_t>(__builtin_ctzll(left)));
      p = base_ + count_;
    }
    return limit;
  }

  // Whether an email can start at p (p was returned by next()).
  bool emailAt(std::size_t p) const { return p >= from_ && p < at_; }
  // An email failed at a start before the current '@': none can start before it.
  void emailFailed() { from_ = at_; }

 private:
  void load(std::size_t p) {
    const auto* b = reinterpret_cast<const unsigned char*>(text_.data());
    const bool before = p > 0 && kWord[b[p - 1]];
    base_ = p;
    count_ = std::min<std::size_t>(64, text_.size() - p);
#if defined(__SSE2__)
    if (text_.size() - p >= kSimdSpan) {
      mask_ = simdBlock(b + p, before);
      return;
    }
    // Near the end (and a stream's short buffer is all end): the same on a zero-padded copy.
    // A zero byte is what couldStart() sees past the end, and never sets a bit.
    unsigned char padded[kSimdSpan] = {};
    std::memcpy(padded, b + p, text_.size() - p);
    mask_ = simdBlock(padded, before);
#else
    mask_ = scalarBlock(b + p, count_, before);
#endif
  }

  // The first '@' at or after p, and the first start from p on whose local part reaches it.
  void findAt(std::size_t p) {
    known_ = true;
    const std::size_t n = text_.size();
    const void* hit = p < n ? std::memchr(text_.data() + p, '@', n - p) : nullptr;
    at_ =
        hit != nullptr ? static_cast<std::size_t>(static_cast<const char*>(hit) - text_.data()) : n;
    if (at_ == n) {
      from_ = n;
      return;
    }
    const std::size_t floor = std::max(p, at_ >= 64 ? at_ - 64 : std::size_t{0});
    from_ = at_;
    while (from_ > floor && in(kEmailLocal, text_[from_ - 1])) --from_;
  }

  std::string_view text_;
  bool known_;        // at_ and from_ are set
  std::size_t at_;    // the next '@' (text.size(): none)
  std::size_t from_;  // email starts are [from_, at_)
  std::size_t base_ = 0, count_ = 0;
  std::uint64_t mask_ = 0;  // candidate bits of text[base_, base_ + count_)
};

// A necessary condition for detector d's pattern (not email's) to match at s, checked by hand
// on the bytes RE2 would see (text ends at text.size()). Only positions that pass are given to
// RE2, so this may let through too much but must never reject a match.
bool couldStart(Detector d, std::string_view text, std::size_t s) {
  const std::size_t n = text.size();
  auto at = [&](std::size_t i) { return i < n ? text[i] : '\0'; };
  auto digits = [&](std::size_t from, std::size_t count) {
    for (std::size_t i = from; i < from + count; ++i) {
      if (!digit(at(i))) return false;
    }
    return true;
  };
  auto sep = [](char c, std::string_view set) { return c != '\0' && set.find(c) != set.npos; };
  const char c = text[s];
  const bool word_start = s == 0 || !in(kWord, text[s - 1]);
  switch (d) {
    case Detector::kSsn:  // \b\d{3}-\d{2}-\d{4}\b
      return word_start && digits(s, 3) && at(s + 3) == '-' && digits(s + 4, 2) &&
             at(s + 6) == '-' && digits(s + 7, 4) && !in(kWord, at(s + 11));
    case Detector::kCard: {
      // \b then 13-19 digits and \b, or exactly 4 digits, a blank or dash, and 4+ digits.
      if (!word_start || !digit(c)) return false;
      std::size_t run = 0;
      while (run < 20 && digit(at(s + run))) ++run;
      if (run >= 13 && run <= 19) return !in(kWord, at(s + run));
      return run == 4 && sep(at(s + 4), " -") && digits(s + 5, 4);
    }
    case Detector::kPhone:
      if (c == '+') return at(s + 1) >= '1' && at(s + 1) <= '9';
      if (c == '(')
        return at(s + 1) >= '2' && at(s + 1) <= '9' && digits(s + 2, 2) && at(s + 4) == ')';
      // \b[2-9]\d{2}[ .-]\d{3}[ .-]\d{4}\b
      return word_start && c >= '2' && c <= '9' && digits(s + 1, 2) && sep(at(s + 3), " .-") &&
             digits(s + 4, 3) && sep(at(s + 7), " .-") && digits(s + 8, 4);
    case Detector::kApiKey: {
      if (!word_start) return false;
      const std::string_view rest = text.substr(s);
      switch (c) {
        case 's':
        case 'r':  // sk-, sk_live_, sk_test_, rk_live_, rk_test_
          return at(s + 1) == 'k' && (at(s + 2) == '_' || (c == 's' && at(s + 2) == '-'));
        case 'A':
          return rest.starts_with("AKIA") || rest.starts_with("AIza");
        case 'g':  // gh[pousr]_, github_pat_
          return (at(s + 1) == 'h' && sep(at(s + 2), "pousr") && at(s + 3) == '_') ||
                 rest.starts_with("github_pat_");
        case 'x':
          return rest.starts_with("xox") && sep(at(s + 3), "baprs") && at(s + 4) == '-';
        case 'B':
          return rest.starts_with("Bearer") && sep(at(s + 6), " \t");
        default:
          return false;
      }
    }
    case Detector::kEmail:
      return true;  // Candidates::emailAt decides
  }
  return true;
}

}  // namespace

std::string_view detectorName(Detector detector) {
  return kDetectorNames[static_cast<std::size_t>(detector)];
}

std::uint64_t Redactions::total() const {
  std::uint64_t sum = code_blocks;
  for (auto n : by_detector) sum += n;
  return sum;
}

Redactions& Redactions::operator+=(const Redactions& other) {
  for (std::size_t i = 0; i < kDetectorCount; ++i) by_detector[i] += other.by_detector[i];
  code_blocks += other.code_blocks;
  return *this;
}

struct OutputSanitizer::Compiled {
  OutputPolicy policy;
  std::vector<Detector> group_detector;      // the enabled detectors, in kOrder
  std::vector<std::unique_ptr<RE2>> single;  // their patterns, matched anchored at candidates
  bool email_on = false;
  std::size_t max_length = 0;
  struct Rule {
    std::string language;           // lower case; empty = any
    std::unique_ptr<RE2> contains;  // null = every block
  };
  std::vector<Rule> rules;

  // Decides, at a match of `d` over [s, e), whether it is one and where it ends (cards may end
  // earlier: the longest Luhn-valid prefix). False: not a match of `d` here.
  bool validate(Detector d, std::string_view text, std::size_t s, std::size_t& e) const {
    if (d == Detector::kSsn) {
      const std::string_view m = text.substr(s, e - s);
      const int area = (m[0] - '0') * 100 + (m[1] - '0') * 10 + (m[2] - '0');
      if (area == 0 || area == 666 || area >= 900) return false;
      if (m.substr(4, 2) == "00" || m.substr(7, 4) == "0000") return false;
      return true;
    }
    if (d != Detector::kCard) return true;
    std::string digits;
    std::vector<std::size_t> ends;  // end offset after each digit
    for (std::size_t i = s; i < e; ++i) {
      if (text[i] >= '0' && text[i] <= '9') {
        digits.push_back(text[i]);
        ends.push_back(i + 1);
      }
    }
    for (std::size_t n = digits.size(); n >= 13; --n) {
      const std::size_t end = ends[n - 1];
      // A shorter card must still end on a word boundary (the next byte is a separator).
      if (end != e && in(kWord, text[end])) continue;
      if (luhn(std::string_view(digits).substr(0, n))) {
        e = end;
        return true;
      }
    }
    return false;
  }

  // The first start position in text[pos, n) whose match could still change with more input.
  std::size_t decidedLimit(std::string_view text, std::size_t pos) const {
    const std::size_t n = text.size();
    std::size_t limit = n;
    auto runStart = [&](const CharTable& table, std::size_t max_len) {
      // Only the last max_len+1 bytes matter: an earlier start is decided by length alone.
      const std::size_t floor = n > max_len ? n - max_len : 0;
      std::size_t t = n;
      while (t > floor && t > pos && in(table, text[t - 1])) --t;
      return t;
    };
    // Bytes that cannot start a match are decided too.
    auto firstStart = [&](std::size_t t, const CharTable& starts) {
      while (t < n && !in(starts, text[t])) ++t;
      return t;
    };
    for (std::size_t i = 0; i < kDetectorCount; ++i) {
      const auto d = static_cast<Detector>(i);
      if (!policy.on(d)) continue;
      limit = std::min(limit, firstStart(runStart(kClass[i], kMaxLength[i]), kStart[i]));
      if (d == Detector::kApiKey) {
        // "Bearer<ws>token": the token's run, or the "Bearer" before 1-4 blanks before it.
        std::size_t t = runStart(kBearerToken, kBearerMaxLength);
        std::size_t b = t, blanks = 0;
        while (b > pos && blanks < 5 && (text[b - 1] == ' ' || text[b - 1] == '\t')) --b, ++blanks;
        if (blanks >= 1 && blanks <= 4 && b >= 6 && text.substr(b - 6, 6) == "Bearer") {
          t = std::max(b - 6, n > kBearerMaxLength ? n - kBearerMaxLength : std::size_t{0});
        }
        limit = std::min(limit, firstStart(std::max(t, pos), kStart[i]));
      }
    }
    return std::max(limit, pos);
  }

  // Redacts text[pos, n) into `out`, deciding only starts below the decided limit unless `final`.
  // Returns where it stopped; `swallow` carries an unfinished long key across calls.
  //
  // A start position is redacted by the first detector (in kOrder) whose pattern matches there
  // and validates; a position none takes is passed by one byte. Rather than an unanchored RE2
  // search over everything, a byte-table loop finds the few positions where some detector can
  // start at all (see Candidates) and a hand-written necessary condition per detector (couldStart)
  // rejects most of those; RE2 runs anchored only on the survivors, so the result is exactly what
  // the patterns say.
  std::size_t scan(std::string_view text, std::size_t pos, bool final, std::string& out,
                   Redactions& redactions, const CharTable*& swallow) const {
    const std::size_t n = text.size();
    if (swallow != nullptr) {
      while (pos < n && in(*swallow, text[pos])) ++pos;
      if (pos == n) return pos;
      swallow = nullptr;
    }
    if (single.empty()) {
      out.append(text.substr(pos));
      return n;
    }
    const std::size_t limit = final ? n : decidedLimit(text, pos);
    const re2::StringPiece whole(text.data(), text.size());
    Candidates candidates(text, email_on);
    std::size_t flushed = pos;  // text[pos, flushed) is in `out`
    std::size_t p = pos;
    while (p < limit) {
      const std::size_t s = candidates.next(p, limit);
      if (s >= limit) break;
      std::size_t e = 0;
      std::optional<Detector> found;
      const std::size_t end = std::min(n, s + max_length + 1);
      for (std::size_t g = 0; g < group_detector.size(); ++g) {
        const Detector d = group_detector[g];
        if (d == Detector::kEmail ? !candidates.emailAt(s) : !couldStart(d, text, s)) continue;
        re2::StringPiece m;
        const bool matched = single[g]->Match(whole, s, end, RE2::ANCHOR_START, &m, 1);
        // An email's match does not depend on where in the local part it starts: one failed
        // try settles every start before that '@'.
        if (d == Detector::kEmail && !matched) candidates.emailFailed();
        if (!matched) continue;
        e = s + m.size();
        if (validate(d, text, s, e)) {
          found = d;
          break;
        }
      }
      if (!found) {
        p = s + 1;
        continue;
      }
      const auto index = static_cast<std::size_t>(*found);
      out.append(text.substr(flushed, s - flushed));
      out.append(policy.replacement[index]);
      ++redactions.by_detector[index];
      p = flushed = e;
      if (*found == Detector::kApiKey) {
        const CharTable& table = text.substr(s, 6) == "Bearer" ? kBearerToken : kKeyToken;
        while (p < n && in(table, text[p])) ++p;
        flushed = p;
        if (p == n && !final) {
          swallow = &table;
          return p;
        }
      }
    }
    const std::size_t stop = final ? n : std::max(p, limit);
    if (flushed < stop) out.append(text.substr(flushed, stop - flushed));
    return std::max(stop, flushed);
  }

  // Which rules police a block of this language (lower case).
  bool policed(const std::string& language) const {
    return std::any_of(rules.begin(), rules.end(),
                       [&](const Rule& r) { return r.language.empty() || r.language == language; });
  }
  bool forbidden(const std::string& language, std::string_view body) const {
    return std::any_of(rules.begin(), rules.end(), [&](const Rule& r) {
      if (!r.language.empty() && r.language != language) return false;
      return !r.contains ||
             RE2::PartialMatch(re2::StringPiece(body.data(), body.size()), *r.contains);
    });
  }
};

namespace {

using Compiled = OutputSanitizer::Compiled;

// Stage 1: forbidden fenced code blocks. Outside a block it holds back at most two backticks.
class FenceStage {
 public:
  explicit FenceStage(const Compiled& c) : c_(c) {}

  // Works on views of the input: nothing is copied but a held block (a whole-text run over
  // megabytes must stay linear).
  void feed(std::string_view input, std::string& out, Redactions& redactions) {
    while (!input.empty()) {
      switch (mode_) {
        case Mode::kOutside:
        case Mode::kAllowed: {
          if (!pending_.empty()) {
            // Held backticks plus the input's first ones may make the fence.
            const std::size_t need = 3 - pending_.size();
            if (input.size() < need && input.find_first_not_of('`') == std::string_view::npos) {
              pending_.append(input);
              return;
            }
            if (input.substr(0, need) == std::string_view("```", need)) {
              input.remove_prefix(need);
              pending_.clear();
              openOrClose(out);
              break;
            }
            out.append(pending_);
            pending_.clear();
          }
          const std::size_t at = input.find("```");
          if (at == std::string_view::npos) {
            std::size_t keep = 0;
            while (keep < 2 && keep < input.size() && input[input.size() - 1 - keep] == '`') ++keep;
            out.append(input.substr(0, input.size() - keep));
            pending_.assign(input.substr(input.size() - keep));
            return;
          }
          out.append(input.substr(0, at));
          input.remove_prefix(at + 3);
          openOrClose(out);
          break;
        }
        case Mode::kLanguage: {
          std::size_t i = 0;
          while (i < input.size() && language_.size() < kMaxLanguage &&
                 in(kLanguageChar, input[i])) {
            language_.push_back(input[i++]);
          }
          input.remove_prefix(i);
          if (input.empty() && language_.size() < kMaxLanguage) return;
          endLanguage(out);
          break;
        }
        case Mode::kHeld: {
          // The closing fence: straddling the held tail and the input, or inside the input.
          std::size_t close = std::string::npos, consumed = 0;
          std::size_t tail = 0;
          while (tail < 2 && block_.size() - tail > body_start_ &&
                 block_[block_.size() - 1 - tail] == '`') {
            ++tail;
          }
          for (std::size_t k = tail; k >= 1 && close == std::string::npos; --k) {
            if (input.substr(0, 3 - k) == std::string_view("```", 3 - k)) {
              close = block_.size() - k;
              block_.append(input.substr(0, 3 - k));
              consumed = 3 - k;
            }
          }
          if (close == std::string::npos) {
            const std::size_t at = input.find("```");
            if (at != std::string_view::npos) {
              close = block_.size() + at;
              block_.append(input.substr(0, at + 3));
              consumed = at + 3;
            }
          }
          const std::size_t limit = c_.policy.max_code_block_bytes;
          if (close == std::string::npos) {
            block_.append(input);
            if (block_.size() - 2 > limit) {
              // Too big to hold: removed (fail closed), and the rest of it is dropped.
              out.append(c_.policy.code_replacement);
              ++redactions.code_blocks;
              ticks_ = 0;
              while (ticks_ < 2 && block_[block_.size() - 1 - ticks_] == '`') ++ticks_;
              block_.clear();
              language_.clear();
              mode_ = Mode::kDropping;
            }
            return;
          }
          const std::string_view body =
              std::string_view(block_).substr(body_start_, close - body_start_);
          if (close > limit || c_.forbidden(lower(language_), body)) {
            out.append(c_.policy.code_replacement);
            ++redactions.code_blocks;
          } else {
            out.append(block_);
          }
          block_.clear();
          language_.clear();
          mode_ = Mode::kOutside;
          input.remove_prefix(consumed);
          break;
        }
        case Mode::kDropping: {
          if (ticks_ > 0) {
            const std::size_t need = 3 - ticks_;
            if (input.substr(0, need) == std::string_view("```", need)) {
              input.remove_prefix(need);
              ticks_ = 0;
              mode_ = Mode::kOutside;
              break;
            }
            if (input.size() < need && input.find_first_not_of('`') == std::string_view::npos) {
              ticks_ += input.size();
              return;
            }
            ticks_ = 0;
          }
          const std::size_t at = input.find("```");
          if (at == std::string_view::npos) {
            while (ticks_ < 2 && ticks_ < input.size() && input[input.size() - 1 - ticks_] == '`') {
              ++ticks_;
            }
            return;
          }
          input.remove_prefix(at + 3);
          mode_ = Mode::kOutside;
          break;
        }
      }
    }
  }

  void finish(std::string& out, Redactions& redactions) {
    switch (mode_) {
      case Mode::kOutside:
      case Mode::kAllowed:
        out.append(pending_);
        break;
      case Mode::kLanguage:
        endLanguage(out);
        if (mode_ == Mode::kHeld) finish(out, redactions);
        return;
      case Mode::kHeld: {
        // Unclosed at the end: judged on what came.
        const std::string_view body = std::string_view(block_).substr(body_start_);
        if (c_.forbidden(lower(language_), body)) {
          out.append(c_.policy.code_replacement);
          ++redactions.code_blocks;
        } else {
          out.append(block_);
        }
        break;
      }
      case Mode::kDropping:
        break;
    }
    pending_.clear();
    block_.clear();
    language_.clear();
    mode_ = Mode::kOutside;
  }

  std::size_t held() const {
    if (mode_ == Mode::kHeld) return block_.size();
    if (mode_ == Mode::kLanguage) return 3 + language_.size();
    return pending_.size() + ticks_;
  }

 private:
  enum class Mode { kOutside, kLanguage, kAllowed, kHeld, kDropping };

  // A fence was found outside (it opens a block) or in an allowed block (it closes it).
  void openOrClose(std::string& out) {
    if (mode_ == Mode::kAllowed) {
      out.append("```");
      mode_ = Mode::kOutside;
    } else {
      mode_ = Mode::kLanguage;
      language_.clear();
    }
  }

  void endLanguage(std::string& out) {
    if (c_.policed(lower(language_))) {
      block_ = "```" + language_;
      body_start_ = block_.size();
      mode_ = Mode::kHeld;  // language_ stays: the verdict needs it
    } else {
      out.append("```").append(language_);
      language_.clear();
      mode_ = Mode::kAllowed;
    }
  }

  const Compiled& c_;
  Mode mode_ = Mode::kOutside;
  std::string pending_;  // trailing backticks that may start a fence
  std::string language_;
  std::string block_;  // a held block, fences included
  std::size_t body_start_ = 0;
  std::size_t ticks_ = 0;  // kDropping: trailing backticks seen
};

}  // namespace

namespace {

// Stage 2 over a stream: redacts what scan() has decided and holds the rest, with the byte before
// it (for \b).
class PiiStage {
 public:
  explicit PiiStage(const Compiled& c) : c_(c) {}

  void feed(std::string_view input, bool final, std::string& out, Redactions& redactions) {
    buf_.append(input);
    scan(final, out, redactions);
  }
  // Where the fence stage writes its output (saves copying it here).
  std::string& input() { return buf_; }
  // Redacts what input() received.
  void scan(bool final, std::string& out, Redactions& redactions) {
    const std::size_t stop = c_.scan(buf_, context_, final, out, redactions, swallow_);
    if (stop > 0) {
      buf_.erase(0, stop - 1);
      context_ = 1;
    }
  }
  void clear() {
    buf_.clear();
    context_ = 0;
  }
  std::size_t held() const { return buf_.size() - context_; }

 private:
  const Compiled& c_;
  std::string buf_;  // buf_[0, context_) is the byte before the held text
  std::size_t context_ = 0;
  const CharTable* swallow_ = nullptr;
};

// sanitize() with code rules stages the fence stage's output in pieces of this size (not a copy of
// the whole text: allocating and faulting in a second text-sized buffer cost as much as the scan).
constexpr std::size_t kStagedChunk = 256 * 1024;

}  // namespace

struct OutputSanitizer::Stream::State {
  std::shared_ptr<const Compiled> c;
  std::optional<FenceStage> fence;
  PiiStage pii;
  Redactions redactions;
  bool finished = false;

  explicit State(std::shared_ptr<const Compiled> compiled) : c(std::move(compiled)), pii(*c) {}
};

OutputSanitizer::Stream::Stream(const OutputSanitizer& sanitizer)
    : state_(std::make_unique<State>(sanitizer.compiled_)) {
  if (!state_->c->rules.empty()) state_->fence.emplace(*state_->c);
}
OutputSanitizer::Stream::~Stream() = default;
OutputSanitizer::Stream::Stream(Stream&&) noexcept = default;
OutputSanitizer::Stream& OutputSanitizer::Stream::operator=(Stream&&) noexcept = default;

std::string OutputSanitizer::Stream::feed(std::string_view chunk) {
  std::string out;
  State& s = *state_;
  if (s.finished || chunk.empty()) return out;
  if (s.fence) {
    s.fence->feed(chunk, s.pii.input(), s.redactions);
    s.pii.scan(false, out, s.redactions);
  } else {
    s.pii.feed(chunk, false, out, s.redactions);
  }
  return out;
}

std::string OutputSanitizer::Stream::finish() {
  std::string out;
  State& s = *state_;
  if (s.finished) return out;
  s.finished = true;
  if (s.fence) s.fence->finish(s.pii.input(), s.redactions);
  s.pii.scan(true, out, s.redactions);
  s.pii.clear();
  return out;
}

const Redactions& OutputSanitizer::Stream::redactions() const {
  return state_->redactions;
}

std::size_t OutputSanitizer::Stream::held() const {
  return state_->pii.held() + (state_->fence ? state_->fence->held() : 0);
}

OutputSanitizer::OutputSanitizer(std::shared_ptr<const Compiled> compiled)
    : compiled_(std::move(compiled)) {}

core::Result<OutputSanitizer> OutputSanitizer::compile(const OutputPolicy& policy) {
  auto c = std::make_shared<Compiled>();
  c->policy = policy;
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);  // byte patterns; UTF-8 passes through
  options.set_log_errors(false);
  for (Detector d : kOrder) {
    if (!policy.on(d)) continue;
    const auto i = static_cast<std::size_t>(d);
    c->group_detector.push_back(d);
    c->max_length = std::max(c->max_length, kMaxLength[i]);
    auto one = std::make_unique<RE2>(std::string(kPatterns[i]), options);
    if (!one->ok()) return core::Error::internal("detector " + std::string(detectorName(d)));
    c->single.push_back(std::move(one));
  }
  c->email_on = policy.on(Detector::kEmail);
  RE2::Options rule_options;
  rule_options.set_dot_nl(true);
  rule_options.set_log_errors(false);
  for (std::size_t i = 0; i < policy.forbidden_code.size(); ++i) {
    const auto& rule = policy.forbidden_code[i];
    Compiled::Rule compiled{lower(rule.language), nullptr};
    if (!rule.contains.empty()) {
      compiled.contains = std::make_unique<RE2>(rule.contains, rule_options);
      if (!compiled.contains->ok()) {
        return core::Error::invalidArgument(
            fmt::format("forbidden_code[{}].contains: invalid regular expression \"{}\": {}", i,
                        rule.contains, compiled.contains->error()));
      }
    }
    c->rules.push_back(std::move(compiled));
  }
  return OutputSanitizer(std::move(c));
}

std::string OutputSanitizer::sanitize(std::string_view text, Redactions* redactions) const {
  Redactions local;
  Redactions& counts = redactions != nullptr ? *redactions : local;
  std::string out;
  // Room for replacements longer than what they replace: growing a big output copies it all.
  out.reserve(text.size() + text.size() / 8 + 64);
  const CharTable* swallow = nullptr;
  if (compiled_->rules.empty()) {
    compiled_->scan(text, 0, true, out, counts, swallow);
    return out;
  }
  FenceStage fence(*compiled_);
  if (text.size() <= kStagedChunk) {
    std::string staged;
    fence.feed(text, staged, counts);
    fence.finish(staged, counts);
    compiled_->scan(staged, 0, true, out, counts, swallow);
    return out;
  }
  // A big text goes through the two stages the way a stream does, a piece at a time.
  PiiStage pii(*compiled_);
  pii.input().reserve(kStagedChunk + 1024);
  for (std::size_t at = 0; at < text.size(); at += kStagedChunk) {
    fence.feed(text.substr(at, kStagedChunk), pii.input(), counts);
    pii.scan(false, out, counts);
  }
  fence.finish(pii.input(), counts);
  pii.scan(true, out, counts);
  return out;
}

std::size_t OutputSanitizer::maxHoldback() const {
  return compiled_->max_length + (compiled_->rules.empty() ? 0 : 2);
}

const OutputPolicy& OutputSanitizer::policy() const {
  return compiled_->policy;
}

}  // namespace pharos::policy
