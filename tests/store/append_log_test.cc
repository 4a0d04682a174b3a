// The span log's promises: records come back in order and intact; a reopened log resumes after
// the committed position and re-delivers what was not committed; a torn tail (a crash in the
// middle of an append) is cut off at open and appends go on after it; damage in the middle of a
// sealed segment skips that segment's rest, not the log; segments are deleted once committed
// past; the backlog bound refuses appends instead of growing without limit.
#include "store/log/append_log.h"

#include <gtest/gtest.h>

#include <fstream>
#include <vector>

#include "store/store_test_util.h"

namespace pharos::store {
namespace {

using test_util::runSync;
using test_util::TempDir;

std::unique_ptr<AppendLog> openLog(const std::filesystem::path& dir,
                                   std::uint64_t segment_bytes = 64ull * 1024 * 1024,
                                   std::uint64_t max_backlog = 1024ull * 1024 * 1024) {
  auto log = AppendLog::open(
      {.dir = dir, .segment_bytes = segment_bytes, .max_backlog_bytes = max_backlog});
  EXPECT_TRUE(log) << log.error().message;
  return log ? std::move(*log) : nullptr;
}

core::Result<bool> append(AppendLog& log, std::string payload) {
  boost::asio::io_context io;
  return runSync(io, log.append(std::move(payload)));
}

std::vector<std::string> readAll(AppendLog& log, bool commit) {
  std::vector<std::string> out;
  while (auto entry = log.next(std::chrono::milliseconds(50))) {
    out.push_back(entry->payload);
    if (commit) log.commit(entry->end, entry->bytes);
  }
  return out;
}

std::vector<std::filesystem::path> segments(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(AppendLogTest, RecordsComeBackInOrderAndIntact) {
  TempDir dir;
  auto log = openLog(dir.path());
  const std::vector<std::string> written = {"first", std::string(100'000, 'x'), "",
                                            std::string("\0binary\xff", 8)};
  for (const std::string& payload : written) ASSERT_TRUE(append(*log, payload));
  EXPECT_EQ(readAll(*log, true), written);
  EXPECT_EQ(log->backlogBytes(), 0u);
  EXPECT_FALSE(log->hasNext());
}

TEST(AppendLogTest, ConcurrentAppendsAllLand) {
  TempDir dir;
  auto log = openLog(dir.path());
  boost::asio::io_context io;
  std::vector<core::Result<bool>> results(200);
  for (std::size_t i = 0; i < results.size(); ++i) {
    test_util::spawnInto(io, log->append("record " + std::to_string(i)), results[i]);
  }
  io.run();
  for (const auto& result : results) EXPECT_TRUE(result);
  const auto read = readAll(*log, false);
  ASSERT_EQ(read.size(), results.size());
  for (std::size_t i = 0; i < read.size(); ++i) EXPECT_EQ(read[i], "record " + std::to_string(i));
}

TEST(AppendLogTest, ReopenResumesAfterTheCommittedPositionAndRedeliversTheRest) {
  TempDir dir;
  {
    auto log = openLog(dir.path());
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(append(*log, "r" + std::to_string(i)));
    for (int i = 0; i < 2; ++i) {
      auto entry = log->next(std::chrono::milliseconds(50));
      ASSERT_TRUE(entry);
      log->commit(entry->end, entry->bytes);
    }
    ASSERT_TRUE(log->next(std::chrono::milliseconds(50)));  // read, never committed
  }
  auto log = openLog(dir.path());
  EXPECT_EQ(log->backlogBytes(), 3 * (16 + 2u));
  EXPECT_EQ(readAll(*log, true), (std::vector<std::string>{"r2", "r3", "r4"}));
}

TEST(AppendLogTest, ATornTailIsCutAtOpenAndAppendsContinueAfterIt) {
  TempDir dir;
  {
    auto log = openLog(dir.path());
    ASSERT_TRUE(append(*log, "kept"));
  }
  const auto last = segments(dir.path()).back();
  const auto intact = std::filesystem::file_size(last);
  {
    // A crash mid-append: a header that promises more bytes than follow.
    std::ofstream out(last, std::ios::binary | std::ios::app);
    out << std::string("PSL1\x40\x00\x00\x00junkjunk", 16) << "partial";
  }
  auto log = openLog(dir.path());
  EXPECT_EQ(std::filesystem::file_size(last), intact);
  ASSERT_TRUE(append(*log, "after"));
  EXPECT_EQ(readAll(*log, true), (std::vector<std::string>{"kept", "after"}));
}

TEST(AppendLogTest, SegmentsRotateAndAreDeletedOnceCommittedPast) {
  TempDir dir;
  auto log = openLog(dir.path(), /*segment_bytes=*/1024);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(append(*log, std::string(300, 'a' + i)));
  EXPECT_GE(segments(dir.path()).size(), 5u);
  const auto read = readAll(*log, true);
  ASSERT_EQ(read.size(), 20u);
  for (int i = 0; i < 20; ++i)
    EXPECT_EQ(read[static_cast<std::size_t>(i)], std::string(300, 'a' + i));
  // Left: the segment the committed position ends in, and the (empty) one being written.
  EXPECT_LE(segments(dir.path()).size(), 2u);
}

TEST(AppendLogTest, DamageInASealedSegmentSkipsItsRestNotTheLog) {
  TempDir dir;
  {
    auto log = openLog(dir.path(), /*segment_bytes=*/100);
    for (const char* payload : {"seg1-a", "seg1-b"}) ASSERT_TRUE(append(*log, payload));
  }
  // Reopen with a small segment size: "seg1-*" sit in segment 1; make a new segment for more.
  {
    auto log = openLog(dir.path(), /*segment_bytes=*/10);
    ASSERT_TRUE(append(*log, std::string(200, 'z')));  // rotates after this write
    ASSERT_TRUE(append(*log, "later"));
  }
  const auto first = segments(dir.path()).front();
  {
    std::fstream file(first, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(16 + 6 + 16 + 2);  // inside the second record's payload
    file.put('!');
  }
  auto log = openLog(dir.path());
  const auto read = readAll(*log, true);
  ASSERT_GE(read.size(), 2u);
  EXPECT_EQ(read.front(), "seg1-a");
  EXPECT_EQ(read.back(), "later");
  EXPECT_EQ(std::count(read.begin(), read.end(), "seg1-b"), 0) << "the damaged record is skipped";
}

TEST(AppendLogTest, ABacklogOverTheBoundIsRefusedAsOverloaded) {
  TempDir dir;
  auto log = openLog(dir.path(), 64ull * 1024 * 1024, /*max_backlog=*/1000);
  ASSERT_TRUE(append(*log, std::string(900, 'x')));
  auto refused = append(*log, std::string(200, 'y'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kOverloaded);
  EXPECT_NE(refused.error().message.find("retry later"), std::string::npos);
  auto entry = log->next(std::chrono::milliseconds(50));
  ASSERT_TRUE(entry);
  log->commit(entry->end, entry->bytes);
  EXPECT_TRUE(append(*log, std::string(200, 'y'))) << "room again once committed";
}

TEST(AppendLogTest, AppendsAfterCloseFailCleanly) {
  TempDir dir;
  auto log = openLog(dir.path());
  log->close();
  auto refused = append(*log, "late");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, core::ErrorCode::kUnavailable);
  EXPECT_FALSE(log->next(std::chrono::milliseconds(10)));
}

}  // namespace
}  // namespace pharos::store
