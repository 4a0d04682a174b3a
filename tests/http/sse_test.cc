// formatSseEvent: one data: line per payload line whatever the line ending, plus event and id.
#include "http/sse.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

namespace pharos::http {
namespace {

TEST(FormatSseEventTest, SingleLine) {
  EXPECT_EQ(formatSseEvent("hello"), "data: hello\n\n");
}

TEST(FormatSseEventTest, EmptyData) {
  EXPECT_EQ(formatSseEvent(""), "data: \n\n");
}

TEST(FormatSseEventTest, JsonPayload) {
  EXPECT_EQ(formatSseEvent(R"({"a":1,"b":"x y"})"), "data: {\"a\":1,\"b\":\"x y\"}\n\n");
}

TEST(FormatSseEventTest, LineFeedsSplitIntoDataLines) {
  EXPECT_EQ(formatSseEvent("one\ntwo\nthree"), "data: one\ndata: two\ndata: three\n\n");
}

TEST(FormatSseEventTest, CrLfIsOneLineBreak) {
  EXPECT_EQ(formatSseEvent("one\r\ntwo"), "data: one\ndata: two\n\n");
}

TEST(FormatSseEventTest, BareCarriageReturnIsALineBreak) {
  EXPECT_EQ(formatSseEvent("one\rtwo"), "data: one\ndata: two\n\n");
}

TEST(FormatSseEventTest, MixedLineEndings) {
  EXPECT_EQ(formatSseEvent("a\r\nb\nc\rd"), "data: a\ndata: b\ndata: c\ndata: d\n\n");
}

TEST(FormatSseEventTest, LfCrIsTwoLineBreaks) {
  // "\n\r" is LF then CR: two line ends, so an empty line between.
  EXPECT_EQ(formatSseEvent("a\n\rb"), "data: a\ndata: \ndata: b\n\n");
}

TEST(FormatSseEventTest, EmptyLinesArePreserved) {
  EXPECT_EQ(formatSseEvent("a\n\nb"), "data: a\ndata: \ndata: b\n\n");
  // A trailing line break yields a last empty data line, so the client rebuilds "a\n".
  EXPECT_EQ(formatSseEvent("a\n"), "data: a\ndata: \n\n");
  EXPECT_EQ(formatSseEvent("a\r\n"), "data: a\ndata: \n\n");
  EXPECT_EQ(formatSseEvent("\r"), "data: \ndata: \n\n");
}

TEST(FormatSseEventTest, EventAndIdComeBeforeData) {
  EXPECT_EQ(formatSseEvent("payload", "update", "42"), "event: update\nid: 42\ndata: payload\n\n");
}

TEST(FormatSseEventTest, EventOnly) {
  EXPECT_EQ(formatSseEvent("x\ny", "end"), "event: end\ndata: x\ndata: y\n\n");
}

TEST(FormatSseEventTest, IdOnly) {
  EXPECT_EQ(formatSseEvent("x", {}, "7"), "id: 7\ndata: x\n\n");
}

// Collects what an SseWriter writes.
class RecordingWriter final : public StreamWriter {
 public:
  asio::awaitable<bool> write(std::string_view data) override {
    writes.emplace_back(data);
    co_return true;
  }
  std::vector<std::string> writes;
};

asio::awaitable<void> sendTwo(SseWriter& sse) {
  co_await sse.send("a\nb", "ev", "1");
  co_await sse.keepAlive();
}

TEST(SseWriterTest, EachEventIsOneWrite) {
  RecordingWriter out;
  SseWriter sse(out);
  asio::io_context ctx;
  asio::co_spawn(ctx, sendTwo(sse), asio::detached);
  ctx.run();
  ASSERT_EQ(out.writes.size(), 2u);
  EXPECT_EQ(out.writes[0], "event: ev\nid: 1\ndata: a\ndata: b\n\n");
  EXPECT_EQ(out.writes[1], ": keep-alive\n\n");
}

}  // namespace
}  // namespace pharos::http
