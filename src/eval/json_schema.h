// A JSON Schema validator (a draft 2020-12 subset) over boost::json, for checking dataset examples
// against a dataset's inputs/outputs schema. Schemas and instances both come from API clients, so
// both are untrusted: compiling rejects what it does not understand (no silently ignored
// keyword), and validating is bounded in depth and work (a violation, never a stack overflow).
//
// Supported: boolean schemas; type (names or an array of them; "integer" accepts 1.0);
// properties, patternProperties, additionalProperties, required, minProperties, maxProperties,
// propertyNames, dependentRequired, dependentSchemas (and draft-07 dependencies); prefixItems,
// items (a schema, or draft-07's array form with additionalItems), minItems, maxItems,
// uniqueItems, contains/minContains/maxContains; enum, const (JSON equality: 1 == 1.0); minimum,
// maximum, exclusiveMinimum, exclusiveMaximum (numbers), multipleOf; minLength, maxLength (code
// points), pattern (RE2, unanchored search); allOf, anyOf, oneOf, not, if/then/else; $ref to
// "#", "#/$defs/..", "#/definitions/.." or any local JSON pointer to a subschema ($ref applies
// next to its sibling keywords, as in 2020-12). Annotations are ignored: $schema, $id (root
// only), $comment, title, description, default, examples, format, readOnly, writeOnly,
// deprecated, contentMediaType, contentEncoding, contentSchema, discriminator and "x-..." keys.
// Rejected: unevaluatedProperties/Items, $anchor, $dynamicRef/$dynamicAnchor,
// $recursiveRef/$recursiveAnchor, $vocabulary, non-local $ref, nested $id, unknown keywords, and
// $ref cycles that never descend into the instance (e.g. {"$ref": "#"} at the root).
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace pharos::eval {

struct SchemaViolation {
  std::string pointer;  // JSON pointer into the instance: "" is the whole value, "/a/0" a member
  std::string message;  // e.g. "expected a string, got a number"
  bool operator==(const SchemaViolation&) const = default;
};

// A compiled schema: immutable, cheap to copy, shareable across threads.
class JsonSchema {
 public:
  static constexpr std::size_t kMaxViolations = 20;  // validate() stops after this many
  static constexpr int kMaxDepth = 128;  // nesting of schemas (compile) and of evaluation frames
  static constexpr std::size_t kMaxSteps = 1'000'000;  // subschema applications per validation

  // kInvalidArgument naming the keyword and its location ("#/properties/q/minLength") for an
  // unsupported or unknown keyword, a bad keyword value, a pattern RE2 cannot compile, or a
  // $ref that does not resolve to a subschema of this document (or only loops back on itself).
  static core::Result<JsonSchema> compile(const boost::json::value& schema);

  // Every violation found (up to kMaxViolations), sorted in document order; empty = valid. An
  // instance too deep or too costly to check gets a violation saying so (it is not accepted).
  std::vector<SchemaViolation> validate(const boost::json::value& instance) const;

  // validate(instance).empty(), without building messages; stops at the first violation.
  bool accepts(const boost::json::value& instance) const;

  struct Compiled;

 private:
  explicit JsonSchema(std::shared_ptr<const Compiled> compiled);
  std::shared_ptr<const Compiled> compiled_;
};

}  // namespace pharos::eval
