#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "eval/dataset_file_helpers.h"

namespace pharos::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::messages;
using testing::obj;

TEST(Jsonl, StructuredRowsWithEveryMember) {
  const auto result = readJsonl(
      "{\"inputs\":{\"q\":\"hi\"},\"outputs\":{\"a\":\"yo\"},\"metadata\":{\"m\":1},"
      "\"split\":\"train\",\"id\":\"0B6C6A9E-1F2C-4C8E-9A8D-2F1D0E7A9C11\"}\n"
      "{\"inputs\":{\"q\":\"two\"},\"split\":[\"a\",\" b "
      "\",\"a\"],\"outputs\":null,\"id\":null}\n");
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
  ASSERT_EQ(result.rows.size(), 2u);
  EXPECT_EQ(result.rows[0].line, 1u);
  EXPECT_EQ(result.rows[0].id, "0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11");  // lowercased
  EXPECT_EQ(result.rows[0].inputs, obj(R"({"q":"hi"})"));
  EXPECT_EQ(result.rows[0].outputs, obj(R"({"a":"yo"})"));
  EXPECT_EQ(result.rows[0].metadata, obj(R"({"m":1})"));
  EXPECT_THAT(result.rows[0].splits, ElementsAre("train"));
  EXPECT_EQ(result.rows[1].line, 2u);
  EXPECT_FALSE(result.rows[1].id.has_value());
  EXPECT_TRUE(result.rows[1].outputs.empty());
  EXPECT_THAT(result.rows[1].splits, ElementsAre("a", "b"));  // trimmed, duplicates once
}

TEST(Jsonl, BlankLinesCrlfAndBomKeepLineNumbers) {
  const auto result = readJsonl(
      "\xEF\xBB\xBF{\"inputs\":{}}\r\n\r\n   \n\t\r\n{\"inputs\":{\"x\":1}}\r\n{\"inputs\":{}}");
  EXPECT_TRUE(result.errors.empty());
  ASSERT_EQ(result.rows.size(), 3u);
  EXPECT_EQ(result.rows[0].line, 1u);
  EXPECT_EQ(result.rows[1].line, 5u);
  EXPECT_EQ(result.rows[2].line, 6u);  // no final newline
}

TEST(Jsonl, BadLinesAreReportedAndGoodOnesKept) {
  const auto result = readJsonl(
      "{\"inputs\":{\"q\":1}}\n"
      "{\"inputs\":{\"q\":2}\n"               // 2: not JSON
      "[1,2]\n"                               // 3: not an object
      "{\"outputs\":{}}\n"                    // 4: no inputs
      "{\"inputs\":[]}\n"                     // 5: inputs not an object
      "{\"inputs\":{},\"split\":3}\n"         // 6: bad split
      "{\"inputs\":{},\"id\":\"abc\"}\n"      // 7: bad id
      "{\"inputs\":{},\"output\":{}}\n"       // 8: typo
      "{\"inputs\":{},\"split\":\"a;b\"}\n"   // 9: separator in a split name
      "{\"inputs\":{},\"split\":[\"\"]}\n"    // 10: empty split name
      "{\"inputs\":{},\"metadata\":\"x\"}\n"  // 11
      "\"\xff\"\n"                            // 12: not UTF-8
      "{\"inputs\":{\"q\":3}}\n");
  ASSERT_EQ(result.rows.size(), 2u);
  EXPECT_EQ(result.rows[0].line, 1u);
  EXPECT_EQ(result.rows[1].line, 13u);
  const auto text = messages(result);
  ASSERT_EQ(text.size(), 11u) << ::testing::PrintToString(text);
  EXPECT_THAT(text[0], HasSubstr("line 2: not JSON: "));
  EXPECT_EQ(text[1], "line 3: expected a JSON object, got an array");
  EXPECT_THAT(text[2], HasSubstr("line 4: missing \"inputs\""));
  EXPECT_EQ(text[3], "line 5: \"inputs\" must be an object, got an array");
  EXPECT_EQ(text[4], "line 6: \"split\" must be a string or an array of strings, got a number");
  EXPECT_EQ(text[5], "line 7: id \"abc\" is not a UUID");
  EXPECT_THAT(text[6], HasSubstr("line 8: unknown key \"output\""));
  EXPECT_THAT(text[7], HasSubstr("line 9: split name \"a;b\" holds ';'"));
  EXPECT_EQ(text[8], "line 10: a split name is empty");
  EXPECT_EQ(text[9], "line 11: \"metadata\" must be an object, got a string");
  EXPECT_THAT(text[10], HasSubstr("line 12: not JSON: "));
}

