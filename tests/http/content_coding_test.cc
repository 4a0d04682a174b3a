// Content-Encoding parsing and bounded inflation (gzip, zlib-wrapped deflate, gzip bombs).
#include "http/content_coding.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "http/zlib_util.h"

namespace pharos::http {
namespace {

using core::ErrorCode;
using test_util::compressRepeated;
using test_util::gzip;
using test_util::Wrapper;
using test_util::zlibDeflate;
using ::testing::HasSubstr;

constexpr std::size_t kLimit = 16 * 1024 * 1024;

std::string sampleText() {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "line " + std::to_string(i) + ": the quick brown fox\n";
  return text;
}

TEST(ParseContentCodingTest, KnownCodings) {
  EXPECT_EQ(parseContentCoding("gzip").value(), ContentCoding::kGzip);
  EXPECT_EQ(parseContentCoding("x-gzip").value(), ContentCoding::kGzip);
  EXPECT_EQ(parseContentCoding("deflate").value(), ContentCoding::kDeflate);
  EXPECT_EQ(parseContentCoding("identity").value(), ContentCoding::kIdentity);
  EXPECT_EQ(parseContentCoding("").value(), ContentCoding::kIdentity);
}

TEST(ParseContentCodingTest, CaseAndSurroundingSpaceDoNotMatter) {
  EXPECT_EQ(parseContentCoding(" GZip\t").value(), ContentCoding::kGzip);
  EXPECT_EQ(parseContentCoding("DEFLATE").value(), ContentCoding::kDeflate);
}

TEST(ParseContentCodingTest, UnsupportedCodingIsNamed) {
  auto result = parseContentCoding("br");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("\"br\""));

  auto stacked = parseContentCoding("gzip, zstd");
  ASSERT_FALSE(stacked.ok());
  EXPECT_THAT(stacked.error().message, HasSubstr("zstd"));
}

TEST(ParseContentCodingTest, HugeUnsupportedNameIsTruncatedInTheMessage) {
  const std::string name(10'000, 'z');
  auto result = parseContentCoding(name);
  ASSERT_FALSE(result.ok());
  EXPECT_LT(result.error().message.size(), 200u);
}

TEST(InflateTest, GzipRoundTrip) {
  const std::string text = sampleText();
  auto result = inflate(gzip(text), ContentCoding::kGzip, kLimit);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), text);
}

TEST(InflateTest, DeflateRoundTripWithZlibWrapper) {
  const std::string text = sampleText();
  auto result = inflate(zlibDeflate(text), ContentCoding::kDeflate, kLimit);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), text);
}

TEST(InflateTest, EmptyPayloadRoundTrips) {
  auto result = inflate(gzip(""), ContentCoding::kGzip, kLimit);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), "");
}

TEST(InflateTest, IncompressibleBodyLargerThanTheFirstGuessRoundTrips) {
  // Output that is many times the input size makes the buffer grow more than once.
  const std::string zeros(3 * 1024 * 1024, '\0');
  auto result = inflate(gzip(zeros), ContentCoding::kGzip, kLimit);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), zeros);

  const std::string noise = test_util::incompressible(300 * 1024);
  auto noisy = inflate(gzip(noise), ContentCoding::kGzip, kLimit);
  ASSERT_TRUE(noisy.ok()) << noisy.error().message;
  EXPECT_EQ(noisy.value(), noise);
}

TEST(InflateTest, OutputExactlyAtTheLimitIsAccepted) {
  const std::string text(10'000, 'a');
  auto result = inflate(gzip(text), ContentCoding::kGzip, text.size());
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), text);
}

