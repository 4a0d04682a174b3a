// The output sanitizer: every detector positive and negative, the seed's code-block removal, and
// the streaming property (for every split of a text, feed outputs + finish == sanitize) with its
// holdback bound.
#include "policy/output_sanitizer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pharos::policy {
namespace {

OutputSanitizer make(OutputPolicy policy = {}) {
  auto s = OutputSanitizer::compile(policy);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().message);
  return std::move(s).value();
}

OutputPolicy seedPolicy() {
  OutputPolicy p;
  p.forbidden_code.push_back({"python", "import os"});
  return p;
}

TEST(OutputSanitizer, Ssn) {
  const auto s = make();
  Redactions r;
  EXPECT_EQ(s.sanitize("my ssn is 123-45-6789.", &r), "my ssn is [SSN REDACTED].");
  EXPECT_EQ(r.count(Detector::kSsn), 1u);
  // Inside longer digit runs, or never-issued numbers: left alone.
  EXPECT_EQ(s.sanitize("id 1123-45-6789 and 123-45-67890"), "id 1123-45-6789 and 123-45-67890");
  EXPECT_EQ(s.sanitize("000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000"),
            "000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000");
  EXPECT_EQ(s.sanitize("a123-45-6789"), "a123-45-6789");
}

TEST(OutputSanitizer, CardLuhn) {
  const auto s = make();
  Redactions r;
  EXPECT_EQ(s.sanitize("card 4111111111111111 ok", &r), "card [CARD REDACTED] ok");
  EXPECT_EQ(s.sanitize("card 4111 1111 1111 1111 ok"), "card [CARD REDACTED] ok");
  EXPECT_EQ(s.sanitize("card 4111-1111-1111-1111 ok"), "card [CARD REDACTED] ok");
  EXPECT_EQ(s.sanitize("amex 378282246310005"), "amex [CARD REDACTED]");
  EXPECT_EQ(r.count(Detector::kCard), 1u);
  // Luhn fails: a digit run, not a card.
  EXPECT_EQ(s.sanitize("order 4111111111111112 ok"), "order 4111111111111112 ok");
  EXPECT_EQ(s.sanitize("ts 1700000000123"), "ts 1700000000123");
  // Double or mixed separators do not join groups; 12 digits are too few.
  EXPECT_EQ(s.sanitize("4111  1111 1111 1111"), "4111  1111 1111 1111");
  EXPECT_EQ(s.sanitize("4111 1111-1111 1111"), "4111 1111-1111 1111");
  EXPECT_EQ(s.sanitize("41 1111 1111 1111 11"), "41 1111 1111 1111 11");
  EXPECT_EQ(s.sanitize("411111111111"), "411111111111");
  // A valid card followed by more digits after a space: the card alone.
  EXPECT_EQ(s.sanitize("4111 1111 1111 1111 12"), "[CARD REDACTED] 12");
}

TEST(OutputSanitizer, Email) {
  const auto s = make();
  EXPECT_EQ(s.sanitize("mail jane.doe+x@mail.example.co.uk now"), "mail [EMAIL REDACTED] now");
  EXPECT_EQ(s.sanitize("write to a@b.io."), "write to [EMAIL REDACTED].");
  EXPECT_EQ(s.sanitize("not an email: a@b, @home, x@y.z"), "not an email: a@b, @home, x@y.z");
}

TEST(OutputSanitizer, Phone) {
  const auto s = make();
  EXPECT_EQ(s.sanitize("call (555) 123-4567 now"), "call [PHONE REDACTED] now");
  EXPECT_EQ(s.sanitize("call 555-123-4567"), "call [PHONE REDACTED]");
  EXPECT_EQ(s.sanitize("call 555.123.4567"), "call [PHONE REDACTED]");
  EXPECT_EQ(s.sanitize("call +1 555 123 4567"), "call [PHONE REDACTED]");
  EXPECT_EQ(s.sanitize("call +1-555-123-4567"), "call [PHONE REDACTED]");
  EXPECT_EQ(s.sanitize("call +442071838750"), "call [PHONE REDACTED]");
  EXPECT_EQ(s.sanitize("version 1.2.3, 2024-01-15, 155-123-4567, 5551234567x"),
            "version 1.2.3, 2024-01-15, 155-123-4567, 5551234567x");
  EXPECT_EQ(s.sanitize("+1234567"), "+1234567");  // too short for E.164
}

