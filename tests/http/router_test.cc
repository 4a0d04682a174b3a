// Router: literal-over-parameter precedence, parameters, trailing slash, 404 vs 405, and the
// start-up errors (duplicate and malformed patterns).
#include "http/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pharos::http {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Params = std::vector<std::pair<std::string, std::string>>;

// Handlers are never invoked here: the router only stores them.
Handler noop() {
  return [](Request&) -> Awaitable<Response> { co_return Response::json(200, "{}"); };
}

TEST(RouterTest, MatchesLiteralRoute) {
  Router router;
  router.add(Verb::get, "/healthz", noop());
  const Router::Match match = router.match(Verb::get, "/healthz");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/healthz");
  EXPECT_EQ(match.route->method, Verb::get);
  EXPECT_THAT(match.params, IsEmpty());
}

TEST(RouterTest, MatchesRootPath) {
  Router router;
  router.add(Verb::get, "/", noop());
  EXPECT_NE(router.match(Verb::get, "/").route, nullptr);
  EXPECT_EQ(router.match(Verb::get, "/x").route, nullptr);
}

TEST(RouterTest, ExtractsParameters) {
  Router router;
  router.add(Verb::get, "/api/v1/runs/{run_id}/steps/{step}", noop());
  const Router::Match match = router.match(Verb::get, "/api/v1/runs/abc/steps/7");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params, (Params{{"run_id", "abc"}, {"step", "7"}}));
}

TEST(RouterTest, LiteralSegmentWinsOverParameter) {
  Router router;
  router.add(Verb::get, "/runs/{id}", noop());
  router.add(Verb::get, "/runs/latest", noop());
  const Router::Match literal = router.match(Verb::get, "/runs/latest");
  ASSERT_NE(literal.route, nullptr);
  EXPECT_EQ(literal.route->pattern, "/runs/latest");
  EXPECT_THAT(literal.params, IsEmpty());

  const Router::Match param = router.match(Verb::get, "/runs/other");
  ASSERT_NE(param.route, nullptr);
  EXPECT_EQ(param.route->pattern, "/runs/{id}");
  EXPECT_EQ(param.params, (Params{{"id", "other"}}));
}

TEST(RouterTest, LiteralPrecedenceIsIndependentOfRegistrationOrder) {
  Router router;
  router.add(Verb::get, "/runs/latest", noop());
  router.add(Verb::get, "/runs/{id}", noop());
  EXPECT_EQ(router.match(Verb::get, "/runs/latest").route->pattern, "/runs/latest");
  EXPECT_EQ(router.match(Verb::get, "/runs/x").route->pattern, "/runs/{id}");
}

TEST(RouterTest, BacktracksFromLiteralDeadEndToParameter) {
  // "latest" matches a literal, but only the parameter branch continues with "/steps".
  Router router;
  router.add(Verb::get, "/runs/latest", noop());
  router.add(Verb::get, "/runs/{id}/steps", noop());
  const Router::Match match = router.match(Verb::get, "/runs/latest/steps");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->pattern, "/runs/{id}/steps");
  EXPECT_EQ(match.params, (Params{{"id", "latest"}}));
}

TEST(RouterTest, BacktrackingDropsParametersOfAbandonedBranches) {
  Router router;
  router.add(Verb::get, "/a/{x}/c", noop());
  router.add(Verb::get, "/a/{x}/{y}/d", noop());
  const Router::Match match = router.match(Verb::get, "/a/1/2/d");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params, (Params{{"x", "1"}, {"y", "2"}}));
}

TEST(RouterTest, IgnoresOneTrailingSlash) {
  Router router;
  router.add(Verb::get, "/runs", noop());
  router.add(Verb::get, "/runs/{id}/", noop());
  EXPECT_NE(router.match(Verb::get, "/runs/").route, nullptr);
  EXPECT_NE(router.match(Verb::get, "/runs").route, nullptr);
  const Router::Match match = router.match(Verb::get, "/runs/r1");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.params, (Params{{"id", "r1"}}));
  EXPECT_NE(router.match(Verb::get, "/runs/r1/").route, nullptr);
}

TEST(RouterTest, EmptySegmentsDoNotMatchParametersOrCollapse) {
  Router router;
  router.add(Verb::get, "/runs/{id}/steps", noop());
  router.add(Verb::get, "/a/b", noop());
  EXPECT_EQ(router.match(Verb::get, "/runs//steps").route, nullptr);
  EXPECT_EQ(router.match(Verb::get, "/a//b").route, nullptr);
  EXPECT_EQ(router.match(Verb::get, "/runs/x/steps//").route, nullptr);
}

TEST(RouterTest, UnknownPathHasNoRouteAndNoAllowedVerbs) {
  Router router;
  router.add(Verb::get, "/runs/{id}", noop());
  for (const char* path : {"/nope", "/runs", "/runs/x/y", "/run/x"}) {
    const Router::Match match = router.match(Verb::get, path);
    EXPECT_EQ(match.route, nullptr) << path;
    EXPECT_THAT(match.allowed, IsEmpty()) << path;
  }
}

