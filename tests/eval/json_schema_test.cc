#include "eval/json_schema.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pharos::eval {
namespace {

namespace json = boost::json;

JsonSchema compiled(std::string_view schema) {
  auto r = JsonSchema::compile(json::parse(schema));
  if (!r.ok()) {
    ADD_FAILURE() << schema << ": " << r.error().message;
    return JsonSchema::compile(json::value(true)).value();
  }
  return std::move(r).value();
}

std::vector<SchemaViolation> violations(std::string_view schema, std::string_view instance) {
  const auto s = compiled(schema);
  const auto v = json::parse(instance);
  auto out = s.validate(v);
  EXPECT_EQ(s.accepts(v), out.empty()) << schema << " / " << instance;
  return out;
}

std::string compileError(std::string_view schema) {
  auto r = JsonSchema::compile(json::parse(schema));
  if (r.ok()) return "<compiled>";
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  return r.error().message;
}

// One (schema, instance, valid) case; most transcribed from the JSON-Schema-Test-Suite's draft
// 2020-12 files for the keywords supported.
struct Case {
  const char* schema;
  const char* instance;
  bool valid;
};

void expectCases(const std::vector<Case>& cases) {
  for (const auto& c : cases) {
    const auto s = compiled(c.schema);
    const auto v = json::parse(c.instance);
    const auto found = s.validate(v);
    EXPECT_EQ(found.empty(), c.valid)
        << c.schema << " / " << c.instance << (found.empty() ? "" : ": " + found[0].message);
    EXPECT_EQ(s.accepts(v), c.valid) << c.schema << " / " << c.instance;
  }
}

TEST(JsonSchema, BooleanSchemas) {
  expectCases({
      {"true", "1", true},
      {"true", R"({"a":[null]})", true},
      {"false", "1", false},
      {"false", "null", false},
      {"{}", R"("x")", true},
  });
  EXPECT_EQ(violations("false", "{}"),
            (std::vector<SchemaViolation>{{"", "no value is allowed here (the schema is false)"}}));
}

TEST(JsonSchema, Type) {
  expectCases({
      {R"({"type":"integer"})", "1", true},
      {R"({"type":"integer"})", "1.0", true},
      {R"({"type":"integer"})", "1.1", false},
      {R"({"type":"integer"})", R"("1")", false},
      {R"({"type":"integer"})", "-9223372036854775808", true},
      {R"({"type":"integer"})", "18446744073709551615", true},
      {R"({"type":"number"})", "1", true},
      {R"({"type":"number"})", "1.5", true},
      {R"({"type":"number"})", R"("1")", false},
      {R"({"type":"string"})", R"("")", true},
      {R"({"type":"string"})", "1", false},
      {R"({"type":"object"})", "{}", true},
      {R"({"type":"object"})", "[]", false},
      {R"({"type":"array"})", "[]", true},
      {R"({"type":"array"})", "{}", false},
      {R"({"type":"boolean"})", "false", true},
      {R"({"type":"boolean"})", "0", false},
      {R"({"type":"null"})", "null", true},
      {R"({"type":"null"})", "false", false},
      {R"({"type":["integer","string"]})", "1", true},
      {R"({"type":["integer","string"]})", R"("foo")", true},
      {R"({"type":["integer","string"]})", "1.5", false},
      {R"({"type":["integer","string"]})", "null", false},
      {R"({"type":["array","object","null"]})", "null", true},
  });
  EXPECT_EQ(violations(R"({"type":"string"})", "42"),
            (std::vector<SchemaViolation>{{"", "expected a string, got a number"}}));
  EXPECT_EQ(violations(R"({"type":["string","null"]})", "[]")[0].message,
            "expected a string or null, got an array");
}

TEST(JsonSchema, PropertiesRequiredAdditional) {
  const char* schema = R"({"properties":{"foo":{"type":"integer"},"bar":{"type":"string"}},
                           "required":["foo"]})";
  expectCases({
      {schema, R"({"foo":1,"bar":"baz"})", true},
      {schema, R"({"foo":1,"bar":{}})", false},
      {schema, R"({"foo":[],"bar":"x"})", false},
      {schema, R"({"bar":"x"})", false},
      {schema, R"({"foo":1,"quux":[]})", true},
      {schema, "[]", true},  // object keywords ignore other types
      {schema, "12", true},
      {R"({"properties":{"foo\nbar":{"type":"number"},"foo\"bar":{"type":"number"}}})",
       R"({"foo\nbar":"1"})", false},
      {R"({"properties":{"foo":true,"bar":false}})", R"({"foo":1})", true},
      {R"({"properties":{"foo":true,"bar":false}})", R"({"bar":1})", false},
      {R"({"properties":{"__proto__":{"type":"number"}}})", R"({"__proto__":"x"})", false},
      {R"({"required":[]})", "{}", true},
      {R"({"additionalProperties":false})", "{}", true},
      {R"({"additionalProperties":false})", R"({"a":1})", false},
      {R"({"properties":{"foo":{}},"additionalProperties":{"type":"boolean"}})",
       R"({"foo":1,"bar":true})", true},
      {R"({"properties":{"foo":{}},"additionalProperties":{"type":"boolean"}})",
       R"({"foo":1,"bar":1})", false},
      {R"({"properties":{"foo":{}},"patternProperties":{"^v":{}},"additionalProperties":false})",
       R"({"foo":1,"vroom":2})", true},
      {R"({"properties":{"foo":{}},"patternProperties":{"^v":{}},"additionalProperties":false})",
       R"({"foo":1,"quux":2})", false},
  });
  EXPECT_EQ(violations(schema, R"({"bar":3})"),
            (std::vector<SchemaViolation>{{"", "missing required property \"foo\""},
                                          {"/bar", "expected a string, got a number"}}));
  EXPECT_EQ(
      violations(R"({"properties":{"a":{}},"additionalProperties":false})", R"({"a":1,"b/c":2})"),
      (std::vector<SchemaViolation>{
          {"/b~1c", "property \"b/c\" is not allowed (additionalProperties)"}}));
}

