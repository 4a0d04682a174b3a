// Golden tests of the filter parser: each table row is one case, so adding a case is one line.
// Valid rows give the input and its canonical print; invalid rows give the exact error message.
#include "tracing/query/filter_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace pharos::tracing::query {
namespace {

struct ValidCase {
  std::string_view input;
  std::string_view canonical;  // toString(parseFilter(input))
};

// Every example of spec §6 first (verbatim), then the shapes the grammar allows.
const ValidCase kValid[] = {
    // spec §6.2 / §6.4 documented examples
    {R"x(and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000)))x",
     R"x(and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000)))x"},
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
    {R"x(gt(latency, "5s"))x", R"x(gt(latency, "5s"))x"},
    {R"x(eq(name, "RetrieveDocs"))x", R"x(eq(name, "RetrieveDocs"))x"},
    {R"x(and(eq(feedback_key, "user_score"), eq(feedback_score, 1)))x",
     R"x(and(eq(feedback_key, "user_score"), eq(feedback_score, 1)))x"},
    {R"x(eq(name, "ExpandQuery"))x", R"x(eq(name, "ExpandQuery"))x"},
    {R"x(eq(name, "extractor"))x", R"x(eq(name, "extractor"))x"},
    {R"x(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0)))))x",
     R"x(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0)))))x"},
    {R"x(and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'), eq(metadata_value, '69b12c91-...')))x",
     R"x(and(eq(name, "ChatOpenAI"), eq(metadata_key, "conversation_id"), eq(metadata_value, "69b12c91-...")))x"},
    {R"x(and(eq(is_root, true), and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))x",
     R"x(and(eq(is_root, true), and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))x"},
    {R"x(eq(thread_id, "<id>"))x", R"x(eq(thread_id, "<id>"))x"},
    // the seed's monitoring filter
    {R"x(and(eq(status, "error"), gte(start_time, "2024-01-01")))x",
     R"x(and(eq(status, "error"), gte(start_time, "2024-01-01")))x"},
    // whitespace anywhere between tokens
    {"  and ( eq ( name , \"x\" ) ,\n\tnot(eq(a,1)) )  ", R"x(and(eq(name, "x"), not(eq(a, 1))))x"},
    {"eq(name,\r\n\"x\")", R"x(eq(name, "x"))x"},
    // nesting
    {R"x(or(and(eq(a, 1), not(or(eq(b, 2), eq(c, 3)))), not(not(eq(d, 4)))))x",
     R"x(or(and(eq(a, 1), not(or(eq(b, 2), eq(c, 3)))), not(not(eq(d, 4)))))x"},
    // arity and argument shapes are the validator's business, not the parser's
    {"and()", "and()"},
    {"eq(name)", "eq(name)"},
    {R"x(eq("x", name, [1], and()))x", R"x(eq("x", name, [1], and()))x"},
    // keywords in any case
    {"eq(is_root, TRUE)", "eq(is_root, true)"},
    {"eq(a, False)", "eq(a, false)"},
    {"eq(a, NULL)", "eq(a, null)"},
    {"eq(true_thing, 1)", "eq(true_thing, 1)"},
    // numbers
    {"eq(a, -5)", "eq(a, -5)"},
    {"eq(a, 007)", "eq(a, 7)"},
    {"eq(a, 0.0)", "eq(a, 0.0)"},
    {"eq(a, -0.0)", "eq(a, -0.0)"},
    {"eq(a, 1.5e3)", "eq(a, 1500.0)"},
    {"eq(a, 2E-3)", "eq(a, 0.002)"},
    {"eq(a, 1e+21)", "eq(a, 1e+21)"},
    {"eq(a, 0.1)", "eq(a, 0.1)"},
    {"eq(a, 9223372036854775807)", "eq(a, 9223372036854775807)"},
    {"eq(a, -9223372036854775808)", "eq(a, -9223372036854775808)"},
    {"eq(a, 5e-324)", "eq(a, 5e-324)"},
    // strings: both quotes, escapes
    {R"x(eq(name, 'single'))x", R"x(eq(name, "single"))x"},
    {R"x(eq(name, 'say "hi"'))x", R"x(eq(name, "say \"hi\""))x"},
    {R"x(eq(name, "it's"))x", R"x(eq(name, "it's"))x"},
    {R"x(eq(name, 'it\'s'))x", R"x(eq(name, "it's"))x"},
    {R"x(eq(name, "a\"b"))x", R"x(eq(name, "a\"b"))x"},
    {R"x(eq(name, "back\\slash"))x", R"x(eq(name, "back\\slash"))x"},
    {R"x(eq(name, "\n\t\r\b\f\/"))x", R"x(eq(name, "\n\t\r\b\f/"))x"},
    {R"x(eq(name, "caf\u00e9 \u00E9"))x", "eq(name, \"caf\xc3\xa9 \xc3\xa9\")"},
    {R"x(eq(name, "\ud83d\ude00"))x", "eq(name, \"\xf0\x9f\x98\x80\")"},
    {R"x(eq(name, "\u0001\u0000"))x", R"x(eq(name, "\u0001\u0000"))x"},
    {"eq(name, \"raw\nnewline\")", R"x(eq(name, "raw\nnewline"))x"},
    {"eq(name, \"caf\xc3\xa9\")", "eq(name, \"caf\xc3\xa9\")"},
    {R"x(eq(name, ""))x", R"x(eq(name, ""))x"},
    {R"x(eq(name, '(,)[]'))x", R"x(eq(name, "(,)[]"))x"},
    // lists
    {R"x(in(run_type, ['llm', "tool"]))x", R"x(in(run_type, ["llm", "tool"]))x"},
    {R"x(in(a,[1,2.5,true,null,"x"]))x", R"x(in(a, [1, 2.5, true, null, "x"]))x"},
    {R"x(in(a, [ "x" ]))x", R"x(in(a, ["x"]))x"},
};

