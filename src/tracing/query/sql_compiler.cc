#include "tracing/query/sql_compiler.h"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <optional>
#include <span>
#include <utility>

#include "tracing/query/filter_parser.h"
#include "tracing/query/filter_validate.h"

namespace pharos::tracing::query {

namespace {

using core::Error;
using core::Status;
using F = Function;

// Long AND / OR chains are written as parenthesised runs of this many terms (see join()).
constexpr std::size_t kChainRun = 16;

// ---- How each catalogue field (filterFields()) is reached from a runs row ----------------------

enum class Role {
  kColumn,          // the runs column named like the field
  kSession,         // session_id: runs.session is sessions.seq
  kExecutionOrder,  // not stored; derived from is_root
  kTags,            // run_tags
  kMetadata,        // run_metadata, through has() / exists()
  kPairKey,         // the key side of a key/value family
  kPairValue,       // the value side of a key/value family
};

// The key/value families whose predicates pair up inside one and(...).
enum class Family { kMetadata, kInputs, kOutputs, kFeedback };
constexpr std::size_t kFamilyCount = 4;

struct Mapping {
  std::string_view field;
  Role role;
  Family family = Family::kMetadata;  // for kPairKey / kPairValue
};

// The catalogue fields that are not a runs column of the same name. Every other field is one: the
// SQL then names the column with the catalogue's own constant string, never the filter's text.
constexpr std::array kMappings = {
    Mapping{"session_id", Role::kSession},
    Mapping{"execution_order", Role::kExecutionOrder},
    Mapping{"tags", Role::kTags},
    Mapping{"metadata", Role::kMetadata},
    Mapping{"metadata_key", Role::kPairKey, Family::kMetadata},
    Mapping{"metadata_value", Role::kPairValue, Family::kMetadata},
    Mapping{"input_key", Role::kPairKey, Family::kInputs},
    Mapping{"input_value", Role::kPairValue, Family::kInputs},
    Mapping{"output_key", Role::kPairKey, Family::kOutputs},
    Mapping{"output_value", Role::kPairValue, Family::kOutputs},
    Mapping{"feedback_key", Role::kPairKey, Family::kFeedback},
    Mapping{"feedback_score", Role::kPairValue, Family::kFeedback},
};

Mapping mappingOf(const FieldSpec& spec) {
  for (const Mapping& m : kMappings) {
    if (m.field == spec.name) return m;
  }
  return {spec.name, Role::kColumn};
}

// A json_tree leaf's value as text, so that input/output values compare like metadata values do:
// strings as themselves, numbers in SQLite's text form, true/false/null as those words (json_tree
// gives 1, 0 and NULL for them).
constexpr std::string_view kJsonLeafText =
    "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
    "ELSE CAST(j.value AS TEXT) END";

// How a literal is bound against a given left-hand side.
enum class Binding {
  kColumn,    // as the value itself (bool -> 1/0, Timestamp -> micros); null is tested with IS NULL
  kText,      // as run_metadata stores values: the string, or compact JSON text of anything else
  kJsonLeaf,  // like kText, but a double binds as a number cast to text by SQLite (kJsonLeafText)
};

struct Operand {
  std::string_view placeholder = "?";
  SqlValue value;
};

std::string jsonText(const boost::json::value& value) {
  if (const auto* s = value.if_string()) return std::string(*s);
  return boost::json::serialize(value);
}

Operand operand(const Value& value, Binding binding) {
  struct Visitor {
    Binding binding;
    Operand operator()(std::nullptr_t) const {
      if (binding == Binding::kColumn) return {"?", nullptr};
      return {"?", std::string("null")};
    }
    Operand operator()(bool b) const {
      if (binding == Binding::kColumn) return {"?", std::int64_t{b ? 1 : 0}};
      return {"?", std::string(b ? "true" : "false")};
    }
    Operand operator()(std::int64_t i) const {
      if (binding == Binding::kColumn) return {"?", i};
      return {"?", std::to_string(i)};
    }
    Operand operator()(double d) const {
      switch (binding) {
        case Binding::kColumn:
          return {"?", d};
        case Binding::kText:
          return {"?", jsonText(boost::json::value(d))};
        case Binding::kJsonLeaf:
          return {"CAST(? AS TEXT)", d};
      }
      return {"?", d};
    }
    Operand operator()(const std::string& s) const { return {"?", s}; }
    Operand operator()(const Timestamp& t) const {
      if (binding == Binding::kColumn) return {"?", t.micros};
      return {"?", std::to_string(t.micros)};
    }
  };
  return std::visit(Visitor{binding}, value);
}

bool isNull(const Value& value) {
  return std::holds_alternative<std::nullptr_t>(value);
}

bool isIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool isBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

Error notValidated(const Call& call) {
  return Error::internal("filter SQL compiler: the filter was not validated (at position " +
                         std::to_string(call.offset) + ", " + toString(call) + ")");
}

// A predicate's parts: its field's catalogue entry, the mapping, and its value argument.
struct Predicate {
  const Call* call;
  const FieldSpec* spec;
  Mapping mapping;
  const Node* value;
};

std::optional<Predicate> asPredicate(const Call& call) {
  if (call.function == F::kAnd || call.function == F::kOr || call.function == F::kNot ||
      call.args.size() != 2) {
    return std::nullopt;
  }
  const auto* field = std::get_if<Field>(&call.args[0].value);
  if (!field) return std::nullopt;
  const FieldSpec* spec = findField(field->name);
  if (!spec || !(spec->functions & functionBit(call.function))) return std::nullopt;
  return Predicate{&call, spec, mappingOf(*spec), &call.args[1]};
}

bool isPair(const Predicate& p) {
  return p.mapping.role == Role::kPairKey || p.mapping.role == Role::kPairValue;
}

// neq(key, k) in a group without value predicates: "has no key k".
bool isAbsentKey(const Predicate& p) {
  if (p.mapping.role != Role::kPairKey || p.call->function != F::kNeq) return false;
  const auto* literal = std::get_if<Literal>(&p.value->value);
  return literal && !isNull(literal->value);
}

// One operand of an AND / OR chain, written when the chain is.
using Term = std::function<Status()>;

class Compiler {
 public:
  Compiler(std::string_view alias, std::int64_t ws) : alias_(alias), ws_(ws) {}