TEST(OutputSanitizer, ApiKeys) {
  const auto s = make();
  Redactions r;
  const std::vector<std::string> keys = {
      "sk-abcdefghijklmnopqrstuvwxyz012345",
      "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123456789",
      "sk_live_abcdefghijklmnop1234",
      "AKIAIOSFODNN7EXAMPLE",
      "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
      "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
      "xoxb-1234567890-abcdefghij",
      "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
      "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
  };
  for (const auto& key : keys) {
    EXPECT_EQ(s.sanitize("key: " + key + " end", &r), "key: [SECRET REDACTED] end") << key;
  }
  EXPECT_EQ(r.count(Detector::kApiKey), keys.size());
  // A key longer than the pattern's cap is removed whole.
  EXPECT_EQ(s.sanitize("sk-" + std::string(500, 'a') + " end"), "[SECRET REDACTED] end");
  // Too short or not at a word start: left alone.
  EXPECT_EQ(s.sanitize("sk-short task-abcdefghijklmnopqrstuvwxyz AKIA123 Bearer abc"),
            "sk-short task-abcdefghijklmnopqrstuvwxyz AKIA123 Bearer abc");
}

TEST(OutputSanitizer, DetectorsCanBeTurnedOffAndReplaced) {
  OutputPolicy p;
  p.on(Detector::kEmail) = false;
  p.replacement[static_cast<std::size_t>(Detector::kSsn)] = "***";
  const auto s = make(p);
  EXPECT_EQ(s.sanitize("a@b.com 123-45-6789"), "a@b.com ***");
  OutputPolicy none;
  none.enabled.fill(false);
  EXPECT_EQ(make(none).sanitize("a@b.com 123-45-6789"), "a@b.com 123-45-6789");
}

TEST(OutputSanitizer, SeedCodeBlock) {
  const auto s = make(seedPolicy());
  Redactions r;
  EXPECT_EQ(s.sanitize("Run this:\n```python\nimport os\nos.system('rm -rf /')\n```\nDone.", &r),
            "Run this:\n[code removed]\nDone.");
  EXPECT_EQ(r.code_blocks, 1u);
  // Other languages, or python without the pattern, stay; PII inside them is still redacted.
  EXPECT_EQ(s.sanitize("```bash\nimport os\n```"), "```bash\nimport os\n```");
  EXPECT_EQ(s.sanitize("```python\nprint(123-45-6789)\n```"),
            "```python\nprint([SSN REDACTED])\n```");
  EXPECT_EQ(s.sanitize("```Python\nx=1\nimport os\n```"), "[code removed]");
  // Unclosed at the end: judged on what came.
  EXPECT_EQ(s.sanitize("a ```python\nimport os\nos.remove"), "a [code removed]");
  EXPECT_EQ(s.sanitize("a ```python\nprint(1)"), "a ```python\nprint(1)");
}

TEST(OutputSanitizer, AnyLanguageRuleAndOversizeBlocks) {
  OutputPolicy p;
  p.forbidden_code.push_back({"", "rm -rf"});
  p.max_code_block_bytes = 32;
  const auto s = make(p);
  EXPECT_EQ(s.sanitize("```\nrm -rf /\n``` ok"), "[code removed] ok");
  EXPECT_EQ(s.sanitize("```sh\nls\n``` ok"), "```sh\nls\n``` ok");
  // Too big to hold: removed whole, fail closed.
  EXPECT_EQ(s.sanitize("```sh\n" + std::string(100, 'x') + "\n``` ok"), "[code removed] ok");
}

TEST(OutputSanitizer, BadRuleRegexIsAnError) {
  OutputPolicy p;
  p.forbidden_code.push_back({"python", "import (os"});
  auto s = OutputSanitizer::compile(p);
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, ::testing::HasSubstr("forbidden_code[0].contains"));
}

