// The small core pieces: ids, crypto helpers, JSON log lines, Secret, Result, ISO 8601 times.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/crypto.h"
#include "core/ids.h"
#include "core/log.h"
#include "core/result.h"
#include "core/secret.h"
#include "core/time.h"

namespace pharos::core {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// ids

TEST(UuidV7Test, HasCanonicalLowerCaseShape) {
  const std::string id = newUuidV7();
  EXPECT_THAT(id,
              MatchesRegex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"));
  EXPECT_TRUE(isUuid(id));
}

TEST(UuidV7Test, VersionAndVariantBitsAreSetForEveryId) {
  for (int i = 0; i < 500; ++i) {
    const std::string id = newUuidV7();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(UuidV7Test, EncodesTheMillisecondsInTheFirst48Bits) {
  const system_clock::time_point at{milliseconds(0x0123456789ab)};
  const std::string id = newUuidV7(at);
  EXPECT_EQ(id.substr(0, 8), "01234567");
  EXPECT_EQ(id.substr(9, 4), "89ab");
}

TEST(UuidV7Test, IdsMadeAtIncreasingMillisecondsSortInTimeOrder) {
  const system_clock::time_point base{milliseconds(1'764'191'441'000)};
  std::vector<std::string> ids;
  for (int i = 0; i < 300; ++i) ids.push_back(newUuidV7(base + milliseconds(i)));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  // Across a byte boundary of the timestamp as well.
  EXPECT_LT(newUuidV7(system_clock::time_point{milliseconds(0xff)}),
            newUuidV7(system_clock::time_point{milliseconds(0x100)}));
}

TEST(UuidV5Test, MatchesRfc4122NameBasedIds) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org"), and the URL namespace.
  EXPECT_EQ(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  EXPECT_EQ(uuidV5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "https://pharos.dev/"),
            uuidV5("6BA7B811-9DAD-11D1-80B4-00C04FD430C8", "https://pharos.dev/"));
  EXPECT_NE(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org "),
            uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"));
}

TEST(UuidV7Test, IdsInTheSameMillisecondDiffer) {
  const system_clock::time_point at{milliseconds(1'000)};
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.insert(newUuidV7(at));
  EXPECT_EQ(ids.size(), 1000u);
}

TEST(IsUuidTest, AcceptsCanonicalUuidsOfAnyVersionAndCase) {
  EXPECT_TRUE(isUuid("018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091"));
  EXPECT_TRUE(isUuid("550E8400-E29B-41D4-A716-446655440000"));  // v4, upper case
  EXPECT_TRUE(isUuid("00000000-0000-0000-0000-000000000000"));
}

TEST(IsUuidTest, RejectsEverythingElse) {
  for (const char* text : {
           "",
           "018f6b2e7a1c7d3e9b2a4c5d6e7f8091",        // no dashes
           "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f809",     // one short
           "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f80911",   // one long
           "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f809g",    // not hex
           "018f6b2e-7a1c-7d3e-9b2a_4c5d6e7f8091",    // wrong separator
           "018f6b2-e7a1c-7d3e-9b2a-4c5d6e7f8091",    // dash misplaced
           "{018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091}",  // braces
           " 18f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091",
       }) {
    EXPECT_FALSE(isUuid(text)) << text;
  }
}

TEST(RandomAlphanumericTest, HasTheRequestedLengthAndAlphabet) {
  for (std::size_t length : {0u, 1u, 12u, 32u, 1000u}) {
    const std::string text = randomAlphanumeric(length);
    EXPECT_EQ(text.size(), length);
    EXPECT_TRUE(std::all_of(text.begin(), text.end(), [](unsigned char c) {
      return std::isalnum(c) != 0;
    })) << text;
  }
  EXPECT_NE(randomAlphanumeric(32), randomAlphanumeric(32));
}

TEST(RandomAlphanumericTest, UsesTheWholeAlphabet) {
  const std::string text = randomAlphanumeric(20'000);
  const std::set<char> seen(text.begin(), text.end());
  EXPECT_EQ(seen.size(), 62u);
}

// ---------------------------------------------------------------------------------------------
// crypto

TEST(CryptoTest, Sha256KnownVectors) {
  EXPECT_EQ(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(toHex(sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(toHex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256("abc").size(), 32u);
}

TEST(CryptoTest, Sha256HashesEmbeddedNuls) {
  EXPECT_NE(sha256(std::string("a\0b", 3)), sha256("a"));
}

TEST(CryptoTest, ToHexIsLowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(toHex(""), "");
  EXPECT_EQ(toHex(std::string("\x00\x01\x0f\x10\xab\xff", 6)), "00010f10abff");
}

TEST(CryptoTest, RandomBytesHaveTheRequestedLengthAndDiffer) {
  EXPECT_EQ(randomBytes(0).size(), 0u);
  EXPECT_EQ(randomBytes(17).size(), 17u);
  EXPECT_NE(randomBytes(16), randomBytes(16));
}

TEST(CryptoTest, ConstantTimeEqual) {
  EXPECT_TRUE(constantTimeEqual("", ""));
  EXPECT_TRUE(constantTimeEqual("same bytes", "same bytes"));
  EXPECT_FALSE(constantTimeEqual("same bytes", "same bytez"));
  EXPECT_FALSE(constantTimeEqual("xame bytes", "same bytes"));
  EXPECT_FALSE(constantTimeEqual("short", "shorter"));
  EXPECT_FALSE(constantTimeEqual("", "a"));
  EXPECT_TRUE(constantTimeEqual(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constantTimeEqual(std::string("a\0b", 3), std::string("a\0c", 3)));
}

// ---------------------------------------------------------------------------------------------
// log

json::value parseLine(const std::string& line) {
  boost::system::error_code ec;
  json::value value = json::parse(line, ec);
  EXPECT_FALSE(ec) << ec.message() << ": " << line;
  return value;
}

TEST(LogFormatTest, LineIsOneJsonObjectWithTimestampLevelAndMessage) {
  const std::string line = log::formatLine(LogLevel::kWarn, "disk is slow", {});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const json::value value = parseLine(line);
  ASSERT_TRUE(value.is_object());
  EXPECT_EQ(value.at("level"), "warn");
  EXPECT_EQ(value.at("msg"), "disk is slow");
  EXPECT_THAT(std::string(value.at("ts").as_string()),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
}

TEST(LogFormatTest, LevelNames) {
  EXPECT_EQ(parseLine(log::formatLine(LogLevel::kDebug, "m", {})).at("level"), "debug");
  EXPECT_EQ(parseLine(log::formatLine(LogLevel::kInfo, "m", {})).at("level"), "info");
  EXPECT_EQ(parseLine(log::formatLine(LogLevel::kError, "m", {})).at("level"), "error");
}

TEST(LogFormatTest, EscapesQuotesBackslashesAndControlCharacters) {
  const std::string nasty = std::string("quote\" backslash\\ newline\n cr\r tab\t nul") +
                            std::string(1, '\0') + " bell\x07 esc\x1b del\x7f end";
  const std::string line =
      log::formatLine(LogLevel::kInfo, nasty, {{"field", nasty}, {"key \"quoted\"\n", "v"}});
  // No raw control character may reach the line.
  for (unsigned char c : line) EXPECT_GE(c, 0x20) << "raw control character in " << line;
  EXPECT_EQ(line.find('\x7f'), std::string::npos);
  const json::value value = parseLine(line);
  EXPECT_EQ(value.at("msg").as_string(), json::string_view(nasty));
  EXPECT_EQ(value.at("field").as_string(), json::string_view(nasty));
  EXPECT_EQ(value.at("key \"quoted\"\n"), "v");
  EXPECT_THAT(line, HasSubstr("\\u0000"));
  EXPECT_THAT(line, HasSubstr("\\n"));
}

TEST(LogFormatTest, TypedFields) {
  const std::string text = "text";
  const json::value value =
      parseLine(log::formatLine(LogLevel::kInfo, "m",
                                {{"string", text},
                                 {"view", std::string_view("sv")},
                                 {"literal", "lit"},
                                 {"negative", -42},
                                 {"unsigned", std::uint64_t{18'446'744'073'709'551'615u}},
                                 {"double", 1.5},
                                 {"yes", true},
                                 {"no", false}}));
  EXPECT_EQ(value.at("string"), "text");
  EXPECT_EQ(value.at("view"), "sv");
  EXPECT_EQ(value.at("literal"), "lit");
  EXPECT_EQ(value.at("negative").as_int64(), -42);
  EXPECT_EQ(value.at("unsigned").as_uint64(), 18'446'744'073'709'551'615u);
  EXPECT_DOUBLE_EQ(value.at("double").as_double(), 1.5);
  EXPECT_EQ(value.at("yes").as_bool(), true);
  EXPECT_EQ(value.at("no").as_bool(), false);
}

TEST(LogFormatTest, NonFiniteDoublesStillMakeValidJson) {
  // JSON has no NaN or infinity; a line with one must still parse (null is the usual choice).
  const std::string line = log::formatLine(LogLevel::kInfo, "m",
                                           {{"nan", std::numeric_limits<double>::quiet_NaN()},
                                            {"inf", std::numeric_limits<double>::infinity()}});
  boost::system::error_code ec;
  json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
}

TEST(LogFormatTest, InvalidUtf8StillMakesValidJson) {
  // Request paths (percent-decoded) and user agents are logged, and a client can send any
  // bytes; a log line must stay parseable JSON for whatever collects it.
  const std::string line = log::formatLine(LogLevel::kInfo, "request",
                                           {{"path", std::string_view("/runs/\xff\xfe")},
                                            {"user_agent", std::string_view("bad \xc3(")}});
  boost::system::error_code ec;
  json::parse(line, ec);
  EXPECT_FALSE(ec) << line;
}

TEST(LogFormatTest, AppendJsonStringKeepsValidUtf8) {
  std::string out;
  log::appendJsonString(out, "J\xC3\xBCrgen \xE2\x82\xAC");
  EXPECT_EQ(out, "\"J\xC3\xBCrgen \xE2\x82\xAC\"");
  EXPECT_EQ(parseLine(out).as_string(), "J\xC3\xBCrgen \xE2\x82\xAC");
}

TEST(LogLevelTest, InitSetsTheMinimumLevel) {
  log::init(LogLevel::kWarn);
  EXPECT_FALSE(log::enabled(LogLevel::kDebug));
  EXPECT_FALSE(log::enabled(LogLevel::kInfo));
  EXPECT_TRUE(log::enabled(LogLevel::kWarn));
  EXPECT_TRUE(log::enabled(LogLevel::kError));
  log::init(LogLevel::kDebug);
  EXPECT_TRUE(log::enabled(LogLevel::kDebug));
  log::init(LogLevel::kError);
  EXPECT_FALSE(log::enabled(LogLevel::kWarn));
  EXPECT_TRUE(log::enabled(LogLevel::kError));
  log::init(LogLevel::kInfo);  // the default, for whatever runs next
  log::flush();
}

TEST(IsoTimestampTest, NowIsCloseToTheClock) {
  const std::string before = formatIso8601(system_clock::now() - std::chrono::seconds(1));
  const std::string now = log::isoTimestampNow();
  const std::string after = formatIso8601(system_clock::now() + std::chrono::seconds(1));
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

// ---------------------------------------------------------------------------------------------
// Secret

TEST(SecretTest, StreamsAndFormatsAsTheMask) {
  const Secret secret(std::string("hunter2"));
  std::ostringstream stream;
  stream << secret;
  EXPECT_EQ(stream.str(), "********");
  EXPECT_EQ(fmt::format("{}", secret), "********");
  EXPECT_EQ(fmt::format("key={}!", secret), "key=********!");
  EXPECT_THAT(fmt::format("{} {}", secret, secret), Not(HasSubstr("hunter2")));
}

TEST(SecretTest, RevealGivesTheValue) {
  const Secret secret(std::string("hunter2"));
  EXPECT_EQ(secret.reveal(), "hunter2");
  EXPECT_FALSE(secret.empty());
  EXPECT_EQ(secret.masked(), Secret::kMask);
}

TEST(SecretTest, EmptySecretPrintsNothing) {
  const Secret secret;
  std::ostringstream stream;
  stream << secret;
  EXPECT_EQ(stream.str(), "");
  EXPECT_EQ(fmt::format("[{}]", secret), "[]");
  EXPECT_TRUE(secret.empty());
  EXPECT_EQ(secret.reveal(), "");
}

// ---------------------------------------------------------------------------------------------
// Result

Result<int> parsePositive(int n) {
  if (n <= 0) return Error::invalidArgument("not positive");
  return n;
}

TEST(ResultTest, HoldsAValue) {
  Result<int> result = parsePositive(5);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(static_cast<bool>(result));
  EXPECT_EQ(result.value(), 5);
  EXPECT_EQ(*result, 5);
}

TEST(ResultTest, HoldsAnError) {
  const Result<int> result = parsePositive(-1);
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(static_cast<bool>(result));
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().message, "not positive");
}

TEST(ResultTest, DefaultConstructedIsAnInternalError) {
  const Result<std::string> result;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code, ErrorCode::kInternal);
  EXPECT_EQ(result.error().message, "result was never set");
}

TEST(ResultTest, ArrowAndMoveOut) {
  Result<std::string> result = std::string("abc");
  EXPECT_EQ(result->size(), 3u);
  std::string moved = std::move(result).value();
  EXPECT_EQ(moved, "abc");
}

TEST(ResultTest, StatusDefaultsToSuccess) {
  const Status ok;
  EXPECT_TRUE(ok.ok());
  const Status failed = Error::unavailable("disk");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message, "disk");
}

TEST(ResultTest, ErrorFactories) {
  EXPECT_EQ(Error::notFound("x").code, ErrorCode::kNotFound);
  EXPECT_EQ(Error::alreadyExists("x").code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(Error::overloaded("x").code, ErrorCode::kOverloaded);
  EXPECT_EQ(Error::internal("x").code, ErrorCode::kInternal);
  EXPECT_EQ(Error::internal("x").message, "x");
}

TEST(ResultTest, ErrorCodeNames) {
  EXPECT_EQ(errorCodeName(ErrorCode::kInvalidArgument), "invalid_argument");
  EXPECT_EQ(errorCodeName(ErrorCode::kUnauthenticated), "unauthenticated");
  EXPECT_EQ(errorCodeName(ErrorCode::kTooLarge), "too_large");
  EXPECT_EQ(errorCodeName(ErrorCode::kOverloaded), "overloaded");
  EXPECT_EQ(errorCodeName(ErrorCode::kInternal), "internal");
}

// ---------------------------------------------------------------------------------------------
// time

system_clock::time_point atMs(std::int64_t ms) {
  return system_clock::time_point{milliseconds(ms)};
}

TEST(FormatIso8601Test, KnownValues) {
  EXPECT_EQ(formatIso8601(atMs(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIso8601(atMs(1'764'191'441'123)), "2025-11-26T21:10:41.123Z");
  EXPECT_EQ(formatIso8601(atMs(951'782'400'000)), "2000-02-29T00:00:00.000Z");  // leap day
  EXPECT_EQ(formatIso8601(atMs(4'102'444'799'999)), "2099-12-31T23:59:59.999Z");
}

TEST(FormatIso8601Test, TruncatesToMilliseconds) {
  const system_clock::time_point at =
      atMs(1'000) +
      std::chrono::duration_cast<system_clock::duration>(std::chrono::microseconds(999));
  EXPECT_EQ(formatIso8601(at), "1970-01-01T00:00:01.000Z");
}

TEST(FormatIso8601Test, BeforeTheEpoch) {
  EXPECT_EQ(formatIso8601(atMs(-1)), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(formatIso8601(atMs(-1'000)), "1969-12-31T23:59:59.000Z");
  EXPECT_EQ(formatIso8601(atMs(-1'001)), "1969-12-31T23:59:58.999Z");
}

}  // namespace
}  // namespace pharos::core
