// multipart/form-data: boundary extraction, incremental parsing at every chunk split, errors
// and limits.
#include "http/multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pharos::http {
namespace {

using core::ErrorCode;
using core::Status;
using ::testing::HasSubstr;

constexpr std::string_view kBoundary = "----LangSmithFormBoundary7f3a9c";

// Records every sink call; the serialized form makes two runs easy to compare.
class RecordingSink : public MultipartSink {
 public:
  Status onPartBegin(const PartHeaders& headers) override {
    if (in_part) return core::Error::internal("begin inside a part");
    in_part = true;
    parts.push_back(Part{headers, {}});
    return {};
  }
  Status onPartData(std::string_view data) override {
    if (!in_part) return core::Error::internal("data outside a part");
    if (data.empty()) ++empty_data_calls;
    parts.back().body.append(data);
    return {};
  }
  Status onPartEnd() override {
    if (!in_part) return core::Error::internal("end outside a part");
    in_part = false;
    return {};
  }

  std::vector<Part> parts;
  bool in_part = false;
  int empty_data_calls = 0;
};

std::string describe(const std::vector<Part>& parts) {
  std::string out;
  for (const Part& part : parts) {
    out += "[" + part.headers.name + "|" + part.headers.filename.value_or("-") + "|" +
           part.headers.content_type + "|" +
           (part.headers.content_length ? std::to_string(*part.headers.content_length) : "-");
    for (const auto& [name, value] : part.headers.headers) out += "|" + name + "=" + value;
    out += "]" + part.body + "\n";
  }
  return out;
}

// Feeds `body` cut at `cuts` (ascending offsets) and returns the parts, or "error: <message>".
std::string run(std::string_view body, const std::vector<std::size_t>& cuts,
                MultipartLimits limits = {}, std::string_view boundary = kBoundary) {
  RecordingSink sink;
  MultipartParser parser(std::string(boundary), sink, limits);
  std::size_t from = 0;
  std::vector<std::size_t> all = cuts;
  all.push_back(body.size());
  for (std::size_t to : all) {
    if (Status s = parser.feed(body.substr(from, to - from)); !s)
      return "error: " + s.error().message;
    from = to;
  }
  if (Status s = parser.finish(); !s) return "error: " + s.error().message;
  if (sink.empty_data_calls != 0) return "empty onPartData calls";
  if (sink.in_part) return "part not ended";
  return describe(sink.parts);
}

std::string jsonPart(std::string_view name, std::string_view json) {
  return "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"" +
         std::string(name) +
         "\"\r\nContent-Type: application/json; length=" + std::to_string(json.size()) +
         "\r\n\r\n" + std::string(json) + "\r\n";
}

// A body laid out the way the LangSmith JS client builds one (client.js:multipartIngestRuns).
std::string langsmithBody() {
  const std::string id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  std::string body;
  body += jsonPart(
      "post." + id,
      R"({"id":")" + id + R"(","trace_id":")" + id + R"(","dotted_order":"20240101T000000000000Z)" +
          id + R"(","name":"chain","run_type":"chain","start_time":"2024-01-01T00:00:00Z"})");
  body += jsonPart("post." + id + ".inputs", R"({"question":"what is --boundary-ish?"})");
  body += jsonPart("post." + id + ".extra", R"({"metadata":{"k":"v"}})");
  std::string binary = "\x89PNG\r\n\x1a\n\r\n--\r\n--" + std::string(kBoundary.substr(0, 10)) +
                       std::string("\0\xff\r\n-", 5) + "\r\n--" +
                       std::string(kBoundary.substr(0, kBoundary.size() - 1)) + "Y-tail";
  // ^ a delimiter lookalike that differs only in its last character
  body += "--" + std::string(kBoundary) + "\r\nContent-Disposition: form-data; name=\"attachment." +
          id + ".image\"\r\nContent-Type: image/png; length=" + std::to_string(binary.size()) +
          "\r\n\r\n" + binary + "\r\n";
  body += jsonPart("patch." + id, R"({"id":")" + id + R"(","end_time":"2024-01-01T00:00:01Z"})");
  body += jsonPart("patch." + id + ".outputs", R"({"answer":"42"})");
  body += jsonPart("patch." + id + ".error", R"("Error: boom")");
  body += "--" + std::string(kBoundary) + "--\r\n";
  return body;
}

