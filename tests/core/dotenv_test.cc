#include "core/dotenv.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos::core {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Parses text that must be valid and returns its entries.
std::vector<DotenvEntry> parseOk(std::string_view text) {
  DotenvParseResult result = parseDotenv(text);
  EXPECT_TRUE(result.ok()) << "line " << result.error->line << ": " << result.error->reason;
  return result.entries;
}

// Parses text that must be invalid and returns the error.
DotenvError parseBad(std::string_view text) {
  DotenvParseResult result = parseDotenv(text);
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(result.entries.empty());
  return result.error.value_or(DotenvError{});
}

std::string valueOf(std::string_view line) {
  const auto entries = parseOk(line);
  EXPECT_EQ(entries.size(), 1u);
  return entries.empty() ? std::string("<none>") : entries.front().value;
}

TEST(DotenvTest, KeepsOrderAndLineNumbersSkippingBlankAndCommentLines) {
  const auto entries = parseOk("# header\n\nA=1\n   \n  # indented comment\nB=two\nA=3");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "A");
  EXPECT_EQ(entries[0].value, "1");
  EXPECT_EQ(entries[0].line, 3u);
  EXPECT_EQ(entries[1].key, "B");
  EXPECT_EQ(entries[1].value, "two");
  EXPECT_EQ(entries[1].line, 6u);
  EXPECT_EQ(entries[2].key, "A");
  EXPECT_EQ(entries[2].value, "3");
  EXPECT_EQ(entries[2].line, 7u);
}

TEST(DotenvTest, EmptyTextHasNoEntries) {
  EXPECT_TRUE(parseOk("").empty());
  EXPECT_TRUE(parseOk("\n\n# only comments\n").empty());
}

TEST(DotenvTest, TrimsWhitespaceAroundKeyAndValue) {
  const auto entries = parseOk("  KEY \t=  some value\t \n");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "KEY");
  EXPECT_EQ(entries[0].value, "some value");
}

TEST(DotenvTest, ExportPrefixIsIgnored) {
  const auto entries = parseOk("export A=1\nexport\tB=2\nexport=3\nexporter=4\n");
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0].key, "A");
  EXPECT_EQ(entries[1].key, "B");
  EXPECT_EQ(entries[2].key, "export");  // a key that happens to be named export
  EXPECT_EQ(entries[2].value, "3");
  EXPECT_EQ(entries[3].key, "exporter");
}

TEST(DotenvTest, UnquotedValues) {
  EXPECT_EQ(valueOf("K="), "");
  EXPECT_EQ(valueOf("K=a=b=c"), "a=b=c");
  EXPECT_EQ(valueOf("K=value # comment"), "value");
  EXPECT_EQ(valueOf("K=value\t# comment"), "value");
  EXPECT_EQ(valueOf("K= # only a comment"), "");
  EXPECT_EQ(valueOf("K=a#b"), "a#b");  // '#' starts a comment only after whitespace
  EXPECT_EQ(valueOf("K=#not-a-comment"), "#not-a-comment");
  EXPECT_EQ(valueOf(R"(K=it's "fine")"), R"(it's "fine")");
  EXPECT_EQ(valueOf(R"(K=back\slash)"), R"(back\slash)");
}

TEST(DotenvTest, SingleQuotedValuesAreLiteral) {
  EXPECT_EQ(valueOf("K='a # b'"), "a # b");
  EXPECT_EQ(valueOf(R"(K='no \n escapes')"), R"(no \n escapes)");
  EXPECT_EQ(valueOf("K='  padded  '"), "  padded  ");
  EXPECT_EQ(valueOf("K=''"), "");
  EXPECT_EQ(valueOf("K='x' # comment"), "x");
  EXPECT_EQ(valueOf(R"(K='say "hi"')"), R"(say "hi")");
}

TEST(DotenvTest, DoubleQuotedValuesHaveEscapes) {
  EXPECT_EQ(valueOf(R"(K="line1\nline2")"), "line1\nline2");
  EXPECT_EQ(valueOf(R"(K="say \"hi\"")"), R"(say "hi")");
  EXPECT_EQ(valueOf(R"(K="back\\slash")"), R"(back\slash)");
  EXPECT_EQ(valueOf(R"(K="tab\there\r")"), "tab\there\r");
  EXPECT_EQ(valueOf(R"(K="a # b")"), "a # b");
  EXPECT_EQ(valueOf(R"(K="x"   # comment)"), "x");
  EXPECT_EQ(valueOf(R"(K="")"), "");
  EXPECT_EQ(valueOf(R"(K=  "  padded  "  )"), "  padded  ");
  EXPECT_EQ(valueOf(R"(K="it's")"), "it's");
}

TEST(DotenvTest, CrLfLineEndingsAndByteOrderMark) {
  const auto entries = parseOk(
      "\xEF\xBB\xBF"
      "A=1\r\nB=\"2\"\r\n\r\nC=3\r\n");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].key, "A");
  EXPECT_EQ(entries[0].value, "1");
  EXPECT_EQ(entries[1].value, "2");
  EXPECT_EQ(entries[2].value, "3");
  EXPECT_EQ(entries[2].line, 4u);
}

TEST(DotenvTest, KeysMayHoldDotsAndDashes) {
  const auto entries = parseOk("_A.b-c9=1");
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].key, "_A.b-c9");
}

TEST(DotenvTest, MissingEqualsNamesTheLineButNotItsText) {
  const DotenvError error = parseBad("A=1\n\nthis-is-a-pasted-secret\n");
  EXPECT_EQ(error.line, 3u);
  EXPECT_THAT(error.reason, HasSubstr("KEY=VALUE"));
  EXPECT_THAT(error.reason, Not(HasSubstr("this-is-a-pasted-secret")));
}

TEST(DotenvTest, LineErrors) {
  struct Case {
    std::string_view text;
    std::size_t line;
    std::string_view reason;
  };
  const Case cases[] = {
      {"=value", 1, "no key"},
      {"# c\n  = value", 2, "no key"},
      {"A=1\n1ABC=2", 2, "invalid key \"1ABC\""},
      {"BAD KEY=2", 1, "invalid key \"BAD KEY\""},
      {"export =1", 1, "no key"},
      {"A=1\nB='open", 2, "unterminated single-quoted value"},
      {"A=1\nB=2\nC=\"open", 3, "unterminated double-quoted value"},
      {R"(C="ends with backslash\")", 1, "unterminated double-quoted value"},
      {"C=\"first line\nsecond line\"", 1, "unterminated double-quoted value"},
      {R"(C="bad \q escape")", 1, R"(unknown escape \q)"},
      {R"(C="x" y)", 1, "unexpected text after the closing double quote"},
      {R"(C='x'y)", 1, "unexpected text after the closing single quote"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const DotenvError error = parseBad(c.text);
    EXPECT_EQ(error.line, c.line);
    EXPECT_THAT(error.reason, HasSubstr(std::string(c.reason)));
  }
}

TEST(DotenvTest, ValueErrorsNameTheKeyButNotTheValue) {
  const DotenvError error = parseBad("TOKEN=\"s3cr3t-value");
  EXPECT_EQ(error.line, 1u);
  EXPECT_THAT(error.reason, HasSubstr("TOKEN"));
  EXPECT_THAT(error.reason, Not(HasSubstr("s3cr3t")));
}

}  // namespace
}  // namespace pharos::core
