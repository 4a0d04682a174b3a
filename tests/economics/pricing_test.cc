// Model prices: lookup rules (exact, dated or versioned names, provider prefixes, case), the TOML
// file format with its error messages, and cost arithmetic.
#include "economics/pricing.h"

#include <gtest/gtest.h>

namespace pharos::economics {
namespace {

TEST(PriceTableTest, FindsExactDatedAndProviderPrefixedNames) {
  const PriceTable table = PriceTable::builtIn();
  ASSERT_NE(table.find("gpt-4o"), nullptr);
  EXPECT_EQ(table.find("gpt-4o")->input_per_million, 2.50);
  // The longest matching entry wins: gpt-4o-mini is not priced as gpt-4o.
  EXPECT_EQ(table.find("gpt-4o-mini-2024-07-18")->input_per_million, 0.15);
  EXPECT_EQ(table.find("gpt-4o-2024-08-06")->input_per_million, 2.50);
  EXPECT_EQ(table.find("GPT-4O")->input_per_million, 2.50);
  EXPECT_EQ(table.find("openai/gpt-4o-mini")->output_per_million, 0.60);
  EXPECT_EQ(table.find("claude-3-5-sonnet@20240620")->input_per_million, 3.00);
  // A prefix that is not followed by a separator is another model.
  EXPECT_EQ(table.find("gpt-4oz"), nullptr);
  EXPECT_EQ(table.find("no-such-model"), nullptr);
  EXPECT_EQ(table.find(""), nullptr);
}

TEST(PriceTableTest, CostsArePerMillionTokens) {
  const PriceTable table = PriceTable::builtIn();
  const auto cost = table.cost("gpt-4o", 2'000'000, 1'000'000);
  ASSERT_TRUE(cost);
  EXPECT_DOUBLE_EQ(cost->prompt, 5.0);
  EXPECT_DOUBLE_EQ(cost->completion, 10.0);
  EXPECT_DOUBLE_EQ(cost->total(), 15.0);
  EXPECT_FALSE(table.cost("unknown", 1, 1));
}

TEST(PriceTableTest, TomlAddsAndOverrides) {
  PriceTable table = PriceTable::builtIn();
  const std::size_t before = table.size();
  ASSERT_TRUE(table
                  .loadToml(R"(
[models."gpt-4o"]
input = 1.0
output = 2.0

[models."My-Finetune"]
input = 0.3
)",
                            "prices.toml")
                  .ok());
  EXPECT_EQ(table.size(), before + 1);
  EXPECT_EQ(*table.find("gpt-4o"), (ModelPrice{1.0, 2.0}));
  EXPECT_EQ(*table.find("my-finetune"), (ModelPrice{0.3, 0.0}));
}

TEST(PriceTableTest, TomlErrorsNameTheFileLineAndKey) {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const Case cases[] = {
      {"[models.\"a\"]\ninput = -1\n", "prices.toml:1: models.\"a\".input: expected a price >= 0"},
      {"[models.\"a\"]\ninput = \"cheap\"\n", "models.\"a\".input: expected a price"},
      {"[models.\"a\"]\ninput = 1\nouptut = 2\n",
       "unknown key \"ouptut\" (expected input, cached_input, output, max_output_tokens)"},
      {"[models.\"a\"]\noutput = 2\n", "models.\"a\": input price is missing"},
      {"[prices]\nx = 1\n", "unknown table \"prices\""},
      {"[models.\"a\"\ninput = 1\n", "prices.toml:1:"},
      {"[models]\na = 5\n", "expected a table with input and output"},
      {"[models.\"a\"]\ninput = 1\nmax_output_tokens = 1.5\n",
       "models.\"a\".max_output_tokens: expected a whole number"},
      {"[models.\"a\"]\ninput = 1\ncached = 1\n", "unknown key \"cached\""},
  };
  for (const Case& c : cases) {
    PriceTable table;
    const core::Status status = table.loadToml(c.text, "prices.toml");
    ASSERT_FALSE(status.ok()) << c.text;
    EXPECT_NE(status.error().message.find(c.expected), std::string::npos)
        << c.text << " -> " << status.error().message;
    EXPECT_EQ(table.size(), 0u) << "a bad file changes nothing";
  }
}

TEST(PriceTableTest, CachedPromptTokensHaveTheirOwnPrice) {
  PriceTable table;
  ASSERT_TRUE(table
                  .loadToml(R"(
[models."m"]
input = 2.0
cached_input = 0.5
output = 8.0
max_output_tokens = 32768

[models."plain"]
input = 1.0
output = 1.0
)",
                            "prices.toml")
                  .ok());
  EXPECT_EQ(table.find("m")->max_output_tokens, 32768);
  // 1M prompt tokens of which 400k cached: 600k at 2.0 + 400k at 0.5; 100k out at 8.0.
  const auto cost = table.cost("m", 1'000'000, 100'000, 400'000);
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(cost->prompt, 1.2 + 0.2);
  EXPECT_DOUBLE_EQ(cost->completion, 0.8);
  // Without a cached price, cached tokens cost what input costs; more cached than prompt is
  // clamped.
  EXPECT_DOUBLE_EQ(table.cost("plain", 1'000'000, 0, 400'000)->prompt, 1.0);
  EXPECT_DOUBLE_EQ(table.cost("m", 100, 0, 1'000)->prompt, 100 * 0.5 / 1e6);
  // The shipped table knows OpenAI's cached-input discount and output limits.
  const PriceTable built_in = PriceTable::builtIn();
  EXPECT_EQ(built_in.find("gpt-4o-2024-08-06")->cached_input_per_million, 1.25);
  EXPECT_EQ(built_in.find("gpt-4o-mini")->max_output_tokens, 16'384);
}

TEST(PriceTableTest, MissingFileIsAnError) {
  PriceTable table;
  const core::Status status = table.loadFile("/nonexistent/prices.toml");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("/nonexistent/prices.toml: cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace pharos::economics
