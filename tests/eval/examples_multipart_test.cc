#include "eval/api/examples_multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace pharos::eval {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

boost::json::object obj(std::string_view json) {
  return boost::json::parse(json).as_object();
}

constexpr std::string_view kBoundary = "----formdata-undici-0.6245193747869841";
const std::string kContentType = "multipart/form-data; boundary=" + std::string(kBoundary);

struct FormPart {
  std::string name, content_type, data;
};

// The framing of undici's FormData (what langsmith 0.10.5's `_uploadExamplesMultipart` sends):
// every part is a Blob, so it carries `filename="blob"` and the Blob's type.
std::string formData(const std::vector<FormPart>& parts) {
  std::string body;
  for (const auto& part : parts) {
    body += "--" + std::string(kBoundary) + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + part.name + "\"; filename=\"blob\"\r\n";
    body += "Content-Type: " + part.content_type + "\r\n\r\n";
    body += part.data + "\r\n";
  }
  body += "--" + std::string(kBoundary) + "--\r\n";
  return body;
}

FormPart json(std::string name, std::string data) {
  return {std::move(name), "application/json", std::move(data)};
}
FormPart attachment(std::string name, std::string mime, std::string data) {
  std::string type = mime + "; length=" + std::to_string(data.size());
  return {std::move(name), std::move(type), std::move(data)};
}

constexpr std::string_view kId1 = "0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11";
constexpr std::string_view kId2 = "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091";
constexpr std::string_view kRun = "5f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

std::string id1(std::string_view suffix = "") {
  return std::string(kId1) + std::string(suffix);
}
std::string id2(std::string_view suffix = "") {
  return std::string(kId2) + std::string(suffix);
}

std::string decodeError(const std::vector<FormPart>& parts, bool for_update = false) {
  auto result = decodeExamplesMultipart(formData(parts), kContentType, for_update);
  if (result.ok()) return "<decoded>";
  EXPECT_EQ(result.error().code, core::ErrorCode::kInvalidArgument) << result.error().message;
  return result.error().message;
}

TEST(ExamplesMultipart, CreateExamplesBodyAsTheClientSendsIt) {
  // createExamples: `{}` for the first (no created_at), every optional field for the second;
  // outputs absent on the first; attachments with binary bytes (CRLF, NUL, a fake delimiter).
  const std::string png("\x89PNG\r\n\x1a\n\0\r\n--x", 14);
  const auto body = formData({
      json(id1(), "{}"),
      json(id1(".inputs"), R"({"question":"What is 2+2?"})"),
      json(id2(), R"({"created_at":"2026-11-27T07:00:00.000Z","metadata":{"source":"wiki"},)"
                  R"("split":["train","hard"],"source_run_id":")" +
                      std::string(kRun) + R"(","use_source_run_io":true})"),
      json(id2(".inputs"), R"({"question":"Why?","ctx":{"docs":[1,2]}})"),
      json(id2(".outputs"), R"({"answer":"because"})"),
      attachment(id2(".attachment.image"), "image/png", png),
      attachment(id2(".attachment.notes.txt"), "text/plain", ""),
  });
  auto result = decodeExamplesMultipart(body, kContentType, /*for_update=*/false);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 2u);

  const ExampleUpload& first = (*result)[0];
  EXPECT_EQ(first.id, kId1);
  EXPECT_EQ(first.inputs, obj(R"({"question":"What is 2+2?"})"));
  EXPECT_FALSE(first.outputs.has_value());
  EXPECT_FALSE(first.metadata.has_value());
  EXPECT_FALSE(first.created_at.has_value());
  EXPECT_TRUE(first.splits.empty());
  EXPECT_TRUE(first.attachments.empty());
  EXPECT_FALSE(first.use_source_run_io);

  const ExampleUpload& second = (*result)[1];
  EXPECT_EQ(second.id, kId2);
  EXPECT_EQ(second.inputs, obj(R"({"question":"Why?","ctx":{"docs":[1,2]}})"));
  EXPECT_EQ(second.outputs, obj(R"({"answer":"because"})"));
  EXPECT_EQ(second.metadata, obj(R"({"source":"wiki"})"));
  EXPECT_THAT(second.splits, ElementsAre("train", "hard"));
  EXPECT_EQ(second.created_at, "2026-11-27T07:00:00.000Z");
  EXPECT_EQ(second.source_run_id, kRun);
  EXPECT_TRUE(second.use_source_run_io);
  ASSERT_EQ(second.attachments.size(), 2u);
  EXPECT_EQ(second.attachments[0].name, "image");
  EXPECT_EQ(second.attachments[0].mime_type, "image/png");
  EXPECT_EQ(second.attachments[0].data, png);
  EXPECT_EQ(second.attachments[1].name, "notes.txt");  // dots after "attachment." are the name's
  EXPECT_EQ(second.attachments[1].mime_type, "text/plain");
  EXPECT_EQ(second.attachments[1].data, "");
  EXPECT_FALSE(second.attachments_operations.has_value());
}

