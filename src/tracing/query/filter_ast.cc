#include "tracing/query/filter_ast.h"

#include <array>
#include <charconv>
#include <cstdio>
#include <system_error>

namespace pharos::tracing::query {

namespace {

constexpr std::array<std::string_view, kFunctionCount> kFunctionNames = {
    "and", "or",  "not", "eq",     "neq", "gt",   "gte",
    "lt",  "lte", "has", "search", "in",  "like", "exists",
};

void appendString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          // Bytes >= 0x80 pass through unchanged: the parser does not validate UTF-8 either, so
          // the printed text reparses to the same bytes.
          out += c;
        }
    }
  }
  out += '"';
}

void appendDouble(std::string& out, double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  std::string_view text(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);
  out += text;
  // Shortest round-trip form; "5" would reparse as an integer, so keep it a double.
  if (text.find_first_of(".eEn") == std::string_view::npos) out += ".0";
}

void appendValue(std::string& out, const Value& value) {
  struct Visitor {
    std::string& out;
    void operator()(std::nullptr_t) const { out += "null"; }
    void operator()(bool b) const { out += b ? "true" : "false"; }
    void operator()(std::int64_t i) const { out += std::to_string(i); }
    void operator()(double d) const { appendDouble(out, d); }
    void operator()(const std::string& s) const { appendString(out, s); }
    void operator()(const Timestamp& t) const {
      appendString(out, formatTimestampMicros(t.micros));
    }
  };
  std::visit(Visitor{out}, value);
}

void appendNode(std::string& out, const Node& node);

void appendCall(std::string& out, const Call& call) {
  out += functionName(call.function);
  out += '(';
  bool first = true;
  for (const Node& arg : call.args) {
    if (!first) out += ", ";
    first = false;
    appendNode(out, arg);
  }
  out += ')';
}

void appendNode(std::string& out, const Node& node) {
  if (const auto* call = std::get_if<Call>(&node.value)) {
    appendCall(out, *call);
  } else if (const auto* field = std::get_if<Field>(&node.value)) {
    out += field->name;
  } else if (const auto* literal = std::get_if<Literal>(&node.value)) {
    appendValue(out, literal->value);
  } else if (const auto* list = std::get_if<List>(&node.value)) {
    out += '[';
    bool first = true;
    for (const Literal& item : list->items) {
      if (!first) out += ", ";
      first = false;
      appendValue(out, item.value);
    }
    out += ']';
  }
}

// Howard Hinnant's civil_from_days: days since 1970-01-01 -> proleptic Gregorian date.
void civilFromDays(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
}

}  // namespace

std::string_view functionName(Function function) {
  return kFunctionNames[static_cast<std::size_t>(function)];
}

std::optional<Function> functionFromName(std::string_view name) {
  for (std::size_t i = 0; i < kFunctionNames.size(); ++i) {
    if (kFunctionNames[i] == name) return static_cast<Function>(i);
  }
  return std::nullopt;
}

std::size_t Node::offset() const {
  return std::visit([](const auto& v) { return v.offset; }, value);
}

std::string formatTimestampMicros(std::int64_t micros) {
  constexpr std::int64_t kPerDay = 86'400'000'000;
  std::int64_t days = micros / kPerDay;
  std::int64_t rest = micros % kPerDay;
  if (rest < 0) {
    rest += kPerDay;
    --days;
  }
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civilFromDays(days, year, month, day);
  const auto secondsOfDay = static_cast<unsigned>(rest / 1'000'000);
  const auto fraction = static_cast<unsigned>(rest % 1'000'000);
  char buf[64];
  int n = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u",
                        static_cast<long long>(year), month, day, secondsOfDay / 3600,
                        secondsOfDay / 60 % 60, secondsOfDay % 60);
  std::string out(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  if (fraction != 0) {
    std::snprintf(buf, sizeof buf, ".%06u", fraction);
    out += buf;
  }
  out += 'Z';
  return out;
}

std::string toString(const Node& node) {
  std::string out;
  appendNode(out, node);
  return out;
}

std::string toString(const Call& call) {
  std::string out;
  appendCall(out, call);
  return out;
}

std::string toString(const Literal& literal) {
  std::string out;
  appendValue(out, literal.value);
  return out;
}

std::string toString(const FilterExpr& expr) {
  return expr.root ? toString(*expr.root) : "";
}

}  // namespace pharos::tracing::query
