// Golden tests of the filter validator: one table row per case. Valid rows give the normalised
// canonical print (timestamps as UTC microseconds printed back in ISO form, latency in seconds,
// lower-case UUIDs); invalid rows give the exact error message with its position.
#include "tracing/query/filter_validate.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

#include "tracing/query/filter_parser.h"

namespace pharos::tracing::query {
namespace {

struct ValidCase {
  std::string_view input;
  std::string_view normalised;  // toString after validateFilter
};

const ValidCase kValid[] = {
    // spec §6 documented examples
    {R"x(and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000)))x",
     R"x(and(eq(run_type, "chain"), gt(latency, 10.0), gt(total_tokens, 5000)))x"},
    {R"x(or(has(tags, "experimental"), has(tags, "beta")))x",
     R"x(or(has(tags, "experimental"), has(tags, "beta")))x"},
    {R"x(not(has(metadata, '{"foo": "bar"}')))x", R"x(not(has(metadata, "{\"foo\": \"bar\"}")))x"},
    {R"x(neq(error, null))x", R"x(neq(error, null))x"},
    {R"x(eq(is_root, true))x", R"x(eq(is_root, true))x"},
    {R"x(gt(start_time, "2023-07-15T12:34:56Z"))x", R"x(gt(start_time, "2023-07-15T12:34:56Z"))x"},
    {R"x(has(tags, "2aa1cf4"))x", R"x(has(tags, "2aa1cf4"))x"},
    {R"x(search("image classification"))x", R"x(search("image classification"))x"},
    {R"x(in(metadata_key, ["session_id","conversation_id","thread_id"]))x",
     R"x(in(metadata_key, ["session_id", "conversation_id", "thread_id"]))x"},
    {R"x(like(input_value, "%messages.content%"))x",
     R"x(like(input_value, "%messages.content%"))x"},
    {R"x(exists(metadata, "tenant_id"))x", R"x(exists(metadata, "tenant_id"))x"},
    {R"x(gt(latency, "5s"))x", R"x(gt(latency, 5.0))x"},
    {R"x(eq(name, "RetrieveDocs"))x", R"x(eq(name, "RetrieveDocs"))x"},
    {R"x(and(eq(feedback_key, "user_score"), eq(feedback_score, 1)))x",
     R"x(and(eq(feedback_key, "user_score"), eq(feedback_score, 1)))x"},
    {R"x(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0)))))x",
     R"x(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0)))))x"},
    {R"x(and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-...')))x",
     R"x(and(eq(name, "ChatOpenAI"), eq(metadata_key, "conversation_id"), eq(metadata_value, "69b12c91-...")))x"},
    {R"x(and(eq(is_root, true), and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))x",
     R"x(and(eq(is_root, true), and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))x"},
    {R"x(eq(thread_id, "<id>"))x", R"x(eq(thread_id, "<id>"))x"},
    // the seed's monitoring filter
    {R"x(and(eq(status, "error"), gte(start_time, "2024-01-01")))x",
     R"x(and(eq(status, "error"), gte(start_time, "2024-01-01T00:00:00Z")))x"},
    // timestamps: date only, offsets, fractions (truncated to microseconds), space separator
    {R"x(gt(start_time, "2024-01-01T12:00:00.5+02:00"))x",
     R"x(gt(start_time, "2024-01-01T10:00:00.500000Z"))x"},
    {R"x(gt(start_time, "2024-01-01T00:30:00-0130"))x",
     R"x(gt(start_time, "2024-01-01T02:00:00Z"))x"},
    {R"x(lt(end_time, "2024-02-29 23:59"))x", R"x(lt(end_time, "2024-02-29T23:59:00Z"))x"},
    {R"x(lt(end_time, "2024-01-01t00:00:00.123456789z"))x",
     R"x(lt(end_time, "2024-01-01T00:00:00.123456Z"))x"},
    {R"x(lt(end_time, "1969-12-31T23:59:59.999999Z"))x",
     R"x(lt(end_time, "1969-12-31T23:59:59.999999Z"))x"},
    {R"x(gte(start_time, "0000-01-01T00:00:00Z"))x",
     R"x(gte(start_time, "0000-01-01T00:00:00Z"))x"},
    {R"x(lte(start_time, "9999-12-31T23:59:59.999999Z"))x",
     R"x(lte(start_time, "9999-12-31T23:59:59.999999Z"))x"},
    {R"x(neq(end_time, null))x", R"x(neq(end_time, null))x"},
    // latency: seconds or durations, always a double afterwards
    {R"x(gte(latency, 2.5))x", R"x(gte(latency, 2.5))x"},
    {R"x(lt(latency, "250ms"))x", R"x(lt(latency, 0.25))x"},
    {R"x(lt(latency, "1.5m"))x", R"x(lt(latency, 90.0))x"},
    {R"x(lt(latency, "2h"))x", R"x(lt(latency, 7200.0))x"},
    {R"x(lt(latency, "100us"))x", R"x(lt(latency, 1e-04))x"},
    {R"x(eq(latency, null))x", R"x(eq(latency, null))x"},
    // UUIDs are lower-cased
    {R"x(eq(id, "0190C4B2-7D6E-7A8B-9C0D-1E2F3A4B5C6D"))x",
     R"x(eq(id, "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d"))x"},
    {R"x(in(trace_id, ["0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d", "0190C4B2-7D6E-7A8B-9C0D-1E2F3A4B5C6E"]))x",
     R"x(in(trace_id, ["0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d", "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6e"]))x"},
    {R"x(eq(parent_run_id, null))x", R"x(eq(parent_run_id, null))x"},
    // enumerations, numbers, booleans, scalars, JSON
    {R"x(in(run_type, ["llm", "tool", "retriever", "embedding", "prompt", "parser", "chain"]))x",
     R"x(in(run_type, ["llm", "tool", "retriever", "embedding", "prompt", "parser", "chain"]))x"},
    // Custom run types are stored as sent (ingest accepts any string), so filters accept them.
    {R"x(eq(run_type, "agent"))x", R"x(eq(run_type, "agent"))x"},
    {R"x(or(eq(status, "success"), eq(status, "pending")))x",
     R"x(or(eq(status, "success"), eq(status, "pending")))x"},
    {R"x(and(gt(total_cost, 0.01), lte(prompt_tokens, 100), gte(completion_cost, 0)))x",
     R"x(and(gt(total_cost, 0.01), lte(prompt_tokens, 100), gte(completion_cost, 0)))x"},
    {R"x(in(execution_order, [1, 2]))x", R"x(in(execution_order, [1, 2]))x"},
    {R"x(eq(is_root, false))x", R"x(eq(is_root, false))x"},
    {R"x(or(eq(metadata_value, 5), eq(metadata_value, true), eq(output_value, "x")))x",
     R"x(or(eq(metadata_value, 5), eq(metadata_value, true), eq(output_value, "x")))x"},
    {R"x(has(metadata, '{"a": [1, {"b": null}]}'))x",
     R"x(has(metadata, "{\"a\": [1, {\"b\": null}]}"))x"},
    {R"x(search(name, "retriev"))x", R"x(search(name, "retriev"))x"},
    {R"x(like(error, "%timeout%"))x", R"x(like(error, "%timeout%"))x"},
    {R"x(and(eq(input_key, "messages.content"), neq(input_value, "hi")))x",
     R"x(and(eq(input_key, "messages.content"), neq(input_value, "hi")))x"},
    {R"x(not(not(eq(reference_example_id, "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d"))))x",
     R"x(not(not(eq(reference_example_id, "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d"))))x"},
    {R"x(and(eq(session_id, "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d")))x",
     R"x(and(eq(session_id, "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d")))x"},
    {"", ""},
};

TEST(FilterValidate, GoldenValid) {
  for (const ValidCase& c : kValid) {
    SCOPED_TRACE(c.input);
    auto parsed = parseFilter(c.input);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto status = validateFilter(*parsed);
    ASSERT_TRUE(status.ok()) << status.error().message;
    const std::string printed = toString(*parsed);
    EXPECT_EQ(printed, c.normalised);
    // Normalised output reparses, revalidates and prints the same (validation is idempotent).
    auto again = parseAndValidateFilter(printed);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(toString(*again), printed);
  }
}

TEST(FilterValidate, NormalisedValuesInTheTree) {
  auto parsed = parseAndValidateFilter(
      R"x(and(gte(start_time, "2024-01-01T00:00:01.5Z"), gt(latency, "250ms"), gt(latency, 3)))x");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const Call& root = *parsed->root;
  auto value = [&](std::size_t i) {
    return std::get<Literal>(std::get<Call>(root.args[i].value).args[1].value).value;
  };
  EXPECT_EQ(value(0), Value(Timestamp{1704067201500000}));
  EXPECT_EQ(value(1), Value(0.25));
  EXPECT_EQ(value(2), Value(3.0));
}

struct InvalidCase {
  std::string_view input;
  std::string_view message;
};

const InvalidCase kInvalid[] = {
    // arity
    {"and()", "filter: at position 0: and takes at least 1 condition, got 0"},
    {"or()", "filter: at position 0: or takes at least 1 condition, got 0"},
    {"not()", "filter: at position 0: not takes 1 condition, got 0"},
    {R"x(not(eq(name, "a"), eq(name, "b")))x",
     "filter: at position 0: not takes 1 condition, got 2"},
    {"eq(name)", "filter: at position 0: eq takes 2 arguments (a field and a value), got 1"},
    {"gt(latency, 1, 2)",
     "filter: at position 0: gt takes 2 arguments (a field and a value), got 3"},
    {"has()", "filter: at position 0: has takes 2 arguments (a field and a value), got 0"},
    {"exists(metadata)",
     "filter: at position 0: exists takes 2 arguments (a field and a value), got 1"},
    {"search()",
     "filter: at position 0: search takes 1 or 2 arguments (a value, or a field and a value), got "
     "0"},
    {"in(name)", "filter: at position 0: in takes 2 arguments (a field and a list), got 1"},
    // argument shapes
    {"search(1)",
     "filter: at position 7: search(value) needs a string to search for, got number 1"},
    {"search(name)",
     R"x(filter: at position 7: search(value) needs a string to search for, got field "name")x"},
    {R"x(in(name, "x"))x",
     R"x(filter: at position 9: the second argument of in must be a list such as ["a", "b"], got string "x")x"},
    {R"x(eq("name", "x"))x",
     R"x(filter: at position 3: the first argument of eq must be a field name such as name, got string "name")x"},
    {R"x(eq(eq(name, "x"), 1))x",
     "filter: at position 3: the first argument of eq must be a field name such as name, got a "
     "condition eq(...)"},
    {R"x(eq(name, ["x"]))x",
     "filter: at position 9: the second argument of eq must be a single value, got a list (use "
     "in(field, [...]) for a list)"},
    {R"x(eq(name, eq(name, "x")))x",
     "filter: at position 9: the second argument of eq must be a single value, got a condition "
     "eq(...)"},
    {R"x(eq(name, other_field))x",
     R"x(filter: at position 9: the second argument of eq must be a single value, got field "other_field")x"},
    {"and(name)",
     R"x(filter: at position 4: the arguments of and must be conditions such as eq(name, "x"), got field "name")x"},
    {R"x(and(eq(name, "x"), true))x",
     R"x(filter: at position 19: the arguments of and must be conditions such as eq(name, "x"), got true)x"},
    {R"x(not("x"))x",
     R"x(filter: at position 4: the arguments of not must be conditions such as eq(name, "x"), got string "x")x"},
    // unknown fields, with suggestions
    {R"x(eq(nmae, "x"))x",
     R"x(filter: at position 3: unknown field "nmae"; did you mean "name"?)x"},
    {R"x(eq(runtype, "llm"))x",
     R"x(filter: at position 3: unknown field "runtype"; did you mean "run_type"?)x"},
    {R"x(eq(parent, "x"))x",
     R"x(filter: at position 3: unknown field "parent"; did you mean "parent_run_id"?)x"},
    {R"x(has(tag, "x"))x", R"x(filter: at position 4: unknown field "tag"; did you mean "tags"?)x"},
    {R"x(eq(Name, "x"))x",
     R"x(filter: at position 3: unknown field "Name"; did you mean "name"?)x"},
    {"eq(foo, 1)",
     R"x(filter: at position 3: unknown field "foo"; the fields are id, name, run_type, status, start_time, end_time, latency, error, tags, is_root, trace_id, parent_run_id, reference_example_id, session_id, thread_id, execution_order, total_tokens, prompt_tokens, completion_tokens, total_cost, prompt_cost, completion_cost, feedback_key, feedback_score, metadata_key, metadata_value, input_key, input_value, output_key, output_value, metadata)x"},
    // function does not apply to the field
    {R"x(gt(name, "x"))x",
     "filter: at position 0: gt does not apply to name; name takes eq, neq, search, in, like"},
    {R"x(has(name, "x"))x",
     "filter: at position 0: has does not apply to name; name takes eq, neq, search, in, like"},
    {R"x(eq(tags, "x"))x", "filter: at position 0: eq does not apply to tags; tags takes has"},
    {R"x(in(start_time, ["2024-01-01"]))x",
     "filter: at position 0: in does not apply to start_time; start_time takes eq, neq, gt, gte, "
     "lt, lte"},
    {R"x(search(total_tokens, "5"))x",
     "filter: at position 0: search does not apply to total_tokens; total_tokens takes eq, neq, "
     "gt, gte, lt, lte"},
    {R"x(exists(tags, "x"))x",
     "filter: at position 0: exists does not apply to tags; tags takes has"},
    // value kinds
    {R"x(gt(start_time, "2024-13-01"))x",
     R"x(filter: at position 15: invalid timestamp "2024-13-01" for start_time; expected ISO-8601 such as "2024-01-01" or "2024-01-01T12:00:00Z")x"},
    {R"x(gt(start_time, "2023-02-29"))x",
     R"x(filter: at position 15: invalid timestamp "2023-02-29" for start_time; expected ISO-8601 such as "2024-01-01" or "2024-01-01T12:00:00Z")x"},
    {R"x(gt(end_time, "yesterday"))x",
     R"x(filter: at position 13: invalid timestamp "yesterday" for end_time; expected ISO-8601 such as "2024-01-01" or "2024-01-01T12:00:00Z")x"},
    {R"x(gt(start_time, "2024-01-01T25:00:00Z"))x",
     R"x(filter: at position 15: invalid timestamp "2024-01-01T25:00:00Z" for start_time; expected ISO-8601 such as "2024-01-01" or "2024-01-01T12:00:00Z")x"},
    {R"x(gt(start_time, "0000-01-01T00:00:00+01:00"))x",
     R"x(filter: at position 15: invalid timestamp "0000-01-01T00:00:00+01:00" for start_time; expected ISO-8601 such as "2024-01-01" or "2024-01-01T12:00:00Z")x"},
    {"gt(start_time, 1700000000)",
     R"x(filter: at position 15: start_time needs an ISO-8601 timestamp string such as "2024-01-01T12:00:00Z", got number 1700000000)x"},
    {R"x(gt(total_tokens, "5000"))x",
     R"x(filter: at position 17: total_tokens needs a number, got string "5000")x"},
    {"eq(feedback_score, true)", "filter: at position 19: feedback_score needs a number, got true"},
    {"eq(name, 1)", "filter: at position 9: name needs a string, got number 1"},
    {"has(tags, 1.5)", "filter: at position 10: tags needs a string, got number 1.5"},
    {"gt(start_time, null)", "filter: at position 15: null is only allowed with eq or neq"},
    {"has(tags, null)", "filter: at position 10: null is only allowed with eq or neq"},
    {R"x(in(name, ["a", null]))x", "filter: at position 15: null is only allowed with eq or neq"},
    {R"x(eq(run_type, 1))x", R"x(filter: at position 13: run_type needs a string, got number 1)x"},
    {R"x(eq(status, "failed"))x",
     R"x(filter: at position 11: invalid status "failed"; expected one of success, error, pending)x"},
    {R"x(eq(is_root, "true"))x",
     R"x(filter: at position 12: is_root needs true or false, got string "true")x"},
    {"eq(is_root, 1)", "filter: at position 12: is_root needs true or false, got number 1"},
    {R"x(gt(latency, "5x"))x",
     R"x(filter: at position 12: invalid duration "5x" for latency; expected a number of seconds or a string such as "250ms", "5s", "1.5m", "2h")x"},
    {R"x(gt(latency, "-5s"))x",
     R"x(filter: at position 12: invalid duration "-5s" for latency; expected a number of seconds or a string such as "250ms", "5s", "1.5m", "2h")x"},
    {"gt(latency, true)",
     R"x(filter: at position 12: latency needs a number of seconds or a duration string such as "5s", got true)x"},
    {R"x(eq(trace_id, "abc"))x",
     R"x(filter: at position 13: trace_id needs a UUID string such as "0190c4b2-7d6e-7a8b-9c0d-1e2f3a4b5c6d", got string "abc")x"},
    {R"x(has(metadata, "foo"))x",
     R"x(filter: at position 14: metadata needs a JSON object string such as '{"key": "value"}', got string "foo")x"},
    {R"x(has(metadata, '[1]'))x",
     R"x(filter: at position 14: metadata needs a JSON object string such as '{"key": "value"}', got string "[1]")x"},
    {"exists(metadata, 1)", "filter: at position 17: metadata needs a key string, got number 1"},
    {"like(name, 5)", "filter: at position 11: like needs a string, got number 5"},
    {"search(name, 5)", "filter: at position 13: search needs a string, got number 5"},
    // the first error in document order wins, wherever it is nested
    {R"x(and(eq(name, "x"), or(eq(name, "y"), gt(total_tokens, "x"))))x",
     R"x(filter: at position 54: total_tokens needs a number, got string "x")x"},
};

TEST(FilterValidate, GoldenInvalid) {
  for (const InvalidCase& c : kInvalid) {
    SCOPED_TRACE(c.input);
    auto parsed = parseFilter(c.input);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto status = validateFilter(*parsed);
    ASSERT_FALSE(status.ok()) << toString(*parsed);
    EXPECT_EQ(status.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(status.error().message, c.message);
  }
}

TEST(FilterValidate, ParseErrorsPassThrough) {
  auto result = parseAndValidateFilter("eq(name, ");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            "filter: at position 9: expected an argument (a condition, field, value or list), got "
            "end of input");
  auto empty = parseAndValidateFilter("  ");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->root.has_value());
}