TEST(ExamplesMultipart, OrderOfFirstPartAndCaseInsensitiveIds) {
  std::string upper = id2();
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  auto result = decodeExamplesMultipart(formData({
                                            json(upper + ".inputs", R"({"n":2})"),
                                            json(id1(".inputs"), R"({"n":1})"),
                                            json(id2(), R"({"split":"test"})"),
                                            json(id1(), "{}"),
                                        }),
                                        kContentType, false);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[0].id, kId2);  // lower-cased, grouped with the lower-case `{id}` part
  EXPECT_EQ((*result)[0].inputs, obj(R"({"n":2})"));
  EXPECT_THAT((*result)[0].splits, ElementsAre("test"));
  EXPECT_EQ((*result)[1].id, kId1);
}

TEST(ExamplesMultipart, ManyExamplesWithAttachments) {
  std::vector<FormPart> parts;
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    char id[37];
    std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012d", i);
    ids.emplace_back(id);
    parts.push_back(json(ids.back(), "{}"));
    parts.push_back(json(ids.back() + ".inputs", R"({"i":)" + std::to_string(i) + "}"));
    for (int a = 0; a < i % 3; ++a) {
      parts.push_back(attachment(ids.back() + ".attachment.a" + std::to_string(a),
                                 "application/octet-stream", std::string(i * 10 + a, 'x')));
    }
  }
  auto result = decodeExamplesMultipart(formData(parts), kContentType, false);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 50u);
  for (int i = 0; i < 50; ++i) {
    const auto& example = (*result)[i];
    EXPECT_EQ(example.id, ids[i]);
    EXPECT_EQ(example.inputs, obj(R"({"i":)" + std::to_string(i) + "}"));
    ASSERT_EQ(example.attachments.size(), static_cast<std::size_t>(i % 3));
    for (int a = 0; a < i % 3; ++a) {
      EXPECT_EQ(example.attachments[a].name, "a" + std::to_string(a));
      EXPECT_EQ(example.attachments[a].data.size(), static_cast<std::size_t>(i * 10 + a));
    }
  }
}

TEST(ExamplesMultipart, InputsRequiredWhenCreatingOnlyExamplePartIsEnough) {
  const std::vector<FormPart> parts = {json(id1(), "{}"), json(id1(".inputs"), "{}"),
                                       json(id2(), R"({"metadata":{"k":1}})"),
                                       json(id2(".outputs"), R"({"a":1})")};
  EXPECT_THAT(decodeError(parts), HasSubstr("\"" + id2(".inputs") + "\": missing"));

  auto update = decodeExamplesMultipart(formData(parts), kContentType, /*for_update=*/true);
  ASSERT_TRUE(update.ok()) << update.error().message;
  ASSERT_EQ(update->size(), 2u);
  EXPECT_FALSE((*update)[1].inputs.has_value());
  EXPECT_EQ((*update)[1].outputs, obj(R"({"a":1})"));
  EXPECT_EQ((*update)[1].metadata, obj(R"({"k":1})"));
}

TEST(ExamplesMultipart, UpdateWithAttachmentOperations) {
  auto result = decodeExamplesMultipart(
      formData({json(id1(), "{}"),
                json(id1(".attachments_operations"),
                     R"({"rename":{"old.png":"new.png"},"retain":["keep.txt"]})"),
                attachment(id1(".attachment.fresh"), "text/plain", "hi")}),
      kContentType, /*for_update=*/true);
  ASSERT_TRUE(result.ok()) << result.error().message;
  ASSERT_EQ(result->size(), 1u);
  EXPECT_EQ((*result)[0].attachments_operations,
            obj(R"({"rename":{"old.png":"new.png"},"retain":["keep.txt"]})"));
  ASSERT_EQ((*result)[0].attachments.size(), 1u);
}

