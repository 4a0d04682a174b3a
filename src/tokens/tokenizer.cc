#include "tokens/tokenizer.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cstring>
#include <limits>
#include <mutex>
#include <queue>
#include <stdexcept>

// The rank blobs, written by gen_ranks.py and embedded by the generated ranks.S (.incbin).
extern "C" {
extern const unsigned char pharos_tokens_cl100k_base[];
extern const unsigned char pharos_tokens_cl100k_base_end[];
extern const unsigned char pharos_tokens_o200k_base[];
extern const unsigned char pharos_tokens_o200k_base_end[];
}

namespace pharos::tokens {

namespace {

#include "tokens/unicode_table.inc"

// Character classes, as the bits of unicode_table.inc plus \r\n (kCrLf, ASCII only).
constexpr std::uint8_t kL = 1;      // \p{L}
constexpr std::uint8_t kN = 2;      // \p{N}
constexpr std::uint8_t kWs = 4;     // \s (White_Space)
constexpr std::uint8_t kUp = 8;     // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
constexpr std::uint8_t kLow = 16;   // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
constexpr std::uint8_t kCrLf = 64;  // [\r\n]

constexpr std::uint32_t kNoRank = std::numeric_limits<std::uint32_t>::max();

constexpr std::uint8_t unicodeClass(std::uint32_t cp) {
  return kUnicodeBlocks[(static_cast<std::size_t>(kUnicodeBlockIndex[cp >> kUnicodeBlockShift])
                         << kUnicodeBlockShift) |
                        (cp & ((1u << kUnicodeBlockShift) - 1))];
}

struct AsciiClasses {
  std::array<std::uint8_t, 128> cls{};
  constexpr AsciiClasses() {
    for (std::uint32_t c = 0; c < 128; ++c) cls[c] = unicodeClass(c);
    cls['\r'] |= kCrLf;
    cls['\n'] |= kCrLf;
  }
};
constexpr AsciiClasses kAscii;

// One character of the text: its class and length in bytes. A byte that does not start a valid
// UTF-8 sequence (stray continuation, overlong form, surrogate, > U+10FFFF, truncated) is a
// one-byte character of class 0, i.e. a symbol like the U+FFFD tiktoken would see in its place.
struct Char {
  std::uint8_t cls;
  std::uint8_t len;
};

inline Char charAt(const unsigned char* s, std::size_t i, std::size_t n) {
  const unsigned char b0 = s[i];
  if (b0 < 0x80) return {kAscii.cls[b0], 1};
  const std::size_t left = n - i;
  auto cont = [&](std::size_t k) { return (s[i + k] & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (left >= 2 && cont(1)) {
      return {unicodeClass(((b0 & 0x1Fu) << 6) | (s[i + 1] & 0x3Fu)), 2};
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left >= 3 && cont(1) && cont(2)) {
      const unsigned char b1 = s[i + 1];
      const bool ok = (b0 == 0xE0) ? b1 >= 0xA0 : (b0 == 0xED) ? b1 <= 0x9F : true;
      if (ok) {
        return {unicodeClass(((b0 & 0x0Fu) << 12) | ((b1 & 0x3Fu) << 6) | (s[i + 2] & 0x3Fu)), 3};
      }
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left >= 4 && cont(1) && cont(2) && cont(3)) {
      const unsigned char b1 = s[i + 1];
      const bool ok = (b0 == 0xF0) ? b1 >= 0x90 : (b0 == 0xF4) ? b1 <= 0x8F : true;
      if (ok) {
        return {unicodeClass(((b0 & 0x07u) << 18) | ((b1 & 0x3Fu) << 12) |
                             ((s[i + 2] & 0x3Fu) << 6) | (s[i + 3] & 0x3Fu)),
                4};
      }
    }
  }
  return {0, 1};
}

// [^\r\n\p{L}\p{N}]
inline bool isPrefix(std::uint8_t cls) {
  return (cls & (kL | kN | kCrLf)) == 0;
}
// [^\s\p{L}\p{N}]
inline bool isSymbol(std::uint8_t cls) {
  return (cls & (kL | kN | kWs)) == 0;
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d) at i: its length, or 0. Case-insensitive as Rust's regex is, by
// Unicode simple case folding: the only non-ASCII letter folding to one of these is U+017F
// (long s, "ſ").
std::size_t contractionAt(const unsigned char* s, std::size_t i, std::size_t n) {
  if (i >= n || s[i] != '\'' || i + 1 >= n) return 0;
  // ASCII lower case; no other byte turns into one of these letters by it.
  const unsigned char c = s[i + 1] | 0x20;
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
  if (s[i + 1] == 0xC5 && i + 2 < n && s[i + 2] == 0xBF) return 3;  // 'ſ
  if (i + 2 < n) {
    const unsigned char d = s[i + 2] | 0x20;
    if ((c == 'r' || c == 'v') && d == 'e') return 3;
    if (c == 'l' && d == 'l') return 3;
  }
  return 0;
}

// Ends a piece made of whitespace (the last three alternatives both patterns share):
// \s*[\r\n]+ | \s+(?!\S) | \s+, with the backtracking a regex engine would do.
std::size_t whitespaceEnd(const unsigned char* s, std::size_t i, std::size_t n) {
  std::size_t j = i;
  std::size_t last_newline = n;  // none
  std::size_t last_char = i;
  while (j < n) {
    const Char ch = charAt(s, j, n);
    if (!(ch.cls & kWs)) break;
    if (ch.cls & kCrLf) last_newline = j;
    last_char = j;
    j += ch.len;
  }
  // \s*[\r\n]+: \s* backs off to the last \r or \n of the run; [\r\n]+ takes it alone (what
  // follows it in the run is not \r\n, or it would be the last).
  if (last_newline != n) return last_newline + 1;
  // \s+(?!\S): the whole run at the end of the text, else all but its last character.
  if (j == n) return j;
  if (last_char > i) return last_char;
  return j;  // \s+
}

// ` ?[^\s\p{L}\p{N}]+[\r\n]*` (cl100k) / `[\r\n/]*` (o200k), from the first symbol at j.
std::size_t symbolsEnd(const unsigned char* s, std::size_t j, std::size_t n, bool slash) {
  while (j < n) {
    const Char ch = charAt(s, j, n);
    if (!isSymbol(ch.cls)) break;
    j += ch.len;
  }
  while (j < n && (s[j] == '\r' || s[j] == '\n' || (slash && s[j] == '/'))) ++j;
  return j;
}

std::size_t digitsEnd(const unsigned char* s, std::size_t j, std::size_t n) {
  // \p{N}{1,3}; the first is known to be a number.
  j += charAt(s, j, n).len;
  for (int k = 0; k < 2 && j < n; ++k) {
    const Char ch = charAt(s, j, n);
    if (!(ch.cls & kN)) break;
    j += ch.len;
  }
  return j;
}

// cl100k_base: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//              ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
std::size_t cl100kPieceEnd(const unsigned char* s, std::size_t i, std::size_t n) {
  if (const std::size_t c = contractionAt(s, i, n)) return i + c;
  const Char a = charAt(s, i, n);
  std::size_t j = i + a.len;
  const bool letters = (a.cls & kL) || (isPrefix(a.cls) && j < n && (charAt(s, j, n).cls & kL));
  if (letters) {
    while (j < n) {
      const Char ch = charAt(s, j, n);
      if (!(ch.cls & kL)) break;
      j += ch.len;
    }
    return j;
  }
  if (a.cls & kN) return digitsEnd(s, i, n);
  if (s[i] == ' ' && j < n && isSymbol(charAt(s, j, n).cls)) return symbolsEnd(s, j, n, false);
  if (isSymbol(a.cls)) return symbolsEnd(s, i, n, false);
  return whitespaceEnd(s, i, n);
}

// o200k_base's first alternative from s (after the optional prefix):
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|...)?  -> end, or 0.
std::size_t o200kLowerWordEnd(const unsigned char* s, std::size_t start, std::size_t n) {
  std::size_t e = start;
  std::size_t last_low = n;  // last character of the upper run that is also in the lower class
  while (e < n) {
    const Char ch = charAt(s, e, n);
    if (!(ch.cls & kUp)) break;
    if (ch.cls & kLow) last_low = e;
    e += ch.len;
  }
  // The upper run backs off until the lower class can start: at e itself if that character is
  // lower (Ll), else at the run's last Lm/Lo/M.
  std::size_t k;
  if (e < n && (charAt(s, e, n).cls & kLow)) {
    k = e;
  } else if (last_low != n) {
    k = last_low;
  } else {
    return 0;
  }
  while (k < n) {
    const Char ch = charAt(s, k, n);
    if (!(ch.cls & kLow)) break;
    k += ch.len;
  }
  return k + contractionAt(s, k, n);
}

// o200k_base's second alternative from s: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}...]*(?i:...)?
std::size_t o200kUpperWordEnd(const unsigned char* s, std::size_t start, std::size_t n) {
  std::size_t e = start;
  while (e < n) {
    const Char ch = charAt(s, e, n);
    if (!(ch.cls & kUp)) break;
    e += ch.len;
  }
  if (e == start) return 0;
  while (e < n) {
    const Char ch = charAt(s, e, n);
    if (!(ch.cls & kLow)) break;
    e += ch.len;
  }
  return e + contractionAt(s, e, n);
}

// o200k_base: [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:..)?
//            |[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:..)?
//            |\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
// The optional prefix is tried taken first, then not taken (it can be a combining mark, which
// the letter classes accept too).
std::size_t o200kPieceEnd(const unsigned char* s, std::size_t i, std::size_t n) {
  const Char a = charAt(s, i, n);
  const std::size_t after = i + a.len;
  const bool prefix = isPrefix(a.cls);
  if (a.cls & (kUp | kLow) || (prefix && after < n)) {
    if (prefix) {
      if (const std::size_t e = o200kLowerWordEnd(s, after, n)) return e;
    }
    if (const std::size_t e = o200kLowerWordEnd(s, i, n)) return e;
    if (prefix) {
      if (const std::size_t e = o200kUpperWordEnd(s, after, n)) return e;
    }
    if (const std::size_t e = o200kUpperWordEnd(s, i, n)) return e;
  }
  if (a.cls & kN) return digitsEnd(s, i, n);
  if (s[i] == ' ' && after < n && isSymbol(charAt(s, after, n).cls)) {
    return symbolsEnd(s, after, n, true);
  }
  if (isSymbol(a.cls)) return symbolsEnd(s, i, n, true);
  return whitespaceEnd(s, i, n);
}

inline std::uint32_t load32(const unsigned char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
inline std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline std::uint64_t hashBytes(const unsigned char* p, std::size_t len) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = len * 0xff51afd7ed558ccdull;
  if (len >= 8) {
    std::size_t i = 0;
    for (; i + 8 < len; i += 8) h = (h ^ load64(p + i)) * kMul, h ^= h >> 29;
    h = (h ^ load64(p + len - 8)) * kMul;  // the last 8 bytes, overlapping
  } else if (len >= 4) {
    h ^= (static_cast<std::uint64_t>(load32(p)) << 32) | load32(p + len - 4);
    h *= kMul;
  } else if (len > 0) {
    h ^= (static_cast<std::uint64_t>(p[0]) << 16) | (static_cast<std::uint64_t>(p[len >> 1]) << 8) |
         p[len - 1];
    h *= kMul;
  }
  h ^= h >> 32;
  h *= kMul;
  return h ^ (h >> 29);
}

}  // namespace

// The embedded rank table and an open-addressing index from token bytes to rank.
struct Tokenizer::Data {
  const unsigned char* bytes = nullptr;    // token bytes, concatenated
  const unsigned char* offsets = nullptr;  // n + 1 little-endian u32
  std::uint32_t n = 0;                     // ids, including special and absent ones
  std::vector<bool> special;
  std::vector<std::uint64_t> slots;  // hash high 32 bits << 32 | rank + 1; 0 is empty
  std::uint64_t mask = 0;
  std::array<std::uint32_t, 256> byte_rank{};