TEST(FilterValidate, CatalogueHasEveryFieldOnce) {
  const std::string_view required[] = {"id",
                                       "name",
                                       "run_type",
                                       "status",
                                       "start_time",
                                       "end_time",
                                       "latency",
                                       "error",
                                       "tags",
                                       "is_root",
                                       "trace_id",
                                       "parent_run_id",
                                       "total_tokens",
                                       "prompt_tokens",
                                       "completion_tokens",
                                       "total_cost",
                                       "prompt_cost",
                                       "completion_cost",
                                       "feedback_key",
                                       "feedback_score",
                                       "metadata_key",
                                       "metadata_value",
                                       "input_key",
                                       "input_value",
                                       "output_key",
                                       "output_value",
                                       "thread_id",
                                       "execution_order",
                                       "reference_example_id",
                                       "session_id",
                                       "metadata"};
  for (std::string_view name : required) {
    const FieldSpec* spec = findField(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->name, name);
    EXPECT_NE(spec->functions, 0u) << name;
  }
  std::set<std::string_view> seen;
  for (const FieldSpec& spec : filterFields()) EXPECT_TRUE(seen.insert(spec.name).second);
  EXPECT_EQ(seen.size(), std::size(required));
  EXPECT_EQ(findField("nope"), nullptr);
}

