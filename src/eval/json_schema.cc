#include "eval/json_schema.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace pharos::eval {

namespace json = boost::json;

namespace {

// ---- JSON helpers ------------------------------------------------------------------------------

enum TypeBit : unsigned {
  kNull = 1,
  kBoolean = 2,
  kObject = 4,
  kArray = 8,
  kNumber = 16,
  kString = 32,
  kInteger = 64,
};

struct TypeName {
  std::string_view name;
  unsigned bit;
  std::string_view with_article;
};
constexpr TypeName kTypeNames[] = {
    {"null", kNull, "null"},
    {"boolean", kBoolean, "a boolean"},
    {"object", kObject, "an object"},
    {"array", kArray, "an array"},
    {"number", kNumber, "a number"},
    {"string", kString, "a string"},
    {"integer", kInteger, "an integer"},
};

std::string_view describeKind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::object:
      return "an object";
    case json::kind::array:
      return "an array";
    case json::kind::string:
      return "a string";
    default:
      return "a number";
  }
}

bool isIntegral(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  if (!v.is_double()) return false;
  const double d = v.get_double();
  return std::isfinite(d) && std::trunc(d) == d;
}

bool typeMatches(unsigned types, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return types & kNull;
    case json::kind::bool_:
      return types & kBoolean;
    case json::kind::object:
      return types & kObject;
    case json::kind::array:
      return types & kArray;
    case json::kind::string:
      return types & kString;
    default:
      return (types & kNumber) || ((types & kInteger) && isIntegral(v));
  }
}

long double toLongDouble(const json::value& v) {
  if (v.is_int64()) return static_cast<long double>(v.get_int64());
  if (v.is_uint64()) return static_cast<long double>(v.get_uint64());
  return v.get_double();
}