TEST(JsonSchema, PatternProperties) {
  const char* schema = R"({"patternProperties":{"f.*o":{"type":"integer"},"a*":{"maximum":20}}})";
  expectCases({
      {schema, R"({"foo":1})", true},
      {schema, R"({"foo":"bar","fooooo":2})", false},
      {schema, R"({"fooooo":"x"})", false},
      {schema, R"({"a":21})", false},
      {schema, R"({"aaaa":18})", true},
      {schema, R"({"aaaa":31})", false},  // "a*" matches every name (unanchored)
      {R"({"patternProperties":{"X_":{"type":"string"}}})", R"({"wibble":"x","xx_":1})", true},
      {R"({"patternProperties":{"f.*":true,"b.*":false}})", R"({"foo":1})", true},
      {R"({"patternProperties":{"f.*":true,"b.*":false}})", R"({"bar":1})", false},
      {R"({"patternProperties":{"^\\p{L}+$":{"type":"string"}}})", R"({"ĉapelo":1})", false},
  });
}

TEST(JsonSchema, ObjectSizeNamesDependencies) {
  expectCases({
      {R"({"minProperties":1})", R"({"a":1})", true},
      {R"({"minProperties":1})", "{}", false},
      {R"({"minProperties":1})", "[]", true},
      {R"({"maxProperties":2})", R"({"a":1,"b":2,"c":3})", false},
      {R"({"maxProperties":2.0})", R"({"a":1,"b":2})", true},
      {R"({"propertyNames":{"maxLength":3}})", R"({"f":{},"foo":{}})", true},
      {R"({"propertyNames":{"maxLength":3}})", R"({"foop":{}})", false},
      {R"({"propertyNames":{"pattern":"^a+$"}})", R"({"aa":1,"b":2})", false},
      {R"({"propertyNames":false})", "{}", true},
      {R"({"propertyNames":false})", R"({"a":1})", false},
      {R"({"dependentRequired":{"bar":["foo"]}})", R"({"foo":1,"bar":2})", true},
      {R"({"dependentRequired":{"bar":["foo"]}})", R"({"bar":2})", false},
      {R"({"dependentRequired":{"bar":["foo"]}})", R"({"foo":1})", true},
      {R"({"dependentRequired":{"bar":["foo"]}})", R"(["bar"])", true},
      {R"({"dependentSchemas":{"bar":{"properties":{"foo":{"type":"integer"}}}}})",
       R"({"foo":"x","bar":2})", false},
      {R"({"dependentSchemas":{"bar":{"properties":{"foo":{"type":"integer"}}}}})",
       R"({"foo":"x"})", true},
      {R"({"dependencies":{"a":["b"],"c":{"required":["d"]}}})", R"({"a":1})", false},
      {R"({"dependencies":{"a":["b"],"c":{"required":["d"]}}})", R"({"c":1})", false},
      {R"({"dependencies":{"a":["b"],"c":{"required":["d"]}}})", R"({"c":1,"d":2})", true},
  });
  EXPECT_EQ(violations(R"({"propertyNames":{"maxLength":3}})", R"({"long":1})"),
            (std::vector<SchemaViolation>{
                {"/long", "property name \"long\" does not match propertyNames"}}));
  EXPECT_EQ(violations(R"({"dependentRequired":{"bar":["foo"]}})", R"({"bar":1})")[0].message,
            "missing property \"foo\", required when \"bar\" is present");
}

