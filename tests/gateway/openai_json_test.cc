#include "gateway/openai_json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace pharos::gateway {
namespace {

TEST(OpenAiJson, ReplacesOnlyTheTopLevelModel) {
  const std::string body =
      R"({"messages":[{"role":"user","content":"\"model\": \"x\"","model":"inner"}],)"
      R"( "model" : "gpt-4o", "temperature":1.0,"extra":{"model":"y"}})";
  EXPECT_EQ(withModel(body, "gpt-4o-mini"),
            R"({"messages":[{"role":"user","content":"\"model\": \"x\"","model":"inner"}],)"
            R"( "model" : "gpt-4o-mini", "temperature":1.0,"extra":{"model":"y"}})");
}

TEST(OpenAiJson, FindsValuesOfEveryKind) {
  const std::string body = R"({"a":1.50,"b":[1,{"c":"]"}],"d":null,"e":"x\\\"y","f":{"g":{}}})";
  const auto text = [&](std::string_view key) {
    auto range = findTopLevelValue(body, key);
    return range ? body.substr(range->first, range->second - range->first) : std::string("-");
  };
  EXPECT_EQ(text("a"), "1.50");
  EXPECT_EQ(text("b"), R"([1,{"c":"]"}])");
  EXPECT_EQ(text("d"), "null");
  EXPECT_EQ(text("e"), R"("x\\\"y")");
  EXPECT_EQ(text("f"), R"({"g":{}})");
  EXPECT_EQ(text("c"), "-");
  EXPECT_EQ(text("g"), "-");
}

TEST(OpenAiJson, EscapedKeysAndDuplicates) {
  EXPECT_EQ(withModel(R"({"mod\u0065l":"a"})", "b"), R"({"mod\u0065l":"b"})");
  // The last duplicate wins upstream, so that is the one replaced.
  EXPECT_EQ(withModel(R"({"model":"a","model":"b"})", "c"), R"({"model":"a","model":"c"})");
}

TEST(OpenAiJson, AddsAMissingMember) {
  EXPECT_EQ(withMember(R"({})", "model", R"("m")"), R"({"model":"m"})");
  EXPECT_EQ(withMember(R"( {"a":1})", "model", R"("m")"), R"( {"model":"m","a":1})");
  const std::string added = withMember(R"({"a":1})", "stream_options", R"({"include_usage":true})");
  EXPECT_EQ(boost::json::parse(added).at("stream_options").at("include_usage").as_bool(), true);
}

TEST(OpenAiJson, IsJsonChecksTheWholeText) {
  EXPECT_TRUE(isJson(R"({"a":[1,2.5e3,"x\u00e9",null,true,{}]})"));
  EXPECT_TRUE(isJson(" {} \n"));
  EXPECT_TRUE(isJson("[]"));
  EXPECT_FALSE(isJson(R"({"id": "x", "choices": [)"));
  EXPECT_FALSE(isJson(R"({"a":1} trailing)"));
  EXPECT_FALSE(isJson(R"({"a":1}{"b":2})"));
  EXPECT_FALSE(isJson(""));
  EXPECT_FALSE(isJson("{'a':1}"));
}

TEST(OpenAiJson, ErrorShape) {
  const auto response =
      openAiError(404, "invalid_request_error", "no such model", "model_not_found", "model");
  EXPECT_EQ(response.status, 404u);
  const auto body = boost::json::parse(response.body);
  EXPECT_EQ(body.at("error").at("message").as_string(), "no such model");
  EXPECT_EQ(body.at("error").at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(body.at("error").at("code").as_string(), "model_not_found");
  EXPECT_EQ(body.at("error").at("param").as_string(), "model");
  EXPECT_TRUE(openAiError(500, "t", "m").body.find(R"("code":null)") != std::string::npos);
}

}  // namespace
}  // namespace pharos::gateway