TEST(MultipartBoundaryTest, Table) {
  struct Case {
    std::string_view content_type;
    std::string_view boundary;  // empty: expect an error containing `error`
    std::string_view error;
  };
  const std::string long_boundary(71, 'a');
  const std::string max_boundary(70, 'a');
  const std::string long_ct = "multipart/form-data; boundary=" + long_boundary;
  const std::string max_ct = "multipart/form-data; boundary=" + max_boundary;
  const Case cases[] = {
      {"multipart/form-data; boundary=----LangSmithFormBoundaryabc", "----LangSmithFormBoundaryabc",
       ""},
      {"multipart/form-data; boundary=\"quoted boundary\"", "quoted boundary", ""},
      {"Multipart/Form-Data; BOUNDARY=abc", "abc", ""},
      {"multipart/form-data;charset=utf-8;boundary=----formdata-undici-0123",
       "----formdata-undici-0123", ""},
      {"multipart/form-data; boundary=\"a:b=c?\"; charset=utf-8", "a:b=c?", ""},
      {"multipart/form-data; boundary=\"a;b\"", "", "RFC 2046"},
      {"multipart/form-data ; boundary = xyz ", "xyz", ""},
      {max_ct, max_boundary, ""},
      {"application/json", "", "expected Content-Type multipart/form-data"},
      {"multipart/mixed; boundary=abc", "", "expected Content-Type multipart/form-data"},
      {"multipart/form-data", "", "no boundary parameter"},
      {"multipart/form-data; charset=utf-8", "", "no boundary parameter"},
      {"multipart/form-data; boundary=", "", "no boundary parameter"},
      {"multipart/form-data; boundary=\"\"", "", "no boundary parameter"},
      {long_ct, "", "at most 70"},
      {"multipart/form-data; boundary=abc{}", "", "RFC 2046"},
      {"multipart/form-data; boundary=\"abc \"", "", "RFC 2046"},
      {"multipart/form-data; boundary=\"abc", "", "malformed parameters"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.content_type));
    core::Result<std::string> result = multipartBoundary(c.content_type);
    if (c.error.empty()) {
      ASSERT_TRUE(result.ok()) << result.error().message;
      EXPECT_EQ(*result, c.boundary);
    } else {
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
      EXPECT_THAT(result.error().message, HasSubstr(c.error));
    }
  }
}

TEST(MultipartParserTest, LangsmithBodyParses) {
  const std::string body = langsmithBody();
  core::Result<std::vector<Part>> parts = parseMultipart(body, kBoundary);
  ASSERT_TRUE(parts.ok()) << parts.error().message;
  ASSERT_EQ(parts->size(), 7u);
  const std::string id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
  EXPECT_EQ((*parts)[0].headers.name, "post." + id);
  EXPECT_THAT((*parts)[0].headers.content_type, HasSubstr("application/json; length="));
  EXPECT_FALSE((*parts)[0].headers.filename.has_value());
  EXPECT_EQ((*parts)[1].headers.name, "post." + id + ".inputs");
  EXPECT_EQ((*parts)[1].body, R"({"question":"what is --boundary-ish?"})");
  EXPECT_EQ((*parts)[3].headers.name, "attachment." + id + ".image");
  EXPECT_THAT((*parts)[3].body, HasSubstr(std::string("\0\xff\r\n-", 5)));
  EXPECT_THAT((*parts)[3].body, HasSubstr("Y-tail"));
  EXPECT_EQ((*parts)[6].headers.name, "patch." + id + ".error");
  EXPECT_EQ((*parts)[6].body, R"("Error: boom")");
  ASSERT_EQ((*parts)[6].headers.headers.size(), 2u);
  EXPECT_EQ((*parts)[6].headers.headers[0].first, "Content-Disposition");
}