  std::uint32_t offset(std::uint32_t id) const { return load32(offsets + 4 * std::size_t{id}); }

  void insert(std::uint32_t rank) {
    const std::uint32_t begin = offset(rank);
    const std::uint32_t len = offset(rank + 1) - begin;
    const std::uint64_t h = hashBytes(bytes + begin, len);
    for (std::uint64_t i = h & mask;; i = (i + 1) & mask) {
      if (slots[i] == 0) {
        slots[i] = (h & 0xFFFFFFFF00000000ull) | (std::uint64_t{rank} + 1);
        return;
      }
    }
  }

  std::uint32_t find(const unsigned char* p, std::size_t len) const {
    const std::uint64_t h = hashBytes(p, len);
    const std::uint64_t tag = h & 0xFFFFFFFF00000000ull;
    for (std::uint64_t i = h & mask;; i = (i + 1) & mask) {
      const std::uint64_t slot = slots[i];
      if (slot == 0) return kNoRank;
      if ((slot & 0xFFFFFFFF00000000ull) == tag) {
        const auto rank = static_cast<std::uint32_t>(slot) - 1;
        const std::uint32_t begin = offset(rank);
        if (offset(rank + 1) - begin == len && std::memcmp(bytes + begin, p, len) == 0) {
          return rank;
        }
      }
    }
  }
};

namespace {

std::unique_ptr<Tokenizer::Data> loadData(Encoding encoding) {
  const unsigned char* begin =
      encoding == Encoding::kCl100kBase ? pharos_tokens_cl100k_base : pharos_tokens_o200k_base;
  const unsigned char* end = encoding == Encoding::kCl100kBase ? pharos_tokens_cl100k_base_end
                                                               : pharos_tokens_o200k_base_end;
  const auto size = static_cast<std::size_t>(end - begin);
  auto corrupt = [&] {
    return std::logic_error(
        fmt::format("embedded {} rank table is corrupt", encodingName(encoding)));
  };
  if (size < 16 || std::memcmp(begin, "PHTK", 4) != 0 || load32(begin + 4) != 1) throw corrupt();
  auto data = std::make_unique<Tokenizer::Data>();
  data->n = load32(begin + 8);
  const std::uint32_t n_special = load32(begin + 12);
  const std::size_t header = 16 + 4 * std::size_t{n_special};
  if (size < header + 4 * (std::size_t{data->n} + 1)) throw corrupt();
  data->offsets = begin + header;
  data->bytes = data->offsets + 4 * (std::size_t{data->n} + 1);
  if (data->bytes + data->offset(data->n) != end) throw corrupt();
  data->special.assign(data->n, false);
  for (std::uint32_t k = 0; k < n_special; ++k) {
    const std::uint32_t id = load32(begin + 16 + 4 * std::size_t{k});
    if (id >= data->n) throw corrupt();
    data->special[id] = true;
  }
  std::size_t capacity = 1;
  while (capacity < 2 * std::size_t{data->n}) capacity <<= 1;
  data->slots.assign(capacity, 0);
  data->mask = capacity - 1;
  data->byte_rank.fill(kNoRank);
  for (std::uint32_t id = 0; id < data->n; ++id) {
    const std::uint32_t len = data->offset(id + 1) - data->offset(id);
    if (len == 0 || data->special[id]) continue;
    data->insert(id);
    if (len == 1) data->byte_rank[data->bytes[data->offset(id)]] = id;
  }
  for (const std::uint32_t rank : data->byte_rank) {
    if (rank == kNoRank) throw corrupt();  // every byte must be a token
  }
  return data;
}

// Pieces longer than this merge with a heap (O(n log n)) instead of tiktoken's linear scan for
// the lowest rank per merge (O(n^2)); both pick the lowest rank, leftmost first, so the tokens
// are the same. Long pieces are runs of spaces, digits-free symbols or very long words.
constexpr std::size_t kHeapMergeThreshold = 256;
constexpr std::size_t kMaxTokenBytes = 128;  // the longest token of either encoding

template <class Sink>
void mergeLinear(const Tokenizer::Data& d, const unsigned char* p, std::size_t len, Sink& sink) {
  struct Part {
    std::uint32_t start;
    std::uint32_t rank;
  };
  std::array<Part, kHeapMergeThreshold + 1> parts;
  std::size_t count = 0;
  auto rankOf = [&](std::size_t i) -> std::uint32_t {
    // The rank of merging parts i and i+1 (needs part i+2 as the end).
    if (i + 2 >= count) return kNoRank;
    const std::size_t l = parts[i + 2].start - parts[i].start;
    return l > kMaxTokenBytes ? kNoRank : d.find(p + parts[i].start, l);
  };
  for (std::size_t i = 0; i <= len; ++i) parts[count++] = {static_cast<std::uint32_t>(i), kNoRank};
  for (std::size_t i = 0; i + 2 < count; ++i) parts[i].rank = d.find(p + i, 2);
  for (;;) {
    std::uint32_t best = kNoRank;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 2 < count; ++i) {
      if (parts[i].rank < best) best = parts[i].rank, at = i;
    }
    if (best == kNoRank) break;
    std::copy(parts.begin() + at + 2, parts.begin() + count, parts.begin() + at + 1);
    --count;
    parts[at].rank = rankOf(at);
    if (at > 0) parts[at - 1].rank = rankOf(at - 1);
  }
  for (std::size_t i = 0; i + 1 < count; ++i) {
    sink(d.find(p + parts[i].start, parts[i + 1].start - parts[i].start));
  }
}

template <class Sink>
void mergeHeap(const Tokenizer::Data& d, const unsigned char* p, std::size_t len, Sink& sink) {
  // A linked list of parts (by start byte); heap entries go stale when a part changes.
  struct Node {
    std::uint32_t start, next, prev, rank;
    bool alive;
  };
  std::vector<Node> nodes(len + 1);
  for (std::uint32_t i = 0; i <= len; ++i) {
    nodes[i] = {i, i + 1, i == 0 ? kNoRank : i - 1, kNoRank, true};
  }
  auto rankOf = [&](std::uint32_t i) -> std::uint32_t {
    const std::uint32_t nx = nodes[i].next;
    if (nx > len || nodes[nx].next > len) return kNoRank;
    const std::uint32_t end = nodes[nodes[nx].next].start;
    const std::size_t l = end - nodes[i].start;
    return l > kMaxTokenBytes ? kNoRank : d.find(p + nodes[i].start, l);
  };
  using Entry = std::pair<std::uint32_t, std::uint32_t>;  // rank, node (= start: leftmost first)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap;
  for (std::uint32_t i = 0; i + 1 < len; ++i) {
    nodes[i].rank = d.find(p + i, 2);
    if (nodes[i].rank != kNoRank) heap.emplace(nodes[i].rank, i);
  }
  while (!heap.empty()) {
    const auto [rank, i] = heap.top();
    heap.pop();
    if (!nodes[i].alive || nodes[i].rank != rank) continue;
    const std::uint32_t gone = nodes[i].next;
    nodes[gone].alive = false;
    nodes[i].next = nodes[gone].next;
    if (nodes[i].next <= len) nodes[nodes[i].next].prev = i;
    nodes[i].rank = rankOf(i);
    if (nodes[i].rank != kNoRank) heap.emplace(nodes[i].rank, i);
    if (const std::uint32_t pv = nodes[i].prev; pv != kNoRank) {
      nodes[pv].rank = rankOf(pv);
      if (nodes[pv].rank != kNoRank) heap.emplace(nodes[pv].rank, pv);
    }
  }
  for (std::uint32_t i = 0; i < len; i = nodes[i].next) {
    sink(d.find(p + i, nodes[nodes[i].next].start - i));
  }
}

template <class Sink>
void encodePiece(const Tokenizer::Data& d, const unsigned char* p, std::size_t len, Sink& sink) {
  if (len == 1) {
    sink(d.byte_rank[p[0]]);
    return;
  }
  if (len <= kMaxTokenBytes) {
    if (const std::uint32_t rank = d.find(p, len); rank != kNoRank) {
      sink(rank);
      return;
    }
  }
  if (len <= kHeapMergeThreshold) {
    mergeLinear(d, p, len, sink);
  } else {
    mergeHeap(d, p, len, sink);
  }
}

}  // namespace