  // `nesting`: the and/or/not calls around `call`.
  Status condition(const Call& call, std::size_t nesting) {
    if (call.function == F::kAnd || call.function == F::kOr || call.function == F::kNot) {
      if (nesting + 1 > kMaxSqlNesting) {
        return filterErrorAt(call.offset, "and, or and not are nested too deeply (the limit is " +
                                              std::to_string(kMaxSqlNesting) + " levels)");
      }
    }
    switch (call.function) {
      case F::kAnd:
        return conjunction(call, nesting + 1);
      case F::kOr: {
        std::vector<Term> terms;
        for (const Node& arg : call.args) {
          const auto* inner = std::get_if<Call>(&arg.value);
          if (!inner) return notValidated(call);
          terms.push_back([this, inner, nesting] { return condition(*inner, nesting + 1); });
        }
        if (terms.empty()) return notValidated(call);
        sql_ += '(';
        if (auto s = join(terms, " OR "); !s) return s;
        sql_ += ')';
        return {};
      }
      case F::kNot: {
        const auto* inner =
            call.args.size() == 1 ? std::get_if<Call>(&call.args[0].value) : nullptr;
        if (!inner) return notValidated(call);
        // NOT NULL is NULL, which would drop the run on both sides of the negation.
        sql_ += "NOT coalesce((";
        if (auto s = condition(*inner, nesting + 1); !s) return s;
        sql_ += "), 0)";
        return {};
      }
      case F::kSearch:
        if (call.args.size() == 1) return fullText(call);
        break;
      default:
        break;
    }
    auto predicate = asPredicate(call);
    if (!predicate) return notValidated(call);
    if (isPair(*predicate)) {
      std::vector<Term> terms;
      pairTerms(std::span<const Predicate>(&*predicate, 1), terms);
      return join(terms, " AND ");
    }
    return single(*predicate);
  }