TEST(ExamplesMultipart, NullFieldsAreAbsentAndEmptyBodyHasNoExamples) {
  auto result = decodeExamplesMultipart(
      formData({json(id1(), R"({"created_at":null,"metadata":null,"split":null,"x":1})"),
                json(id1(".inputs"), "{}")}),
      kContentType, false);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_FALSE((*result)[0].metadata.has_value());
  EXPECT_FALSE((*result)[0].created_at.has_value());

  auto empty = decodeExamplesMultipart(formData({}), kContentType, false);
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE(empty->empty());
}

TEST(ExamplesMultipart, EveryErrorNamesItsPart) {
  const std::string in = id1(".inputs");
  const FormPart ok_in = json(in, "{}");
  struct Case {
    std::vector<FormPart> parts;
    std::string expected;
    bool for_update = false;
  };
  const std::vector<Case> cases = {
      {{ok_in, json(id1(".input"), "{}")}, "part \"" + id1(".input") + "\": unknown part suffix"},
      {{json("not-a-uuid.inputs", "{}")}, "part \"not-a-uuid.inputs\": name must start"},
      {{json(std::string(kId1).substr(1) + "x.inputs", "{}")},
       "must start with the example's UUID"},
      {{json(in, "{\"q\":")}, "part \"" + in + "\": not valid JSON"},
      {{json(in, "[1]")}, "part \"" + in + "\": must be a JSON object"},
      {{ok_in, json(id1(".outputs"), "\"text\"")},
       "\"" + id1(".outputs") + "\": must be a JSON object"},
      {{ok_in, json(id1(), "null")}, "part \"" + id1() + "\": must be a JSON object"},
      {{ok_in, json(in, "{}")}, "part \"" + in + "\": sent twice"},
      {{json(id1(), "{}"), ok_in, json(id1(), "{}")}, "part \"" + id1() + "\": sent twice"},
      {{ok_in, attachment(id1(".attachment.a"), "text/plain", "x"),
        attachment(id1(".attachment.a"), "text/plain", "y")},
       "part \"" + id1(".attachment.a") + "\": sent twice"},
      {{ok_in, attachment(id1(".attachment."), "text/plain", "x")}, "attachment name is empty"},
      {{ok_in, FormPart{id1(".attachment.a"), "text/plain; length=9", "short"}},
       "part \"" + id1(".attachment.a") +
           "\": Content-Type says length=9 but the part has 5 bytes"},
      {{ok_in, FormPart{id1(".attachment.a"), "text/plain; length=x", "short"}},
       "not a byte count"},
      {{ok_in, json(id1(), R"({"split":7})")}, "\"split\" must be a string or an array"},
      {{ok_in, json(id1(), R"({"split":["a",1]})")}, "\"split\" must be a string or an array"},
      {{ok_in, json(id1(), R"({"split":""})")}, "\"split\" has an empty split name"},
      {{ok_in, json(id1(), R"({"metadata":"m"})")}, "\"metadata\" must be an object"},
      {{ok_in, json(id1(), R"({"created_at":5})")}, "\"created_at\" must be a string"},
      {{ok_in, json(id1(), R"({"source_run_id":"run-1"})")}, "\"source_run_id\" must be a UUID"},
      {{ok_in, json(id1(), R"({"use_source_run_io":"yes"})")}, "must be a boolean"},
      {{ok_in, json(id1(), R"({"use_source_run_io":true})")}, "needs \"source_run_id\""},
      {{ok_in, json(id1(".attachments_operations"), "{}")}, "only accepted when updating"},
      {{json(id1(".attachments_operations"), R"({"rename":{"a":1}})")},
       "\"rename\" must map",
       true},
      {{json(id1(".attachments_operations"), R"({"retain":"a"})")},
       "\"retain\" must be an array",
       true},
      {{json(id1(".attachments_operations"), R"({"delete":["a"]})")},
       "unknown operation \"delete\"",
       true},
  };
  for (const auto& c : cases) {
    const std::string message = decodeError(c.parts, c.for_update);
    EXPECT_THAT(message, HasSubstr(c.expected));
    EXPECT_THAT(message, HasSubstr("examples multipart: part \""));
  }
}

TEST(ExamplesMultipart, BadFramingAndContentType) {
  auto wrong_type = decodeExamplesMultipart(formData({}), "application/json", false);
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_EQ(wrong_type.error().code, core::ErrorCode::kInvalidArgument);

  std::string truncated = formData({json(id1(".inputs"), "{}")});
  truncated.resize(truncated.size() - 10);
  auto result = decodeExamplesMultipart(truncated, kContentType, false);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("examples multipart: "));
}

}  // namespace
}  // namespace pharos::eval
