// Shared by the JSONL and CSV tests: examples with awkward values, and round-trip comparison.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "eval/files/dataset_file.h"

namespace pharos::eval::testing {

inline boost::json::object obj(std::string_view json) {
  return boost::json::parse(json).as_object();
}

// Examples whose values need every kind of escaping either format has.
inline std::vector<ExportedExample> awkwardExamples() {
  std::vector<ExportedExample> examples(4);
  examples[0].id = "018f6b2e-7a1c-7d3e-9b2a-4c5d6e7f8091";
  examples[0].inputs = obj(R"({"question":"a, b and \"c\"\nsecond line\r\nthird","n":1})");
  examples[0].outputs = obj(R"({"answer":"été ☃ 𝄞 日本"})");
  examples[0].metadata = obj(R"({"source":"wiki","tags":["x","y"]})");
  examples[0].splits = {"train", "hard"};
  examples[0].created_at = "2026-11-27T07:00:00.000000Z";
  examples[0].modified_at = "2026-11-27T07:00:01.000000Z";
  examples[1].id = "0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11";
  examples[1].inputs =
      obj(R"({"question":"","n":2.5,"ctx":{"docs":[{"t":"a,b","q":"\""}],"deep":{"x":null}}})");
  examples[1].outputs = obj(R"({"answer":"42"})");
  examples[1].splits = {"test"};
  // No id, no splits, a sparse output key, an empty key, keys needing quotes in a header.
  examples[2].inputs = obj(R"({"question":"  spaces  ","n":-7,"":"empty key","a,b":"c\"d"})");
  examples[2].outputs = obj(R"({"answer":"x","extra":true})");
  examples[3].inputs = obj(R"({"question":"\t","n":18446744073709551615,"k:json":"suffix"})");
  examples[3].outputs = obj(R"({"answer":"line\nbreak"})");
  examples[3].metadata = obj(R"({"source":"null"})");
  return examples;
}

inline void expectSameExamples(const std::vector<ExportedExample>& expected,
                               const std::vector<ExampleRow>& rows) {
  ASSERT_EQ(rows.size(), expected.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(i);
    const auto& want = expected[i];
    EXPECT_EQ(rows[i].id.value_or(""), want.id);
    EXPECT_EQ(rows[i].inputs, want.inputs) << boost::json::serialize(rows[i].inputs);
    EXPECT_EQ(rows[i].outputs, want.outputs) << boost::json::serialize(rows[i].outputs);
    EXPECT_EQ(rows[i].metadata, want.metadata) << boost::json::serialize(rows[i].metadata);
    EXPECT_EQ(rows[i].splits, want.splits);
  }
}

inline std::vector<std::string> messages(const ReadResult& result) {
  std::vector<std::string> out;
  for (const auto& error : result.errors) out.push_back(toString(error));
  return out;
}

}  // namespace pharos::eval::testing