TEST(MultipartParserTest, SameResultWholeByteByByteAndAtEverySplit) {
  const std::string body = langsmithBody();
  ASSERT_GT(body.size(), 900u);
  const std::string whole = run(body, {});
  ASSERT_EQ(whole.rfind("error", 0), std::string::npos) << whole;
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
  EXPECT_EQ(run(body, every), whole);
  for (std::size_t i = 0; i <= body.size(); ++i) {
    ASSERT_EQ(run(body, {i}), whole) << "split at " << i;
  }
  // Two cuts a delimiter apart exercise a boundary that spans three chunks.
  for (std::size_t i = 0; i + 20 <= body.size(); ++i) {
    ASSERT_EQ(run(body, {i, i + 20}), whole) << "split at " << i;
  }
}

TEST(MultipartParserTest, PreambleEpilogueAndBareLf) {
  const std::string b(kBoundary);
  const std::string crlf = "preamble text\r\n--" + b +
                           "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nalpha\r\n--" + b +
                           "--\r\nepilogue --" + b + "\r\n garbage";
  EXPECT_EQ(run(crlf, {}), "[a|-||-|Content-Disposition=form-data; name=\"a\"]alpha\n");
  const std::string lf = "--" + b + "\nContent-Disposition: form-data; name=\"a\"\n\nalpha\n--" +
                         b + "\ncontent-disposition: form-data; name=b; filename=\"blob\"\n\n\n--" +
                         b + "--";
  EXPECT_EQ(run(lf, {}),
            "[a|-||-|Content-Disposition=form-data; name=\"a\"]alpha\n"
            "[b|blob||-|content-disposition=form-data; name=b; filename=\"blob\"]\n");
}

TEST(MultipartParserTest, EmptyPartsAndNoEmptyDataCalls) {
  const std::string b(kBoundary);
  // An empty body the usual way, and one whose delimiter directly follows the blank line.
  const std::string body = "--" + b +
                           "\r\nContent-Disposition: form-data; name=\"e1\"\r\n\r\n\r\n--" + b +
                           "\r\nContent-Disposition: form-data; name=\"e2\"\r\n\r\n--" + b +
                           "\r\nContent-Disposition: form-data; name=\"x\"\r\nContent-Length: "
                           "1\r\n\r\n-\r\n--" +
                           b + "--";
  const std::string expected =
      "[e1|-||-|Content-Disposition=form-data; name=\"e1\"]\n"
      "[e2|-||-|Content-Disposition=form-data; name=\"e2\"]\n"
      "[x|-||1|Content-Disposition=form-data; name=\"x\"|Content-Length=1]-\n";
  for (std::size_t i = 0; i <= body.size(); ++i) {
    ASSERT_EQ(run(body, {i}), expected) << "split at " << i;
  }
}