TEST(FilterParser, GoldenValid) {
  for (const ValidCase& c : kValid) {
    SCOPED_TRACE(c.input);
    auto parsed = parseFilter(c.input);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    ASSERT_TRUE(parsed->root.has_value());
    const std::string printed = toString(*parsed);
    EXPECT_EQ(printed, c.canonical);
    // print -> parse -> print is the identity, and the trees agree except for offsets.
    auto again = parseFilter(printed);
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(toString(*again), printed);
  }
}

TEST(FilterParser, EmptyTextIsNoFilter) {
  for (std::string_view text : {"", " ", "\n\t\r  "}) {
    auto parsed = parseFilter(text);
    ASSERT_TRUE(parsed.ok());
    EXPECT_FALSE(parsed->root.has_value());
    EXPECT_EQ(toString(*parsed), "");
  }
}

TEST(FilterParser, TreeShapeAndOffsets) {
  //                          0         1         2         3
  //                          0123456789012345678901234567890123456
  auto parsed = parseFilter(R"x(and(eq(name, "x"), in(a, [1, 2.5])))x");
  ASSERT_TRUE(parsed.ok());
  const Call& root = *parsed->root;
  EXPECT_EQ(root.function, Function::kAnd);
  EXPECT_EQ(root.offset, 0u);
  ASSERT_EQ(root.args.size(), 2u);
  const auto& eq = std::get<Call>(root.args[0].value);
  EXPECT_EQ(eq.function, Function::kEq);
  EXPECT_EQ(eq.offset, 4u);
  EXPECT_EQ(std::get<Field>(eq.args[0].value), (Field{"name", 7}));
  EXPECT_EQ(std::get<Literal>(eq.args[1].value), (Literal{std::string("x"), 13}));
  const auto& in = std::get<Call>(root.args[1].value);
  EXPECT_EQ(in.function, Function::kIn);
  EXPECT_EQ(in.offset, 19u);
  const auto& list = std::get<List>(in.args[1].value);
  EXPECT_EQ(list.offset, 25u);
  ASSERT_EQ(list.items.size(), 2u);
  EXPECT_EQ(list.items[0], (Literal{std::int64_t{1}, 26}));
  EXPECT_EQ(list.items[1], (Literal{2.5, 29}));
  EXPECT_EQ(root.args[1].offset(), 19u);
}

TEST(FilterParser, NumbersKeepIntegerOrDouble) {
  auto parsed = parseFilter("in(a, [1, 1.0, 1e0, -0])");
  ASSERT_TRUE(parsed.ok());
  const auto& items = std::get<List>(parsed->root->args[1].value).items;
  EXPECT_TRUE(std::holds_alternative<std::int64_t>(items[0].value));
  EXPECT_TRUE(std::holds_alternative<double>(items[1].value));
  EXPECT_TRUE(std::holds_alternative<double>(items[2].value));
  EXPECT_EQ(std::get<std::int64_t>(items[3].value), 0);
}

TEST(FilterParser, DepthLimitIsInclusive) {
  auto nested = [](std::size_t depth) {
    std::string text;
    for (std::size_t i = 1; i < depth; ++i) text += "not(";
    text += "eq(a, 1)";
    text.append(depth - 1, ')');
    return text;
  };
  auto ok = parseFilter(nested(kMaxFilterDepth));
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(toString(*ok), nested(kMaxFilterDepth));
  EXPECT_FALSE(parseFilter(nested(kMaxFilterDepth + 1)).ok());
}