std::string_view encodingName(Encoding encoding) {
  return encoding == Encoding::kCl100kBase ? "cl100k_base" : "o200k_base";
}

std::optional<Encoding> parseEncoding(std::string_view name) {
  if (name == "cl100k_base") return Encoding::kCl100kBase;
  if (name == "o200k_base") return Encoding::kO200kBase;
  return std::nullopt;
}

std::optional<Encoding> encodingForModel(std::string_view model) {
  if (const auto slash = model.rfind('/'); slash != std::string_view::npos) {
    model.remove_prefix(slash + 1);
  }
  if (model.starts_with("ft:")) model.remove_prefix(3);  // fine-tuned: ft:gpt-4o-mini:org::id
  static constexpr std::string_view kO200k[] = {"gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5",
                                                "o1",     "o3",      "o4",      "chatgpt-4o"};
  static constexpr std::string_view kCl100k[] = {
      "gpt-4",       "gpt-3.5",     "gpt-35-turbo",          "text-embedding-3-",
      "davinci-002", "babbage-002", "text-embedding-ada-002"};
  for (const auto prefix : kO200k) {
    if (model.starts_with(prefix)) return Encoding::kO200kBase;
  }
  for (const auto prefix : kCl100k) {
    if (model.starts_with(prefix)) return Encoding::kCl100kBase;
  }
  return std::nullopt;
}

