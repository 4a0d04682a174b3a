// Decoding the LangSmith ingest bodies: /runs/batch JSON and /runs/multipart parts assembled into
// runs, with every bad run rejected by name while the good ones go on.
#include "tracing/ingest/langsmith_ingest.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace pharos::tracing {
namespace {

constexpr std::string_view kA = "01a2199b-2a7f-7000-8000-0204c339a597";
constexpr std::string_view kB = "01a2199b-2a95-7000-8000-03b2ebcfe518";

const economics::PriceTable& prices() {
  static const economics::PriceTable table = economics::PriceTable::builtIn();
  return table;
}

std::string part(std::string_view name, std::string_view content,
                 std::string_view type = "application/json") {
  return "--B\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
         "\"\r\nContent-Type: " + std::string(type) + "\r\n\r\n" + std::string(content) + "\r\n";
}

std::string body(std::vector<std::string> parts) {
  std::string out;
  for (auto& p : parts) out += p;
  return out + "--B--\r\n";
}

TEST(BatchBodyTest, PostsThenPatchesWithUnknownKeysWarned) {
  const std::string text =
      std::string(R"({"patch":[{"id":")") + std::string(kA) +
      R"(","end_time":1795725929125}],"post":[{"id":")" + std::string(kA) +
      R"(","name":"n","start_time":1795725929000,"inputs":{"x":1}}],"extra":1})";
  auto batch = decodeBatchBody(text, prices());
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->runs.size(), 2u);
  EXPECT_TRUE(batch->runs[0].payload.posted) << "posts first, whatever the key order";
  EXPECT_FALSE(batch->runs[1].payload.posted);
  EXPECT_EQ(batch->runs[0].origin, "post[0]");
  EXPECT_EQ(batch->runs[1].origin, "patch[0]");
  EXPECT_EQ(batch->warnings, (std::vector<std::string>{"unknown field ignored: extra"}));
  EXPECT_NE(batch->runs[0].text.find("n\n"), std::string::npos);
}

TEST(BatchBodyTest, BadRunsAreRejectedByIndex) {
  const std::string text =
      std::string(R"({"post":[{"id":"nope"},{"id":")") + std::string(kB) + R"("}, 7]})";
  auto batch = decodeBatchBody(text, prices());
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->runs.size(), 1u);
  ASSERT_EQ(batch->rejected.size(), 2u);
  EXPECT_EQ(batch->rejected[0].origin, "post[0]");
  EXPECT_NE(batch->rejected[0].message.find("not a UUID"), std::string::npos);
  EXPECT_EQ(batch->rejected[1].origin, "post[2]");
}

TEST(BatchBodyTest, UnreadableBodiesAreErrors) {
  for (std::string_view text : {"", "{", "[]", R"({"post":{}})", "null"}) {
    auto batch = decodeBatchBody(text, prices());
    ASSERT_FALSE(batch.ok()) << text;
    EXPECT_EQ(batch.error().code, core::ErrorCode::kInvalidArgument);
  }
}

TEST(MultipartBodyTest, FieldPartsFillTheRunAndWinOverTheMainPart) {
  const std::string a(kA);
  const std::string text = body({
      part("post." + a + ".inputs", R"({"q":"from part"})"),
      part("post." + a, R"({"id":")" + a + R"(","name":"n","inputs":{"q":"main"},"start_time":1})"),
      part("post." + a + ".error", R"("Error: boom")"),
      part("attachment." + a + ".img", "\x89PNG", "image/png; length=4"),
      part("patch." + a + ".outputs", R"({"a":1})"),
  });
  auto batch = decodeMultipartBody(text, "B", prices());
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_TRUE(batch->rejected.empty());
  ASSERT_EQ(batch->runs.size(), 2u);
  const RunFields& post = batch->runs[0].payload;
  EXPECT_TRUE(post.posted);
  EXPECT_EQ(post.inputs->at("q"), "from part");
  EXPECT_EQ(post.error, "Error: boom");
  EXPECT_EQ(batch->runs[1].payload.id, a);
  EXPECT_FALSE(batch->runs[1].payload.posted);
  ASSERT_EQ(batch->attachments.size(), 1u);
  EXPECT_EQ(batch->attachments[0].name, "img");
  EXPECT_EQ(batch->attachments[0].content_type, "image/png");
  EXPECT_EQ(batch->attachments[0].data, "\x89PNG");
}

TEST(MultipartBodyTest, OneBrokenRunDoesNotSinkTheOthers) {
  const std::string a(kA), b(kB);
  const std::string text = body({
      part("post." + a, R"({"name":"a"})"),
      part("post." + a + ".outputs", "{broken"),
      part("post." + b, R"({"name":"b"})"),
      part("post." + b + ".feedback", "{}"),
      part("attachment.not-a-uuid.x", "data"),
      part("attachment." + a, "data"),
      part("weird", "{}"),
      part("post.ABC", R"({"name":"c"})"),
  });
  auto batch = decodeMultipartBody(text, "B", prices());
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_TRUE(batch->runs.empty());
  std::vector<std::string> origins;
  for (const auto& r : batch->rejected) origins.push_back(r.origin + " | " + r.message);
  ASSERT_EQ(batch->rejected.size(), 6u) << ::testing::PrintToString(origins);
  EXPECT_NE(origins[0].find("attachment.not-a-uuid.x | attachment: run id is not a UUID"),
            std::string::npos);
  EXPECT_NE(origins[1].find("attachment.{run_id}.{name}"), std::string::npos);
  EXPECT_NE(origins[2].find("weird | unknown part"), std::string::npos);
  EXPECT_NE(origins[3].find("not valid JSON"), std::string::npos) << origins[3];
  EXPECT_NE(origins[4].find("unknown run field part \"feedback\""), std::string::npos);
  EXPECT_NE(origins[5].find("not a UUID"), std::string::npos) << origins[5];
}

TEST(MultipartBodyTest, AttachmentsOfRejectedRunsAreDropped) {
  const std::string a(kA), b(kB);
  const std::string text = body({
      part("post." + a, R"({"name":"a","start_time":"never"})"),
      part("attachment." + a + ".x", "lost"),
      part("post." + b + ".inputs", "{bad"),
      part("post." + b, R"({"name":"b"})"),
      part("attachment." + b + ".y", "lost too"),
  });
  auto batch = decodeMultipartBody(text, "B", prices());
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->runs.empty());
  EXPECT_EQ(batch->rejected.size(), 2u);
  EXPECT_TRUE(batch->attachments.empty());
}

TEST(BatchBodyTest, DeeplyNestedValuesAreAccepted) {
  std::string deep;
  for (int i = 0; i < 200; ++i) deep += "[";
  for (int i = 0; i < 200; ++i) deep += "]";
  const std::string text = std::string(R"({"post":[{"id":")") + std::string(kA) +
                           R"(","inputs":{"state":)" + deep + "}}]}";
  auto batch = decodeBatchBody(text, prices());
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  EXPECT_EQ(batch->runs.size(), 1u);
}

TEST(MultipartBodyTest, BrokenFramingIsAnError) {
  auto batch = decodeMultipartBody("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n{}",
                                   "B", prices());
  ASSERT_FALSE(batch.ok());
  EXPECT_EQ(batch.error().code, core::ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace pharos::tracing
