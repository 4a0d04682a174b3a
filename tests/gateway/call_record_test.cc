#include "gateway/call_record.h"

#include <gtest/gtest.h>

namespace pharos::gateway {
namespace {

http::Request requestWith(std::vector<std::pair<std::string, std::string>> headers) {
  boost::beast::http::request<boost::beast::http::string_body> message{
      boost::beast::http::verb::post, "/v1/chat/completions", 11};
  for (const auto& [name, value] : headers) message.set(name, value);
  http::Request request(std::move(message), "rid", "127.0.0.1");
  (void)request.parseTarget();
  return request;
}

const auto kStart =
    std::chrono::system_clock::from_time_t(1700000000) + std::chrono::microseconds(42);

TEST(TraceLink, W3cTraceparent) {
  const auto link = traceLinkFor(
      requestWith({{"traceparent", "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"}}),
      kStart);
  EXPECT_EQ(link.trace_hex, "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(link.trace_id, "0af76519-16cd-43dd-8448-eb211c80319c");
  EXPECT_EQ(link.parent_run_id, "0af76519-16cd-43dd-b7ad-6b7169203331");
  EXPECT_EQ(link.parent_span_hex, "b7ad6b7169203331");
  ASSERT_EQ(link.span_hex.size(), 16u);
  EXPECT_EQ(link.run_id.substr(0, 18), "0af76519-16cd-43dd");
  EXPECT_FALSE(link.dotted_order);
}

TEST(TraceLink, InvalidTraceparentStartsANewTrace) {
  for (std::string bad : {"00-00000000000000000000000000000000-b7ad6b7169203331-01",
                          "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
                          "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "garbage"}) {
    const auto link = traceLinkFor(requestWith({{"traceparent", bad}}), kStart);
    EXPECT_FALSE(link.parent_run_id) << bad;
    EXPECT_NE(link.trace_hex, "0af7651916cd43dd8448eb211c80319c");
  }
}

TEST(TraceLink, LangSmithDottedOrder) {
  const std::string parent =
      "20240101T000000000000Z11111111-1111-4111-8111-111111111111."
      "20240101T000001000000Z22222222-2222-4222-8222-222222222222";
  const auto link = traceLinkFor(requestWith({{"langsmith-trace", parent}}), kStart);
  EXPECT_EQ(link.trace_id, "11111111-1111-4111-8111-111111111111");
  EXPECT_EQ(link.parent_run_id, "22222222-2222-4222-8222-222222222222");
  ASSERT_TRUE(link.dotted_order);
  EXPECT_EQ(*link.dotted_order, parent + ".20231114T221320000042Z" + link.run_id);
}

TEST(TraceLink, NoHeadersIsARootRun) {
  const auto a = traceLinkFor(requestWith({}), kStart);
  const auto b = traceLinkFor(requestWith({}), kStart);
  EXPECT_FALSE(a.parent_run_id);
  EXPECT_NE(a.trace_id, b.trace_id);
  EXPECT_EQ(a.trace_hex.size(), 32u);
  EXPECT_EQ(a.run_id.size(), 36u);
}

}  // namespace
}  // namespace pharos::gateway
