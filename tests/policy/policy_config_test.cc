// Parsing [gateway.policies.NAME.input|output]: the seed's values, defaults, and errors that name
// the key and the file:line.
#include "policy/policy_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace pharos::policy {
namespace {

using ::testing::HasSubstr;

toml::table parse(std::string_view text) {
  return toml::parse(text, std::string_view("pharos.toml"));
}

TEST(PolicyConfig, SeedInputPolicy) {
  const auto root = parse(R"(
[gateway.policies.strict.input]
max_chars = 1000
user_id_pattern = "^[a-zA-Z0-9_-]+$"
strip_chars = "<>{}"
injection_phrases = ["ignore previous instructions"]
injection_action = "flag"
check_roles = ["user", "tool"]
)");
  auto p = parseInputPolicy(*root["gateway"]["policies"]["strict"]["input"].as_table(),
                            "gateway.policies.strict.input");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->max_chars, 1000u);
  EXPECT_EQ(p->user_id_pattern, "^[a-zA-Z0-9_-]+$");
  EXPECT_EQ(p->strip_chars, "<>{}");
  EXPECT_EQ(p->injection_phrases, std::vector<std::string>{"ignore previous instructions"});
  EXPECT_EQ(p->injection_action, InjectionAction::kFlag);
  EXPECT_EQ(p->check_roles, (std::vector<std::string>{"user", "tool"}));

  auto defaults = parseInputPolicy(toml::table{}, "x");
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->injection_phrases.size(), kDefaultInjectionPhrases.size());
  EXPECT_FALSE(defaults->max_chars.has_value());
}

TEST(PolicyConfig, InputErrorsNameKeyAndLine) {
  struct Case {
    const char* toml;
    const char* error;
  };
  const Case cases[] = {
      {"max_chars = 0", "p.max_chars: expected a whole number from 1 to"},
      {"max_chars = \"big\"", "p.max_chars: expected a whole number, got a string"},
      {"user_id_pattern = \"(\"", "p.user_id_pattern: invalid regular expression"},
      {"injection_action = \"block\"",
       "p.injection_action: expected \"reject\" or \"flag\", got \"block\""},
      {"check_roles = [\"user\", \"robot\"]", "p.check_roles[1]: unknown role \"robot\""},
      {"injection_phrases = [\"  \"]", "p.injection_phrases[0]: a phrase is empty"},
      {"\nmax_char = 5", "p.max_char: unknown setting; expected one of: max_chars"},
  };
  for (const auto& c : cases) {
    auto p = parseInputPolicy(parse(c.toml), "p");
    ASSERT_FALSE(p.ok()) << c.toml;
    EXPECT_THAT(p.error().message, HasSubstr(c.error)) << c.toml;
    EXPECT_THAT(p.error().message, HasSubstr("(from pharos.toml:")) << p.error().message;
  }
  auto p = parseInputPolicy(parse("\n\nmax_char = 5"), "p");
  EXPECT_THAT(p.error().message, HasSubstr("(from pharos.toml:3)"));
}

TEST(PolicyConfig, OutputPolicy) {
  const auto root = parse(R"(
redact = ["ssn", "card"]
forbidden_code = [{ language = "python", contains = "import os" }]
replacements = { ssn = "<ssn>" }
max_code_block_bytes = 4096
)");
  auto p = parseOutputPolicy(root, "gateway.policies.strict.output");
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_TRUE(p->on(Detector::kSsn));
  EXPECT_FALSE(p->on(Detector::kEmail));
  ASSERT_EQ(p->forbidden_code.size(), 1u);
  EXPECT_EQ(p->forbidden_code[0].language, "python");
  EXPECT_EQ(p->replacement[0], "<ssn>");
  EXPECT_EQ(p->max_code_block_bytes, 4096u);
  auto s = OutputSanitizer::compile(*p);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->sanitize("<ssn> a@b.com ```python\nimport os\n```"), "<ssn> a@b.com [code removed]");
  EXPECT_EQ(s->sanitize("123-45-6789"), "<ssn>");
}

TEST(PolicyConfig, OutputErrors) {
  struct Case {
    const char* toml;
    const char* error;
  };
  const Case cases[] = {
      {"redact = [\"ssn\", \"dna\"]", "o.redact[1]: unknown detector \"dna\""},
      {"redact = \"ssn\"", "o.redact: expected an array of strings"},
      {"forbidden_code = [{ language = \"python\", contains = \"import (\" }]",
       "o.forbidden_code[0].contains: invalid regular expression"},
      {"forbidden_code = [{ lang = \"python\" }]", "o.forbidden_code[0].lang: unknown setting"},
      {"forbidden_code = [\"python\"]", "o.forbidden_code[0]: expected a table"},
      {"replacements = { dna = \"x\" }", "o.replacements.dna: unknown detector"},
      {"colour = 1", "o.colour: unknown setting"},
  };
  for (const auto& c : cases) {
    auto p = parseOutputPolicy(parse(c.toml), "o");
    ASSERT_FALSE(p.ok()) << c.toml;
    EXPECT_THAT(p.error().message, HasSubstr(c.error)) << c.toml;
    EXPECT_THAT(p.error().message, HasSubstr("pharos.toml:1")) << p.error().message;
  }
}

}  // namespace
}  // namespace pharos::policy