// One sample per detector shape, with what it becomes.
const std::vector<std::pair<std::string, std::string>>& samples() {
  static const std::vector<std::pair<std::string, std::string>> t = {
      {"123-45-6789", "[SSN REDACTED]"},
      {"4111111111111111", "[CARD REDACTED]"},
      {"4111 1111 1111 1111", "[CARD REDACTED]"},
      {"4111-1111-1111-1111", "[CARD REDACTED]"},
      {"3782 822463 10005", "[CARD REDACTED]"},
      {"jane.doe+tag@mail.example.com", "[EMAIL REDACTED]"},
      {"(555) 123-4567", "[PHONE REDACTED]"},
      {"555.123.4567", "[PHONE REDACTED]"},
      {"+1 555 123 4567", "[PHONE REDACTED]"},
      {"+442071838750", "[PHONE REDACTED]"},
      {"sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "[SECRET REDACTED]"},
      {"rk_test_abcdefghijklmnop", "[SECRET REDACTED]"},
      {"AKIAABCDEFGHIJKLMNOP", "[SECRET REDACTED]"},
      {"AIza" + std::string(35, 'x'), "[SECRET REDACTED]"},
      {"ghp_" + std::string(36, 'a'), "[SECRET REDACTED]"},
      {"github_pat_" + std::string(22, 'b'), "[SECRET REDACTED]"},
      {"xoxb-1234567890", "[SECRET REDACTED]"},
      {"Bearer\t" + std::string(24, 'c'), "[SECRET REDACTED]"},
  };
  return t;
}

// The prefilter works on 64-byte blocks (and the 16 bytes after them): every sample is found at
// every offset of a block, next to words, numbers and near-misses that must stay.
TEST(OutputSanitizer, EveryDetectorAtEveryOffsetOfALongText) {
  const auto s = make();
  const std::string filler = "the 2025-01-10 sky 12 is (5) a+b Bea ghx 4111 xo AK 123-4 x@y ";
  for (const auto& [sample, replacement] : samples()) {
    for (std::size_t offset = 1; offset <= 160; ++offset) {
      const std::string before = (filler + filler + filler).substr(0, offset - 1) + " ";
      const std::string after = ", then " + filler + filler;
      Redactions r;
      ASSERT_EQ(s.sanitize(before + sample + after, &r), before + replacement + after)
          << sample << " at " << offset;
      ASSERT_EQ(r.total(), 1u) << sample << " at " << offset;
    }
  }
}

// Texts over 256 KiB go through the stages a piece at a time: matches and fenced blocks across
// the pieces' boundaries are found as in a small text.
TEST(OutputSanitizer, BigTextWithEveryDetectorAndBlocks) {
  const auto s = make(seedPolicy());
  std::string text, expected;
  std::uint64_t items = 0, blocks = 0;
  const std::string block = "```python\nimport os\n" + std::string(700, '#') + "\n```";
  for (std::size_t i = 0; text.size() < 1'200'000; ++i) {
    const auto& [sample, replacement] = samples()[i % samples().size()];
    const std::string words(i % 97, 'w');
    text += words + " " + sample + " ";
    expected += words + " " + replacement + " ";
    ++items;
    if (i % 7 == 0) {
      text += block + " ";
      expected += "[code removed] ";
      ++blocks;
    }
  }
  Redactions r;
  ASSERT_EQ(s.sanitize(text, &r), expected);
  EXPECT_EQ(r.code_blocks, blocks);
  EXPECT_EQ(r.total(), items + blocks);
  auto stream = s.stream();
  std::string out;
  for (std::size_t at = 0; at < text.size(); at += 4097) out += stream.feed(text.substr(at, 4097));
  out += stream.finish();
  EXPECT_EQ(out, expected);
}

std::string streamed(const OutputSanitizer& s, std::string_view text,
                     const std::vector<std::size_t>& cuts) {
  auto stream = s.stream();
  std::string out;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    out += stream.feed(text.substr(at, cut - at));
    at = cut;
  }
  out += stream.feed(text.substr(at));
  out += stream.finish();
  return out;
}