  SqlFilter take() && { return {std::move(sql_), std::move(params_)}; }

 private:
  void bind(SqlValue value) {
    sql_ += '?';
    params_.push_back(std::move(value));
  }
  void bind(Operand op) {
    sql_ += op.placeholder;
    params_.push_back(std::move(op.value));
  }
  void column(std::string_view name) {
    sql_ += alias_;
    sql_ += '.';
    sql_ += name;
  }

  // `terms` joined by `op`. SQLite parses a chain left-deep and refuses an expression tree deeper
  // than 1000, so a long chain is cut into parenthesised runs of kChainRun terms: a chain of k
  // terms then adds at most kChainRun + k / kChainRun levels, and one parser-stack level.
  Status join(const std::vector<Term>& terms, std::string_view op) {
    const bool runs = terms.size() > kChainRun;
    for (std::size_t start = 0; start < terms.size(); start += kChainRun) {
      if (start > 0) sql_ += op;
      if (runs) sql_ += '(';
      const std::size_t end = std::min(terms.size(), start + kChainRun);
      for (std::size_t i = start; i < end; ++i) {
        if (i > start) sql_ += op;
        if (auto s = terms[i](); !s) return s;
      }
      if (runs) sql_ += ')';
    }
    return {};
  }

  // `lhs <op> <value>` for the comparison functions, in, like and search(field, value). `nullable`
  // says whether lhs can be NULL, so that neq needs IS NOT to count a missing value as different.
  Status comparison(std::string_view lhs, const Predicate& p, Binding binding, bool nullable) {
    const Call& call = *p.call;
    if (call.function == F::kIn) {
      const auto* list = std::get_if<List>(&p.value->value);
      if (!list || list->items.empty()) return notValidated(call);
      sql_ += lhs;
      sql_ += " IN (";
      for (std::size_t i = 0; i < list->items.size(); ++i) {
        if (i > 0) sql_ += ", ";
        if (binding == Binding::kColumn && isNull(list->items[i].value)) return notValidated(call);
        bind(operand(list->items[i].value, binding));
      }
      sql_ += ')';
      return {};
    }
    const auto* literal = std::get_if<Literal>(&p.value->value);
    if (!literal) return notValidated(call);
    const Value& value = literal->value;
    if (binding == Binding::kColumn && isNull(value)) {
      if (call.function != F::kEq && call.function != F::kNeq) return notValidated(call);
      sql_ += lhs;
      sql_ += call.function == F::kEq ? " IS NULL" : " IS NOT NULL";
      return {};
    }
    std::string_view op;
    switch (call.function) {
      case F::kEq:
        op = " = ";
        break;
      case F::kNeq:
        op = nullable ? " IS NOT " : " <> ";
        break;
      case F::kGt:
        op = " > ";
        break;
      case F::kGte:
        op = " >= ";
        break;
      case F::kLt:
        op = " < ";
        break;
      case F::kLte:
        op = " <= ";
        break;
      case F::kLike:
        sql_ += lhs;
        sql_ += " LIKE ";
        bind(operand(value, binding));
        sql_ += " ESCAPE '\\'";
        return {};
      case F::kSearch:
        sql_ += "instr(lower(";
        sql_ += lhs;
        sql_ += "), lower(";
        bind(operand(value, binding));
        sql_ += ")) > 0";
        return {};
      default:
        return notValidated(call);
    }
    sql_ += lhs;
    sql_ += op;
    bind(operand(value, binding));
    return {};
  }