TEST(FilterParser, LimitsAreInclusive) {
  std::string list = "in(a, [";
  for (std::size_t i = 0; i < kMaxListItems; ++i) list += i == 0 ? "1" : ",1";
  list += "])";
  EXPECT_TRUE(parseFilter(list).ok());

  std::string longest = "eq(name, \"";
  longest.append(kMaxFilterBytes - longest.size() - 2, 'x');
  longest += "\")";
  ASSERT_EQ(longest.size(), kMaxFilterBytes);
  EXPECT_TRUE(parseFilter(longest).ok());
}

struct InvalidCase {
  std::string input;
  std::string_view message;
};

std::string deeplyNested() {
  std::string text;
  for (std::size_t i = 0; i < kMaxFilterDepth; ++i) text += "not(";
  text += "eq(a, 1)";
  text.append(kMaxFilterDepth, ')');
  return text;
}

std::string tooLong() {
  return "eq(name, \"" + std::string(kMaxFilterBytes, 'x') + "\")";
}

std::string listOf(std::size_t items) {
  std::string text = "in(a, [";
  for (std::size_t i = 0; i < items; ++i) text += i == 0 ? "1" : ",1";
  return text + "])";
}

const InvalidCase kInvalid[] = {
    // unbalanced parentheses, missing commas, trailing garbage
    {R"x(eq(name, "x")x",
     R"x(filter: at position 12: expected "," or ")" after an argument, got end of input)x"},
    {R"x(eq(name, "x"])x",
     R"x(filter: at position 12: expected "," or ")" after an argument, got "]")x"},
    {R"x(eq(name "x"))x",
     R"x(filter: at position 8: expected "," or ")" after an argument, got string "x")x"},
    {R"x(eq(name = "x"))x",
     R"x(filter: at position 8: expected "," or ")" after an argument, got "=")x"},
    {R"x(and(eq(a, 1) eq(b, 2)))x",
     R"x(filter: at position 13: expected "," or ")" after an argument, got "eq")x"},
    {R"x(eq(name, "x")))x",
     R"x(filter: at position 13: expected end of input after the filter, got ")")x"},
    {R"x(eq(name, "x") garbage)x",
     R"x(filter: at position 14: expected end of input after the filter, got "garbage" (combine several conditions with and(...)))x"},
    {R"x(eq(name, "x"), eq(a, 1))x",
     R"x(filter: at position 13: expected end of input after the filter, got "," (combine several conditions with and(...)))x"},
    {std::string("eq(a, \"x\")\0", 11),
     R"x(filter: at position 10: expected end of input after the filter, got "\x00")x"},
    {R"x(eq(name, ))x",
     R"x(filter: at position 9: expected an argument (a condition, field, value or list), got ")")x"},
    {R"x(eq(, "x"))x",
     R"x(filter: at position 3: expected an argument (a condition, field, value or list), got ",")x"},
    {R"x(eq(a, 1,))x",
     R"x(filter: at position 8: expected an argument (a condition, field, value or list), got ")")x"},
    {"eq(a, \xff)",
     R"x(filter: at position 6: expected an argument (a condition, field, value or list), got "\xff")x"},
    {R"x(eq(a, true(1)))x",
     R"x(filter: at position 10: expected "," or ")" after an argument, got "(")x"},
    // strings
    {R"x(eq(name, "abc)x",
     R"x(filter: at position 9: unterminated string: the quote opened here is never closed)x"},
    {R"x(eq(name, 'abc\'))x",
     R"x(filter: at position 9: unterminated string: the quote opened here is never closed)x"},
    {R"x(eq(name, "abc\)x",
     R"x(filter: at position 9: unterminated string: the quote opened here is never closed)x"},
    {R"x(eq(name, "abc'))x",
     R"x(filter: at position 9: unterminated string: the quote opened here is never closed)x"},
    {R"x(eq(name, "a\qb"))x",
     R"x(filter: at position 11: invalid escape "\\q" in string; the escapes are \" \' \\ \/ \n \t \r \b \f \uXXXX)x"},
    {R"x(eq(name, "\u12"))x",
     R"x(filter: at position 10: invalid escape "\\u12\")" in string: \u needs 4 hex digits)x"},
    {R"x(eq(name, "\uzzzz"))x",
     R"x(filter: at position 10: invalid escape "\\uzzzz" in string: \u needs 4 hex digits)x"},
    {R"x(eq(name, "\udc00"))x",
     R"x(filter: at position 10: invalid escape: unpaired surrogate "\\udc00")x"},
    {R"x(eq(name, "\ud83dx"))x",
     R"x(filter: at position 10: invalid escape: unpaired surrogate "\\ud83d")x"},
    // numbers
    {R"x(eq(a, 1.2.3))x", R"x(filter: at position 6: invalid number "1.2.3")x"},
    {R"x(eq(a, 12abc))x", R"x(filter: at position 6: invalid number "12abc")x"},
    {R"x(eq(a, 1.))x", R"x(filter: at position 6: invalid number "1.")x"},
    {R"x(eq(a, .5))x",
     R"x(filter: at position 6: expected an argument (a condition, field, value or list), got ".")x"},
    {R"x(eq(a, 1e))x", R"x(filter: at position 6: invalid number "1e")x"},
    {R"x(eq(a, -))x", R"x(filter: at position 6: invalid number "-")x"},
    {R"x(eq(a, +1))x",
     R"x(filter: at position 6: expected an argument (a condition, field, value or list), got "+")x"},
    {R"x(eq(a, 9223372036854775808))x",
     R"x(filter: at position 6: number out of range "9223372036854775808" (integers must fit in 64 bits))x"},
    {R"x(eq(a, 1e999))x", R"x(filter: at position 6: number out of range "1e999")x"},
    // lists
    {R"x(in(run_type, []))x",
     R"x(filter: at position 14: expected a value (string, number, true, false or null) in the list, got "]")x"},
    {R"x(in(a, ["x",]))x",
     R"x(filter: at position 11: expected a value (string, number, true, false or null) in the list, got "]")x"},
    {R"x(in(a, ["x" "y"]))x",
     R"x(filter: at position 11: expected "," or "]" after a list item, got string "y")x"},
    {R"x(in(a, ["x")))x",
     R"x(filter: at position 10: expected "," or "]" after a list item, got ")")x"},
    {R"x(in(a, [[1]]))x",
     R"x(filter: at position 7: expected a value (string, number, true, false or null) in the list, got "[")x"},
    {R"x(in(a, [b]))x",
     R"x(filter: at position 7: expected a value (string, number, true, false or null) in the list, got "b")x"},
    {listOf(kMaxListItems + 1), R"x(filter: at position 2007: list has more than 1000 items)x"},
    // the top level must be a call
    {R"x("eq")x",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got string "eq")x"},
    {"42",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got number 42)x"},
    {"true",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got "true")x"},
    {"name",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got "name")x"},
    {R"x(name = "x")x",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got "name")x"},
    {R"x(["x"])x",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got "[")x"},
    {"(eq(a, 1))",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got "(")x"},
    {")",
     R"x(filter: at position 0: expected a function call such as eq(name, "value"), got ")")x"},
    // unknown functions
    {R"x(foo(name, 1))x",
     R"x(filter: at position 0: unknown function "foo"; the functions are and, or, not, eq, neq, gt, gte, lt, lte, has, search, in, like, exists)x"},
    {R"x(AND(eq(a, 1)))x",
     R"x(filter: at position 0: unknown function "AND"; did you mean "and"?)x"},
    {R"x(and(eqq(a, 1)))x",
     R"x(filter: at position 4: unknown function "eqq"; did you mean "eq"?)x"},
    {R"x(and(contains(a, 1)))x",
     R"x(filter: at position 4: unknown function "contains"; the functions are and, or, not, eq, neq, gt, gte, lt, lte, has, search, in, like, exists)x"},
    // limits
    {deeplyNested(), R"x(filter: at position 256: nested too deeply (the limit is 64 levels))x"},
    {tooLong(), R"x(filter: too long (65548 bytes; the limit is 65536))x"},
};

