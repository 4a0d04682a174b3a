// Sanitizing OpenAI chat-completions responses: a JSON body, and an SSE stream split anywhere
// (CRLF, [DONE], several choices, a usage chunk that must pass byte for byte).
#include "policy/openai_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>
#include <vector>

namespace pharos::policy {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;
using ::testing::Not;

OutputSanitizer sanitizer() {
  OutputPolicy p;
  p.forbidden_code.push_back({"python", "import os"});
  return OutputSanitizer::compile(p).value();
}

TEST(SanitizeChatCompletion, RewritesMessageContentOnlyWhenSomethingChanged) {
  const auto s = sanitizer();
  const std::string body =
      R"({"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"SSN 123-45-6789"},)"
      R"("finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":null,)"
      R"("tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]}}],)"
      R"("usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}})";
  Redactions r;
  auto out = sanitizeChatCompletion(s, body, &r);
  ASSERT_TRUE(out.has_value());
  const json::value v = json::parse(*out);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(), "SSN [SSN REDACTED]");
  EXPECT_EQ(v.at("choices").at(1).at("message").at("tool_calls").at(0).at("id").as_string(), "t");
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 7);
  EXPECT_EQ(r.count(Detector::kSsn), 1u);

  EXPECT_FALSE(sanitizeChatCompletion(s, R"({"choices":[{"message":{"content":"hi"}}]})"));
  EXPECT_FALSE(sanitizeChatCompletion(s, "not json"));
}

std::string chunk(int index, std::string_view content, std::string_view finish = "") {
  json::object delta;
  delta["content"] = content;
  json::object choice{{"index", index}, {"delta", delta}};
  choice["finish_reason"] = finish.empty() ? json::value(nullptr) : json::value(finish);
  json::object c{{"id", "chatcmpl-1"},
                 {"object", "chat.completion.chunk"},
                 {"created", 1},
                 {"model", "m"},
                 {"choices", json::array{choice}}};
  return "data: " + json::serialize(c);
}

// What the client assembles: content per choice, finish reasons, and raw usage events.
struct Seen {
  std::map<std::int64_t, std::string> content;
  std::map<std::int64_t, std::string> finish;
  std::vector<std::string> others;  // events without choices content, raw
  bool done = false;
  bool content_after_finish = false;
};

Seen read(const std::string& sse) {
  Seen seen;
  std::string text = sse;
  for (std::size_t p; (p = text.find("\r\n")) != std::string::npos;) text.replace(p, 2, "\n");
  std::size_t start = 0, end;
  while ((end = text.find("\n\n", start)) != std::string::npos) {
    const std::string event = text.substr(start, end - start);
    start = end + 2;
    EXPECT_TRUE(event.starts_with("data: ")) << event;
    const std::string data = event.substr(6);
    if (data == "[DONE]") {
      seen.done = true;
      continue;
    }
    const json::value v = json::parse(data);
    const auto& choices = v.at("choices").as_array();
    if (choices.empty()) seen.others.push_back(data);
    for (const auto& c : choices) {
      const auto index = c.at("index").as_int64();
      const auto* delta = c.as_object().if_contains("delta");
      const auto* content = delta ? delta->as_object().if_contains("content") : nullptr;
      if (content && content->is_string()) {
        if (seen.finish.contains(index) && !content->as_string().empty())
          seen.content_after_finish = true;
        seen.content[index] += std::string(content->as_string());
      }
      if (!c.at("finish_reason").is_null())
        seen.finish[index] = std::string(c.at("finish_reason").as_string());
    }
  }
  EXPECT_EQ(start, text.size()) << "trailing bytes: " << text.substr(start);
  return seen;
}

