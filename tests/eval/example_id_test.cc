#include "eval/files/example_id.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace pharos::eval {
namespace {

namespace json = boost::json;

constexpr std::string_view kDataset = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

ExampleRow row(std::string_view inputs, std::string_view outputs) {
  ExampleRow r;
  r.inputs = json::parse(inputs).as_object();
  r.outputs = json::parse(outputs).as_object();
  return r;
}

TEST(CanonicalJsonTest, SortsMembersAtEveryDepthAndDropsWhitespace) {
  EXPECT_EQ(canonicalJson(json::parse(R"({"b": [ {"z":1,"a":2} ], "a": "x"})")),
            R"({"a":"x","b":[{"a":2,"z":1}]})");
  EXPECT_EQ(canonicalJson(json::parse(R"([3, "é", null, true])")), R"([3,"é",null,true])");
}

TEST(FileRowExampleIdTest, SameContentSameIdWhateverTheMemberOrder) {
  const std::string a = fileRowExampleId(kDataset, row(R"({"q":"hi","n":1})", R"({"a":"yo"})"));
  const std::string b = fileRowExampleId(kDataset, row(R"({"n":1,"q":"hi"})", R"({"a":"yo"})"));
  EXPECT_EQ(a, b);
  EXPECT_EQ(a[14], '5');  // a version 5 UUID
  EXPECT_NE(a, fileRowExampleId(kDataset, row(R"({"q":"hi","n":1})", R"({"a":"yo!"})")));
  // Another dataset, another id: a file imported into two datasets makes two sets of examples.
  EXPECT_NE(a, fileRowExampleId("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c",
                                row(R"({"q":"hi","n":1})", R"({"a":"yo"})")));
}

TEST(FileRowExampleIdTest, TheRowsOwnIdWins) {
  ExampleRow r = row(R"({"q":"hi"})", "{}");
  r.id = "0190a1b2-c3d4-7e5f-8a9b-000000000001";
  EXPECT_EQ(fileRowExampleId(kDataset, r), *r.id);
  EXPECT_NE(unreadableLineExampleId(kDataset, 3), unreadableLineExampleId(kDataset, 4));
  EXPECT_EQ(unreadableLineExampleId(kDataset, 3), unreadableLineExampleId(kDataset, 3));
}

}  // namespace
}  // namespace pharos::eval