TEST(FilterParser, GoldenInvalid) {
  for (const InvalidCase& c : kInvalid) {
    SCOPED_TRACE(c.input.substr(0, 80));
    auto parsed = parseFilter(c.input);
    ASSERT_FALSE(parsed.ok()) << toString(*parsed);
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_EQ(parsed.error().message, c.message);
  }
}

TEST(FilterParser, MessagesQuoteHostileBytesSafely) {
  EXPECT_EQ(quoteForMessage("a\"b\\c\n\x7f\xc3"), R"x("a\"b\\c\x0a\x7f\xc3")x");
  EXPECT_EQ(quoteForMessage(std::string(50, 'x')), "\"" + std::string(40, 'x') + "...\"");
}

TEST(FilterParser, ClosestName) {
  const std::string_view names[] = {"name", "run_type", "parent_run_id", "feedback_key",
                                    "feedback_score"};
  EXPECT_EQ(closestName("nmae", names), "name");
  EXPECT_EQ(closestName("NAME", names), "name");
  EXPECT_EQ(closestName("runtype", names), "run_type");
  EXPECT_EQ(closestName("parent", names), "parent_run_id");
  EXPECT_EQ(closestName("feedback", names), "feedback_key");
  EXPECT_EQ(closestName("xyz", names), std::nullopt);
  EXPECT_EQ(closestName(std::string(100, 'n'), names), std::nullopt);
}

}  // namespace
}  // namespace pharos::tracing::query