Tokenizer::Tokenizer(Encoding encoding) : encoding_(encoding), data_(loadData(encoding)) {}
Tokenizer::~Tokenizer() = default;

const Tokenizer& Tokenizer::get(Encoding encoding) {
  // Function-local statics: built on first use, thread-safe by the language.
  if (encoding == Encoding::kCl100kBase) {
    static const Tokenizer cl100k(Encoding::kCl100kBase);
    return cl100k;
  }
  static const Tokenizer o200k(Encoding::kO200kBase);
  return o200k;
}

template <class Sink>
void Tokenizer::run(std::string_view text, Sink& sink) const {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const bool cl100k = encoding_ == Encoding::kCl100kBase;
  for (std::size_t i = 0; i < n;) {
    const std::size_t end = cl100k ? cl100kPieceEnd(s, i, n) : o200kPieceEnd(s, i, n);
    encodePiece(*data_, s + i, end - i, sink);
    i = end;
  }
}

std::vector<std::uint32_t> Tokenizer::encode(std::string_view utf8) const {
  std::vector<std::uint32_t> out;
  out.reserve(utf8.size() / 3 + 4);
  auto sink = [&out](std::uint32_t id) { out.push_back(id); };
  run(utf8, sink);
  return out;
}

std::size_t Tokenizer::count(std::string_view utf8) const {
  std::size_t total = 0;
  auto sink = [&total](std::uint32_t) { ++total; };
  run(utf8, sink);
  return total;
}