// Compares two numbers exactly when both are integers (int64 and uint64 mixed); through long
// double otherwise, which holds every int64 and uint64 exactly. <0, 0 or >0.
int compareNumbers(const json::value& a, const json::value& b) {
  if (a.is_double() || b.is_double()) {
    const long double x = toLongDouble(a);
    const long double y = toLongDouble(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_int64() && b.is_int64()) {
    return a.get_int64() < b.get_int64() ? -1 : (a.get_int64() > b.get_int64() ? 1 : 0);
  }
  if (a.is_uint64() && b.is_uint64()) {
    return a.get_uint64() < b.get_uint64() ? -1 : (a.get_uint64() > b.get_uint64() ? 1 : 0);
  }
  if (a.is_int64()) {  // b is a uint64
    if (a.get_int64() < 0) return -1;
    const auto x = static_cast<std::uint64_t>(a.get_int64());
    return x < b.get_uint64() ? -1 : (x > b.get_uint64() ? 1 : 0);
  }
  return -compareNumbers(b, a);
}

// JSON Schema equality: numbers by value (1 == 1.0), objects regardless of member order. The
// recursion is bounded by the schema-side value, whose depth compile() limits.
bool jsonEqual(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return compareNumbers(a, b) == 0;
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case json::kind::null:
      return true;
    case json::kind::bool_:
      return a.get_bool() == b.get_bool();
    case json::kind::string:
      return a.get_string() == b.get_string();
    case json::kind::array: {
      const auto& x = a.get_array();
      const auto& y = b.get_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!jsonEqual(x[i], y[i])) return false;
      }
      return true;
    }
    case json::kind::object: {
      const auto& x = a.get_object();
      const auto& y = b.get_object();
      if (x.size() != y.size()) return false;
      for (const auto& member : x) {
        const json::value* other = y.if_contains(member.key());
        if (other == nullptr || !jsonEqual(member.value(), *other)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

// Depth of a value, counting up to `limit` + 1 at most (bounded recursion).
int depthOf(const json::value& v, int limit) {
  if (limit < 0) return 1;
  int deepest = 0;
  if (v.is_array()) {
    for (const auto& item : v.get_array()) deepest = std::max(deepest, depthOf(item, limit - 1));
  } else if (v.is_object()) {
    for (const auto& m : v.get_object()) deepest = std::max(deepest, depthOf(m.value(), limit - 1));
  }
  return deepest + 1;
}

// A key equal for equal JSON values (numbers normalized, object members sorted), so uniqueItems
// is a hash lookup per item instead of comparing every pair. False when the value nests deeper
// than `depth` allows.
bool canonicalKey(const json::value& v, int depth, std::string& out) {
  if (depth < 0) return false;
  switch (v.kind()) {
    case json::kind::null:
      out += 'n';
      return true;
    case json::kind::bool_:
      out += v.get_bool() ? 't' : 'f';
      return true;
    case json::kind::string:
      out += fmt::format("s{}:", v.get_string().size());
      out.append(v.get_string().data(), v.get_string().size());
      return true;
    case json::kind::int64:
      out += fmt::format("i{};", v.get_int64());
      return true;
    case json::kind::uint64:
      out += fmt::format("i{};", v.get_uint64());
      return true;
    case json::kind::double_: {
      const double d = v.get_double();
      // Integral doubles in range become the integer they equal (2.0 and 2 are the same item).
      if (std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 &&
          d < 18446744073709551616.0) {
        if (d < 0) {
          out += fmt::format("i{};", static_cast<std::int64_t>(d));
        } else {
          out += fmt::format("i{};", static_cast<std::uint64_t>(d));
        }
      } else {
        out += fmt::format("d{};", d);
      }
      return true;
    }
    case json::kind::array:
      out += '[';
      for (const auto& item : v.get_array()) {
        if (!canonicalKey(item, depth - 1, out)) return false;
      }
      out += ']';
      return true;
    case json::kind::object: {
      std::vector<const json::key_value_pair*> members;
      members.reserve(v.get_object().size());
      for (const auto& m : v.get_object()) members.push_back(&m);
      std::sort(members.begin(), members.end(),
                [](const auto* a, const auto* b) { return a->key() < b->key(); });
      out += '{';
      for (const auto* m : members) {
        out += fmt::format("{}:", m->key().size());
        out.append(m->key().data(), m->key().size());
        if (!canonicalKey(m->value(), depth - 1, out)) return false;
      }
      out += '}';
      return true;
    }
  }
  return false;
}

// A short rendering of a schema value for messages (numbers without boost's "1E0" form).
void render(const json::value& v, std::string& out) {
  if (out.size() > 120) return;
  switch (v.kind()) {
    case json::kind::double_:
      out += fmt::format("{}", v.get_double());
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        if (out.size() > 120) {
          out += "...";
          break;
        }
        render(item, out);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& m : v.get_object()) {
        if (!first) out += ',';
        first = false;
        if (out.size() > 120) {
          out += "...";
          break;
        }
        out += json::serialize(json::string_view(m.key()));
        out += ':';
        render(m.value(), out);
      }
      out += '}';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::string render(const json::value& v) {
  std::string out;
  render(v, out);
  return out;
}

std::string quote(std::string_view text) {
  return json::serialize(json::string_view(text.data(), text.size()));
}

std::size_t countCodePoints(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

void appendPointerToken(std::string& pointer, std::string_view token) {
  pointer += '/';
  for (const char c : token) {
    if (c == '~') {
      pointer += "~0";
    } else if (c == '/') {
      pointer += "~1";
    } else {
      pointer += c;
    }
  }
}

std::string childPointer(const std::string& pointer, std::string_view token) {
  std::string out = pointer;
  appendPointerToken(out, token);
  return out;
}

std::string childPointer(const std::string& pointer, std::size_t index) {
  return fmt::format("{}/{}", pointer, index);
}

// Exact for integers; for decimals, the quotient must be within rounding error of an integer
// (0.0075 is a multiple of 0.0001 although neither is exact in binary).
bool isMultipleOf(const json::value& x, const json::value& divisor) {
  if (!x.is_double() && !divisor.is_double()) {
    const auto magnitude = [](const json::value& v) -> std::uint64_t {
      if (v.is_uint64()) return v.get_uint64();
      const std::int64_t i = v.get_int64();
      return i < 0 ? 0 - static_cast<std::uint64_t>(i) : static_cast<std::uint64_t>(i);
    };
    return magnitude(x) % magnitude(divisor) == 0;
  }
  const double q = static_cast<double>(toLongDouble(x) / toLongDouble(divisor));
  if (!std::isfinite(q)) return false;
  return std::fabs(q - std::round(q)) <= std::max(1.0, std::fabs(q)) * 64 * DBL_EPSILON;
}

// ---- compiled form -----------------------------------------------------------------------------

struct PatternSchema {
  std::unique_ptr<RE2> regex;
  int schema = -1;
};

struct Node {
  std::optional<bool> constant;  // a boolean schema
  unsigned types = 0;            // 0 = any type
  std::string type_names;        // "a string or null", for messages
  // objects
  std::vector<std::pair<std::string, int>> properties;  // sorted by name
  std::vector<PatternSchema> pattern_properties;
  int additional_properties = -1;
  std::vector<std::string> required;
  std::optional<std::size_t> min_properties, max_properties;
  int property_names = -1;
  std::vector<std::pair<std::string, std::vector<std::string>>> dependent_required;
  std::vector<std::pair<std::string, int>> dependent_schemas;
  // arrays
  std::vector<int> prefix_items;
  int items = -1;                // the items after prefix_items
  std::vector<int> items_array;  // draft-07 array-form items, while compiling
  std::optional<std::size_t> min_items, max_items;
  bool unique_items = false;
  int contains = -1;
  std::size_t min_contains = 1;
  std::optional<std::size_t> max_contains;
  // any type
  std::optional<json::array> enum_values;
  std::optional<json::value> const_value;
  // numbers
  std::optional<json::value> minimum, maximum, exclusive_minimum, exclusive_maximum, multiple_of;
  // strings
  std::optional<std::size_t> min_length, max_length;
  std::unique_ptr<RE2> pattern;
  std::string pattern_source;
  // applicators on the same instance
  std::vector<int> all_of, any_of, one_of;
  int not_schema = -1, if_schema = -1, then_schema = -1, else_schema = -1;
  int ref = -1;

  // Subschemas applied to the same instance value (for the $ref cycle check).
  std::vector<int> inPlace() const {
    std::vector<int> out;
    out.insert(out.end(), all_of.begin(), all_of.end());
    out.insert(out.end(), any_of.begin(), any_of.end());
    out.insert(out.end(), one_of.begin(), one_of.end());
    for (const int id : {not_schema, if_schema, then_schema, else_schema, ref}) {
      if (id >= 0) out.push_back(id);
    }
    for (const auto& [name, id] : dependent_schemas) out.push_back(id);
    return out;
  }
};

}  // namespace

struct JsonSchema::Compiled {
  std::vector<Node> nodes;  // nodes[0] is the root
};

namespace {

// ---- compiler ----------------------------------------------------------------------------------

core::Error schemaError(const std::string& location, std::string_view what) {
  return core::Error::invalidArgument(
      fmt::format("invalid JSON schema at #{}: {}", location, what));
}

bool isAnnotation(std::string_view key) {
  static constexpr std::string_view kAnnotations[] = {
      "$schema",          "$comment",        "title",         "description",   "default",
      "examples",         "format",          "readOnly",      "writeOnly",     "deprecated",
      "contentMediaType", "contentEncoding", "contentSchema", "discriminator",
  };
  return key.starts_with("x-") ||
         std::find(std::begin(kAnnotations), std::end(kAnnotations), key) != std::end(kAnnotations);
}

bool isUnsupported(std::string_view key) {
  static constexpr std::string_view kUnsupported[] = {
      "unevaluatedProperties", "unevaluatedItems", "$anchor",          "$dynamicRef",
      "$dynamicAnchor",        "$recursiveRef",    "$recursiveAnchor", "$vocabulary",
  };
  return std::find(std::begin(kUnsupported), std::end(kUnsupported), key) != std::end(kUnsupported);
}

class Compiler {
 public:
  explicit Compiler(JsonSchema::Compiled& out) : out_(out) {}

  core::Result<int> compileRoot(const json::value& schema) {
    auto root = compile(schema, "", 0);
    if (!root.ok()) return root;
    for (const auto& ref : refs_) {
      const auto it = by_location_.find(ref.target);
      if (it == by_location_.end()) {
        return schemaError(
            ref.location,
            fmt::format("$ref {} does not resolve to a schema in this document", quote(ref.text)));
      }
      out_.nodes[static_cast<std::size_t>(ref.node)].ref = it->second;
    }
    if (auto cycle = findInPlaceCycle(); !cycle.ok()) return cycle.error();
    return root;
  }

 private:
  struct PendingRef {
    int node;
    std::string text;      // as written
    std::string target;    // the JSON pointer it names (escaped form, as by_location_ keys)
    std::string location;  // of the $ref keyword
  };

  core::Result<int> compile(const json::value& schema, const std::string& location, int depth) {
    if (depth > JsonSchema::kMaxDepth) {
      return schemaError(location,
                         fmt::format("schemas nest deeper than {} levels", JsonSchema::kMaxDepth));
    }
    const int id = static_cast<int>(out_.nodes.size());
    out_.nodes.emplace_back();
    by_location_.emplace(location, id);
    if (schema.is_bool()) {
      node(id).constant = schema.get_bool();
      return id;
    }
    if (!schema.is_object()) {
      return schemaError(location, fmt::format("a schema must be an object or a boolean, not {}",
                                               describeKind(schema)));
    }
    const json::object& obj = schema.get_object();
    for (const auto& member : obj) {
      const std::string_view key = member.key();
      const json::value& value = member.value();
      const std::string at = childPointer(location, key);
      auto status = keyword(id, key, value, at, location, depth);
      if (!status.ok()) return status.error();
    }
    // Keywords that only mean something together.
    if (const auto* items = obj.if_contains("items"); items != nullptr && items->is_array()) {
      if (obj.contains("prefixItems")) {
        return schemaError(childPointer(location, "items"),
                           "items must be a schema when prefixItems is present");
      }
      auto& n = node(id);
      n.prefix_items = std::move(n.items_array);
      n.items = -1;
      if (const auto* more = obj.if_contains("additionalItems")) {
        auto sub = compile(*more, childPointer(location, "additionalItems"), depth + 1);
        if (!sub.ok()) return sub;
        node(id).items = *sub;
      }
    } else if (obj.contains("additionalItems")) {
      return schemaError(childPointer(location, "additionalItems"),
                         "additionalItems needs items as an array (draft 2020-12: use "
                         "prefixItems for the first items and items for the rest)");
    }
    if (!obj.contains("if")) {
      node(id).then_schema = -1;
      node(id).else_schema = -1;
    }
    if (!obj.contains("contains")) {
      node(id).min_contains = 1;
      node(id).max_contains.reset();
    }
    return id;
  }

  Node& node(int id) { return out_.nodes[static_cast<std::size_t>(id)]; }

  // Subschema keywords compile into new nodes; references into out_.nodes are retaken after
  // each compile() because the vector may have grown.
  core::Status keyword(int id, std::string_view key, const json::value& value,
                       const std::string& at, const std::string& location, int depth) {
    const auto sub = [&](const json::value& v, const std::string& where) {
      return compile(v, where, depth + 1);
    };
    const auto subList = [&]() -> core::Status {
      if (!value.is_array() || value.get_array().empty()) {
        return schemaError(at, fmt::format("{} must be a non-empty array of schemas", key));
      }
      std::vector<int> ids;
      for (std::size_t i = 0; i < value.get_array().size(); ++i) {
        auto r = sub(value.get_array()[i], childPointer(at, i));
        if (!r.ok()) return r.error();
        ids.push_back(*r);
      }
      return assignList(id, key, std::move(ids));
    };
    const auto count = [&]() -> core::Result<std::size_t> {
      if (!isIntegral(value) || compareNumbers(value, json::value(0)) < 0) {
        return schemaError(at, fmt::format("{} must be a non-negative integer", key));
      }
      if (value.is_double() && value.get_double() >= 1.8e19) return SIZE_MAX;
      return value.is_double() ? static_cast<std::size_t>(value.get_double())
                               : static_cast<std::size_t>(value.to_number<std::uint64_t>());
    };
    const auto number = [&]() -> core::Result<json::value> {
      if (!value.is_number()) return schemaError(at, fmt::format("{} must be a number", key));
      return value;
    };
    const auto single = [&](int Node::*field) -> core::Status {
      auto r = sub(value, at);
      if (!r.ok()) return r.error();
      node(id).*field = *r;
      return {};
    };

    if (isAnnotation(key)) {
      if (key == "$schema" && !value.is_string()) {
        return schemaError(at, "$schema must be a string");
      }
      return {};
    }
    if (key == "$id") {
      if (!location.empty()) {
        return schemaError(at, "$id is only supported at the root (no embedded schema resources)");
      }
      if (!value.is_string()) return schemaError(at, "$id must be a string");
      return {};
    }
    if (isUnsupported(key)) return schemaError(at, fmt::format("{} is not supported", key));
    if (key == "$defs" || key == "definitions") {
      if (!value.is_object()) return schemaError(at, fmt::format("{} must be an object", key));
      for (const auto& m : value.get_object()) {
        auto r = sub(m.value(), childPointer(at, m.key()));
        if (!r.ok()) return r.error();
      }
      return {};
    }
    if (key == "$ref") {
      if (!value.is_string()) return schemaError(at, "$ref must be a string");
      return addRef(id, std::string(value.get_string()), at);
    }
    if (key == "type") return typeKeyword(id, value, at);
    if (key == "properties" || key == "patternProperties" || key == "dependentSchemas") {
      if (!value.is_object()) return schemaError(at, fmt::format("{} must be an object", key));
      std::vector<std::pair<std::string, int>> named;
      std::vector<PatternSchema> patterns;
      for (const auto& m : value.get_object()) {
        const std::string where = childPointer(at, m.key());
        std::unique_ptr<RE2> regex;
        if (key == "patternProperties") {
          auto compiled = compileRegex(m.key(), where);
          if (!compiled.ok()) return compiled.error();
          regex = std::move(*compiled);
        }
        auto r = sub(m.value(), where);
        if (!r.ok()) return r.error();
        if (regex) {
          patterns.push_back({std::move(regex), *r});
        } else {
          named.emplace_back(std::string(m.key()), *r);
        }
      }
      std::sort(named.begin(), named.end());
      if (key == "properties") {
        node(id).properties = std::move(named);
      } else if (key == "dependentSchemas") {
        node(id).dependent_schemas = std::move(named);
      } else {
        node(id).pattern_properties = std::move(patterns);
      }
      return {};
    }
    if (key == "additionalProperties") return single(&Node::additional_properties);
    if (key == "propertyNames") return single(&Node::property_names);
    if (key == "contains") return single(&Node::contains);
    if (key == "not") return single(&Node::not_schema);
    if (key == "if") return single(&Node::if_schema);
    if (key == "then") return single(&Node::then_schema);
    if (key == "else") return single(&Node::else_schema);
    if (key == "items") {
      if (value.is_array()) {  // draft-07 form; compile() turns it into prefixItems
        std::vector<int> ids;
        for (std::size_t i = 0; i < value.get_array().size(); ++i) {
          auto r = sub(value.get_array()[i], childPointer(at, i));
          if (!r.ok()) return r.error();
          ids.push_back(*r);
        }
        node(id).items_array = std::move(ids);
        return {};
      }
      return single(&Node::items);
    }
    if (key == "additionalItems") return {};  // compile() handles it with items
    if (key == "prefixItems" || key == "allOf" || key == "anyOf" || key == "oneOf") {
      return subList();
    }
    if (key == "required") {
      auto names = stringSet(value, at, key);
      if (!names.ok()) return names.error();
      node(id).required = std::move(*names);
      return {};
    }
    if (key == "dependentRequired") {
      if (!value.is_object()) return schemaError(at, "dependentRequired must be an object");
      return dependentRequired(id, value.get_object(), at);
    }
    if (key ==
        "dependencies") {  // draft-07: arrays are dependentRequired, schemas dependentSchemas
      if (!value.is_object()) return schemaError(at, "dependencies must be an object");
      for (const auto& m : value.get_object()) {
        const std::string where = childPointer(at, m.key());
        if (m.value().is_array()) {
          auto names = stringSet(m.value(), where, "dependencies");
          if (!names.ok()) return names.error();
          node(id).dependent_required.emplace_back(std::string(m.key()), std::move(*names));
        } else {
          auto r = sub(m.value(), where);
          if (!r.ok()) return r.error();
          node(id).dependent_schemas.emplace_back(std::string(m.key()), *r);
        }
      }
      return {};
    }
    if (key == "minProperties" || key == "maxProperties" || key == "minItems" ||
        key == "maxItems" || key == "minLength" || key == "maxLength" || key == "minContains" ||
        key == "maxContains") {
      auto n = count();
      if (!n.ok()) return n.error();
      Node& target = node(id);
      if (key == "minProperties") target.min_properties = *n;
      if (key == "maxProperties") target.max_properties = *n;
      if (key == "minItems") target.min_items = *n;
      if (key == "maxItems") target.max_items = *n;
      if (key == "minLength") target.min_length = *n;
      if (key == "maxLength") target.max_length = *n;
      if (key == "minContains") target.min_contains = *n;
      if (key == "maxContains") target.max_contains = *n;
      return {};
    }
    if (key == "minimum" || key == "maximum" || key == "exclusiveMinimum" ||
        key == "exclusiveMaximum" || key == "multipleOf") {
      auto n = number();
      if (!n.ok()) return n.error();
      if (key == "multipleOf" && compareNumbers(*n, json::value(0)) <= 0) {
        return schemaError(at, "multipleOf must be greater than 0");
      }
      Node& target = node(id);
      if (key == "minimum") target.minimum = *n;
      if (key == "maximum") target.maximum = *n;
      if (key == "exclusiveMinimum") target.exclusive_minimum = *n;
      if (key == "exclusiveMaximum") target.exclusive_maximum = *n;
      if (key == "multipleOf") target.multiple_of = *n;
      return {};
    }
    if (key == "uniqueItems") {
      if (!value.is_bool()) return schemaError(at, "uniqueItems must be a boolean");
      node(id).unique_items = value.get_bool();
      return {};
    }
    if (key == "enum" || key == "const") {
      // Bounded so comparing an instance with it is bounded too.
      if (depthOf(value, JsonSchema::kMaxDepth) > JsonSchema::kMaxDepth) {
        return schemaError(
            at, fmt::format("{} nests deeper than {} levels", key, JsonSchema::kMaxDepth));
      }
      if (key == "const") {
        node(id).const_value = value;
        return {};
      }
      if (!value.is_array()) return schemaError(at, "enum must be an array");
      node(id).enum_values = value.get_array();
      return {};
    }
    if (key == "pattern") {
      if (!value.is_string()) return schemaError(at, "pattern must be a string");
      auto regex = compileRegex(value.get_string(), at);
      if (!regex.ok()) return regex.error();
      node(id).pattern = std::move(*regex);
      node(id).pattern_source = std::string(value.get_string());
      return {};
    }
    return schemaError(at, fmt::format("unknown keyword {} (misspelt? vendor extensions start "
                                       "with \"x-\")",
                                       quote(key)));
  }

  core::Status assignList(int id, std::string_view key, std::vector<int> ids) {
    Node& n = node(id);
    if (key == "prefixItems") n.prefix_items = std::move(ids);
    if (key == "allOf") n.all_of = std::move(ids);
    if (key == "anyOf") n.any_of = std::move(ids);
    if (key == "oneOf") n.one_of = std::move(ids);
    return {};
  }

  core::Result<std::vector<std::string>> stringSet(const json::value& value, const std::string& at,
                                                   std::string_view key) {
    if (!value.is_array()) {
      return schemaError(at, fmt::format("{} must be an array of strings", key));
    }
    std::vector<std::string> names;
    for (const auto& item : value.get_array()) {
      if (!item.is_string()) {
        return schemaError(at, fmt::format("{} must be an array of strings", key));
      }
      std::string name(item.get_string());
      if (std::find(names.begin(), names.end(), name) != names.end()) {
        return schemaError(at, fmt::format("{} lists {} twice", key, quote(name)));
      }
      names.push_back(std::move(name));
    }
    return names;
  }

  core::Status dependentRequired(int id, const json::object& value, const std::string& at) {
    for (const auto& m : value) {
      auto names = stringSet(m.value(), childPointer(at, m.key()), "dependentRequired");
      if (!names.ok()) return names.error();
      node(id).dependent_required.emplace_back(std::string(m.key()), std::move(*names));
    }
    return {};
  }

  core::Status typeKeyword(int id, const json::value& value, const std::string& at) {
    std::vector<std::string_view> names;
    if (value.is_string()) {
      names.push_back(value.get_string());
    } else if (value.is_array() && !value.get_array().empty()) {
      for (const auto& item : value.get_array()) {
        if (!item.is_string()) return schemaError(at, "type must be a string or an array of them");
        names.push_back(item.get_string());
      }
    } else {
      return schemaError(at, "type must be a string or a non-empty array of them");
    }
    Node& n = node(id);
    for (const auto name : names) {
      const auto* found = std::find_if(std::begin(kTypeNames), std::end(kTypeNames),
                                       [&](const TypeName& t) { return t.name == name; });
      if (found == std::end(kTypeNames)) {
        return schemaError(at, fmt::format("unknown type {} (expected null, boolean, object, "
                                           "array, number, string or integer)",
                                           quote(name)));
      }
      if (n.types & found->bit) return schemaError(at, fmt::format("type lists {} twice", name));
      n.types |= found->bit;
      if (!n.type_names.empty()) n.type_names += " or ";
      n.type_names += found->with_article;
    }
    return {};
  }

  core::Result<std::unique_ptr<RE2>> compileRegex(std::string_view pattern, const std::string& at) {
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(1 << 20);  // per pattern: schemas are untrusted
    auto regex = std::make_unique<RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
    if (!regex->ok()) {
      return schemaError(at, fmt::format("pattern {} does not compile (RE2 syntax): {}",
                                         quote(pattern), regex->error()));
    }
    return regex;
  }

  // Only same-document references: "#" and "#<JSON pointer>", percent-decoded (URI fragment).
  core::Status addRef(int id, std::string text, const std::string& at) {
    if (text.empty() || text[0] != '#') {
      return schemaError(
          at, fmt::format("$ref {}: only local references (\"#...\") are supported", quote(text)));
    }
    std::string target;
    for (std::size_t i = 1; i < text.size(); ++i) {
      if (text[i] == '%') {
        const auto hex = [](char c) -> int {
          if (c >= '0' && c <= '9') return c - '0';
          if (c >= 'a' && c <= 'f') return c - 'a' + 10;
          if (c >= 'A' && c <= 'F') return c - 'A' + 10;
          return -1;
        };
        if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0) {
          return schemaError(at, fmt::format("$ref {}: bad percent-encoding", quote(text)));
        }
        target += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
        i += 2;
      } else {
        target += text[i];
      }
    }
    if (!target.empty() && target[0] != '/') {
      return schemaError(at, fmt::format("$ref {}: anchors are not supported, only JSON pointers "
                                         "(\"#/$defs/name\")",
                                         quote(text)));
    }
    for (std::size_t i = 0; i < target.size(); ++i) {
      if (target[i] == '~' &&
          (i + 1 >= target.size() || (target[i + 1] != '0' && target[i + 1] != '1'))) {
        return schemaError(at, fmt::format("$ref {}: \"~\" must be followed by 0 or 1 in a "
                                           "JSON pointer",
                                           quote(text)));
      }
    }
    refs_.push_back({id, std::move(text), std::move(target), at});
    return {};
  }

  // A loop of subschemas applied to the same value (e.g. {"$ref": "#"} at the root) would
  // never terminate: reject it. Loops through properties/items are fine (recursive data).
  core::Status findInPlaceCycle() {
    const std::size_t n = out_.nodes.size();
    std::vector<std::uint8_t> state(n, 0);  // 0 new, 1 on the stack, 2 done
    std::vector<std::vector<int>> edges(n);
    for (std::size_t i = 0; i < n; ++i) edges[i] = out_.nodes[i].inPlace();
    std::vector<std::pair<int, std::size_t>> stack;  // node, next edge
    for (std::size_t start = 0; start < n; ++start) {
      if (state[start] != 0) continue;
      stack.emplace_back(static_cast<int>(start), 0);
      state[start] = 1;
      while (!stack.empty()) {
        auto& [id, next] = stack.back();
        const auto& out = edges[static_cast<std::size_t>(id)];
        if (next == out.size()) {
          state[static_cast<std::size_t>(id)] = 2;
          stack.pop_back();
          continue;
        }
        const int to = out[next++];
        if (state[static_cast<std::size_t>(to)] == 1) {
          std::string where;
          for (const auto& [loc, node_id] : by_location_) {
            if (node_id == to) where = loc;
          }
          return schemaError(where,
                             "$ref cycle: this schema applies itself to the same value "
                             "without descending into it");
        }
        if (state[static_cast<std::size_t>(to)] == 0) {
          state[static_cast<std::size_t>(to)] = 1;
          stack.emplace_back(to, 0);
        }
      }
    }
    return {};
  }

  JsonSchema::Compiled& out_;
  std::unordered_map<std::string, int> by_location_;
  std::vector<PendingRef> refs_;
};

}  // namespace

namespace {

// ---- validation --------------------------------------------------------------------------------

struct Found {
  SchemaViolation violation;
  std::vector<std::size_t> position;  // child indices from the root: sorts into document order
};

// One validation. `out` null = only the verdict (accepts()). Collecting and verdict-only runs take
// the same path through the schema until the first violation, so they agree on valid instances
// (including the work and depth bounds); sub-evaluations whose failure is expected (anyOf, not,
// if, contains, propertyNames) always run verdict-only.
class Walker {
 public:
  Walker(const JsonSchema::Compiled& compiled, std::vector<Found>* out)
      : nodes_(compiled.nodes), out_(out), collect_(out != nullptr) {}

  bool run(const json::value& instance) {
    const bool ok = eval(0, instance, 0);
    return ok && !stopped_;
  }

 private:
  // Records a violation at the current pointer (when collecting).
  void fail(std::string message) {
    if (!collect_ || out_ == nullptr || stopped_) return;
    out_->push_back({{pointer_, std::move(message)}, position_});
    if (out_->size() >= JsonSchema::kMaxViolations) stopped_ = true;
  }

  // Gives up on the whole validation: recorded even inside a verdict-only sub-evaluation, so a
  // collecting run never ends invalid with no violation.
  void abort(std::string message) {
    if (stopped_) return;
    if (out_ != nullptr) out_->push_back({{pointer_, std::move(message)}, position_});
    stopped_ = true;
  }

  bool verdict(int id, const json::value& v, int depth) {
    const bool saved = collect_;
    collect_ = false;
    const bool ok = eval(id, v, depth);
    collect_ = saved;
    return ok;
  }

  template <class Token>
  bool evalChild(int id, const json::value& v, Token token, std::size_t index, int depth) {
    const std::size_t size = pointer_.size();
    if constexpr (std::is_same_v<Token, std::size_t>) {
      pointer_ += fmt::format("/{}", token);
    } else {
      appendPointerToken(pointer_, token);
    }
    position_.push_back(index);
    const bool ok = eval(id, v, depth + 1);
    position_.pop_back();
    pointer_.resize(size);
    return ok;
  }

  bool eval(int id, const json::value& v, int depth) {
    if (stopped_) return false;
    if (depth > JsonSchema::kMaxDepth) {
      abort(fmt::format("too deeply nested to validate (more than {} levels of schemas)",
                        JsonSchema::kMaxDepth));
      return false;
    }
    if (++steps_ > JsonSchema::kMaxSteps) {
      abort(fmt::format("too costly to validate (more than {} schema applications)",
                        JsonSchema::kMaxSteps));
      return false;
    }
    const Node& n = nodes_[static_cast<std::size_t>(id)];
    if (n.constant) {
      if (*n.constant) return true;
      fail("no value is allowed here (the schema is false)");
      return false;
    }
    bool ok = true;
    // After a violation: keep going only when collecting every violation.
    const auto failed = [&]() {
      ok = false;
      return !collect_ || stopped_;
    };
    const auto bad = [&](std::string message) {
      fail(std::move(message));
      return failed();
    };

    if (n.types != 0 && !typeMatches(n.types, v)) {
      if (bad(fmt::format("expected {}, got {}", n.type_names, describeKind(v)))) return false;
    }
    if (n.ref >= 0 && !eval(n.ref, v, depth + 1) && failed()) return false;
    if (n.const_value && !jsonEqual(*n.const_value, v)) {
      if (bad(fmt::format("must equal {}", render(*n.const_value)))) return false;
    }
    if (n.enum_values) {
      const bool any = std::any_of(n.enum_values->begin(), n.enum_values->end(),
                                   [&](const json::value& e) { return jsonEqual(e, v); });
      if (!any && bad(fmt::format("must be one of {}", render(json::value(*n.enum_values))))) {
        return false;
      }
    }
    if (v.is_number() && !numberKeywords(n, v, bad)) return false;
    if (v.is_string() && !stringKeywords(n, v.get_string(), bad)) return false;
    if (v.is_array() && !arrayKeywords(n, v.get_array(), depth, bad, failed)) return false;
    if (v.is_object() && !objectKeywords(n, v, depth, bad, failed)) return false;

    for (const int sub : n.all_of) {
      if (!eval(sub, v, depth + 1) && failed()) return false;
    }
    if (!n.any_of.empty()) {
      const bool any = std::any_of(n.any_of.begin(), n.any_of.end(),
                                   [&](int sub) { return verdict(sub, v, depth + 1); });
      if (!any &&
          bad(fmt::format("does not match any of the {} schemas in anyOf", n.any_of.size()))) {
        return false;
      }
    }
    if (!n.one_of.empty()) {
      std::vector<std::size_t> matched;
      for (std::size_t i = 0; i < n.one_of.size() && matched.size() < 2; ++i) {
        if (verdict(n.one_of[i], v, depth + 1)) matched.push_back(i);
      }
      if (matched.empty()) {
        if (bad(fmt::format("does not match any of the {} schemas in oneOf", n.one_of.size()))) {
          return false;
        }
      } else if (matched.size() > 1) {
        if (bad(fmt::format("matches more than one schema in oneOf (at least {} and {})",
                            matched[0], matched[1]))) {
          return false;
        }
      }
    }
    if (n.not_schema >= 0 && verdict(n.not_schema, v, depth + 1)) {
      if (bad("must not match the schema in not")) return false;
    }
    if (n.if_schema >= 0) {
      const int branch = verdict(n.if_schema, v, depth + 1) ? n.then_schema : n.else_schema;
      if (branch >= 0 && !eval(branch, v, depth + 1) && failed()) return false;
    }
    return ok && !stopped_;
  }

  template <class Bad>
  static bool numberKeywords(const Node& n, const json::value& v, const Bad& bad) {
    const auto number = [&]() { return render(v); };
    if (n.minimum && compareNumbers(v, *n.minimum) < 0 &&
        bad(fmt::format("must be >= {}, got {}", render(*n.minimum), number()))) {
      return false;
    }
    if (n.maximum && compareNumbers(v, *n.maximum) > 0 &&
        bad(fmt::format("must be <= {}, got {}", render(*n.maximum), number()))) {
      return false;
    }
    if (n.exclusive_minimum && compareNumbers(v, *n.exclusive_minimum) <= 0 &&
        bad(fmt::format("must be > {}, got {}", render(*n.exclusive_minimum), number()))) {
      return false;
    }
    if (n.exclusive_maximum && compareNumbers(v, *n.exclusive_maximum) >= 0 &&
        bad(fmt::format("must be < {}, got {}", render(*n.exclusive_maximum), number()))) {
      return false;
    }
    if (n.multiple_of && !isMultipleOf(v, *n.multiple_of) &&
        bad(fmt::format("must be a multiple of {}, got {}", render(*n.multiple_of), number()))) {
      return false;
    }
    return true;
  }

  template <class Bad>
  static bool stringKeywords(const Node& n, const json::string& s, const Bad& bad) {
    if (n.min_length || n.max_length) {
      const std::size_t length = countCodePoints(s);
      if (n.min_length && length < *n.min_length &&
          bad(fmt::format("must be at least {} characters long, got {}", *n.min_length, length))) {
        return false;
      }
      if (n.max_length && length > *n.max_length &&
          bad(fmt::format("must be at most {} characters long, got {}", *n.max_length, length))) {
        return false;
      }
    }
    if (n.pattern && !RE2::PartialMatch(re2::StringPiece(s.data(), s.size()), *n.pattern) &&
        bad(fmt::format("does not match the pattern {}", quote(n.pattern_source)))) {
      return false;
    }
    return true;
  }

  template <class Bad, class Failed>
  bool arrayKeywords(const Node& n, const json::array& a, int depth, const Bad& bad,
                     const Failed& failed) {
    if (n.min_items && a.size() < *n.min_items &&
        bad(fmt::format("must have at least {} items, got {}", *n.min_items, a.size()))) {
      return false;
    }
    if (n.max_items && a.size() > *n.max_items &&
        bad(fmt::format("must have at most {} items, got {}", *n.max_items, a.size()))) {
      return false;
    }
    if (n.unique_items && a.size() > 1) {
      steps_ += a.size();
      std::unordered_map<std::string, std::size_t> seen;
      for (std::size_t i = 0; i < a.size(); ++i) {
        std::string key;
        if (!canonicalKey(a[i], JsonSchema::kMaxDepth, key)) {
          abort(fmt::format("too deeply nested to validate (an item nests more than {} levels)",
                            JsonSchema::kMaxDepth));
          return false;
        }
        const auto [it, inserted] = seen.emplace(std::move(key), i);
        if (!inserted) {
          if (bad(fmt::format("items {} and {} are equal (uniqueItems)", it->second, i))) {
            return false;
          }
          break;
        }
      }
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
      const int schema =
          i < n.prefix_items.size() ? n.prefix_items[i] : (n.items >= 0 ? n.items : -1);
      if (schema < 0) {
        if (i >= n.prefix_items.size()) break;
        continue;
      }
      const Node& target = nodes_[static_cast<std::size_t>(schema)];
      if (target.constant == false && i >= n.prefix_items.size()) {
        if (bad(fmt::format("must have at most {} items, got {}", n.prefix_items.size(),
                            a.size()))) {
          return false;
        }
        break;
      }
      if (!evalChild(schema, a[i], i, i, depth) && failed()) return false;
    }
    if (n.contains >= 0) {
      std::size_t matches = 0;
      for (const auto& item : a) {
        if (verdict(n.contains, item, depth + 1)) ++matches;
      }
      if (matches < n.min_contains &&
          bad(fmt::format("must contain at least {} matching item{} (contains), got {}",
                          n.min_contains, n.min_contains == 1 ? "" : "s", matches))) {
        return false;
      }
      if (n.max_contains && matches > *n.max_contains &&
          bad(fmt::format("must contain at most {} matching item{} (contains), got {}",
                          *n.max_contains, *n.max_contains == 1 ? "" : "s", matches))) {
        return false;
      }
    }
    return true;
  }

  template <class Bad, class Failed>
  bool objectKeywords(const Node& n, const json::value& v, int depth, const Bad& bad,
                      const Failed& failed) {
    const json::object& o = v.get_object();
    if (n.min_properties && o.size() < *n.min_properties &&
        bad(fmt::format("must have at least {} properties, got {}", *n.min_properties, o.size()))) {
      return false;
    }
    if (n.max_properties && o.size() > *n.max_properties &&
        bad(fmt::format("must have at most {} properties, got {}", *n.max_properties, o.size()))) {
      return false;
    }
    for (const auto& name : n.required) {
      if (!o.contains(name) && bad(fmt::format("missing required property {}", quote(name)))) {
        return false;
      }
    }
    for (const auto& [name, needed] : n.dependent_required) {
      if (!o.contains(name)) continue;
      for (const auto& other : needed) {
        if (!o.contains(other) &&
            bad(fmt::format("missing property {}, required when {} is present", quote(other),
                            quote(name)))) {
          return false;
        }
      }
    }
    for (const auto& [name, schema] : n.dependent_schemas) {
      if (o.contains(name) && !eval(schema, v, depth + 1) && failed()) return false;
    }
    const bool members = !n.properties.empty() || !n.pattern_properties.empty() ||
                         n.additional_properties >= 0 || n.property_names >= 0;
    if (!members) return true;
    std::size_t index = 0;
    for (const auto& m : o) {
      const std::string_view key = m.key();
      const std::size_t i = index++;
      if (n.property_names >= 0 && !verdict(n.property_names, json::value(key), depth + 1)) {
        const std::size_t size = pointer_.size();
        appendPointerToken(pointer_, key);
        position_.push_back(i);
        const bool stop =
            bad(fmt::format("property name {} does not match propertyNames", quote(key)));
        position_.pop_back();
        pointer_.resize(size);
        if (stop) return false;
      }
      bool matched = false;
      const auto named = std::lower_bound(
          n.properties.begin(), n.properties.end(), key,
          [](const std::pair<std::string, int>& p, std::string_view k) { return p.first < k; });
      if (named != n.properties.end() && named->first == key) {
        matched = true;
        if (!evalChild(named->second, m.value(), key, i, depth) && failed()) return false;
      }
      for (const auto& p : n.pattern_properties) {
        if (!RE2::PartialMatch(re2::StringPiece(key.data(), key.size()), *p.regex)) continue;
        matched = true;
        if (!evalChild(p.schema, m.value(), key, i, depth) && failed()) return false;
      }
      if (matched || n.additional_properties < 0) continue;
      if (nodes_[static_cast<std::size_t>(n.additional_properties)].constant == false) {
        const std::size_t size = pointer_.size();
        appendPointerToken(pointer_, key);
        position_.push_back(i);
        const bool stop =
            bad(fmt::format("property {} is not allowed (additionalProperties)", quote(key)));
        position_.pop_back();
        pointer_.resize(size);
        if (stop) return false;
        continue;
      }
      if (!evalChild(n.additional_properties, m.value(), key, i, depth) && failed()) return false;
    }
    return true;
  }

  const std::vector<Node>& nodes_;
  std::vector<Found>* out_;
  bool collect_;
  bool stopped_ = false;
  std::size_t steps_ = 0;
  std::string pointer_;
  std::vector<std::size_t> position_;
};

}  // namespace

JsonSchema::JsonSchema(std::shared_ptr<const Compiled> compiled) : compiled_(std::move(compiled)) {}

core::Result<JsonSchema> JsonSchema::compile(const json::value& schema) {
  auto compiled = std::make_shared<Compiled>();
  Compiler compiler(*compiled);
  auto root = compiler.compileRoot(schema);
  if (!root.ok()) return std::move(root).error();
  return JsonSchema(std::move(compiled));
}

std::vector<SchemaViolation> JsonSchema::validate(const json::value& instance) const {
  std::vector<Found> found;
  Walker(*compiled_, &found).run(instance);
  std::stable_sort(found.begin(), found.end(),
                   [](const Found& a, const Found& b) { return a.position < b.position; });
  std::vector<SchemaViolation> out;
  out.reserve(found.size());
  for (auto& f : found) out.push_back(std::move(f.violation));
  return out;
}

bool JsonSchema::accepts(const json::value& instance) const {
  return Walker(*compiled_, nullptr).run(instance);
}

}  // namespace pharos::eval
