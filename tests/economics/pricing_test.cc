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
       "unknown key \"ouptut\" (expected input, output)"},
      {"[models.\"a\"]\noutput = 2\n", "models.\"a\": input price is missing"},
      {"[prices]\nx = 1\n", "unknown table \"prices\""},
      {"[models.\"a\"\ninput = 1\n", "prices.toml:1:"},
      {"[models]\na = 5\n", "expected a table with input and output"},
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

TEST(PriceTableTest, MissingFileIsAnError) {
  PriceTable table;
  const core::Status status = table.loadFile("/nonexistent/prices.toml");
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("/nonexistent/prices.toml: cannot read"),
            std::string::npos);
}

}  // namespace
}  // namespace pharos::economics