std::string Tokenizer::decode(std::span<const std::uint32_t> tokens) const {
  std::string out;
  for (const std::uint32_t id : tokens) {
    const std::uint32_t begin = id < data_->n ? data_->offset(id) : 0;
    const std::uint32_t end = id < data_->n ? data_->offset(id + 1) : 0;
    if (begin == end) {
      throw std::invalid_argument(
          fmt::format("token id {} is not in {}", id, encodingName(encoding_)));
    }
    out.append(reinterpret_cast<const char*>(data_->bytes) + begin, end - begin);
  }
  return out;
}

namespace {

std::size_t countText(const Tokenizer& tokenizer, const boost::json::value& value) {
  if (const auto* s = value.if_string()) return tokenizer.count(*s);
  if (value.is_null()) return 0;
  // Not a string (tool_calls, function_call, ...): its JSON text, an approximation.
  const std::string json = boost::json::serialize(value);
  return tokenizer.count(json);
}

std::size_t countContent(const Tokenizer& tokenizer, const boost::json::value& content) {
  const auto* parts = content.if_array();
  if (parts == nullptr) return countText(tokenizer, content);
  std::size_t total = 0;
  for (const auto& part : *parts) {
    const auto* object = part.if_object();
    if (object == nullptr) continue;
    const auto* type = object->if_contains("type");
    const auto* text = object->if_contains("text");
    if (type && type->is_string() && type->get_string() == "text" && text && text->is_string()) {
      total += tokenizer.count(text->get_string());
    }
    // Image, audio and file parts are billed by other rules (tiles, seconds): not counted.
  }
  return total;
}

}  // namespace