TEST(Jsonl, TooLongLineIsAnErrorAndTheRestIsRead) {
  std::string text = "{\"inputs\":{\"q\":\"" + std::string(kMaxLineBytes, 'x') + "\"}}\n";
  text += "{\"inputs\":{}}\n";
  const auto result = readJsonl(text);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].line, 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("more than the 16 MiB limit"));
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].line, 2u);
}

TEST(Jsonl, DeepNestingIsAnErrorNotACrash) {
  std::string deep =
      "{\"inputs\":{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}}";
  const auto result = readJsonl(deep);
  EXPECT_TRUE(result.rows.empty());
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_THAT(result.errors[0].message, HasSubstr("not JSON"));
}

TEST(Jsonl, NumbersBeyondDoubleAreRefused) {
  // Boost.JSON would read 1e309 as infinity and write it as `Infinity`, which no reader takes.
  const auto result = readJsonl("{\"inputs\":{\"x\":[1,-1e309]}}\n{\"inputs\":{\"x\":1e308}}\n");
  EXPECT_THAT(messages(result),
              ElementsAre("line 1: a number is too large for a double (beyond ±1.8e308)"));
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].line, 2u);
}

TEST(Jsonl, DoublesSurviveAWriteAndARead) {
  // Boost 1.81's own parser reads the first one (Boost's own print of a double) one ulp off.
  const auto result = readJsonl(
      "{\"inputs\":{\"x\":[1.0000000000000001E90,999999999999999999999999999999999999999999999999"
      "999999999999999999999999999999999999999992,0.30000000000000004,5e-324,1e-400,-0.0]}}");
  ASSERT_EQ(result.rows.size(), 1u);
  const auto& x = result.rows[0].inputs.at("x").as_array();
  EXPECT_EQ(x[0].as_double(), 1.0000000000000001E90);
  EXPECT_EQ(x[1].as_double(), 1e90);
  EXPECT_EQ(x[3].as_double(), 5e-324);
  EXPECT_EQ(x[4].as_double(), 0.0);
  std::vector<ExportedExample> exported(1);
  exported[0].inputs = result.rows[0].inputs;
  testing::expectSameExamples(exported, readJsonl(writeJsonl(exported)).rows);
  testing::expectSameExamples(exported, readCsv(writeCsv(exported)).rows);
}

TEST(Jsonl, FieldDepthIsBoundedWhereverTheFieldSits) {
  auto nested = [](std::size_t levels) {
    return std::string(levels, '[') + "1" + std::string(levels, ']');
  };
  // At the limit: read as a structured or flat row, and survives both writers.
  const std::string atLimit = nested(kMaxJsonDepth);
  for (const auto& [text, mapping] :
       std::vector<std::pair<std::string, KeyMapping>>{{"{\"inputs\":{\"x\":" + atLimit + "}}", {}},
                                                       {"{\"x\":" + atLimit + "}", {{"x"}, {}}}}) {
    const auto result = readJsonl(text, mapping);
    ASSERT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
    ASSERT_EQ(result.rows.size(), 1u);
    std::vector<ExportedExample> exported(1);
    exported[0].inputs = result.rows[0].inputs;
    testing::expectSameExamples(exported, readJsonl(writeJsonl(exported)).rows);
    testing::expectSameExamples(exported, readCsv(writeCsv(exported)).rows);
  }
  // One deeper: refused in either form (the flat form alone would fit the parser's bound).
  const std::string beyond = nested(kMaxJsonDepth + 1);
  EXPECT_THAT(messages(readJsonl("{\"x\":" + beyond + "}", {{"x"}, {}})),
              ElementsAre("line 1: inputs \"x\" nests deeper than 128 levels"));
  EXPECT_THAT(messages(readJsonl("{\"inputs\":{\"x\":" + beyond + "}}")),
              ElementsAre(HasSubstr("line 1: not JSON: ")));
  EXPECT_THAT(messages(readCsv("inputs.x:json\n\"" + beyond + "\"\n")),
              ElementsAre("line 2: inputs \"x\" nests deeper than 128 levels"));
}

