// The audit log on a real directory: a chain that verifies, one edited / removed / reordered
// line that breaks it where it happened, rotation by size that continues the chain across files,
// a reopened log that continues it too (after cutting a torn last line), and events that do not
// fit the queue counted as dropped.
#include "policy/audit_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/ids.h"

namespace pharos::policy {
namespace {

using ::testing::HasSubstr;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("pharos-audit-" + core::randomAlphanumeric(12));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static AuditEvent event(int n, std::string type = "query_completed") {
    AuditEvent e;
    e.event = std::move(type);
    e.time_us = 1'700'000'000'000'000 + n;
    e.trace_id = "trace-" + std::to_string(n);
    e.workspace_id = "ws";
    e.query_sha256 = std::string(64, 'a');
    e.model = "gpt-4o";
    e.prompt_tokens = n;
    return e;
  }

  std::unique_ptr<AuditLog> open(std::uint64_t max_file_bytes = 64 * 1024 * 1024) {
    auto log = AuditLog::open({.dir = dir_, .max_file_bytes = max_file_bytes}, metrics_);
    EXPECT_TRUE(log.ok()) << log.error().message;
    return std::move(log).value();
  }

  std::filesystem::path current() const { return dir_ / AuditLog::kCurrentFile; }

  static std::vector<std::string> lines(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  static void write(const std::filesystem::path& file, const std::vector<std::string>& lines) {
    std::ofstream out(file, std::ios::trunc);
    for (const auto& line : lines) out << line << '\n';
  }

  std::filesystem::path dir_;
  http::MetricsRegistry metrics_;
};

TEST_F(AuditLogTest, AWrittenChainVerifies) {
  auto log = open();
  for (int i = 0; i < 100; ++i) log->append(event(i, i % 2 ? "query_completed" : "query_received"));
  log->close();
  auto verified = verifyAuditFile(current());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact) << verified->reason;
  EXPECT_EQ(verified->lines, 100u);
  EXPECT_EQ(verified->first_prev, std::string(64, '0'));
  const auto first = lines(current()).front();
  EXPECT_THAT(first, HasSubstr(R"("seq":1,"prev":")"));
  EXPECT_THAT(first, HasSubstr(R"("event":"query_received")"));
  EXPECT_THAT(first, HasSubstr(R"("query_sha256":")"));
  EXPECT_THAT(first, Not(HasSubstr("query_text")));
}

TEST_F(AuditLogTest, OneEditedLineBreaksTheChainThere) {
  auto log = open();
  for (int i = 0; i < 10; ++i) log->append(event(i));
  log->close();
  auto content = lines(current());
  const std::string original = content[4];
  content[4].replace(content[4].find("\"prompt_tokens\":4"), 17, "\"prompt_tokens\":9");
  write(current(), content);
  auto verified = verifyAuditFile(current());
  ASSERT_TRUE(verified.ok());
  EXPECT_FALSE(verified->intact);
  EXPECT_EQ(verified->first_bad_line, 6u);  // line 6 no longer holds line 5's hash
  EXPECT_THAT(verified->reason, HasSubstr("changed"));

  content[4] = original;  // restored: intact again
  write(current(), content);
  EXPECT_TRUE(verifyAuditFile(current())->intact);

  auto removed = content;
  removed.erase(removed.begin() + 3);
  write(current(), removed);
  EXPECT_EQ(verifyAuditFile(current())->first_bad_line, 4u);

  auto swapped = content;
  std::swap(swapped[2], swapped[3]);
  write(current(), swapped);
  EXPECT_FALSE(verifyAuditFile(current())->intact);
}

TEST_F(AuditLogTest, RotationContinuesTheChainAcrossFiles) {
  auto log = open(/*max_file_bytes=*/2'000);
  for (int i = 0; i < 40; ++i) log->append(event(i));
  log->close();
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());  // audit-*.jsonl in order, then audit.jsonl
  ASSERT_GE(files.size(), 3u);
  ASSERT_EQ(files.back().filename(), AuditLog::kCurrentFile);
  std::string previous_last = std::string(64, '0');
  std::size_t total = 0;
  for (const auto& file : files) {
    EXPECT_LE(std::filesystem::file_size(file), 2'000u) << file;
    auto verified = verifyAuditFile(file);
    ASSERT_TRUE(verified.ok());
    EXPECT_TRUE(verified->intact) << file << ": " << verified->reason;
    EXPECT_EQ(verified->first_prev, previous_last) << file;
    previous_last = verified->last_hash;
    total += verified->lines;
  }
  EXPECT_EQ(total, 40u);

  auto whole = verifyAuditDirectory(dir_);
  ASSERT_TRUE(whole.ok());
  EXPECT_TRUE(whole->intact) << whole->reason;
  EXPECT_EQ(whole->lines, 40u);
  EXPECT_EQ(whole->first_prev, std::string(64, '0'));

  std::filesystem::remove(files[1]);  // a rotated file between two others goes missing
  auto gap = verifyAuditDirectory(dir_);
  ASSERT_TRUE(gap.ok());
  EXPECT_FALSE(gap->intact);
  EXPECT_EQ(gap->file, files[2]);
  EXPECT_EQ(gap->first_bad_line, 1u);
  EXPECT_THAT(gap->reason, HasSubstr("removed or replaced"));
}

TEST_F(AuditLogTest, AReopenedLogContinuesTheChainAfterCuttingATornLine) {
  {
    auto log = open();
    for (int i = 0; i < 5; ++i) log->append(event(i));
  }
  {
    std::ofstream torn(current(), std::ios::app);
    torn << R"({"seq":6,"prev":"abc","event":"query_rec)";  // a crash mid-write
  }
  EXPECT_FALSE(verifyAuditFile(current())->intact);
  {
    auto log = open();
    for (int i = 5; i < 8; ++i) log->append(event(i));
  }
  auto verified = verifyAuditFile(current());
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact) << verified->reason;
  EXPECT_EQ(verified->lines, 8u);
  EXPECT_THAT(lines(current()).back(), HasSubstr(R"("seq":8,)"));
}

TEST_F(AuditLogTest, EventsThatDoNotFitAreCountedNotLostSilently) {
  auto opened = AuditLog::open({.dir = dir_, .max_queued = 0}, metrics_);
  ASSERT_TRUE(opened.ok());
  (*opened)->append(event(1));
  (*opened)->close();
  EXPECT_THAT(metrics_.render(), HasSubstr(R"(pharos_audit_events_total{result="dropped"} 1)"));
}

TEST_F(AuditLogTest, VerifyNamesAMissingFile) {
  auto verified = verifyAuditFile(dir_ / "nope.jsonl");
  ASSERT_FALSE(verified.ok());
  EXPECT_THAT(verified.error().message, HasSubstr("nope.jsonl"));
}

}  // namespace
}  // namespace pharos::policy
