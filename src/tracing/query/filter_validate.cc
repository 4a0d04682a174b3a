#include "tracing/query/filter_validate.h"

#include <array>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <utility>

#include "tracing/query/filter_parser.h"

namespace pharos::tracing::query {

namespace {

using core::Error;
using core::Status;

constexpr FunctionSet bits(std::initializer_list<Function> functions) {
  FunctionSet set = 0;
  for (Function f : functions) set |= functionBit(f);
  return set;
}

using F = Function;
constexpr FunctionSet kOrdered = bits({F::kEq, F::kNeq, F::kGt, F::kGte, F::kLt, F::kLte});
constexpr FunctionSet kIdentity = bits({F::kEq, F::kNeq, F::kIn});
constexpr FunctionSet kKey = bits({F::kEq, F::kNeq, F::kIn, F::kLike});
constexpr FunctionSet kText = bits({F::kEq, F::kNeq, F::kIn, F::kLike, F::kSearch});

// The catalogue. Spec §6.3 plus the list; `metadata` is the JSON blob that has() and
// exists() take in the documented examples.
constexpr std::array kFields = {
    FieldSpec{"id", ValueKind::kUuid, kIdentity},
    FieldSpec{"name", ValueKind::kString, kText},
    // Any string: ingest accepts custom run types (JS callers pass any), so filters must too.
    FieldSpec{"run_type", ValueKind::kString, kIdentity},
    FieldSpec{"status", ValueKind::kStatus, kIdentity},
    FieldSpec{"start_time", ValueKind::kTimestamp, kOrdered},
    FieldSpec{"end_time", ValueKind::kTimestamp, kOrdered},
    FieldSpec{"latency", ValueKind::kDuration, kOrdered},
    FieldSpec{"error", ValueKind::kString, bits({F::kEq, F::kNeq, F::kLike, F::kSearch})},
    FieldSpec{"tags", ValueKind::kStringList, bits({F::kHas})},
    FieldSpec{"is_root", ValueKind::kBool, bits({F::kEq, F::kNeq})},
    FieldSpec{"trace_id", ValueKind::kUuid, kIdentity},
    FieldSpec{"parent_run_id", ValueKind::kUuid, kIdentity},
    FieldSpec{"reference_example_id", ValueKind::kUuid, kIdentity},
    FieldSpec{"session_id", ValueKind::kUuid, kIdentity},
    FieldSpec{"thread_id", ValueKind::kString, kIdentity},
    FieldSpec{"execution_order", ValueKind::kNumber, kOrdered | functionBit(F::kIn)},
    FieldSpec{"total_tokens", ValueKind::kNumber, kOrdered},
    FieldSpec{"prompt_tokens", ValueKind::kNumber, kOrdered},
    FieldSpec{"completion_tokens", ValueKind::kNumber, kOrdered},
    FieldSpec{"total_cost", ValueKind::kNumber, kOrdered},
    FieldSpec{"prompt_cost", ValueKind::kNumber, kOrdered},
    FieldSpec{"completion_cost", ValueKind::kNumber, kOrdered},
    FieldSpec{"feedback_key", ValueKind::kString, kIdentity},
    FieldSpec{"feedback_score", ValueKind::kNumber, kOrdered},
    FieldSpec{"metadata_key", ValueKind::kString, kKey},
    FieldSpec{"metadata_value", ValueKind::kScalar, kText},
    FieldSpec{"input_key", ValueKind::kString, kKey},
    FieldSpec{"input_value", ValueKind::kScalar, kText},
    FieldSpec{"output_key", ValueKind::kString, kKey},
    FieldSpec{"output_value", ValueKind::kScalar, kText},
    FieldSpec{"metadata", ValueKind::kJson, bits({F::kHas, F::kExists})},
};

constexpr std::array<std::string_view, 3> kStatuses = {"success", "error", "pending"};

const auto errorAt = filterErrorAt;

std::string describeValue(const Value& value) {
  struct Visitor {
    std::string operator()(std::nullptr_t) const { return "null"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(std::int64_t) const { return "number " + toString(literal); }
    std::string operator()(double) const { return "number " + toString(literal); }
    std::string operator()(const std::string& s) const { return "string " + quoteForMessage(s); }
    std::string operator()(const Timestamp&) const { return "timestamp " + toString(literal); }
    const Literal& literal;
  };
  const Literal literal{value, 0};
  return std::visit(Visitor{literal}, value);
}

std::string describeNode(const Node& node) {
  if (const auto* call = std::get_if<Call>(&node.value)) {
    return "a condition " + std::string(functionName(call->function)) + "(...)";
  }
  if (const auto* field = std::get_if<Field>(&node.value)) {
    return "field " + quoteForMessage(field->name);
  }
  if (const auto* literal = std::get_if<Literal>(&node.value)) return describeValue(literal->value);
  return "a list";
}

std::string joined(std::span<const std::string_view> names) {
  std::string out;
  for (std::string_view name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string functionsOf(FunctionSet set) {
  std::string out;
  for (std::size_t i = 0; i < kFunctionCount; ++i) {
    if (set & functionBit(static_cast<Function>(i))) {
      if (!out.empty()) out += ", ";
      out += functionName(static_cast<Function>(i));
    }
  }
  return out;
}

bool isUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

bool isJsonObject(std::string_view text) {
  boost::system::error_code ec;
  const boost::json::value value = boost::json::parse(text, ec);
  return !ec && value.is_object();
}

bool oneOf(std::string_view value, std::span<const std::string_view> allowed) {
  for (std::string_view a : allowed) {
    if (a == value) return true;
  }
  return false;
}

class Validator {
 public:
  Status condition(Call& call, std::size_t depth) {
    if (depth > kMaxFilterDepth) {
      return errorAt(call.offset, "nested too deeply (the limit is " +
                                      std::to_string(kMaxFilterDepth) + " levels)");
    }
    const std::string_view fn = functionName(call.function);
    const std::size_t n = call.args.size();
    switch (call.function) {
      case F::kAnd:
      case F::kOr:
      case F::kNot: {
        if (call.function == F::kNot && n != 1) {
          return errorAt(call.offset, "not takes 1 condition, got " + std::to_string(n));
        }
        if (n == 0) {
          return errorAt(call.offset, std::string(fn) + " takes at least 1 condition, got 0");
        }
        for (Node& arg : call.args) {
          auto* inner = std::get_if<Call>(&arg.value);
          if (!inner) {
            return errorAt(arg.offset(), "the arguments of " + std::string(fn) +
                                             " must be conditions such as eq(name, \"x\"), got " +
                                             describeNode(arg));
          }
          if (auto s = condition(*inner, depth + 1); !s) return s;
        }
        return {};
      }
      case F::kSearch:
        if (n == 1) {
          const auto* literal = std::get_if<Literal>(&call.args[0].value);
          if (!literal || !std::holds_alternative<std::string>(literal->value)) {
            return errorAt(
                call.args[0].offset(),
                "search(value) needs a string to search for, got " + describeNode(call.args[0]));
          }
          return {};
        }
        if (n != 2) {
          return errorAt(call.offset,
                         "search takes 1 or 2 arguments (a value, or a field and a value), got " +
                             std::to_string(n));
        }
        return predicate(call);
      case F::kIn:
        if (n != 2) {
          return errorAt(call.offset,
                         "in takes 2 arguments (a field and a list), got " + std::to_string(n));
        }
        return predicate(call);
      default:
        if (n != 2) {
          return errorAt(call.offset, std::string(fn) +
                                          " takes 2 arguments (a field and a value), got " +
                                          std::to_string(n));
        }
        return predicate(call);
    }
  }

 private:
  // A two-argument call whose first argument is a field.
  Status predicate(Call& call) {
    const std::string_view fn = functionName(call.function);
    Node& first = call.args[0];
    const auto* field = std::get_if<Field>(&first.value);
    if (!field) {
      return errorAt(first.offset(), "the first argument of " + std::string(fn) +
                                         " must be a field name such as name, got " +
                                         describeNode(first));
    }
    const FieldSpec* spec = findField(field->name);
    if (!spec) return unknownField(*field);
    if (!(spec->functions & functionBit(call.function))) {
      return errorAt(call.offset, std::string(fn) + " does not apply to " + field->name + "; " +
                                      field->name + " takes " + functionsOf(spec->functions));
    }
    Node& second = call.args[1];
    if (call.function == F::kIn) {
      auto* list = std::get_if<List>(&second.value);
      if (!list) {
        return errorAt(second.offset(),
                       "the second argument of in must be a list such as [\"a\", \"b\"], got " +
                           describeNode(second));
      }
      for (Literal& item : list->items) {
        if (auto s = value(call.function, *spec, item); !s) return s;
      }
      return {};
    }
    auto* literal = std::get_if<Literal>(&second.value);
    if (!literal) {
      const bool isList = std::holds_alternative<List>(second.value);
      return errorAt(second.offset(), "the second argument of " + std::string(fn) +
                                          " must be a single value, got " + describeNode(second) +
                                          (isList ? " (use in(field, [...]) for a list)" : ""));
    }
    return value(call.function, *spec, *literal);
  }

  static Error unknownField(const Field& field) {
    std::array<std::string_view, kFields.size()> names;
    for (std::size_t i = 0; i < kFields.size(); ++i) names[i] = kFields[i].name;
    std::string message = "unknown field " + quoteForMessage(field.name);
    if (auto near = closestName(field.name, names)) {
      message += "; did you mean " + quoteForMessage(*near) + "?";
    } else {
      message += "; the fields are " + joined(names);
    }
    return errorAt(field.offset, message);
  }

  static Error wrongKind(const FieldSpec& spec, const Literal& literal, std::string_view needs) {
    return errorAt(literal.offset, std::string(spec.name) + " needs " + std::string(needs) +
                                       ", got " + describeValue(literal.value));
  }

  // Checks (and normalises) the value `literal` given to `function` on `spec`.
  static Status value(Function function, const FieldSpec& spec, Literal& literal) {
    Value& v = literal.value;
    if (std::holds_alternative<std::nullptr_t>(v)) {
      if (function == F::kEq || function == F::kNeq) return {};
      return errorAt(literal.offset, "null is only allowed with eq or neq");
    }
    auto* str = std::get_if<std::string>(&v);
    const bool isNumber =
        std::holds_alternative<std::int64_t>(v) || std::holds_alternative<double>(v);
    if ((function == F::kLike || function == F::kSearch) && !str) {
      return errorAt(literal.offset, std::string(functionName(function)) + " needs a string, got " +
                                         describeValue(v));
    }
    switch (spec.kind) {
      case ValueKind::kString:
      case ValueKind::kStringList:
        if (!str) return wrongKind(spec, literal, "a string");
        return {};
      case ValueKind::kUuid:
        if (!str || !isUuid(*str)) {
          return wrongKind(spec, literal,
                           "a UUID string such as \"0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d\"");
        }
        for (char& c : *str) {
          if (c >= 'A' && c <= 'F') c = static_cast<char>(c + 32);
        }
        return {};
      case ValueKind::kStatus: {
        const std::span<const std::string_view> allowed(kStatuses);
        if (!str) return wrongKind(spec, literal, "a string");
        if (!oneOf(*str, allowed)) {
          return errorAt(literal.offset, "invalid " + std::string(spec.name) + " " +
                                             quoteForMessage(*str) + "; expected one of " +
                                             joined(allowed));
        }
        return {};
      }
      case ValueKind::kTimestamp: {
        if (std::holds_alternative<Timestamp>(v)) return {};
        if (!str) {
          return wrongKind(spec, literal,
                           "an ISO-8601 timestamp string such as \"2024-01-01T12:00:00Z\"");
        }
        auto micros = parseTimestampMicros(*str);
        if (!micros) {
          return errorAt(literal.offset, "invalid timestamp " + quoteForMessage(*str) + " for " +
                                             std::string(spec.name) +
                                             "; expected ISO-8601 such as \"2024-01-01\" or "
                                             "\"2024-01-01T12:00:00Z\"");
        }
        v = Timestamp{*micros};
        return {};
      }
      case ValueKind::kDuration: {
        if (const auto* i = std::get_if<std::int64_t>(&v)) {
          v = static_cast<double>(*i);
          return {};
        }
        if (std::holds_alternative<double>(v)) return {};
        if (!str) {
          return wrongKind(spec, literal,
                           "a number of seconds or a duration string such as \"5s\"");
        }
        auto seconds = parseDurationSeconds(*str);
        if (!seconds) {
          return errorAt(literal.offset, "invalid duration " + quoteForMessage(*str) + " for " +
                                             std::string(spec.name) +
                                             "; expected a number of seconds or a string such as "
                                             "\"250ms\", \"5s\", \"1.5m\", \"2h\"");
        }
        v = *seconds;
        return {};
      }
      case ValueKind::kNumber:
        if (!isNumber) return wrongKind(spec, literal, "a number");
        return {};
      case ValueKind::kBool:
        if (!std::holds_alternative<bool>(v)) return wrongKind(spec, literal, "true or false");
        return {};
      case ValueKind::kScalar:
        if (!str && !isNumber && !std::holds_alternative<bool>(v)) {
          return wrongKind(spec, literal, "a string, number or boolean");
        }
        return {};
      case ValueKind::kJson:
        if (function == F::kExists) {
          if (!str) return wrongKind(spec, literal, "a key string");
          return {};
        }
        if (!str || !isJsonObject(*str)) {
          return wrongKind(spec, literal, "a JSON object string such as '{\"key\": \"value\"}'");
        }
        return {};
    }
    return {};
  }
};

// Howard Hinnant's days_from_civil: proleptic Gregorian date -> days since 1970-01-01.
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

unsigned daysInMonth(unsigned year, unsigned month) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

}  // namespace

std::span<const FieldSpec> filterFields() {
  return kFields;
}

const FieldSpec* findField(std::string_view name) {
  for (const FieldSpec& spec : kFields) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

Status validateFilter(FilterExpr& expr) {
  if (!expr.root) return {};
  return Validator().condition(*expr.root, 1);
}

core::Result<FilterExpr> parseAndValidateFilter(std::string_view text) {
  auto parsed = parseFilter(text);
  if (!parsed) return parsed;
  if (auto s = validateFilter(*parsed); !s) return std::move(s).error();
  return parsed;
}

std::optional<std::int64_t> parseTimestampMicros(std::string_view text) {
  std::size_t pos = 0;
  // Exactly `count` digits as a number, or nullopt.
  auto digits = [&](std::size_t count) -> std::optional<unsigned> {
    if (pos + count > text.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos += count;
    return v;
  };
  auto literal = [&](char c) {
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  };
  const auto year = digits(4);
  if (!year || !literal('-')) return std::nullopt;
  const auto month = digits(2);
  if (!month || *month < 1 || *month > 12 || !literal('-')) return std::nullopt;
  const auto day = digits(2);
  if (!day || *day < 1 || *day > daysInMonth(*year, *month)) return std::nullopt;
  unsigned hour = 0, minute = 0, second = 0, fractionMicros = 0;
  std::int64_t offsetMinutes = 0;
  if (pos < text.size()) {
    if (!(literal('T') || literal('t') || literal(' '))) return std::nullopt;
    const auto h = digits(2);
    if (!h || *h > 23 || !literal(':')) return std::nullopt;
    const auto m = digits(2);
    if (!m || *m > 59) return std::nullopt;
    hour = *h;
    minute = *m;
    if (literal(':')) {
      const auto s = digits(2);
      if (!s || *s > 59) return std::nullopt;
      second = *s;
      if (literal('.') || literal(',')) {
        std::size_t count = 0;
        unsigned scale = 100000;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (count < 6) {
            fractionMicros += static_cast<unsigned>(text[pos] - '0') * scale;
            scale /= 10;
          }
          ++count;
          ++pos;
        }
        if (count == 0 || count > 9) return std::nullopt;
      }
    }
    if (literal('Z') || literal('z')) {
      // UTC
    } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      const bool negative = text[pos] == '-';
      ++pos;
      const auto oh = digits(2);
      if (!oh || *oh > 23) return std::nullopt;
      literal(':');
      const auto om = digits(2);
      if (!om || *om > 59) return std::nullopt;
      offsetMinutes = static_cast<std::int64_t>(*oh * 60 + *om) * (negative ? -1 : 1);
    }
  }
  if (pos != text.size()) return std::nullopt;
  const std::int64_t days = daysFromCivil(*year, *month, *day);
  const std::int64_t seconds =
      days * 86400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  const std::int64_t micros = seconds * 1'000'000 + fractionMicros;
  // Keep the printed form a 4-digit year, so what validation produces always reparses.
  const std::int64_t lowest = daysFromCivil(0, 1, 1) * 86'400'000'000;
  const std::int64_t highest = daysFromCivil(10000, 1, 1) * 86'400'000'000 - 1;
  if (micros < lowest || micros > highest) return std::nullopt;
  return micros;
}

std::optional<double> parseDurationSeconds(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    const std::size_t dot = i++;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == dot + 1) return std::nullopt;
  }
  const std::string_view number = text.substr(0, i);
  const std::string_view unit = text.substr(i);
  // Sub-second units divide rather than multiply by 1e-3 / 1e-6 (not exact in binary), so that
  // "100us" is 0.0001 and not 9.999999999999999e-05.
  double multiplier = 1;
  double divisor = 1;
  if (unit == "us") {
    divisor = 1e6;
  } else if (unit == "ms") {
    divisor = 1e3;
  } else if (unit == "s") {
  } else if (unit == "m") {
    multiplier = 60;
  } else if (unit == "h") {
    multiplier = 3600;
  } else {
    return std::nullopt;
  }
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  const double seconds = value * multiplier / divisor;
  if (!std::isfinite(seconds)) return std::nullopt;
  return seconds;
}

}  // namespace pharos::tracing::query
