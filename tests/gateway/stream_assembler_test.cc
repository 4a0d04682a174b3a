#include "gateway/stream_assembler.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

namespace pharos::gateway {
namespace {

namespace json = boost::json;

std::string chunk(std::string_view choices, std::string_view extra = "") {
  return std::string(
             "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":7,"
             "\"model\":\"m\",\"choices\":") +
         std::string(choices) + std::string(extra) + "}\n\n";
}

const std::string kStream =
    chunk(R"([{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}])") +
    chunk(R"([{"index":0,"delta":{"content":"Hel"},"finish_reason":null}])") +
    ": keep-alive comment\n\n" +
    chunk(R"([{"index":0,"delta":{"content":"lo"},"finish_reason":null}])") +
    chunk(R"([{"index":0,"delta":{},"finish_reason":"stop"}])") +
    chunk("[]", R"(,"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5})") +
    "data: [DONE]\n\n";

TEST(StreamAssembler, AssemblesAWholeStream) {
  StreamAssembler a;
  a.feed(kStream);
  EXPECT_TRUE(a.sawDone());
  EXPECT_TRUE(a.sawFinish());
  EXPECT_FALSE(a.sawError());
  ASSERT_TRUE(a.usage());
  EXPECT_EQ(a.usage()->at("total_tokens").as_int64(), 5);
  const json::object out = a.assembled();
  EXPECT_EQ(out.at("id").as_string(), "c1");
  EXPECT_EQ(out.at("model").as_string(), "m");
  const auto& message = out.at("choices").at(0).at("message");
  EXPECT_EQ(message.at("content").as_string(), "Hello");
  EXPECT_EQ(message.at("role").as_string(), "assistant");
  EXPECT_EQ(out.at("choices").at(0).at("finish_reason").as_string(), "stop");
}

TEST(StreamAssembler, AnySplitGivesTheSameResult) {
  StreamAssembler whole;
  whole.feed(kStream);
  for (std::size_t step : {1u, 2u, 7u, 64u}) {
    StreamAssembler pieces;
    for (std::size_t i = 0; i < kStream.size(); i += step) pieces.feed(kStream.substr(i, step));
    EXPECT_EQ(json::serialize(pieces.assembled()), json::serialize(whole.assembled()))
        << "step " << step;
    EXPECT_EQ(pieces.events(), whole.events());
  }
}

TEST(StreamAssembler, FollowingOnlySeesTheSameState) {
  for (const std::string& stream :
       {kStream, chunk(R"([{"index":0,"delta":{"content":"x"},"finish_reason" : "length"}])"),
        chunk(
            R"([{"index":0,"delta":{"content":"\"finish_reason\": null"},"finish_reason":null}])"),
        std::string("data: {\"error\":{\"message\":\"x\"}}\n\n"),
        std::string("data: {\"content\":\"an \\\"error\\\" in text\"}\n\n")}) {
    StreamAssembler full, following(false);
    full.feed(stream);
    following.feed(stream);
    EXPECT_EQ(following.sawDone(), full.sawDone()) << stream;
    EXPECT_EQ(following.sawFinish(), full.sawFinish()) << stream;
    EXPECT_EQ(following.sawError(), full.sawError()) << stream;
  }
}

TEST(StreamAssembler, CrLfLines) {
  std::string crlf;
  for (char c : kStream) {
    if (c == '\n')
      crlf += "\r\n";
    else
      crlf.push_back(c);
  }
  StreamAssembler a;
  a.feed(crlf);
  EXPECT_TRUE(a.sawDone());
  EXPECT_EQ(a.assembled().at("choices").at(0).at("message").at("content").as_string(), "Hello");
}

TEST(StreamAssembler, UsageInsideTheLastChoiceChunk) {
  StreamAssembler a;
  a.feed(chunk(R"([{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}])",
               R"(,"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2,)"
               R"("prompt_tokens_details":{"cached_tokens":1}})"));
  ASSERT_TRUE(a.usage());
  EXPECT_EQ(a.usage()->at("prompt_tokens_details").at("cached_tokens").as_int64(), 1);
  EXPECT_FALSE(a.sawDone());
  EXPECT_TRUE(a.sawFinish());
}

TEST(StreamAssembler, ToolCallsAndSeveralChoices) {
  StreamAssembler a;
  a.feed(chunk(R"([{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",)"
               R"("function":{"name":"get_weather","arguments":""}}]}},)"
               R"({"index":1,"delta":{"content":"B"}}])"));
  a.feed(chunk(
      R"([{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\""}}]}}])"));
  a.feed(chunk(
      R"([{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":\"Oslo\"}"}}]},"finish_reason":"tool_calls"}])"));
  const json::object out = a.assembled();
  const auto& call = out.at("choices").at(0).at("message").at("tool_calls").at(0);
  EXPECT_EQ(call.at("id").as_string(), "call_1");
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments").as_string(), R"({"city":"Oslo"})");
  EXPECT_TRUE(out.at("choices").at(0).at("message").at("content").is_null());
  EXPECT_EQ(out.at("choices").at(1).at("message").at("content").as_string(), "B");
}

TEST(StreamAssembler, ErrorEventsAndGarbage) {
  StreamAssembler a;
  a.feed("data: not json\n\n");
  a.feed("event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n");
  EXPECT_TRUE(a.sawError());
  EXPECT_EQ(a.assembled().at("error").at("message").as_string(), "overloaded");
  EXPECT_EQ(a.events(), 2u);
}

TEST(StreamAssembler, MultiLineData) {
  StreamAssembler a;
  a.feed("data: {\"id\":\"x\",\ndata: \"choices\":[]}\n\n");
  EXPECT_EQ(a.assembled().at("id").as_string(), "x");
}

}  // namespace
}  // namespace pharos::gateway