  const Literal* literalOf(const Predicate& p) { return std::get_if<Literal>(&p.value->value); }
  const std::string* stringOf(const Predicate& p) {
    const Literal* literal = literalOf(p);
    return literal ? std::get_if<std::string>(&literal->value) : nullptr;
  }

  // A predicate on anything but a key/value family.
  Status single(const Predicate& p) {
    const Call& call = *p.call;
    switch (p.mapping.role) {
      case Role::kColumn: {
        std::string lhs = alias_ + ".";
        lhs += p.spec->name;
        return comparison(lhs, p, Binding::kColumn, true);
      }
      case Role::kExecutionOrder: {
        // Not stored: a root run is the first of its trace, the others' positions are unknown.
        const std::string lhs = "(CASE WHEN " + alias_ + ".is_root = 1 THEN 1 END)";
        return comparison(lhs, p, Binding::kColumn, true);
      }
      case Role::kSession:
        return session(p);
      case Role::kTags: {
        const std::string* tag = stringOf(p);
        if (call.function != F::kHas || !tag) return notValidated(call);
        column("seq");
        sql_ += " IN (SELECT run FROM run_tags WHERE ws = ";
        bind(ws_);
        sql_ += " AND tag = ";
        bind(*tag);
        sql_ += ')';
        return {};
      }
      case Role::kMetadata:
        return metadata(p);
      case Role::kPairKey:
      case Role::kPairValue:
        break;
    }
    return notValidated(call);
  }

  Status session(const Predicate& p) {
    const Call& call = *p.call;
    const Literal* literal = literalOf(p);
    if (literal && isNull(literal->value)) {
      std::string lhs = alias_ + ".session";
      return comparison(lhs, p, Binding::kColumn, true);
    }
    // The session ids are resolved inside the statement, so an unknown id simply matches nothing.
    // A run without a session differs from every session (coalesce turns its NULL into true).
    const bool negated = call.function == F::kNeq;
    if (negated) sql_ += "coalesce(";
    column("session");
    sql_ += negated ? " NOT IN " : " IN ";
    sql_ += "(SELECT seq FROM sessions WHERE ws = ";
    bind(ws_);
    sql_ += " AND ";
    if (call.function == F::kIn) {
      if (auto s = comparison("id", p, Binding::kColumn, false); !s) return s;
    } else if (call.function == F::kEq || call.function == F::kNeq) {
      if (!literal) return notValidated(call);
      sql_ += "id = ";
      bind(operand(literal->value, Binding::kColumn));
    } else {
      return notValidated(call);
    }
    sql_ += ')';
    if (negated) sql_ += ", 1)";
    return {};
  }

  Status metadata(const Predicate& p) {
    const Call& call = *p.call;
    const std::string* text = stringOf(p);
    if (!text) return notValidated(call);
    auto metadataRun = [&](std::string_view key, const std::string* value) {
      column("seq");
      sql_ += " IN (SELECT run FROM run_metadata WHERE ws = ";
      bind(ws_);
      sql_ += " AND key = ";
      bind(std::string(key));
      if (value) {
        sql_ += " AND value = ";
        bind(*value);
      }
      sql_ += ')';
    };
    if (call.function == F::kExists) {
      metadataRun(*text, nullptr);
      return {};
    }
    if (call.function != F::kHas) return notValidated(call);
    boost::system::error_code ec;
    const boost::json::value parsed = boost::json::parse(*text, ec);
    if (ec || !parsed.is_object()) return notValidated(call);
    const boost::json::object& object = parsed.get_object();
    // Every object contains the empty one.
    if (object.empty()) {
      sql_ += '1';
      return {};
    }
    std::vector<Term> terms;
    for (const boost::json::key_value_pair& pair : object) {
      terms.push_back([&metadataRun, &pair] {
        const std::string valueText = jsonText(pair.value());
        metadataRun(std::string_view(pair.key().data(), pair.key().size()), &valueText);
        return Status();
      });
    }
    if (object.size() > 1) sql_ += '(';
    if (auto s = join(terms, " AND "); !s) return s;
    if (object.size() > 1) sql_ += ')';
    return {};
  }