TEST(InflateTest, OutputOneByteOverTheLimitIsTooLarge) {
  const std::string text(10'001, 'a');
  auto result = inflate(gzip(text), ContentCoding::kGzip, 10'000);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
}

TEST(InflateTest, ConcatenatedGzipMembersAreAllInflated) {
  const std::string encoded = gzip("hello, ") + gzip("") + gzip("world");
  auto result = inflate(encoded, ContentCoding::kGzip, kLimit);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ(result.value(), "hello, world");
}

TEST(InflateTest, CorruptGzipIsInvalidArgumentNamingGzip) {
  std::string encoded = gzip(sampleText());
  // Flip bits in the middle of the deflate data.
  for (std::size_t i = 20; i < 40; ++i) encoded[i] = static_cast<char>(encoded[i] ^ 0x5a);
  auto result = inflate(encoded, ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("gzip"));
}

TEST(InflateTest, NotGzipAtAllIsInvalidArgument) {
  auto result = inflate("this is plain text, not gzip", ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("gzip"));
}

TEST(InflateTest, GzipWithBadChecksumIsInvalidArgument) {
  std::string encoded = gzip(sampleText());
  // The CRC32 is the 4 bytes before the trailing length.
  encoded[encoded.size() - 8] = static_cast<char>(encoded[encoded.size() - 8] ^ 0xff);
  auto result = inflate(encoded, ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

TEST(InflateTest, TruncatedGzipIsInvalidArgument) {
  const std::string encoded = gzip(sampleText());
  for (std::size_t keep :
       {std::size_t{1}, std::size_t{10}, encoded.size() / 2, encoded.size() - 1}) {
    auto result = inflate(encoded.substr(0, keep), ContentCoding::kGzip, kLimit);
    ASSERT_FALSE(result.ok()) << "kept " << keep;
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument) << "kept " << keep;
    EXPECT_THAT(result.error().message, HasSubstr("gzip")) << "kept " << keep;
  }
}

TEST(InflateTest, TruncatedGzipSaysTruncated) {
  const std::string encoded = gzip(sampleText());
  auto result = inflate(encoded.substr(0, encoded.size() / 2), ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message, HasSubstr("truncated"));
}

TEST(InflateTest, TruncatedDeflateIsInvalidArgument) {
  const std::string encoded = zlibDeflate(sampleText());
  auto result = inflate(encoded.substr(0, encoded.size() - 3), ContentCoding::kDeflate, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("deflate"));
}

TEST(InflateTest, TrailingGarbageAfterGzipIsInvalidArgument) {
  auto result = inflate(gzip("payload") + "garbage!", ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

TEST(InflateTest, TrailingGarbageAfterDeflateIsInvalidArgument) {
  auto result = inflate(zlibDeflate("payload") + "garbage!", ContentCoding::kDeflate, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(result.error().message, HasSubstr("trailing"));
}

TEST(InflateTest, GzipDataUnderTheGzipCodingOnly) {
  // "gzip" does not accept a zlib stream.
  auto result = inflate(zlibDeflate("payload"), ContentCoding::kGzip, kLimit);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
}

TEST(InflateTest, GzipBombStopsAtTheLimitQuickly) {
  // 1 GiB of zeros compresses to about 1 MiB (Z_RLE: same ratio, a fraction of the time); the
  // inflater must stop at the limit, not try to hold the gigabyte.
  const std::string bomb = compressRepeated(std::string(1024 * 1024, '\0'), 1024, Wrapper::kGzip,
                                            Z_BEST_COMPRESSION, Z_RLE);
  ASSERT_LT(bomb.size(), 2u * 1024 * 1024);

  const auto started = std::chrono::steady_clock::now();
  auto result = inflate(bomb, ContentCoding::kGzip, kLimit);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
  EXPECT_THAT(result.error().message, HasSubstr(std::to_string(kLimit)));
  // Inflating 16 MiB takes milliseconds; the whole gigabyte would take seconds.
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST(InflateTest, DeflateBombStopsAtTheLimit) {
  const std::string bomb = compressRepeated(std::string(1024 * 1024, '\0'), 64, Wrapper::kZlib,
                                            Z_BEST_COMPRESSION, Z_RLE);
  auto result = inflate(bomb, ContentCoding::kDeflate, 1024 * 1024);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
}

TEST(InflateTest, BombOfConcatenatedMembersStopsAtTheLimit) {
  // Each member is small and well within the limit; only their sum is not. The limit must hold
  // across member boundaries.
  const std::string member = gzip(std::string(1024 * 1024, '\0'));
  std::string bomb;
  for (int i = 0; i < 64; ++i) bomb += member;
  auto result = inflate(bomb, ContentCoding::kGzip, 4 * 1024 * 1024);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
}

TEST(InflateTest, IdentityWithinTheLimitIsReturnedAsIs) {
  const std::string raw("raw\0bytes", 9);  // binary, with a NUL inside
  auto result = inflate(raw, ContentCoding::kIdentity, 100);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.value(), raw);
}

TEST(InflateTest, IdentityOverTheLimitIsTooLarge) {
  auto result = inflate(std::string(101, 'x'), ContentCoding::kIdentity, 100);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kTooLarge);
  EXPECT_TRUE(inflate(std::string(100, 'x'), ContentCoding::kIdentity, 100).ok());
}

}  // namespace
}  // namespace pharos::http
