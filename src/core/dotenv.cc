#include "core/dotenv.h"

#include <utility>

namespace pharos::core {
namespace {

bool isBlank(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

bool isKeyStart(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool isKeyChar(char c) {
  return isKeyStart(c) || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

bool isValidKey(std::string_view key) {
  if (key.empty() || !isKeyStart(key.front())) return false;
  for (char c : key) {
    if (!isKeyChar(c)) return false;
  }
  return true;
}

// After a closing quote only a comment may follow.
bool onlyCommentLeft(std::string_view rest) {
  rest = trim(rest);
  return rest.empty() || rest.front() == '#';
}

// Parses the value part of one line (everything after '='). Returns the reason on failure.
std::optional<std::string> parseValue(std::string_view raw, std::string& out) {
  const std::string_view value = trim(raw);
  if (!value.empty() && value.front() == '\'') {
    const std::size_t close = value.find('\'', 1);
    if (close == std::string_view::npos) return "unterminated single-quoted value";
    if (!onlyCommentLeft(value.substr(close + 1))) {
      return "unexpected text after the closing single quote";
    }
    out.assign(value.substr(1, close - 1));
    return std::nullopt;
  }
  if (!value.empty() && value.front() == '"') {
    out.clear();
    for (std::size_t i = 1; i < value.size(); ++i) {
      const char c = value[i];
      if (c == '"') {
        if (!onlyCommentLeft(value.substr(i + 1))) {
          return "unexpected text after the closing double quote";
        }
        return std::nullopt;
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (++i == value.size()) break;
      switch (value[i]) {
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        default:
          return std::string("unknown escape \\") + value[i] +
                 " in a double-quoted value (known: \\n \\r \\t \\\" \\\\)";
      }
    }
    return "unterminated double-quoted value";
  }
  // Unquoted: '#' starts a comment only after whitespace, so "a#b" stays a value.
  std::size_t end = raw.size();
  for (std::size_t i = 1; i < raw.size(); ++i) {
    if (raw[i] == '#' && isBlank(raw[i - 1])) {
      end = i;
      break;
    }
  }
  out.assign(trim(raw.substr(0, end)));
  return std::nullopt;
}

}  // namespace

DotenvParseResult parseDotenv(std::string_view text) {
  DotenvParseResult result;
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  if (text.starts_with(kBom)) text.remove_prefix(kBom.size());

  std::size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const std::size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);

    line = trim(line);
    if (line.empty() || line.front() == '#') continue;

    auto fail = [&](std::string reason) {
      result.entries.clear();
      result.error = DotenvError{line_number, std::move(reason)};
      return result;
    };

    if (line.starts_with("export") && line.size() > 6 && isBlank(line[6])) {
      line = trim(line.substr(6));
    }
    const std::size_t eq = line.find('=');
    // The line is not echoed: without a '=' there is no telling a key from a pasted secret.
    if (eq == std::string_view::npos) return fail("expected KEY=VALUE, found no '='");
    const std::string_view key = trim(line.substr(0, eq));
    if (key.empty()) return fail("expected KEY=VALUE, found no key before '='");
    if (!isValidKey(key)) {
      return fail("invalid key \"" + std::string(key) +
                  "\": use letters, digits, '_', '.' and '-', starting with a letter or '_'");
    }

    DotenvEntry entry{std::string(key), {}, line_number};
    if (auto reason = parseValue(line.substr(eq + 1), entry.value)) {
      return fail("value of " + entry.key + ": " + *reason);
    }
    result.entries.push_back(std::move(entry));
  }
  return result;
}

}  // namespace pharos::core