std::string upstream(std::string_view eol) {
  const std::string sep = std::string(eol) + std::string(eol);
  std::string s;
  s += chunk(0, "Your SSN is 123-4") + sep;
  s += chunk(1, "mail me at jane") + sep;
  s += chunk(0, "5-6789, card 4111 1111") + sep;
  s += chunk(1, ".doe@example.com ok") + sep;
  s += chunk(0, " 1111 1111. ```python\nimport os\n") + sep;
  s += chunk(0, "```", "stop") + sep;
  s += chunk(1, " bye sk-abcdefghijklmnopqrstuvwxyz", "length") + sep;
  s += R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[],)"
       R"("usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})" +
       sep;
  s += "data: [DONE]" + sep;
  return s;
}

void expectClean(const Seen& seen) {
  EXPECT_EQ(seen.content.at(0), "Your SSN is [SSN REDACTED], card [CARD REDACTED]. [code removed]");
  EXPECT_EQ(seen.content.at(1), "mail me at [EMAIL REDACTED] ok bye [SECRET REDACTED]");
  EXPECT_EQ(seen.finish.at(0), "stop");
  EXPECT_EQ(seen.finish.at(1), "length");
  EXPECT_FALSE(seen.content_after_finish);
  EXPECT_TRUE(seen.done);
  ASSERT_EQ(seen.others.size(), 1u);
}

TEST(ChatStreamSanitizer, RedactsAcrossChunksForEverySplitOfTheBytes) {
  const auto s = sanitizer();
  for (std::string_view eol : {"\n", "\r\n"}) {
    const std::string in = upstream(eol);
    for (std::size_t cut = 0; cut <= in.size(); cut += 7) {
      ChatStreamSanitizer rewriter(s);
      std::string out = rewriter.feed(std::string_view(in).substr(0, cut));
      out += rewriter.feed(std::string_view(in).substr(cut));
      out += rewriter.finish();
      const Seen seen = read(out);
      expectClean(seen);
      // The usage event passes byte for byte.
      EXPECT_THAT(
          out, HasSubstr(R"("usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}})"));
      EXPECT_THAT(out, Not(HasSubstr("6789")));
      EXPECT_THAT(out, Not(HasSubstr("import os")));
      if (eol == "\r\n") {
        EXPECT_THAT(out, Not(HasSubstr("}\n\n")));
      }
      const auto r = rewriter.redactions();
      EXPECT_EQ(r.count(Detector::kSsn), 1u);
      EXPECT_EQ(r.code_blocks, 1u);
    }
  }
}

TEST(ChatStreamSanitizer, FlushesHeldTextBeforeDoneOrAtTheEnd) {
  const auto s = sanitizer();
  {
    ChatStreamSanitizer rewriter(s);
    std::string out = rewriter.feed(chunk(0, "reach me at bob@x.io") + "\n\n");
    EXPECT_THAT(out, Not(HasSubstr("bob")));
    out += rewriter.feed("data: [DONE]\n\n");
    const Seen seen = read(out);
    EXPECT_EQ(seen.content.at(0), "reach me at [EMAIL REDACTED]");
    EXPECT_TRUE(out.ends_with("data: [DONE]\n\n"));
  }
  {
    ChatStreamSanitizer rewriter(s);
    std::string out = rewriter.feed(chunk(0, "plain words") + "\n\n");
    out += rewriter.finish();  // no [DONE]: the upstream was cut
    EXPECT_EQ(read(out).content.at(0), "plain words");
  }
}

TEST(ChatStreamSanitizer, EventsWithoutContentPassUntouched) {
  const auto s = sanitizer();
  ChatStreamSanitizer rewriter(s);
  const std::string events =
      ": keep-alive\n\n"
      R"(data: {"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"c","function":{"name":"f","arguments":""}}]},"finish_reason":null}]})"
      "\n\n";
  EXPECT_EQ(rewriter.feed(events), events);
  const std::string unchanged = chunk(0, "hi!") + "\n\n";
  EXPECT_EQ(rewriter.feed(unchanged), unchanged);
}

}  // namespace
}  // namespace pharos::policy