TEST(Jsonl, FlatRowsSplitByKeyMapping) {
  const KeyMapping mapping{{"question"}, {"answer"}};
  const auto result = readJsonl(
      "{\"question\":\"q1\",\"answer\":\"a1\",\"context\":\"c\",\"id\":"
      "\"018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091\",\"split\":\"dev\"}\n"
      "{\"question\":\"q2\"}\n"  // an output key may be missing
      "{\"answer\":\"a3\"}\n",   // an input key may not
      mapping);
  ASSERT_EQ(result.rows.size(), 2u);
  EXPECT_EQ(result.rows[0].inputs, obj(R"({"question":"q1","context":"c"})"));  // unlisted: inputs
  EXPECT_EQ(result.rows[0].outputs, obj(R"({"answer":"a1"})"));
  EXPECT_EQ(result.rows[0].id, "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091");
  EXPECT_THAT(result.rows[0].splits, ElementsAre("dev"));
  EXPECT_EQ(result.rows[1].inputs, obj(R"({"question":"q2"})"));
  EXPECT_TRUE(result.rows[1].outputs.empty());
  EXPECT_THAT(messages(result), ElementsAre("line 3: missing input key \"question\""));
}

TEST(Jsonl, MappedIdAndSplitAreData) {
  const auto result = readJsonl("{\"id\":7,\"split\":\"x\",\"inputs\":1}\n", {{"id"}, {"split"}});
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].inputs, obj(R"({"id":7,"inputs":1})"));
  EXPECT_EQ(result.rows[0].outputs, obj(R"({"split":"x"})"));
  EXPECT_FALSE(result.rows[0].id.has_value());
  EXPECT_TRUE(result.rows[0].splits.empty());
}

TEST(Jsonl, ContradictoryMappingIsOneFileError) {
  const auto result = readJsonl("{\"q\":1}\n", {{"q"}, {"q"}});
  EXPECT_TRUE(result.rows.empty());
  EXPECT_THAT(messages(result),
              ElementsAre("key \"q\" is listed both as an input key and as an output key"));
}

TEST(Jsonl, WriteHasTheExportShape) {
  const auto examples = testing::awkwardExamples();
  const std::string text = writeJsonl({examples[0], examples[2]});
  const auto newline = text.find('\n');
  ASSERT_NE(newline, std::string::npos);
  EXPECT_EQ(text.back(), '\n');
  const auto first = boost::json::parse(text.substr(0, newline)).as_object();
  EXPECT_EQ(first.at("id"), "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091");
  EXPECT_EQ(first.at("split"), boost::json::parse(R"(["train","hard"])"));
  EXPECT_EQ(first.at("created_at"), "2026-11-27T07:00:00.000000Z");
  EXPECT_EQ(first.at("modified_at"), "2026-11-27T07:00:01.000000Z");
  const auto second = boost::json::parse(text.substr(newline + 1)).as_object();
  EXPECT_TRUE(second.at("id").is_null());
  EXPECT_TRUE(second.at("created_at").is_null());
  EXPECT_EQ(second.at("split"), boost::json::array());
}

TEST(Jsonl, RoundTrip) {
  const auto examples = testing::awkwardExamples();
  const auto result = readJsonl(writeJsonl(examples));
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
  testing::expectSameExamples(examples, result.rows);
  EXPECT_TRUE(readJsonl(writeJsonl({})).rows.empty());
}

}  // namespace
}  // namespace pharos::eval
