#include "tokens/tokenizer.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pharos::tokens {
namespace {

using Ids = std::vector<std::uint32_t>;

struct Vector {
  std::string text;
  Ids ids;
};

// Expected ids from npm tiktoken 1.0.22: get_encoding(name).encode_ordinary(text).
const std::vector<Vector> kCl100k = {
    {"hello world", {15339, 1917}},
    {"I'm HERE'LL", {40, 2846, 19804, 6, 4178}},
    {"  \n\n  x  ", {19124, 220, 865, 256}},
    {"123456789", {4513, 10961, 16474}},
    {"こんにちは世界", {90115, 3574, 244, 98220}},
    {"👨‍👩‍👧‍👦",
     {9468, 239, 101, 378, 235, 9468, 239, 102, 378, 235, 9468, 239, 100, 378, 235, 9468, 239, 99}},
    {"a  \t\r\nb", {64, 256, 4574, 65}},
    {"<|endoftext|>", {27, 91, 8862, 728, 428, 91, 29}},
    {"don'T STOP'S", {15357, 17773, 46637, 13575}},
    {"ÉCOLEs naïve'd", {27887, 8445, 877, 82, 95980, 588, 4265}},
    {"   ", {262}},
    {"x\n\n\n", {87, 1432}},
    {"Über 1,234.5€", {53591, 655, 220, 16, 11, 11727, 13, 20, 15406}},
    {"print('hi')\r\n", {1374, 493, 6151, 7849}},
    {"a/b//c\n/", {64, 3554, 322, 66, 198, 14}},
    {"", {}},
};

const std::vector<Vector> kO200k = {
    {"hello world", {24912, 2375}},
    {"I'm HERE'LL", {15390, 32396, 6, 7454}},
    {"  \n\n  x  ", {11691, 220, 1215, 256}},
    {"123456789", {7633, 19354, 29338}},
    {"こんにちは世界", {95839, 28428}},
    {"👨‍👩‍👧‍👦",
     {28823, 101, 2524, 28823, 102, 2524, 28823, 100, 2524, 28823, 99}},
    {"a  \t\r\nb", {64, 256, 7709, 65}},
    {"<|endoftext|>", {27, 91, 419, 1440, 919, 91, 29}},
    {"don'T STOP'S", {22130, 51532, 82926, 31233}},
    {"ÉCOLEs naïve'd", {5859, 8310, 1400, 82, 153475, 737, 11062}},
    {"   ", {271}},
    {"x\n\n\n", {87, 2499}},
    {"Über 1,234.5€", {70249, 220, 16, 11, 20771, 13, 20, 5087}},
    {"print('hi')\r\n", {1598, 706, 3686, 16108}},
    {"a/b//c\n/", {64, 7611, 393, 66, 198, 14}},
    {"", {}},
};

void expectVectors(Encoding encoding, const std::vector<Vector>& vectors) {
  const Tokenizer& tok = Tokenizer::get(encoding);
  for (const auto& v : vectors) {
    EXPECT_EQ(tok.encode(v.text), v.ids) << encodingName(encoding) << ": " << v.text;
    EXPECT_EQ(tok.count(v.text), v.ids.size()) << v.text;
    EXPECT_EQ(tok.decode(v.ids), v.text);
  }
}

TEST(Tokenizer, Cl100kKnownVectors) {
  expectVectors(Encoding::kCl100kBase, kCl100k);
}
TEST(Tokenizer, O200kKnownVectors) {
  expectVectors(Encoding::kO200kBase, kO200k);
}

Ids repeat(const Ids& ids, int times) {
  Ids out;
  for (int i = 0; i < times; ++i) out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

TEST(Tokenizer, LongPiecesMergeAsTiktoken) {
  // One 320-byte piece: merged with the heap, not the linear scan (npm tiktoken's ids).
  std::string word;
  for (int i = 0; i < 40; ++i) word += "quixotic";
  EXPECT_EQ(Tokenizer::get(Encoding::kCl100kBase).encode(word), repeat({447, 953, 14546}, 40));
  EXPECT_EQ(Tokenizer::get(Encoding::kO200kBase).encode(word), repeat({351, 1128, 14682}, 40));
  const std::string spaces = std::string(300, ' ') + "x";
  EXPECT_EQ(Tokenizer::get(Encoding::kCl100kBase).encode(spaces), (Ids{58040, 58040, 3425, 865}));
  EXPECT_EQ(Tokenizer::get(Encoding::kO200kBase).encode(spaces), (Ids{72056, 72056, 6322, 1215}));
}

TEST(Tokenizer, WhitespaceEdges) {
  const Tokenizer& tok = Tokenizer::get(Encoding::kCl100kBase);
  // \s+(?!\S): a run before text leaves its last space to the word; at the end it stays whole.
  EXPECT_EQ(tok.decode(std::vector<std::uint32_t>{tok.encode("a   b")[1]}), "  ");
  EXPECT_EQ(tok.encode("a   ").size(), 2u);
  // \s*[\r\n]+ ends at the last newline of a run.
  for (const char* text : {"\n", "\r\n", " \n ", "\n\n\n\n", "\t\r\n\t x", " \u00a0\u3000x",
                           "\v\f\u2028\u0085", "x\u00a0"}) {
    for (const auto encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      const Tokenizer& t = Tokenizer::get(encoding);
      EXPECT_EQ(t.decode(t.encode(text)), text);
    }
  }
}

TEST(Tokenizer, RoundTripsRandomText) {
  // Random mixes of ASCII, Latin-1, CJK, emoji, marks and whitespace.
  const std::vector<std::string> alphabet = {
      "a",  "Z",    " ", "  ",       "\n",     "\r\n", "\t", "'s", "'LL", "1", "42", "é",     "É",
      "中", "日本", "😀", "👍🏽", "\u0301", "ß",    "ſ",  "/",  "//",  ".", "!?", "\u00a0"};
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) text += alphabet[rng() % alphabet.size()];
    for (const auto encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
      const Tokenizer& tok = Tokenizer::get(encoding);
      const auto ids = tok.encode(text);
      EXPECT_EQ(tok.decode(ids), text);
      EXPECT_EQ(tok.count(text), ids.size());
    }
  }
}