TEST(JsonSchema, Items) {
  expectCases({
      {R"({"items":{"type":"integer"}})", "[1,2,3]", true},
      {R"({"items":{"type":"integer"}})", R"([1,"x"])", false},
      {R"({"items":{"type":"integer"}})", R"({"0":"x"})", true},
      {R"({"items":true})", R"([1,"x"])", true},
      {R"({"items":false})", "[]", true},
      {R"({"items":false})", "[1]", false},
      {R"({"prefixItems":[{"type":"integer"},{"type":"string"}]})", R"([1,"foo"])", true},
      {R"({"prefixItems":[{"type":"integer"},{"type":"string"}]})", R"(["foo",1])", false},
      {R"({"prefixItems":[{"type":"integer"},{"type":"string"}]})", R"([1])", true},
      {R"({"prefixItems":[{"type":"integer"},{"type":"string"}]})", R"([1,"a",null])", true},
      {R"({"prefixItems":[{}],"items":false})", "[1]", true},
      {R"({"prefixItems":[{}],"items":false})", "[1,2]", false},
      {R"({"prefixItems":[{"type":"string"}],"items":{"type":"integer"}})", R"(["x",2,3])", true},
      {R"({"prefixItems":[{"type":"string"}],"items":{"type":"integer"}})", R"(["x",2,"y"])",
       false},
      // draft-07 array form
      {R"({"items":[{"type":"integer"}],"additionalItems":false})", "[1]", true},
      {R"({"items":[{"type":"integer"}],"additionalItems":false})", "[1,2]", false},
      {R"({"items":[{"type":"integer"}],"additionalItems":{"type":"string"}})", R"([1,"a"])", true},
      {R"({"items":[{"type":"integer"}]})", R"([1,"a"])", true},
      {R"({"items":[{"type":"integer"}]})", R"(["a"])", false},
      {R"({"items":{"items":{"type":"null"}}})", "[[null],[null,null]]", true},
      {R"({"items":{"items":{"type":"null"}}})", "[[null],[1]]", false},
  });
  EXPECT_EQ(violations(R"({"items":{"type":"integer"}})", R"([1,"x",2,true])"),
            (std::vector<SchemaViolation>{{"/1", "expected an integer, got a string"},
                                          {"/3", "expected an integer, got a boolean"}}));
  EXPECT_EQ(violations(R"({"prefixItems":[{}],"items":false})", "[1,2]")[0].message,
            "must have at most 1 items, got 2");
}

TEST(JsonSchema, ArraySizeUniqueContains) {
  expectCases({
      {R"({"minItems":1})", "[1]", true},
      {R"({"minItems":1})", "[]", false},
      {R"({"minItems":1})", R"("")", true},
      {R"({"maxItems":2})", "[1,2,3]", false},
      {R"({"maxItems":2.0})", "[1,2]", true},
      {R"({"uniqueItems":true})", "[1,2]", true},
      {R"({"uniqueItems":true})", "[1,1]", false},
      {R"({"uniqueItems":true})", "[1.0,1.00,1]", false},
      {R"({"uniqueItems":true})", R"(["foo","bar","foo"])", false},
      {R"({"uniqueItems":true})", R"([{"a":1,"b":2},{"b":2,"a":1}])", false},
      {R"({"uniqueItems":true})", R"([{"a":1},{"a":2}])", true},
      {R"({"uniqueItems":true})", R"([[1],[true]])", true},
      {R"({"uniqueItems":true})", R"([0,false])", true},
      {R"({"uniqueItems":true})", R"([1,true])", true},
      {R"({"uniqueItems":true})", R"([{},[],null,"",0])", true},
      {R"({"uniqueItems":true})", R"([[{"a":[1.0]}],[{"a":[1]}]])", false},
      {R"({"uniqueItems":false})", "[1,1]", true},
      {R"({"contains":{"minimum":5}})", "[3,4,5]", true},
      {R"({"contains":{"minimum":5}})", "[2,3,4]", false},
      {R"({"contains":{"minimum":5}})", "[]", false},
      {R"({"contains":{"minimum":5}})", R"({})", true},
      {R"({"contains":true})", "[]", false},
      {R"({"contains":{"const":1},"minContains":2})", "[1,1,2]", true},
      {R"({"contains":{"const":1},"minContains":2})", "[1,2]", false},
      {R"({"contains":{"const":1},"maxContains":1})", "[1,1]", false},
      {R"({"contains":{"const":1},"maxContains":1})", "[1,2]", true},
      {R"({"contains":{"const":1},"minContains":0})", "[]", true},
      {R"({"maxContains":1})", "[1,1]", true},  // ignored without contains
  });
  EXPECT_EQ(violations(R"({"uniqueItems":true})", "[1,2,1]")[0].message,
            "items 0 and 2 are equal (uniqueItems)");
  EXPECT_EQ(violations(R"({"contains":{"const":1}})", "[2]")[0].message,
            "must contain at least 1 matching item (contains), got 0");
}

