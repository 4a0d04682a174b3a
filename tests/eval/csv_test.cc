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

TEST(Csv, StructuredColumns) {
  const auto result = readCsv(
      "id,inputs.question,inputs.ctx:json,outputs.answer,metadata.source,split\n"
      "018F6B2E-7A1C-7D3E-9B2A-4C5D6E7F8091,What?,\"{\"\"k\"\":[1,2]}\",42,wiki, train ; hard;;\n"
      ",Why?,,,,\n");
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
  ASSERT_EQ(result.rows.size(), 2u);
  EXPECT_EQ(result.rows[0].line, 2u);
  EXPECT_EQ(result.rows[0].id, "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091");
  EXPECT_EQ(result.rows[0].inputs, obj(R"({"question":"What?","ctx":{"k":[1,2]}})"));
  EXPECT_EQ(result.rows[0].outputs, obj(R"({"answer":"42"})"));  // plain cells are strings
  EXPECT_EQ(result.rows[0].metadata, obj(R"({"source":"wiki"})"));
  EXPECT_THAT(result.rows[0].splits, ElementsAre("train", "hard"));
  // Empty cells: no id, no splits, "" in plain columns, no field in :json columns.
  EXPECT_EQ(result.rows[1].line, 3u);
  EXPECT_FALSE(result.rows[1].id.has_value());
  EXPECT_EQ(result.rows[1].inputs, obj(R"({"question":"Why?"})"));
  EXPECT_EQ(result.rows[1].outputs, obj(R"({"answer":""})"));
  EXPECT_TRUE(result.rows[1].splits.empty());
}

TEST(Csv, Rfc4180QuotingCrlfBomAndMultilineFields) {
  const auto result = readCsv(
      "\xEF\xBB\xBFinputs.q,outputs.a\r\n"
      "\"a, \"\"quoted\"\"\r\nsecond line\",plain\r\n"
      "\r\n"
      "\"\",\"x\ny\nz\"\r\n"
      "last,\"no newline at end\"");
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
  ASSERT_EQ(result.rows.size(), 3u);
  EXPECT_EQ(result.rows[0].line, 2u);
  EXPECT_EQ(result.rows[0].inputs.at("q"), "a, \"quoted\"\r\nsecond line");
  EXPECT_EQ(result.rows[0].outputs.at("a"), "plain");
  EXPECT_EQ(result.rows[1].line, 5u);  // after the two-line field and an empty line
  EXPECT_EQ(result.rows[1].inputs.at("q"), "");
  EXPECT_EQ(result.rows[1].outputs.at("a"), "x\ny\nz");
  EXPECT_EQ(result.rows[2].line, 8u);
  EXPECT_EQ(result.rows[2].outputs.at("a"), "no newline at end");
}

TEST(Csv, BadRowsAreReportedWithLinesAndGoodOnesKept) {
  const auto result = readCsv(
      "id,inputs.q,inputs.j:json\n"
      ",ok,1\n"                        // 2
      ",too,many,cells\n"              // 3
      ",few\n"                         // 4
      "not-a-uuid,x,\n"                // 5
      ",x,{bad json}\n"                // 6
      ",ab\"c,\n"                      // 7: stray quote
      ",\"ab\"c,\n"                    // 8: text after a closing quote
      ",\"\xff\",\n"                   // 9: not UTF-8
      ",\"multi\nline\",1\n"           // 10-11: fine
      ",still ok,\"[1,\n2]\"\n"        // 12-13: fine
      ",\"unterminated,\n,more,1\n");  // 14: swallows the rest
  const auto text = messages(result);
  ASSERT_EQ(text.size(), 8u) << ::testing::PrintToString(text);
  EXPECT_EQ(text[0], "line 3: 4 cells, the header has 3 columns");
  EXPECT_EQ(text[1], "line 4: 2 cells, the header has 3 columns");
  EXPECT_EQ(text[2], "line 5: id \"not-a-uuid\" is not a UUID");
  EXPECT_THAT(text[3], HasSubstr("line 6: column \"inputs.j:json\": not JSON: "));
  EXPECT_THAT(text[4], HasSubstr("line 7: a quote inside unquoted column 2"));
  EXPECT_THAT(text[5],
              HasSubstr("line 8: unexpected character after the closing quote of column 2"));
  EXPECT_EQ(text[6], "line 9: column \"inputs.q\" is not valid UTF-8");
  EXPECT_EQ(text[7], "line 14: unterminated quoted field (column 2, opened on line 14)");
  ASSERT_EQ(result.rows.size(), 3u);
  EXPECT_EQ(result.rows[0].line, 2u);
  EXPECT_EQ(result.rows[1].line, 10u);
  EXPECT_EQ(result.rows[1].inputs, obj(R"({"q":"multi\nline","j":1})"));
  EXPECT_EQ(result.rows[2].line, 12u);
  EXPECT_EQ(result.rows[2].inputs, obj(R"({"q":"still ok","j":[1,2]})"));
}