  // ---- key/value families -----------------------------------------------------------------------

  static std::string_view keyExpression(Family family) {
    return family == Family::kInputs || family == Family::kOutputs ? "run_json_key(j.fullkey)"
                                                                   : "key";
  }
  static std::string_view valueExpression(Family family) {
    switch (family) {
      case Family::kMetadata:
        return "value";
      case Family::kFeedback:
        return "score";
      case Family::kInputs:
      case Family::kOutputs:
        return kJsonLeafText;
    }
    return "value";
  }

  // The start of "the run has a pair (or feedback row) such that ..."; conditions follow as
  // " AND <cond>", then ")" closes it.
  void openFamily(Family family, bool negated) {
    switch (family) {
      case Family::kMetadata:
        column("seq");
        sql_ += negated ? " NOT IN " : " IN ";
        sql_ += "(SELECT run FROM run_metadata WHERE ws = ";
        bind(ws_);
        return;
      case Family::kFeedback:
        // A NULL run_id (feedback on a trace or project) would make NOT IN unknown for every run.
        column("id");
        sql_ += negated ? " NOT IN " : " IN ";
        sql_ += "(SELECT run_id FROM feedback WHERE ws = ";
        bind(ws_);
        sql_ += " AND run_id IS NOT NULL";
        return;
      case Family::kInputs:
      case Family::kOutputs:
        // Only leaves have keys in the filter language's sense ("a.b.c", never "a.b").
        sql_ += negated ? "NOT EXISTS " : "EXISTS ";
        sql_ += "(SELECT 1 FROM json_tree(run_json(";
        column(family == Family::kInputs ? "inputs" : "outputs");
        sql_ += ")) j WHERE j.type NOT IN ('object', 'array')";
        return;
    }
  }

  Status familyCondition(Family family, const Predicate& p) {
    if (p.mapping.role == Role::kPairKey) {
      return comparison(keyExpression(family), p, Binding::kColumn, false);
    }
    switch (family) {
      case Family::kMetadata:
        return comparison(valueExpression(family), p, Binding::kText, false);
      case Family::kFeedback:
        return comparison(valueExpression(family), p, Binding::kColumn, true);
      case Family::kInputs:
      case Family::kOutputs:
        return comparison(valueExpression(family), p, Binding::kJsonLeaf, false);
    }
    return notValidated(*p.call);
  }

  // Appends to `terms` the conditions for the predicates of one family that describe the same
  // pair (all from one and(...), or one alone): one NOT IN / NOT EXISTS per absent key, and one
  // subquery holding every other predicate, in the order of their first members. `members` must
  // outlive the terms.
  void pairTerms(std::span<const Predicate> members, std::vector<Term>& terms) {
    const Family family = members.front().mapping.family;
    bool hasValue = false;
    for (const Predicate& p : members) hasValue |= p.mapping.role == Role::kPairValue;
    const bool absentKeys = !hasValue;
    bool positive = false;
    for (const Predicate& p : members) {
      if (absentKeys && isAbsentKey(p)) {
        terms.push_back([this, family, &p] {
          openFamily(family, true);
          sql_ += " AND ";
          sql_ += keyExpression(family);
          sql_ += " = ";
          bind(operand(literalOf(p)->value, Binding::kColumn));
          sql_ += ')';
          return Status();
        });
        continue;
      }
      if (positive) continue;
      positive = true;
      terms.push_back([this, family, members, absentKeys] {
        std::vector<Term> conditions;
        for (const Predicate& q : members) {
          if (absentKeys && isAbsentKey(q)) continue;
          conditions.push_back([this, family, &q] { return familyCondition(family, q); });
        }
        openFamily(family, false);
        sql_ += " AND ";
        if (auto s = join(conditions, " AND "); !s) return s;
        sql_ += ')';
        return Status();
      });
    }
  }