TEST(JsonSchema, EnumConst) {
  expectCases({
      {R"({"enum":[1,2,3]})", "1", true},
      {R"({"enum":[1,2,3]})", "4", false},
      {R"({"enum":[6,"foo",[],true,{"foo":12}]})", "[]", true},
      {R"({"enum":[6,"foo",[],true,{"foo":12}]})", "null", false},
      {R"({"enum":[6,"foo",[],true,{"foo":12}]})", R"({"foo":false})", false},
      {R"({"enum":[6,"foo",[],true,{"foo":12}]})", R"({"foo":12})", true},
      {R"({"enum":[false]})", "0", false},
      {R"({"enum":[true]})", "1", false},
      {R"({"enum":[0]})", "false", false},
      {R"({"enum":[1]})", "1.0", true},
      {R"({"enum":[[1]]})", "[1.0]", true},
      {R"({"enum":["a\u0000b"]})", R"("a\u0000b")", true},
      {R"({"const":2})", "2", true},
      {R"({"const":2})", "2.0", true},
      {R"({"const":2})", "5", false},
      {R"({"const":-2.0})", "-2", true},
      {R"({"const":9007199254740992})", "9007199254740992.0", true},
      {R"({"const":{"foo":"bar","baz":"bax"}})", R"({"baz":"bax","foo":"bar"})", true},
      {R"({"const":{"foo":"bar","baz":"bax"}})", R"({"baz":"bax"})", false},
      {R"({"const":[{"foo":"bar"}]})", R"([{"foo":"bar"}])", true},
      {R"({"const":null})", "0", false},
      {R"({"const":false})", "0", false},
      {R"({"const":{"a":false}})", R"({"a":0})", false},
  });
  EXPECT_EQ(violations(R"({"enum":["a","b"]})", R"("c")")[0].message,
            R"(must be one of ["a","b"])");
  EXPECT_EQ(violations(R"({"const":1.5})", "1")[0].message, "must equal 1.5");
}

TEST(JsonSchema, Numbers) {
  expectCases({
      {R"({"minimum":1.1})", "1.1", true},
      {R"({"minimum":1.1})", "0.6", false},
      {R"({"minimum":1.1})", R"("x")", true},
      {R"({"minimum":-2})", "-2.0001", false},
      {R"({"minimum":-2})", "-2", true},
      {R"({"maximum":3.0})", "3", true},
      {R"({"maximum":3.0})", "3.5", false},
      {R"({"maximum":300})", "300.00", true},
      {R"({"exclusiveMinimum":1.1})", "1.2", true},
      {R"({"exclusiveMinimum":1.1})", "1.1", false},
      {R"({"exclusiveMaximum":3.0})", "2.2", true},
      {R"({"exclusiveMaximum":3.0})", "3.0", false},
      {R"({"exclusiveMaximum":3})", "3", false},
      {R"({"maximum":9223372036854775807})", "18446744073709551615", false},
      {R"({"minimum":18446744073709551615})", "-1", false},
      {R"({"minimum":18446744073709551615})", "18446744073709551615", true},
      {R"({"multipleOf":2})", "10", true},
      {R"({"multipleOf":2})", "7", false},
      {R"({"multipleOf":2})", "-8", true},
      {R"({"multipleOf":1.5})", "0", true},
      {R"({"multipleOf":1.5})", "4.5", true},
      {R"({"multipleOf":1.5})", "35", false},
      {R"({"multipleOf":0.0001})", "0.0075", true},
      {R"({"multipleOf":0.0001})", "0.00751", false},
      {R"({"multipleOf":0.01})", "19.99", true},
      {R"({"multipleOf":0.123456789})", "1e308", false},
      {R"({"type":"integer","multipleOf":0.123456789})", "1e308", false},
      {R"({"multipleOf":1})", "1.0", true},
  });
  EXPECT_EQ(violations(R"({"minimum":5})", "3")[0].message, "must be >= 5, got 3");
  EXPECT_EQ(violations(R"({"exclusiveMaximum":2.5})", "2.5")[0].message, "must be < 2.5, got 2.5");
  EXPECT_EQ(violations(R"({"multipleOf":0.5})", "0.3")[0].message,
            "must be a multiple of 0.5, got 0.3");
}

TEST(JsonSchema, Strings) {
  expectCases({
      {R"({"minLength":2})", R"("foo")", true},
      {R"({"minLength":2})", R"("f")", false},
      {R"({"minLength":2})", "1", true},
      {R"({"minLength":2})", R"("💩")", false},  // one code point, four bytes
      {R"({"maxLength":2})", R"("💩💩")", true},
      {R"({"maxLength":2})", R"("foo")", false},
      {R"({"maxLength":2.0})", R"("fo")", true},
      {R"({"maxLength":3})", R"("日本語")", true},
      {R"({"pattern":"^a*$"})", R"("aaa")", true},
      {R"({"pattern":"^a*$"})", R"("abc")", false},
      {R"({"pattern":"^a*$"})", "true", true},
      {R"({"pattern":"a+"})", R"("xxaayy")", true},  // unanchored search
      {R"({"pattern":"\\d{3}"})", R"("ab123")", true},
      {R"({"pattern":"^\\p{Lu}"})", R"("Élan")", true},
      {R"({"pattern":""})", R"("anything")", true},
  });
  EXPECT_EQ(violations(R"({"minLength":3})", R"("ab")")[0].message,
            "must be at least 3 characters long, got 2");
  EXPECT_EQ(violations(R"({"pattern":"^a"})", R"("b")")[0].message,
            R"(does not match the pattern "^a")");
}