std::size_t countChatPrompt(const boost::json::object& request, Encoding encoding) {
  const Tokenizer& tokenizer = Tokenizer::get(encoding);
  constexpr std::size_t kPerMessage = 3;
  constexpr std::size_t kPerName = 1;
  constexpr std::size_t kReplyPriming = 3;
  std::size_t total = 0;
  if (const auto* messages = request.if_contains("messages"); messages && messages->is_array()) {
    for (const auto& entry : messages->get_array()) {
      const auto* message = entry.if_object();
      if (message == nullptr) continue;
      total += kPerMessage;
      // The cookbook counts the tokens of every value of the message (role, content, name,
      // tool_call_id, ...).
      for (const auto& [key, value] : *message) {
        if (key == "content") {
          total += countContent(tokenizer, value);
        } else {
          total += countText(tokenizer, value);
        }
        if (key == "name") total += kPerName;
      }
    }
  }
  total += kReplyPriming;
  // Tool and function definitions: their JSON text, an approximation (OpenAI renders them into
  // the prompt in a format it does not publish).
  for (const char* key : {"tools", "functions"}) {
    if (const auto* defs = request.if_contains(key); defs && !defs->is_null()) {
      total += countText(tokenizer, *defs);
    }
  }
  return total;
}

}  // namespace pharos::tokens