TEST(Tokenizer, InvalidUtf8KeepsItsBytes) {
  // Stray continuation, overlong, surrogate, > U+10FFFF, truncated sequences at the end.
  const std::vector<std::string> texts = {"\x80",
                                          "abc\xff",
                                          "\xc0\xaf",
                                          "\xed\xa0\x80x",
                                          "\xf4\x90\x80\x80",
                                          "end\xe4\xb8",
                                          "end\xf0\x9f\x98",
                                          "\xe4 \xb8\xad",
                                          "'\xc5",
                                          "x\xcc",
                                          std::string("a\0b", 3)};
  for (const auto encoding : {Encoding::kCl100kBase, Encoding::kO200kBase}) {
    const Tokenizer& tok = Tokenizer::get(encoding);
    for (const auto& text : texts) {
      const auto ids = tok.encode(text);
      EXPECT_FALSE(ids.empty());
      EXPECT_EQ(tok.decode(ids), text);
      EXPECT_EQ(tok.count(text), ids.size());
    }
  }
}

TEST(Tokenizer, DecodeRejectsUnknownIds) {
  const Tokenizer& tok = Tokenizer::get(Encoding::kCl100kBase);
  EXPECT_EQ(tok.decode(std::vector<std::uint32_t>{100257}), "<|endoftext|>");
  try {
    (void)tok.decode(std::vector<std::uint32_t>{15339, 100261});  // a gap among the specials
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "token id 100261 is not in cl100k_base");
  }
  EXPECT_THROW((void)tok.decode(std::vector<std::uint32_t>{4000000000u}), std::invalid_argument);
  EXPECT_EQ(Tokenizer::get(Encoding::kO200kBase).decode(std::vector<std::uint32_t>{199999}),
            "<|endoftext|>");
}