TEST(JsonSchema, Combinators) {
  expectCases({
      {R"({"allOf":[{"properties":{"bar":{"type":"integer"}},"required":["bar"]},
                    {"properties":{"foo":{"type":"string"}},"required":["foo"]}]})",
       R"({"foo":"baz","bar":2})", true},
      {R"({"allOf":[{"required":["bar"]},{"required":["foo"]}]})", R"({"foo":"baz"})", false},
      {R"({"allOf":[true,true]})", "1", true},
      {R"({"allOf":[true,false]})", "1", false},
      {R"({"anyOf":[{"type":"integer"},{"minimum":2}]})", "1", true},
      {R"({"anyOf":[{"type":"integer"},{"minimum":2}]})", "2.5", true},
      {R"({"anyOf":[{"type":"integer"},{"minimum":2}]})", "1.5", false},
      {R"({"anyOf":[false,false]})", "1", false},
      {R"({"type":"string","anyOf":[{"maxLength":2},{"minLength":4}]})", R"("foo")", false},
      {R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", "1", true},
      {R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", "2.5", true},
      {R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", "3", false},
      {R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", "1.5", false},
      {R"({"oneOf":[true,false,false]})", "1", true},
      {R"({"oneOf":[true,true,false]})", "1", false},
      {R"({"oneOf":[{"required":["foo","bar"]},{"required":["foo","baz"]}]})",
       R"({"foo":1,"bar":2,"baz":3})", false},
      {R"({"not":{"type":"integer"}})", R"("foo")", true},
      {R"({"not":{"type":"integer"}})", "1", false},
      {R"({"not":{"not":{"type":"integer"}}})", "1", true},
      {R"({"not":true})", "1", false},
      {R"({"not":false})", "1", true},
      {R"({"not":{}})", "null", false},
      {R"({"if":{"exclusiveMaximum":0},"then":{"minimum":-10}})", "-1", true},
      {R"({"if":{"exclusiveMaximum":0},"then":{"minimum":-10}})", "-100", false},
      {R"({"if":{"exclusiveMaximum":0},"then":{"minimum":-10}})", "3", true},
      {R"({"if":{"exclusiveMaximum":0},"else":{"multipleOf":2}})", "4", true},
      {R"({"if":{"exclusiveMaximum":0},"else":{"multipleOf":2}})", "3", false},
      {R"({"then":{"const":"x"}})", "1", true},  // then without if is ignored
      {R"({"else":{"const":"x"}})", "1", true},
      {R"({"if":true,"then":false})", "1", false},
      {R"({"if":false,"then":false})", "1", true},
  });
  EXPECT_EQ(violations(R"({"anyOf":[{"type":"integer"},{"type":"null"}]})", R"("x")")[0].message,
            "does not match any of the 2 schemas in anyOf");
  EXPECT_EQ(violations(R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", "3")[0].message,
            "matches more than one schema in oneOf (at least 0 and 1)");
  EXPECT_EQ(violations(R"({"not":{"type":"integer"}})", "1")[0].message,
            "must not match the schema in not");
  // allOf reports the violations of each branch.
  EXPECT_EQ(violations(R"({"allOf":[{"required":["a"]},{"required":["b"]}]})", "{}").size(), 2U);
}

TEST(JsonSchema, Refs) {
  expectCases({
      {R"({"properties":{"foo":{"$ref":"#"}},"additionalProperties":false})",
       R"({"foo":{"foo":false}})", true},
      {R"({"properties":{"foo":{"$ref":"#"}},"additionalProperties":false})",
       R"({"foo":{"bar":false}})", false},
      {R"({"properties":{"foo":{"type":"integer"},"bar":{"$ref":"#/properties/foo"}}})",
       R"({"bar":3})", true},
      {R"({"properties":{"foo":{"type":"integer"},"bar":{"$ref":"#/properties/foo"}}})",
       R"({"bar":true})", false},
      {R"({"prefixItems":[{"type":"integer"},{"$ref":"#/prefixItems/0"}]})", "[1,2]", true},
      {R"({"prefixItems":[{"type":"integer"},{"$ref":"#/prefixItems/0"}]})", R"([1,"foo"])", false},
      {R"({"$defs":{"tilde~field":{"type":"integer"},"slash/field":{"type":"integer"},
                    "percent%field":{"type":"integer"}},
          "properties":{"tilde":{"$ref":"#/$defs/tilde~0field"},
                        "slash":{"$ref":"#/$defs/slash~1field"},
                        "percent":{"$ref":"#/$defs/percent%25field"}}})",
       R"({"slash":"aoeu"})", false},
      {R"({"$defs":{"tilde~field":{"type":"integer"},"slash/field":{"type":"integer"},
                    "percent%field":{"type":"integer"}},
          "properties":{"tilde":{"$ref":"#/$defs/tilde~0field"},
                        "slash":{"$ref":"#/$defs/slash~1field"},
                        "percent":{"$ref":"#/$defs/percent%25field"}}})",
       R"({"tilde":1,"slash":2,"percent":3})", true},
      {R"({"$defs":{"a":{"type":"integer"},"b":{"$ref":"#/$defs/a"},"c":{"$ref":"#/$defs/b"}},
          "$ref":"#/$defs/c"})",
       "5", true},
      {R"({"$defs":{"a":{"type":"integer"},"b":{"$ref":"#/$defs/a"},"c":{"$ref":"#/$defs/b"}},
          "$ref":"#/$defs/c"})",
       R"("a")", false},
      // 2020-12: $ref applies next to its siblings.
      {R"({"$defs":{"reffed":{"type":"array"}},"properties":{"foo":{"$ref":"#/$defs/reffed",
          "maxItems":2}}})",
       R"({"foo":[1,2,3]})", false},
      {R"({"$defs":{"reffed":{"type":"array"}},"properties":{"foo":{"$ref":"#/$defs/reffed",
          "maxItems":2}}})",
       R"({"foo":"string"})", false},
      {R"({"definitions":{"n":{"type":"number"}},"items":{"$ref":"#/definitions/n"}})", "[1,2]",
       true},
      {R"({"$ref":"#/$defs/bool","$defs":{"bool":false}})", "1", false},
      {R"({"$ref":"#/$defs/bool","$defs":{"bool":true}})", "1", true},
      // A recursive tree: cycles through properties/items are fine.
      {R"({"$defs":{"node":{"type":"object","properties":{"value":{"type":"number"},
          "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},
          "$ref":"#/$defs/node"})",
       R"({"value":1,"children":[{"value":2,"children":[]},{"value":3}]})", true},
      {R"({"$defs":{"node":{"type":"object","properties":{"value":{"type":"number"},
          "children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},
          "$ref":"#/$defs/node"})",
       R"({"value":1,"children":[{"value":2,"children":[{"value":"x"}]}]})", false},
  });
  EXPECT_EQ(violations(R"({"$defs":{"s":{"type":"string"}},"properties":{"a":{"items":{
                          "$ref":"#/$defs/s"}}}})",
                       R"({"a":["x",1]})"),
            (std::vector<SchemaViolation>{{"/a/1", "expected a string, got a number"}}));
}