TEST(FilterValidate, Timestamps) {
  EXPECT_EQ(parseTimestampMicros("1970-01-01"), 0);
  EXPECT_EQ(parseTimestampMicros("1970-01-01T00:00:00.000001Z"), 1);
  EXPECT_EQ(parseTimestampMicros("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parseTimestampMicros("1969-12-31T23:00:00-01:00"), 0);
  EXPECT_EQ(parseTimestampMicros("2024-01-01T12:00:00Z"), 1704110400000000);
  EXPECT_EQ(parseTimestampMicros("2024-01-01T12:00Z"), 1704110400000000);
  EXPECT_EQ(parseTimestampMicros("2000-02-29"), 951782400000000);
  for (std::string_view bad :
       {"", "2024", "2024-1-01", "2024-01-01T", "2024-01-01T12", "2024-01-01T12:00:00.",
        "2024-01-01T12:00:00.1234567890Z", "2024-01-01T12:00:00+1", "2024-01-01T12:00:00ZZ",
        "2024-01-01T12:60", "2024-01-01T12:00:60", "2024-04-31", "1900-02-29", "2024-00-10",
        "2024-01-01T12:00:00+24:00", " 2024-01-01", "2024-01-01 "}) {
    EXPECT_EQ(parseTimestampMicros(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(formatTimestampMicros(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatTimestampMicros(-1), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(formatTimestampMicros(1704110400123000), "2024-01-01T12:00:00.123000Z");
}

TEST(FilterValidate, Durations) {
  EXPECT_EQ(parseDurationSeconds("5s"), 5.0);
  EXPECT_EQ(parseDurationSeconds("250ms"), 0.25);
  EXPECT_EQ(parseDurationSeconds("1.5m"), 90.0);
  EXPECT_EQ(parseDurationSeconds("2h"), 7200.0);
  EXPECT_EQ(parseDurationSeconds("0s"), 0.0);
  for (std::string_view bad :
       {"", "5", "s", "5 s", "-5s", "5.s", ".5s", "5S", "5sec", "1e3s", "5d"}) {
    EXPECT_EQ(parseDurationSeconds(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(parseDurationSeconds(std::string(400, '9') + "h"), std::nullopt);
}

}  // namespace
}  // namespace pharos::tracing::query