TEST(RouterTest, KnownPathWithOtherMethodListsAllowedVerbs) {
  Router router;
  router.add(Verb::post, "/runs", noop());
  router.add(Verb::get, "/runs", noop());
  router.add(Verb::delete_, "/runs/{id}", noop());
  const Router::Match match = router.match(Verb::put, "/runs");
  EXPECT_EQ(match.route, nullptr);
  // HEAD is implied by GET.
  EXPECT_THAT(match.allowed, UnorderedElementsAre(Verb::get, Verb::post, Verb::head));

  const Router::Match by_id = router.match(Verb::get, "/runs/r1");
  EXPECT_EQ(by_id.route, nullptr);
  EXPECT_THAT(by_id.allowed, ElementsAre(Verb::delete_));
  EXPECT_THAT(by_id.params, IsEmpty());
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router router;
  router.add(Verb::get, "/runs/{id}", noop());
  const Router::Match match = router.match(Verb::head, "/runs/r1");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->method, Verb::get);
  EXPECT_EQ(match.params, (Params{{"id", "r1"}}));
}

TEST(RouterTest, HeadWithoutGetIsNotAllowed) {
  Router router;
  router.add(Verb::post, "/runs", noop());
  const Router::Match match = router.match(Verb::head, "/runs");
  EXPECT_EQ(match.route, nullptr);
  EXPECT_THAT(match.allowed, ElementsAre(Verb::post));
}

TEST(RouterTest, ExplicitHeadRouteWinsOverGet) {
  Router router;
  router.add(Verb::get, "/x", noop());
  router.add(Verb::head, "/x", noop());
  const Router::Match match = router.match(Verb::head, "/x");
  ASSERT_NE(match.route, nullptr);
  EXPECT_EQ(match.route->method, Verb::head);
}

TEST(RouterTest, EncodedSlashStaysInsideOneSegment) {
  // The server routes on the encoded path, so "%2F" must not split a segment.
  Router router;
  router.add(Verb::get, "/files/{name}", noop());
  const Router::Match match = router.match(Verb::get, "/files/a%2Fb");
  ASSERT_NE(match.route, nullptr);
  // The router hands back the segment as sent; the server decodes it.
  EXPECT_EQ(match.params, (Params{{"name", "a%2Fb"}}));
  EXPECT_EQ(router.match(Verb::get, "/files/a/b").route, nullptr);
}

TEST(RouterTest, KeepsRouteOptions) {
  Router router;
  router.add(Verb::get, "/healthz", noop(), RouteOptions{.is_public = true});
  router.add(Verb::get, "/private", noop());
  EXPECT_TRUE(router.match(Verb::get, "/healthz").route->options.is_public);
  EXPECT_FALSE(router.match(Verb::get, "/private").route->options.is_public);
}

TEST(RouterTest, DuplicateRouteThrows) {
  Router router;
  router.add(Verb::get, "/runs/{id}", noop());
  EXPECT_THROW(router.add(Verb::get, "/runs/{id}", noop()), std::invalid_argument);
  // One trailing slash is ignored, so this is the same route.
  EXPECT_THROW(router.add(Verb::get, "/runs/{id}/", noop()), std::invalid_argument);
  // Another method on the same pattern is fine.
  EXPECT_NO_THROW(router.add(Verb::post, "/runs/{id}", noop()));
}

TEST(RouterTest, ConflictingParameterNamesThrow) {
  Router router;
  router.add(Verb::get, "/runs/{run_id}", noop());
  EXPECT_THROW(router.add(Verb::get, "/runs/{id}/steps", noop()), std::invalid_argument);
}

TEST(RouterTest, PatternWithoutLeadingSlashThrows) {
  Router router;
  EXPECT_THROW(router.add(Verb::get, "", noop()), std::invalid_argument);
  EXPECT_THROW(router.add(Verb::get, "runs", noop()), std::invalid_argument);
}

TEST(RouterTest, ParameterWithoutNameThrows) {
  Router router;
  EXPECT_THROW(router.add(Verb::get, "/runs/{}", noop()), std::invalid_argument);
}

TEST(RouterTest, UnbalancedBracesThrow) {
  // A segment that starts or ends with a brace but is not "{name}" is a typo in a pattern, not
  // a literal anyone means to route.
  Router router;
  EXPECT_THROW(router.add(Verb::get, "/runs/{id", noop()), std::invalid_argument);
  EXPECT_THROW(router.add(Verb::get, "/runs/id}", noop()), std::invalid_argument);
  EXPECT_THROW(router.add(Verb::get, "/runs/{a}{b}", noop()), std::invalid_argument);
}

}  // namespace
}  // namespace pharos::http