TEST(JsonSchema, AnnotationsAreIgnored) {
  expectCases({
      {R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"urn:x",
          "title":"t","description":"d","default":5,"examples":[1],"format":"email",
          "$comment":"c","readOnly":true,"writeOnly":false,"deprecated":true,
          "contentMediaType":"text/plain","contentEncoding":"base64","x-vendor":{"a":1},
          "type":"string"})",
       R"("not an email")", true},
      {R"({"format":"date-time"})", "1", true},
  });
}

TEST(JsonSchema, CompileErrors) {
  EXPECT_EQ(compileError(R"({"properties":{"q":{"minLength":-1}}})"),
            "invalid JSON schema at #/properties/q/minLength: minLength must be a non-negative "
            "integer");
  EXPECT_EQ(compileError(R"({"unevaluatedProperties":false})"),
            "invalid JSON schema at #/unevaluatedProperties: unevaluatedProperties is not "
            "supported");
  EXPECT_EQ(compileError(R"({"items":{"$dynamicRef":"#meta"}})"),
            "invalid JSON schema at #/items/$dynamicRef: $dynamicRef is not supported");
  EXPECT_EQ(compileError(R"({"requried":["a"]})"),
            "invalid JSON schema at #/requried: unknown keyword \"requried\" (misspelt? vendor "
            "extensions start with \"x-\")");
  EXPECT_NE(compileError(R"({"pattern":"(?=a)b"})")
                .find("#/pattern: pattern \"(?=a)b\" does not "
                      "compile (RE2 syntax)"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"patternProperties":{"(":{}}})").find("#/patternProperties/("),
            std::string::npos);
  EXPECT_EQ(compileError(R"({"$ref":"#/$defs/missing"})"),
            "invalid JSON schema at #/$ref: $ref \"#/$defs/missing\" does not resolve to a schema "
            "in this document");
  EXPECT_NE(compileError(R"({"$ref":"other.json#/a"})").find("only local references"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"$ref":"#anchor"})").find("anchors are not supported"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"$defs":{"a":{}},"$ref":"#/$defs/a~2"})").find("~"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"$ref":"#/%zz"})").find("percent"), std::string::npos);
  EXPECT_NE(compileError(R"({"enum":[1],"$ref":"#/enum"})").find("does not resolve"),
            std::string::npos);
  EXPECT_EQ(compileError(R"({"type":"text"})"),
            "invalid JSON schema at #/type: unknown type \"text\" (expected null, boolean, object, "
            "array, number, string or integer)");
  EXPECT_NE(compileError(R"({"type":[]})").find("#/type"), std::string::npos);
  EXPECT_NE(compileError(R"({"type":["string","string"]})").find("twice"), std::string::npos);
  EXPECT_NE(compileError(R"({"required":"a"})").find("#/required"), std::string::npos);
  EXPECT_NE(compileError(R"({"required":["a","a"]})").find("twice"), std::string::npos);
  EXPECT_NE(compileError(R"({"minimum":"1"})").find("minimum must be a number"), std::string::npos);
  EXPECT_NE(compileError(R"({"exclusiveMinimum":true})").find("must be a number"),
            std::string::npos);  // draft-04's boolean form
  EXPECT_NE(compileError(R"({"multipleOf":0})").find("greater than 0"), std::string::npos);
  EXPECT_NE(compileError(R"({"maxItems":1.5})").find("non-negative integer"), std::string::npos);
  EXPECT_NE(compileError(R"({"uniqueItems":1})").find("boolean"), std::string::npos);
  EXPECT_NE(compileError(R"({"allOf":[]})").find("non-empty array"), std::string::npos);
  EXPECT_NE(compileError(R"({"anyOf":{}})").find("#/anyOf"), std::string::npos);
  EXPECT_NE(compileError(R"({"properties":[]})").find("properties must be an object"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"properties":{"a":1}})").find("#/properties/a: a schema must be"),
            std::string::npos);
  EXPECT_NE(compileError("12").find("a schema must be an object or a boolean"), std::string::npos);
  EXPECT_NE(compileError(R"({"enum":{}})").find("enum must be an array"), std::string::npos);
  EXPECT_NE(compileError(R"({"$schema":5})").find("$schema"), std::string::npos);
  EXPECT_NE(compileError(R"({"items":{"$id":"urn:inner"}})").find("#/items/$id"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"prefixItems":[{}],"items":[{}]})").find("prefixItems"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"additionalItems":false})").find("additionalItems"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"properties":{"a/b":{"maxLength":"x"}}})")
                .find("#/properties/a~1b/maxLength"),
            std::string::npos);
}