TEST(MultipartParserTest, Errors) {
  const std::string b(kBoundary);
  const std::string head = "--" + b + "\r\n";
  const std::string cd = "Content-Disposition: form-data; name=\"p\"\r\n";
  struct Case {
    std::string body;
    std::string error;
  };
  const Case cases[] = {
      {"", "multipart: missing first boundary \"--" + b + "\""},
      {"no boundary here\r\n", "multipart: missing first boundary"},
      {head + cd + "\r\nbody",
       "multipart: truncated body: no closing boundary at byte 83 in part \"p\""},
      {head + cd, "multipart: truncated body: no closing boundary"},
      {head + "Content-Disposition form-data\r\n\r\n",
       "multipart: malformed part header line at byte 35"},
      {head + "Bad Name: x\r\n\r\n", "multipart: malformed part header line at byte 35"},
      {head + "Content-Type: text/plain\r\n\r\nx\r\n--" + b + "--",
       "multipart: part has no Content-Disposition at byte 63"},
      {head + "Content-Disposition: attachment; name=\"p\"\r\n\r\n", "invalid Content-Disposition"},
      {head + "Content-Disposition: form-data; filename=\"f\"\r\n\r\n",
       "Content-Disposition has no name at byte 35"},
      {head + "Content-Disposition: form-data; name=\"\"\r\n\r\n", "has no name"},
      {head + cd + cd + "\r\n", "duplicate Content-Disposition"},
      {head + cd + "Content-Length: 12x\r\n\r\n",
       "invalid Content-Length at byte 77 in part \"p\""},
      {head + cd + "Content-Length: 3\r\n\r\nab\r\n--" + b + "--",
       "part \"p\" has Content-Length 3 but 2 bytes"},
      {"--" + b + "junk\r\n", "multipart: malformed boundary line at byte 33"},
      {head + cd + "\r\nx\r\n--" + b + "x\r\n", "malformed boundary line"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    core::Result<std::vector<Part>> result = parseMultipart(c.body, b);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_THAT(result.error().message, HasSubstr(c.error));
    // The same error whatever the chunking.
    EXPECT_EQ(run(c.body, {c.body.size() / 2}), "error: " + result.error().message);
  }
}

TEST(MultipartParserTest, Limits) {
  const std::string b(kBoundary);
  const std::string part = "--" + b + "\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\n" +
                           std::string(100, 'x') + "\r\n";
  const std::string three = part + part + part + "--" + b + "--";

  MultipartLimits limits;
  limits.max_parts = 3;
  EXPECT_TRUE(parseMultipart(three, b, limits).ok());
  limits.max_parts = 2;
  core::Result<std::vector<Part>> r = parseMultipart(three, b, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_THAT(r.error().message, HasSubstr("more than 2 parts"));

  limits = {};
  limits.max_part_bytes = 100;
  EXPECT_TRUE(parseMultipart(three, b, limits).ok());
  limits.max_part_bytes = 99;
  r = parseMultipart(three, b, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_EQ(r.error().message, "multipart: part \"p\" exceeds 99 bytes");
  // Byte by byte, the limit still holds (the lookbehind is not counted twice).
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < three.size(); ++i) every.push_back(i);
  EXPECT_EQ(run(three, every, limits), "error: multipart: part \"p\" exceeds 99 bytes");

  const std::string declared = "--" + b +
                               "\r\nContent-Disposition: form-data; name=\"big\"\r\n"
                               "Content-Length: 1000\r\n\r\n";
  r = parseMultipart(declared, b, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_THAT(r.error().message, HasSubstr("part \"big\" declares 1000 bytes"));

  limits = {};
  limits.max_header_bytes = 64;
  const std::string long_header = "--" + b + "\r\nX-Filler: " + std::string(100, 'h');
  r = parseMultipart(long_header, b, limits);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTooLarge);
  EXPECT_THAT(r.error().message, HasSubstr("part headers exceed 64 bytes at byte 35"));
  EXPECT_EQ(run(long_header, {40, 50, 60}, limits), "error: " + r.error().message);
}

TEST(MultipartParserTest, SinkErrorAbortsAndSticks) {
  class FailingSink : public MultipartSink {
   public:
    Status onPartBegin(const PartHeaders& headers) override {
      return core::Error::invalidArgument("unknown part " + headers.name);
    }
    Status onPartData(std::string_view) override { return {}; }
    Status onPartEnd() override { return {}; }
  } sink;
  MultipartParser parser(std::string(kBoundary), sink);
  Status s = parser.feed(langsmithBody());
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.error().message, HasSubstr("unknown part post."));
  EXPECT_EQ(s.error().message.rfind("multipart:", 0), std::string::npos);  // passed through as is
  Status again = parser.finish();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().message, s.error().message);
}

TEST(MultipartParserTest, CompleteAndEpilogueIgnored) {
  RecordingSink sink;
  MultipartParser parser("b", sink);
  EXPECT_FALSE(parser.complete());
  ASSERT_TRUE(parser.feed("--b\r\nContent-Disposition: form-data; name=n\r\n\r\nv\r\n--b--").ok());
  EXPECT_TRUE(parser.complete());
  ASSERT_TRUE(parser.feed("\r\n--b\r\nanything at all").ok());
  ASSERT_TRUE(parser.finish().ok());
  ASSERT_EQ(sink.parts.size(), 1u);
  EXPECT_EQ(sink.parts[0].body, "v");
}

}  // namespace
}  // namespace pharos::http
