#include "tracing/query/filter_parser.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <system_error>
#include <utility>

namespace pharos::tracing::query {

namespace {

using core::Error;
using core::Result;

enum class TokenKind {
  kEnd,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kIdent,
  kString,
  kNumber,
  kInvalid,  // a byte that starts no token; the parser reports it as what it got
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::size_t offset = 0;
  std::string_view raw;  // the source text of the token
  Value value;           // kString: the decoded string; kNumber: int64 or double
};

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool isIdentChar(char c) {
  return isIdentStart(c) || isDigit(c);
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
           return lower(x) == lower(y);
         });
}

// true/false/null in any case: the docs write them in lower case, and other casings can only mean
// the same thing (a field can never be called "TRUE").
std::optional<Value> keywordValue(std::string_view ident) {
  if (equalsIgnoreCase(ident, "true")) return Value(true);
  if (equalsIgnoreCase(ident, "false")) return Value(false);
  if (equalsIgnoreCase(ident, "null")) return Value(nullptr);
  return std::nullopt;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace

Error filterErrorAt(std::size_t position, std::string_view message) {
  std::string text = "filter: at position ";
  text += std::to_string(position);
  text += ": ";
  text += message;
  return Error::invalidArgument(std::move(text));
}

namespace {

const auto errorAt = filterErrorAt;

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<Token> next() {
    while (pos_ < text_.size() && isSpace(text_[pos_])) ++pos_;
    Token token;
    token.offset = pos_;
    if (pos_ == text_.size()) return token;
    const char c = text_[pos_];
    switch (c) {
      case '(':
        return single(token, TokenKind::kLParen);
      case ')':
        return single(token, TokenKind::kRParen);
      case '[':
        return single(token, TokenKind::kLBracket);
      case ']':
        return single(token, TokenKind::kRBracket);
      case ',':
        return single(token, TokenKind::kComma);
      case '"':
      case '\'':
        return string(token);
      default:
        break;
    }
    if (c == '-' || isDigit(c)) return number(token);
    if (isIdentStart(c)) {
      std::size_t end = pos_ + 1;
      while (end < text_.size() && isIdentChar(text_[end])) ++end;
      token.kind = TokenKind::kIdent;
      token.raw = text_.substr(pos_, end - pos_);
      pos_ = end;
      return token;
    }
    return single(token, TokenKind::kInvalid);
  }

 private:
  Token single(Token token, TokenKind kind) {
    token.kind = kind;
    token.raw = text_.substr(pos_, 1);
    ++pos_;
    return token;
  }

  Result<Token> string(Token token) {
    const char quote = text_[pos_];
    const std::size_t open = pos_;
    std::string out;
    std::size_t i = pos_ + 1;
    for (;;) {
      if (i >= text_.size()) {
        return errorAt(open, "unterminated string: the quote opened here is never closed");
      }
      const char c = text_[i];
      if (c == quote) break;
      if (c != '\\') {
        out += c;
        ++i;
        continue;
      }
      if (i + 1 >= text_.size()) {
        return errorAt(open, "unterminated string: the quote opened here is never closed");
      }
      const char e = text_[i + 1];
      switch (e) {
        case '"':
        case '\'':
        case '\\':
        case '/':
          out += e;
          break;
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'u': {
          auto r = unicodeEscape(i, out);
          if (!r) return std::move(r).error();
          i = *r;
          continue;
        }
        default:
          return errorAt(i, "invalid escape " + quoteForMessage(text_.substr(i, 2)) +
                                " in string; the escapes are \\\" \\' \\\\ \\/ \\n \\t \\r \\b "
                                "\\f \\uXXXX");
      }
      i += 2;
    }
    token.kind = TokenKind::kString;
    token.raw = text_.substr(open, i + 1 - open);
    token.value = std::move(out);
    pos_ = i + 1;
    return token;
  }

  // Reads \uXXXX at `at` (the backslash), plus the low half of a surrogate pair; returns the
  // position after what it consumed.
  Result<std::size_t> unicodeEscape(std::size_t at, std::string& out) {
    auto read = [this](std::size_t p) -> int {
      if (p + 6 > text_.size() || text_[p] != '\\' || text_[p + 1] != 'u') return -1;
      int v = 0;
      for (std::size_t k = p + 2; k < p + 6; ++k) {
        const int h = hexDigit(text_[k]);
        if (h < 0) return -1;
        v = v * 16 + h;
      }
      return v;
    };
    const int high = read(at);
    if (high < 0) {
      return errorAt(
          at, "invalid escape " +
                  quoteForMessage(text_.substr(at, std::min<std::size_t>(6, text_.size() - at))) +
                  " in string: \\u needs 4 hex digits");
    }
    if (high >= 0xDC00 && high <= 0xDFFF) {
      return errorAt(at,
                     "invalid escape: unpaired surrogate " + quoteForMessage(text_.substr(at, 6)));
    }
    if (high >= 0xD800 && high <= 0xDBFF) {
      const int low = read(at + 6);
      if (low < 0xDC00 || low > 0xDFFF) {
        return errorAt(
            at, "invalid escape: unpaired surrogate " + quoteForMessage(text_.substr(at, 6)));
      }
      appendUtf8(out, 0x10000 + ((static_cast<std::uint32_t>(high) - 0xD800) << 10) +
                          (static_cast<std::uint32_t>(low) - 0xDC00));
      return at + 12;
    }
    appendUtf8(out, static_cast<std::uint32_t>(high));
    return at + 6;
  }

  Result<Token> number(Token token) {
    const std::size_t start = pos_;
    std::size_t i = pos_;
    bool integral = true;
    auto digits = [&] {
      const std::size_t from = i;
      while (i < text_.size() && isDigit(text_[i])) ++i;
      return i > from;
    };
    if (text_[i] == '-') ++i;
    bool ok = digits();
    if (ok && i + 1 < text_.size() && text_[i] == '.' && isDigit(text_[i + 1])) {
      ++i;
      digits();
      integral = false;
    }
    if (ok && i < text_.size() && (text_[i] == 'e' || text_[i] == 'E')) {
      std::size_t save = i;
      ++i;
      if (i < text_.size() && (text_[i] == '+' || text_[i] == '-')) ++i;
      if (digits()) {
        integral = false;
      } else {
        i = save;  // "1e" and the like: reported as a malformed number just below
      }
    }
    // A number running straight into letters, digits or dots ("12abc", "1.", "1.2.3", "1e") is
    // one malformed number rather than a number followed by garbage.
    if (!ok || (i < text_.size() && (isIdentChar(text_[i]) || text_[i] == '.'))) {
      while (i < text_.size() &&
             (isIdentChar(text_[i]) || text_[i] == '.' || text_[i] == '+' || text_[i] == '-')) {
        ++i;
      }
      return errorAt(start, "invalid number " + quoteForMessage(text_.substr(start, i - start)));
    }
    const std::string_view raw = text_.substr(start, i - start);
    const char* first = raw.data();
    const char* last = raw.data() + raw.size();
    if (integral) {
      std::int64_t v = 0;
      auto [end, ec] = std::from_chars(first, last, v);
      if (ec != std::errc() || end != last) {
        return errorAt(start, "number out of range " + quoteForMessage(raw) +
                                  " (integers must fit in 64 bits)");
      }
      token.value = v;
    } else {
      double v = 0;
      auto [end, ec] = std::from_chars(first, last, v);
      if (ec != std::errc() || end != last || !std::isfinite(v)) {
        return errorAt(start, "number out of range " + quoteForMessage(raw));
      }
      token.value = v;
    }
    token.kind = TokenKind::kNumber;
    token.raw = raw;
    pos_ = i;
    return token;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEnd:
      return "end of input";
    case TokenKind::kString:
      return "string " + quoteForMessage(std::get<std::string>(token.value));
    case TokenKind::kNumber:
      return "number " + std::string(token.raw);
    default:
      return quoteForMessage(token.raw);
  }
}

std::string functionList() {
  std::string out;
  for (std::size_t i = 0; i < kFunctionCount; ++i) {
    if (i > 0) out += ", ";
    out += functionName(static_cast<Function>(i));
  }
  return out;
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) {}

  Result<FilterExpr> run() {
    if (auto s = advance(); !s) return std::move(s).error();
    if (current_.kind == TokenKind::kEnd) return FilterExpr{};
    if (current_.kind != TokenKind::kIdent) return expectedCall(current_);
    const Token name = current_;
    if (auto s = advance(); !s) return std::move(s).error();
    if (current_.kind != TokenKind::kLParen) return expectedCall(name);
    auto call = parseCall(name, 1);
    if (!call) return std::move(call).error();
    if (current_.kind != TokenKind::kEnd) {
      std::string message = "expected end of input after the filter, got " + describe(current_);
      if (current_.kind == TokenKind::kIdent || current_.kind == TokenKind::kComma) {
        message += " (combine several conditions with and(...))";
      }
      return errorAt(current_.offset, message);
    }
    return FilterExpr{std::move(call).value()};
  }

 private:
  core::Status advance() {
    auto token = lexer_.next();
    if (!token) return std::move(token).error();
    current_ = std::move(token).value();
    return {};
  }

  static Error expectedCall(const Token& got) {
    return errorAt(got.offset,
                   "expected a function call such as eq(name, \"value\"), got " + describe(got));
  }

  // `name` has been consumed and current_ is the "(" after it.
  Result<Call> parseCall(const Token& name, std::size_t depth) {
    if (depth > kMaxFilterDepth) {
      return errorAt(name.offset, "nested too deeply (the limit is " +
                                      std::to_string(kMaxFilterDepth) + " levels)");
    }
    const auto function = functionFromName(name.raw);
    if (!function) {
      std::array<std::string_view, kFunctionCount> names;
      for (std::size_t i = 0; i < kFunctionCount; ++i) {
        names[i] = functionName(static_cast<Function>(i));
      }
      std::string message = "unknown function " + quoteForMessage(name.raw);
      if (auto near = closestName(name.raw, names)) {
        message += "; did you mean " + quoteForMessage(*near) + "?";
      } else {
        message += "; the functions are " + functionList();
      }
      return errorAt(name.offset, message);
    }
    Call call{*function, {}, name.offset};
    if (auto s = advance(); !s) return std::move(s).error();
    if (current_.kind == TokenKind::kRParen) {
      if (auto s = advance(); !s) return std::move(s).error();
      return call;
    }
    for (;;) {
      auto arg = parseArg(depth);
      if (!arg) return std::move(arg).error();
      call.args.push_back(std::move(arg).value());
      if (current_.kind == TokenKind::kComma) {
        if (auto s = advance(); !s) return std::move(s).error();
        continue;
      }
      if (current_.kind == TokenKind::kRParen) {
        if (auto s = advance(); !s) return std::move(s).error();
        return call;
      }
      return errorAt(current_.offset,
                     "expected \",\" or \")\" after an argument, got " + describe(current_));
    }
  }

  Result<Node> parseArg(std::size_t depth) {
    switch (current_.kind) {
      case TokenKind::kIdent: {
        const Token ident = current_;
        if (auto s = advance(); !s) return std::move(s).error();
        if (auto keyword = keywordValue(ident.raw)) {
          return Node{Literal{std::move(*keyword), ident.offset}};
        }
        if (current_.kind == TokenKind::kLParen) {
          auto call = parseCall(ident, depth + 1);
          if (!call) return std::move(call).error();
          return Node{std::move(call).value()};
        }
        return Node{Field{std::string(ident.raw), ident.offset}};
      }
      case TokenKind::kString:
      case TokenKind::kNumber: {
        Literal literal{std::move(current_.value), current_.offset};
        if (auto s = advance(); !s) return std::move(s).error();
        return Node{std::move(literal)};
      }
      case TokenKind::kLBracket: {
        auto list = parseList();
        if (!list) return std::move(list).error();
        return Node{std::move(list).value()};
      }
      default:
        return errorAt(
            current_.offset,
            "expected an argument (a condition, field, value or list), got " + describe(current_));
    }
  }

  // current_ is the "[".
  Result<List> parseList() {
    List list{{}, current_.offset};
    if (auto s = advance(); !s) return std::move(s).error();
    for (;;) {
      std::optional<Value> value;
      if (current_.kind == TokenKind::kString || current_.kind == TokenKind::kNumber) {
        value = std::move(current_.value);
      } else if (current_.kind == TokenKind::kIdent) {
        value = keywordValue(current_.raw);
      }
      if (!value) {
        return errorAt(current_.offset,
                       "expected a value (string, number, true, false or null) in the list, got " +
                           describe(current_));
      }
      if (list.items.size() == kMaxListItems) {
        return errorAt(current_.offset,
                       "list has more than " + std::to_string(kMaxListItems) + " items");
      }
      list.items.push_back(Literal{std::move(*value), current_.offset});
      if (auto s = advance(); !s) return std::move(s).error();
      if (current_.kind == TokenKind::kComma) {
        if (auto s = advance(); !s) return std::move(s).error();
        continue;
      }
      if (current_.kind == TokenKind::kRBracket) {
        if (auto s = advance(); !s) return std::move(s).error();
        return list;
      }
      return errorAt(current_.offset,
                     "expected \",\" or \"]\" after a list item, got " + describe(current_));
    }
  }

  Lexer lexer_;
  Token current_;
};