TEST(JsonSchema, RefCyclesWithoutDescentAreRejected) {
  EXPECT_NE(compileError(R"({"$ref":"#"})").find("$ref cycle"), std::string::npos);
  EXPECT_NE(compileError(R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},
                            "$ref":"#/$defs/a"})")
                .find("$ref cycle"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}]}}})").find("$ref cycle"),
            std::string::npos);
  EXPECT_NE(compileError(R"({"anyOf":[{"not":{"$ref":"#"}}]})").find("$ref cycle"),
            std::string::npos);
}

std::string nested(int depth, std::string_view leaf) {
  std::string out;
  for (int i = 0; i < depth; ++i) out += R"({"a":)";
  out += leaf;
  for (int i = 0; i < depth; ++i) out += "}";
  return out;
}

json::value parseDeep(std::string_view text) {
  json::parse_options options;
  options.max_depth = 10000;
  return json::parse(text, {}, options);
}

TEST(JsonSchema, DeepNestingIsBoundedNotOverflowed) {
  // A recursive schema over a deep instance: a violation, not a stack overflow.
  const auto s = compiled(R"({"type":"object","properties":{"a":{"$ref":"#"}}})");
  EXPECT_TRUE(s.accepts(parseDeep(nested(30, "{}"))));
  const auto deep = parseDeep(nested(5000, "{}"));
  EXPECT_FALSE(s.accepts(deep));
  const auto found = s.validate(deep);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_NE(found[0].message.find("too deeply nested"), std::string::npos);
  EXPECT_EQ(found[0].pointer.substr(0, 6), "/a/a/a");
}

TEST(JsonSchema, DeeplyNestedSchemasAreRejected) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += R"({"items":)";
  text += "{}";
  for (int i = 0; i < 1000; ++i) text += "}";
  auto r = JsonSchema::compile(parseDeep(text));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("deeper than 128 levels"), std::string::npos);

  std::string deep_const = R"({"const":)" + std::string(500, '[') + std::string(500, ']') + "}";
  auto c = JsonSchema::compile(parseDeep(deep_const));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("#/const"), std::string::npos);
}