  // `nesting` counts this and(...) too.
  Status conjunction(const Call& call, std::size_t nesting) {
    if (call.args.empty()) return notValidated(call);
    // Each direct child is either compiled on its own or joins its family's group, which is
    // written where the family first appears.
    struct Slot {
      const Call* call = nullptr;  // or, when null, the group of `family`
      Family family = Family::kMetadata;
    };
    std::vector<Slot> slots;
    std::array<std::vector<Predicate>, kFamilyCount> groups;
    for (const Node& arg : call.args) {
      const auto* inner = std::get_if<Call>(&arg.value);
      if (!inner) return notValidated(call);
      auto predicate = asPredicate(*inner);
      if (predicate && isPair(*predicate)) {
        const Family family = predicate->mapping.family;
        auto& group = groups[static_cast<std::size_t>(family)];
        if (group.empty()) slots.push_back({nullptr, family});
        group.push_back(*predicate);
      } else {
        slots.push_back({inner, Family::kMetadata});
      }
    }
    std::vector<Term> terms;
    for (const Slot& slot : slots) {
      if (slot.call) {
        terms.push_back([this, inner = slot.call, nesting] { return condition(*inner, nesting); });
      } else {
        pairTerms(groups[static_cast<std::size_t>(slot.family)], terms);
      }
    }
    sql_ += '(';
    if (auto s = join(terms, " AND "); !s) return s;
    sql_ += ')';
    return {};
  }

  Status fullText(const Call& call) {
    const auto* literal = std::get_if<Literal>(&call.args[0].value);
    const auto* text = literal ? std::get_if<std::string>(&literal->value) : nullptr;
    if (!text) return notValidated(call);
    // Nothing to look for: the filter does not narrow anything (an empty phrase would match none).
    if (isBlank(*text)) {
      sql_ += '1';
      return {};
    }
    // Correlated, with the run's own rowid range (seq * 256 .. seq * 256 + 255): FTS5 seeks each
    // candidate in the term's doclist, so "newest runs containing a common word" stops after a
    // page of candidates instead of first collecting every match (an IN list of a million rowids).
    // When the word is rare the run store drives the query from the matches instead.
    sql_ += "EXISTS (SELECT 1 FROM run_text WHERE run_text MATCH ";
    bind(ftsPhrase(*text));
    sql_ += " AND rowid BETWEEN ";
    column("seq");
    sql_ += " * 256 AND ";
    column("seq");
    sql_ += " * 256 + 255)";
    return {};
  }

  std::string alias_;
  std::int64_t ws_;
  std::string sql_;
  std::vector<SqlValue> params_;
};

}  // namespace

bool isBlankSearch(std::string_view text) {
  return isBlank(text);
}

std::string ftsPhrase(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (char c : text) {
    // FTS5 reads its query up to a NUL, which would leave the phrase unterminated (an error, not
    // a miss); a NUL is no token character anyway, so a space means the same.
    if (c == '\0') c = ' ';
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

core::Result<SqlFilter> compileFilter(const FilterExpr& expr, std::string_view alias,
                                      std::int64_t ws) {
  if (!isIdentifier(alias)) {
    return Error::internal("filter SQL compiler: the table alias must be an SQL identifier");
  }
  if (!expr.root) return SqlFilter{"1", {}};
  Compiler compiler(alias, ws);
  if (auto s = compiler.condition(*expr.root, 0); !s) return std::move(s).error();
  SqlFilter compiled = std::move(compiler).take();
  if (compiled.params.size() > kMaxSqlParams) {
    return filterErrorAt(expr.root->offset, "the filter has too many values (it needs " +
                                                std::to_string(compiled.params.size()) +
                                                " bound values; the limit is " +
                                                std::to_string(kMaxSqlParams) + ")");
  }
  return compiled;
}

}  // namespace pharos::tracing::query