// Optimal-string-alignment distance (a transposition counts 1), for short strings only.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.size()];
}

}  // namespace

std::string quoteForMessage(std::string_view text) {
  constexpr std::size_t kMaxBytes = 40;
  std::string out = "\"";
  const std::size_t n = std::min(text.size(), kMaxBytes);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (text.size() > kMaxBytes) out += "...";
  out += '"';
  return out;
}

std::optional<std::string_view> closestName(std::string_view name,
                                            std::span<const std::string_view> candidates) {
  // Long names are not typos of short ones, and the distance costs length squared.
  if (name.empty() || name.size() > 64) return std::nullopt;
  for (std::string_view candidate : candidates) {
    if (equalsIgnoreCase(name, candidate)) return candidate;
  }
  const std::size_t limit = name.size() <= 4 ? 1 : 2;
  std::optional<std::string_view> best;
  std::size_t bestDistance = limit + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best) return best;
  // "parent" -> "parent_run_id", "feedback" -> "feedback_key".
  for (std::string_view candidate : candidates) {
    if (name.size() >= 3 && candidate.starts_with(name)) return candidate;
  }
  return std::nullopt;
}

Result<FilterExpr> parseFilter(std::string_view text) {
  if (text.size() > kMaxFilterBytes) {
    return Error::invalidArgument("filter: too long (" + std::to_string(text.size()) +
                                  " bytes; the limit is " + std::to_string(kMaxFilterBytes) + ")");
  }
  return Parser(text).run();
}

}  // namespace pharos::tracing::query
