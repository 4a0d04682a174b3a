// The span log's record of an accepted export reads back exactly, and bytes it did not write are
// refused rather than misread.
#include "tracing/ingest/otlp_logged_export.h"

#include <gtest/gtest.h>

namespace pharos::tracing::otlp {
namespace {

TEST(LoggedExportTest, RoundTrips) {
  const std::string body("\x0a\x00\xff protobuf bytes", 19);
  const std::string bytes = encodeLoggedExport("ws-1", "my project", Encoding::kJson, body);
  auto logged = decodeLoggedExport(bytes);
  ASSERT_TRUE(logged);
  EXPECT_EQ(logged->workspace_id, "ws-1");
  EXPECT_EQ(logged->project, "my project");
  EXPECT_EQ(logged->encoding, Encoding::kJson);
  EXPECT_EQ(logged->body, body);

  auto empty = decodeLoggedExport(encodeLoggedExport("", "", Encoding::kProtobuf, ""));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->project.empty());
  EXPECT_TRUE(empty->body.empty());
}

TEST(LoggedExportTest, ForeignBytesAreRefused) {
  const std::string good = encodeLoggedExport("ws", "p", Encoding::kProtobuf, "body");
  EXPECT_FALSE(decodeLoggedExport(""));
  EXPECT_FALSE(decodeLoggedExport(std::string("\x02") + good.substr(1))) << "unknown version";
  EXPECT_FALSE(decodeLoggedExport(good.substr(0, 1) + "\x07" + good.substr(2))) << "encoding";
  EXPECT_FALSE(decodeLoggedExport(good.substr(0, 5))) << "truncated length";
  std::string long_workspace = good;
  long_workspace[2] = '\x7f';  // a workspace length past the end
  EXPECT_FALSE(decodeLoggedExport(long_workspace));
}

}  // namespace
}  // namespace pharos::tracing::otlp