TEST(Tokenizer, EncodingNamesAndModels) {
  EXPECT_EQ(encodingName(Encoding::kCl100kBase), "cl100k_base");
  EXPECT_EQ(parseEncoding("o200k_base"), Encoding::kO200kBase);
  EXPECT_EQ(parseEncoding("p50k_base"), std::nullopt);
  const std::vector<std::pair<std::string, std::optional<Encoding>>> models = {
      {"gpt-4o", Encoding::kO200kBase},
      {"gpt-4o-mini-2024-07-18", Encoding::kO200kBase},
      {"openai/gpt-4.1-nano", Encoding::kO200kBase},
      {"gpt-4.5-preview", Encoding::kO200kBase},
      {"gpt-5", Encoding::kO200kBase},
      {"o1-mini", Encoding::kO200kBase},
      {"o3", Encoding::kO200kBase},
      {"o4-mini", Encoding::kO200kBase},
      {"chatgpt-4o-latest", Encoding::kO200kBase},
      {"ft:gpt-4o-mini:acme::abc", Encoding::kO200kBase},
      {"gpt-4", Encoding::kCl100kBase},
      {"gpt-4-turbo", Encoding::kCl100kBase},
      {"azure/gpt-3.5-turbo", Encoding::kCl100kBase},
      {"text-embedding-3-small", Encoding::kCl100kBase},
      {"text-embedding-ada-002", Encoding::kCl100kBase},
      {"claude-3-5-sonnet", std::nullopt},
      {"", std::nullopt},
  };
  for (const auto& [model, want] : models) EXPECT_EQ(encodingForModel(model), want) << model;
}

TEST(Tokenizer, CountChatPrompt) {
  // Expected: npm tiktoken 1.0.22 with the cookbook's num_tokens_from_messages (3 per message,
  // +1 per name, tokens of each value, +3), text parts of array content summed:
  // cl100k_base 39, o200k_base 38.
  const auto request = boost::json::parse(R"({
    "model": "gpt-4o",
    "messages": [
      {"role": "system", "content": "You are a helpful assistant."},
      {"role": "user", "name": "alice", "content": "Wie geht's? 你好 👋"},
      {"role": "assistant", "content": [
        {"type": "text", "text": "Fine, thanks!"},
        {"type": "image_url", "image_url": {"url": "http://x"}},
        {"type": "text", "text": " And you?"}]}
    ]})");
  EXPECT_EQ(countChatPrompt(request.as_object(), Encoding::kCl100kBase), 39u);
  EXPECT_EQ(countChatPrompt(request.as_object(), Encoding::kO200kBase), 38u);

  // No messages: only the reply priming. Junk entries are skipped.
  EXPECT_EQ(countChatPrompt(boost::json::object{}, Encoding::kO200kBase), 3u);
  const auto junk = boost::json::parse(R"({"messages": [1, "x", null, {"role": "user"}]})");
  const std::size_t user = Tokenizer::get(Encoding::kO200kBase).count("user");
  EXPECT_EQ(countChatPrompt(junk.as_object(), Encoding::kO200kBase), 3 + user + 3);

  // Tool definitions and tool calls: their JSON text.
  const auto tools = boost::json::parse(
      R"({"messages": [], "tools": [{"type": "function", "function": {"name": "f"}}]})");
  const std::size_t json = Tokenizer::get(Encoding::kO200kBase)
                               .count(R"([{"type":"function","function":{"name":"f"}}])");
  EXPECT_EQ(countChatPrompt(tools.as_object(), Encoding::kO200kBase), 3 + json);
}

}  // namespace
}  // namespace pharos::tokens
