#include "gateway/semantic_index.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace pharos::gateway {
namespace {

std::vector<float> randomVector(std::mt19937& rng, std::size_t dims) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dims);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(SemanticIndexTest, FindsTheNearestPromptWithItsCosineSimilarity) {
  SemanticIndex index(100);
  EXPECT_FALSE(index.nearest("scope", std::vector<float>{1, 0, 0}).has_value());
  index.add("scope", std::vector<float>{1, 0, 0}, "a");
  index.add("scope", std::vector<float>{0, 2, 0}, "b");  // length does not matter
  const auto match = index.nearest("scope", std::vector<float>{0.1f, 1, 0});
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->answer_key, "b");
  EXPECT_NEAR(match->similarity, 1 / std::sqrt(1.01), 1e-6);
  const auto exact = index.nearest("scope", std::vector<float>{3, 0, 0});
  ASSERT_TRUE(exact.has_value());
  EXPECT_EQ(exact->answer_key, "a");
  EXPECT_NEAR(exact->similarity, 1.0, 1e-6);
}

TEST(SemanticIndexTest, ScopesDoNotSeeEachOther) {
  SemanticIndex index(10);
  index.add("workspace-1/model", std::vector<float>{1, 0}, "a");
  EXPECT_FALSE(index.nearest("workspace-2/model", std::vector<float>{1, 0}).has_value());
  EXPECT_TRUE(index.nearest("workspace-1/model", std::vector<float>{1, 0}).has_value());
  // Another embedding size in the same scope (the embedding model changed) matches nothing old.
  EXPECT_FALSE(index.nearest("workspace-1/model", std::vector<float>{1, 0, 0}).has_value());
}

TEST(SemanticIndexTest, ZeroAndNonFiniteVectorsMatchNothing) {
  SemanticIndex index(10);
  index.add("s", std::vector<float>{0, 0}, "zero");
  EXPECT_FALSE(index.nearest("s", std::vector<float>{1, 0}).has_value());
  index.add("s", std::vector<float>{1, 0}, "a");
  EXPECT_FALSE(index.nearest("s", std::vector<float>{0, 0}).has_value());
  EXPECT_FALSE(index.nearest("s", std::vector<float>{NAN, 1}).has_value());
}

TEST(SemanticIndexTest, AFullScopeForgetsItsOldestPrompts) {
  SemanticIndex index(3);
  index.add("s", std::vector<float>{1, 0, 0, 0}, "first");
  index.add("s", std::vector<float>{0, 1, 0, 0}, "second");
  index.add("s", std::vector<float>{0, 0, 1, 0}, "third");
  index.add("s", std::vector<float>{0, 0, 0, 1}, "fourth");  // takes first's slot
  const auto old = index.nearest("s", std::vector<float>{1, 0, 0, 0});
  ASSERT_TRUE(old.has_value());
  EXPECT_NE(old->answer_key, "first");
  EXPECT_LT(old->similarity, 0.5);
  EXPECT_EQ(index.nearest("s", std::vector<float>{0, 0, 0, 1})->answer_key, "fourth");
}

TEST(SemanticIndexTest, RecallOnManyRandomVectors) {
  std::mt19937 rng(7);
  constexpr std::size_t kDims = 64, kCount = 2000;
  SemanticIndex index(kCount);
  std::vector<std::vector<float>> points;
  for (std::size_t i = 0; i < kCount; ++i) {
    points.push_back(randomVector(rng, kDims));
    index.add("s", points.back(), std::to_string(i));
  }
  // A slightly perturbed copy of a stored point finds that point.
  std::normal_distribution<float> noise(0, 0.05f);
  std::size_t found = 0;
  for (std::size_t i = 0; i < kCount; i += 20) {
    std::vector<float> query = points[i];
    for (float& x : query) x += noise(rng);
    const auto match = index.nearest("s", query);
    if (match && match->answer_key == std::to_string(i)) ++found;
  }
  EXPECT_GE(found, 98u) << "of 100";
}

}  // namespace
}  // namespace pharos::gateway