TEST(Csv, HeaderProblemsAreOneErrorAndNoRows) {
  struct Case {
    std::string text;
    KeyMapping mapping;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"", {}, "line 1: no header row (the first line names the columns)"},
      {"\xEF\xBB\xBF\r\n\n", {}, "line 1: no header row (the first line names the columns)"},
      {"inputs.q,inputs.q\nx,y\n",
       {},
       "line 1: header: columns \"inputs.q\" and \"inputs.q\" both give \"inputs.q\""},
      {"inputs.q,inputs.q:json\n",
       {},
       "line 1: header: columns \"inputs.q\" and \"inputs.q:json\" both give \"inputs.q\""},
      {"id,split,id\n", {}, "line 1: header: columns \"id\" and \"id\" both give \"id\""},
      {"question,inputs.question\n",
       {{"question"}, {}},
       "line 1: header: columns \"question\" and \"inputs.question\" both give "
       "\"inputs.question\""},
      {"inputs.q,,x\n", {}, "line 1: header: column 2 has an empty name"},
      {"question\nx\n",
       {},
       "line 1: header: column \"question\" is not inputs.<key>, outputs.<key>, metadata.<key>, id "
       "or split (plain column names need input/output keys)"},
      {"question\nx\n",
       {{"question"}, {"answer"}},
       "line 1: header: output key \"answer\" is not a column of the header"},
      {"\n\n\"inputs.q\nx\n",
       {},
       "line 3: header: unterminated quoted field (column 1, opened on line 3)"},
      {"q\nx\n", {{"q"}, {"q"}}, "key \"q\" is listed both as an input key and as an output key"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto result = readCsv(c.text, c.mapping);
    EXPECT_TRUE(result.rows.empty());
    EXPECT_THAT(messages(result), ElementsAre(c.error));
  }
}

TEST(Csv, PlainColumnsWithKeyMapping) {
  const KeyMapping mapping{{"question"}, {"answer", "score"}};
  const auto result = readCsv(
      "question,answer,score:json,context,id,split,metadata.m\n"
      "q1,a1,0.5,c1,018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091,dev,x\n",
      mapping);
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result));
  ASSERT_EQ(result.rows.size(), 1u);
  EXPECT_EQ(result.rows[0].inputs, obj(R"({"question":"q1","context":"c1"})"));  // unlisted: inputs
  EXPECT_EQ(result.rows[0].outputs, obj(R"({"answer":"a1","score":0.5})"));
  EXPECT_EQ(result.rows[0].metadata, obj(R"({"m":"x"})"));
  EXPECT_EQ(result.rows[0].id, "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091");
  EXPECT_THAT(result.rows[0].splits, ElementsAre("dev"));

  // A mapping that lists "id" makes it data.
  const auto listed = readCsv("id,answer\n7,x\n", {{"id"}, {"answer"}});
  ASSERT_EQ(listed.rows.size(), 1u);
  EXPECT_EQ(listed.rows[0].inputs, obj(R"({"id":"7"})"));
  EXPECT_FALSE(listed.rows[0].id.has_value());
}

TEST(Csv, WriteColumnsAreSortedUnionAndJsonWhenNeeded) {
  const auto examples = testing::awkwardExamples();
  const std::string text = writeCsv(examples);
  const std::string header = text.substr(0, text.find("\r\n"));
  // "question" and "answer" are strings in every example: plain. "n" holds numbers, "ctx",
  // "extra", "tags"-holding metadata and sparse keys are :json.
  EXPECT_EQ(header,
            "id,inputs.:json,\"inputs.a,b:json\",inputs.ctx:json,inputs.k:json:json,inputs.n:json,"
            "inputs.question,outputs.answer,outputs.extra:json,metadata.source:json,"
            "metadata.tags:json,split");
  EXPECT_THAT(text, HasSubstr("\r\n018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091,,,,,1,"
                              "\"a, b and \"\"c\"\"\nsecond line\r\nthird\",été ☃ 𝄞 日本,,"
                              "\"\"\"wiki\"\"\",\"[\"\"x\"\",\"\"y\"\"]\",train;hard\r\n"));
}

TEST(Csv, RoundTrip) {
  const auto examples = testing::awkwardExamples();
  const std::string text = writeCsv(examples);
  const auto result = readCsv(text);
  EXPECT_TRUE(result.errors.empty()) << ::testing::PrintToString(messages(result)) << "\n" << text;
  testing::expectSameExamples(examples, result.rows);

  // Every plain column (all strings everywhere) stays plain, and still round-trips.
  std::vector<ExportedExample> plain(2);
  plain[0].inputs = obj(R"({"q":"x,\"y\""})");
  plain[1].inputs = obj(R"({"q":""})");
  EXPECT_EQ(writeCsv(plain), "id,inputs.q,split\r\n,\"x,\"\"y\"\"\",\r\n,,\r\n");
  testing::expectSameExamples(plain, readCsv(writeCsv(plain)).rows);

  const auto empty = readCsv(writeCsv({}));
  EXPECT_TRUE(empty.rows.empty());
  EXPECT_TRUE(empty.errors.empty());
}

TEST(Csv, RowsReadRoundTripThroughTheWriter) {
  const auto first =
      readCsv("question,answer\n\"multi\nline, with comma\",\"\"\"quoted\"\"\"\nunicode ☃,\n",
              {{"question"}, {"answer"}});
  ASSERT_TRUE(first.errors.empty());
  std::vector<ExportedExample> exported;
  for (const auto& row : first.rows) {
    exported.push_back(
        {row.id.value_or(""), row.inputs, row.outputs, row.metadata, row.splits, "", ""});
  }
  testing::expectSameExamples(exported, readCsv(writeCsv(exported)).rows);
  testing::expectSameExamples(exported, readJsonl(writeJsonl(exported)).rows);
}

}  // namespace
}  // namespace pharos::eval