const std::vector<std::string>& texts() {
  static const std::vector<std::string> t = {
      "SSN 123-45-6789 end",
      "mail jane.doe@example.com please",
      "cards 4111 1111 1111 1111 and 4111111111111112 x",
      "call (555) 123-4567 or +1 555 123 4567 or +442071838750.",
      "key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx_yz-0123456789 and Bearer abcdefghijklmnopqrstuvwxyz0",
      "long sk-" + std::string(150, 'k') + " tail",
      "code:\n```python\nimport os\nprint(1)\n``` after 123-45-6789",
      "```py\nx``` `` ``` ```python\nok()\n```",
      "no pii at all, just prose and words.",
      "edge 123-45-6789",
      "Bearer  " + std::string(30, 't'),
  };
  return t;
}

TEST(OutputSanitizerStream, EverySplitInTwoEqualsWhole) {
  const auto s = make(seedPolicy());
  for (const auto& text : texts()) {
    const std::string whole = s.sanitize(text);
    for (std::size_t cut = 0; cut <= text.size(); ++cut) {
      ASSERT_EQ(streamed(s, text, {cut}), whole) << "text: " << text << " cut at " << cut;
    }
  }
}

TEST(OutputSanitizerStream, EverySplitInThreeAndByteByByteEqualsWhole) {
  const auto s = make(seedPolicy());
  for (const auto& text : texts()) {
    const std::string whole = s.sanitize(text);
    for (std::size_t a = 0; a <= text.size(); a += 3) {
      for (std::size_t b = a; b <= text.size(); b += 2) {
        ASSERT_EQ(streamed(s, text, {a, b}), whole) << text << " cuts " << a << "," << b;
      }
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < text.size(); ++i) every.push_back(i);
    EXPECT_EQ(streamed(s, text, every), whole) << text;
  }
}

TEST(OutputSanitizerStream, SsnSplitAcrossChunksIsRedactedAndCounted) {
  const auto s = make();
  auto stream = s.stream();
  std::string out = stream.feed("my ssn is 123-4");
  EXPECT_THAT(out, ::testing::Not(::testing::HasSubstr("123")));
  out += stream.feed("5-6789 thanks");
  out += stream.finish();
  EXPECT_EQ(out, "my ssn is [SSN REDACTED] thanks");
  EXPECT_EQ(stream.redactions().count(Detector::kSsn), 1u);
}

TEST(OutputSanitizerStream, HoldsBackNoMoreThanTheBound) {
  const auto s = make(seedPolicy());
  const std::size_t bound = s.maxHoldback();
  EXPECT_LT(bound, 300u);
  std::string text;
  for (int i = 0; i < 40; ++i) text += "plain words, digits 12 and 3.4; under_scores x-y z. ";
  text += std::string(400, 'a');  // one long word: the longest hold
  auto stream = s.stream();
  std::size_t fed = 0, sent = 0;
  for (char c : text) {
    sent += stream.feed(std::string_view(&c, 1)).size();
    ++fed;
    ASSERT_LE(fed - sent, bound) << "after " << fed << " bytes";
    ASSERT_EQ(stream.held(), fed - sent);
  }
  sent += stream.finish().size();
  EXPECT_EQ(sent, fed);
  // Ordinary prose is held for its last word only.
  auto prose = s.stream();
  EXPECT_EQ(prose.feed("hello there, general kenobi"), "hello there, general ");
}

TEST(OutputSanitizerStream, PolicedBlockIsHeldUntilItCloses) {
  const auto s = make(seedPolicy());
  auto stream = s.stream();
  EXPECT_EQ(stream.feed("see ```python\nimport os\n"), "see ");
  EXPECT_EQ(stream.feed("os.getcwd()\n``` done "), "[code removed] done ");
  EXPECT_EQ(stream.finish(), "");
  auto other = s.stream();
  EXPECT_EQ(other.feed("```js\nlet x = 1;\n"), "```js\nlet x = 1;\n");
}

}  // namespace
}  // namespace pharos::policy