TEST(JsonSchema, ExponentialSchemasHitTheWorkBound) {
  // Each level applies the one below twice: 2^40 applications without a bound.
  std::string defs = R"("d0":{"type":"integer"})";
  for (int i = 1; i <= 40; ++i) {
    defs += ",\"d" + std::to_string(i) + R"(":{"allOf":[{"$ref":"#/$defs/d)" +
            std::to_string(i - 1) + R"("},{"$ref":"#/$defs/d)" + std::to_string(i - 1) + "\"}]}";
  }
  const auto s = compiled(R"({"$defs":{)" + defs + R"(},"$ref":"#/$defs/d40"})");
  EXPECT_FALSE(s.accepts(json::value(1)));
  const auto found = s.validate(json::value(1));
  ASSERT_EQ(found.size(), 1U);
  EXPECT_NE(found[0].message.find("too costly to validate"), std::string::npos);
  // Fine when small: 2^5 applications.
  const auto small = compiled(R"({"$defs":{)" + defs + R"(},"$ref":"#/$defs/d5"})");
  EXPECT_TRUE(small.accepts(json::value(1)));
  EXPECT_FALSE(small.accepts(json::value("x")));
}

TEST(JsonSchema, UniqueItemsOnTooDeepItemsIsAViolation) {
  const auto s = compiled(R"({"uniqueItems":true})");
  const auto deep = parseDeep("[" + std::string(300, '[') + std::string(300, ']') + ",1]");
  const auto found = s.validate(deep);
  ASSERT_EQ(found.size(), 1U);
  EXPECT_NE(found[0].message.find("too deeply nested"), std::string::npos);
  EXPECT_FALSE(s.accepts(deep));
}

TEST(JsonSchema, ViolationsAreBoundedAndInDocumentOrder) {
  std::string many = "[";
  for (int i = 0; i < 100; ++i) many += (i ? ",\"x\"" : "\"x\"");
  many += "]";
  const auto found = violations(R"({"items":{"type":"integer"}})", many);
  ASSERT_EQ(found.size(), JsonSchema::kMaxViolations);
  EXPECT_EQ(found[0].pointer, "/0");
  EXPECT_EQ(found[19].pointer, "/19");

  // Found branch by branch (allOf), reported in the instance's order.
  const auto ordered = violations(
      R"({"allOf":[{"properties":{"b":{"type":"string"}}},{"properties":{"a":{"type":"string"}}},
                   {"required":["z"]}]})",
      R"({"a":1,"b":2})");
  ASSERT_EQ(ordered.size(), 3U);
  EXPECT_EQ(ordered[0].pointer, "");
  EXPECT_EQ(ordered[1].pointer, "/a");
  EXPECT_EQ(ordered[2].pointer, "/b");
}

TEST(JsonSchema, PointersEscapeMemberNames) {
  const auto found =
      violations(R"({"additionalProperties":{"type":"string"}})", R"({"a~b":1,"c/d":[],"":null})");
  ASSERT_EQ(found.size(), 3U);
  EXPECT_EQ(found[0].pointer, "/a~0b");
  EXPECT_EQ(found[1].pointer, "/c~1d");
  EXPECT_EQ(found[2].pointer, "/");
}

// The shape the evaluation feature checks: a dataset's inputs and outputs schemas.
TEST(JsonSchema, RealisticDatasetSchema) {
  const auto inputs = compiled(R"({
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "QA inputs",
    "type": "object",
    "properties": {
      "question": {"type": "string", "minLength": 1, "description": "what the user asks"},
      "context": {"type": "string"}
    },
    "required": ["question"],
    "additionalProperties": false
  })");
  const auto outputs = compiled(R"({
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"]
  })");
  EXPECT_TRUE(inputs.accepts(json::parse(R"({"question":"What is 2+2?"})")));
  EXPECT_TRUE(inputs.accepts(json::parse(R"({"question":"Who?","context":"Alice and Bob"})")));
  EXPECT_EQ(inputs.validate(json::parse(R"({"question":42,"context":null,"extra":true})")),
            (std::vector<SchemaViolation>{
                {"/question", "expected a string, got a number"},
                {"/context", "expected a string, got null"},
                {"/extra", "property \"extra\" is not allowed (additionalProperties)"}}));
  EXPECT_EQ(
      inputs.validate(json::parse(R"({"question":""})")),
      (std::vector<SchemaViolation>{{"/question", "must be at least 1 characters long, got 0"}}));
  EXPECT_EQ(inputs.validate(json::parse(R"(["question"])")),
            (std::vector<SchemaViolation>{{"", "expected an object, got an array"}}));
  EXPECT_TRUE(outputs.accepts(json::parse(R"({"answer":"4","confidence":0.9})")));
  EXPECT_EQ(outputs.validate(json::parse("{}")),
            (std::vector<SchemaViolation>{{"", "missing required property \"answer\""}}));
}

TEST(JsonSchema, CopiesShareTheCompiledSchema) {
  std::optional<JsonSchema> copy;
  {
    const auto original = compiled(R"({"pattern":"^a"})");
    copy = original;
  }
  EXPECT_TRUE(copy->accepts(json::value("abc")));
  EXPECT_FALSE(copy->accepts(json::value("cba")));
}

}  // namespace
}  // namespace pharos::eval
