// The LangSmith runs API seen from outside: ingest in every wire form, merge rules, bad input
// (rejected with a clear 4xx while the valid runs of the same request are kept), workspace
// isolation, traces as trees, stats, pagination, `pharos runs list`, and durability across a
// SIGKILL in the middle of an ingest load.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <zlib.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

#include "integration/http_client.h"
#include "integration/pharos_process.h"
#include "integration/test_helpers.h"

namespace pharos::testing {
namespace {

namespace json = boost::json;

const Headers kJson = {{"content-type", "application/json"}};

// A UUIDv7-shaped id whose last 12 hex digits are `n`, so tests can make many distinct ids.
std::string runId(std::uint64_t n, std::uint32_t group = 0x1a2) {
  return fmt::format("0{:07x}-2a7f-7000-8000-{:012x}", group, n);
}

std::string dotted(const std::vector<std::string>& chain, int start_second = 29) {
  std::string out;
  for (std::size_t i = 0; i < chain.size(); ++i) {
    if (i > 0) out += '.';
    out += fmt::format("20261126T2045{:02}{:06}Z{}", start_second, i + 1, chain[i]);
  }
  return out;
}

json::object runJson(const std::string& id, const std::vector<std::string>& chain,
                     const std::string& project, const std::string& name) {
  json::object run{{"id", id},
                   {"name", name},
                   {"run_type", "chain"},
                   {"start_time", fmt::format("2026-11-26T20:45:29.{:06}Z", chain.size())},
                   {"trace_id", chain.front()},
                   {"dotted_order", dotted(chain)},
                   {"session_name", project},
                   {"inputs", {{"question", "what is " + name}}},
                   {"tags", json::array{"t-" + name}},
                   {"extra", {{"metadata", {{"user", "u-" + name}}}}}};
  if (chain.size() > 1) run["parent_run_id"] = chain[chain.size() - 2];
  return run;
}

class RunsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  std::uint16_t port() const { return server_.port(); }

  HttpResponse post(std::string_view target, const json::value& body) {
    return fetch(port(), "POST", target, kJson, json::serialize(body));
  }
  // Runs of a project matching `filter`, by POST /runs/query (session resolved by name).
  std::vector<json::object> query(const std::string& project, const std::string& filter = "",
                                  json::object extra = {}) {
    const HttpResponse sessions = get(port(), "/api/v1/sessions?name=" + project);
    EXPECT_EQ(sessions.status, 200) << sessions.body;
    const json::array list = sessions.json().as_array();
    if (list.empty()) return {};
    extra["session"] = json::array{list.front().at("id")};
    if (!filter.empty()) extra["filter"] = filter;
    const HttpResponse response = post("/api/v1/runs/query", extra);
    EXPECT_EQ(response.status, 200) << response.body;
    std::vector<json::object> out;
    const json::value answer = response.json();
    for (const json::value& run : answer.at("runs").as_array()) {
      out.push_back(run.as_object());
    }
    return out;
  }

  PharosServer server_;
};

TEST_F(RunsTest, PostThenPatchMergesAndReadsBack) {
  const std::string id = runId(1);
  json::object run = runJson(id, {id}, "merge", "root");
  ASSERT_EQ(post("/api/v1/runs", run).status, 202);
  const json::object patch{{"end_time", 1795725929125},
                           {"outputs", {{"answer", "42"}}},
                           {"inputs", json::object{}},
                           {"tags", json::array{"late"}}};
  const HttpResponse patched =
      fetch(port(), "PATCH", "/api/v1/runs/" + id, kJson, json::serialize(patch));
  ASSERT_EQ(patched.status, 202) << patched.body;

  const HttpResponse read = get(port(), "/api/v1/runs/" + id + "?");
  ASSERT_EQ(read.status, 200) << read.body;
  const json::value got = read.json();
  EXPECT_EQ(got.at("status"), "success");
  EXPECT_EQ(got.at("inputs").at("question"), "what is root") << "a patch never clears inputs";
  EXPECT_EQ(got.at("outputs").at("answer"), "42");
  EXPECT_EQ(got.at("end_time"), "2026-11-26T20:45:29.125000Z");
  EXPECT_EQ(got.at("tags"), (json::array{"t-root", "late"}));
  EXPECT_EQ(got.at("extra").at("metadata").at("user"), "u-root");
  EXPECT_TRUE(got.at("session_id").is_string());
}

TEST_F(RunsTest, PatchBeforePostConverges) {
  const std::string id = runId(2);
  const json::object patch =
      json::parse(R"({"end_time": 1795725929125, "error": "Error: late"})").as_object();
  ASSERT_EQ(fetch(port(), "PATCH", "/api/v1/runs/" + id, kJson, json::serialize(patch)).status,
            202);
  ASSERT_EQ(post("/api/v1/runs", runJson(id, {id}, "early-patch", "root")).status, 202);
  const json::value got = get(port(), "/api/v1/runs/" + id).json();
  EXPECT_EQ(got.at("status"), "error");
  EXPECT_EQ(got.at("error"), "Error: late");
  EXPECT_EQ(got.at("name"), "root");
  EXPECT_EQ(got.at("inputs").at("question"), "what is root");
  const auto runs = query("early-patch");
  ASSERT_EQ(runs.size(), 1u);
}

TEST_F(RunsTest, UnknownFieldsAreStoredAroundAndNamedInWarnings) {
  const std::string id = runId(4);
  json::object run = runJson(id, {id}, "warn", "root");
  run["colour"] = "blue";
  const HttpResponse single = post("/api/v1/runs", run);
  ASSERT_EQ(single.status, 202) << single.body;
  EXPECT_EQ(single.json().at("warnings"), (json::array{"unknown field ignored: colour"}));
  const HttpResponse batch = post("/api/v1/runs/batch", json::object{{"post", json::array{run}}});
  ASSERT_EQ(batch.status, 202) << batch.body;
  EXPECT_EQ(batch.json().at("warnings"), (json::array{"post[0]: unknown field ignored: colour"}));
  EXPECT_EQ(get(port(), "/api/v1/runs/" + id).json().at("name"), "root");
}

TEST_F(RunsTest, DuplicatePostsStoreOneRun) {
  const std::string id = runId(3);
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(post("/api/v1/runs", runJson(id, {id}, "dupes", "root")).status, 202);
  }
  EXPECT_EQ(query("dupes").size(), 1u);
}

TEST_F(RunsTest, BatchKeepsValidRunsAndNamesTheBadOnes) {
  const std::string good1 = runId(10), good2 = runId(11);
  json::object bad_time = runJson(runId(12), {runId(12)}, "batch", "bad-time");
  bad_time["start_time"] = "yesterday";
  json::object bad_id = runJson("not-a-uuid", {runId(13)}, "batch", "bad-id");
  const json::object body{
      {"post", json::array{runJson(good1, {good1}, "batch", "a"), bad_time, bad_id,
                           runJson(good2, {good1, good2}, "batch", "b")}},
      {"patch", json::array{json::object{{"id", good1}, {"end_time", 1795725929125}}}}};
  const HttpResponse response = post("/api/v1/runs/batch", body);
  ASSERT_EQ(response.status, 422) << response.body;
  const json::value answer = response.json();
  EXPECT_EQ(answer.at("stored"), 3);
  const json::array& rejected = answer.at("rejected").as_array();
  ASSERT_EQ(rejected.size(), 2u) << response.body;
  EXPECT_EQ(rejected[0].at("part"), "post[1]");
  EXPECT_NE(std::string(rejected[0].at("message").as_string()).find("start_time"),
            std::string::npos);
  EXPECT_EQ(rejected[1].at("part"), "post[2]");
  EXPECT_NE(std::string(rejected[1].at("message").as_string()).find("not a UUID"),
            std::string::npos);
  const auto runs = query("batch");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(get(port(), "/api/v1/runs/" + good1).json().at("status"), "success");
}

TEST_F(RunsTest, MalformedBodiesAnswer400AndTheServerGoesOn) {
  EXPECT_TRUE(isJsonError(fetch(port(), "POST", "/api/v1/runs/batch", kJson, "{\"post\": ["), 400,
                          "invalid_request"));
  EXPECT_TRUE(
      isJsonError(fetch(port(), "POST", "/api/v1/runs", kJson, "[1,2]"), 400, "invalid_request"));
  EXPECT_TRUE(isJsonError(fetch(port(), "POST", "/api/v1/runs/batch", kJson, "{\"post\": 5}"), 400,
                          "invalid_request"));
  EXPECT_TRUE(isJsonError(get(port(), "/api/v1/runs/not-a-uuid"), 400, "invalid_request"));
  EXPECT_TRUE(isJsonError(get(port(), "/api/v1/runs/" + runId(999)), 404, "not_found"));
  EXPECT_EQ(post("/api/v1/runs/query", json::object{{"limit", 500}}).status, 200)
      << "a limit above the page size is served in pages, not refused";
  EXPECT_TRUE(
      isJsonError(post("/api/v1/runs/query", json::object{{"limit", 0}}), 400, "invalid_request"));
  EXPECT_TRUE(isJsonError(post("/api/v1/runs/query", json::object{{"cursor", "garbage"}}), 400,
                          "invalid_request"));
  EXPECT_EQ(get(port(), "/healthz").status, 200);
}

TEST_F(RunsTest, FilterSyntaxErrorNamesThePositionAndTheKey) {
  const HttpResponse response =
      post("/api/v1/runs/query", json::object{{"filter", "and(eq(status, \"error\"), gte(x"}});
  ASSERT_TRUE(isJsonError(response, 400, "invalid_request"));
  EXPECT_NE(errorMessage(response).find("filter: at position"), std::string::npos)
      << errorMessage(response);
  const HttpResponse tree =
      post("/api/v1/runs/query", json::object{{"tree_filter", "eq(nmae, \"x\")"}});
  ASSERT_TRUE(isJsonError(tree, 400, "invalid_request"));
  EXPECT_EQ(errorMessage(tree).rfind("tree_filter: at position 3", 0), 0u) << errorMessage(tree);
  EXPECT_NE(errorMessage(tree).find("did you mean"), std::string::npos) << errorMessage(tree);
}

std::string multipartBody(const std::string& boundary,
                          const std::vector<std::pair<std::string, std::string>>& parts) {
  std::string body;
  for (const auto& [name, content] : parts) {
    body += "--" + boundary + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + name + "\"\r\n";
    body += fmt::format("Content-Type: application/json; length={}\r\n\r\n", content.size());
    body += content + "\r\n";
  }
  body += "--" + boundary + "--\r\n";
  return body;
}

std::string gzipped(std::string_view data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(compressBound(static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

TEST_F(RunsTest, MultipartAssemblesPartsAndRejectsOnlyTheBrokenRun) {
  const std::string boundary = "----LangSmithFormBoundaryabc123";
  const std::string a = runId(20), b = runId(21), c = runId(22);
  json::object a_main = runJson(a, {a}, "mp", "a");
  a_main.erase("inputs");
  a_main.erase("extra");
  const std::string body =
      multipartBody(boundary, {{"post." + a, json::serialize(a_main)},
                               {"post." + a + ".inputs", R"({"question":"from a part"})"},
                               {"post." + a + ".extra", R"({"metadata":{"user":"part-user"}})"},
                               {"post." + a + ".error", R"("Error: boom")"},
                               {"post." + b, json::serialize(runJson(b, {a, b}, "mp", "b"))},
                               {"post." + b + ".outputs", "{not json"},
                               {"post." + c, json::serialize(runJson(c, {a, c}, "mp", "c"))},
                               {"mystery", "{}"}});
  const HttpResponse response =
      fetch(port(), "POST", "/api/v1/runs/multipart",
            {{"content-type", "multipart/form-data; boundary=" + boundary}}, body);
  ASSERT_EQ(response.status, 422) << response.body;
  EXPECT_EQ(response.json().at("stored"), 2);
  EXPECT_EQ(response.json().at("rejected").as_array().size(), 2u) << response.body;

  const json::value got = get(port(), "/api/v1/runs/" + a).json();
  EXPECT_EQ(got.at("inputs").at("question"), "from a part");
  EXPECT_EQ(got.at("error"), "Error: boom");
  EXPECT_EQ(got.at("status"), "error");
  EXPECT_EQ(got.at("extra").at("metadata").at("user"), "part-user");
  EXPECT_EQ(get(port(), "/api/v1/runs/" + b).status, 404);
  EXPECT_EQ(get(port(), "/api/v1/runs/" + c).status, 200);
}

TEST_F(RunsTest, MultipartGzipChunkedWithAttachment) {
  const std::string boundary = "----LangSmithFormBoundaryxyz";
  const std::string id = runId(30);
  std::string body =
      multipartBody(boundary, {{"post." + id, json::serialize(runJson(id, {id}, "gz", "root"))}});
  // An attachment part, raw bytes with its own type.
  const std::string attachment = "--" + boundary +
                                 "\r\nContent-Disposition: form-data; name=\"attachment." + id +
                                 ".notes\"\r\nContent-Type: text/plain; length=5\r\n\r\nhello\r\n";
  body.insert(0, attachment);
  const std::string packed = gzipped(body);
  // Chunked, as the SDK streams it.
  std::string chunked;
  for (std::size_t at = 0; at < packed.size(); at += 100) {
    const std::size_t n = std::min<std::size_t>(100, packed.size() - at);
    chunked += fmt::format("{:x}\r\n", n) + packed.substr(at, n) + "\r\n";
  }
  chunked += "0\r\n\r\n";
  HttpConnection connection(port());
  ASSERT_TRUE(connection.send(
      "POST /api/v1/runs/multipart HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Encoding: gzip\r\nContent-Type: multipart/form-data; boundary=" +
      boundary + "\r\n\r\n" + chunked));
  const auto response = connection.readResponse();
  ASSERT_TRUE(response) << connection.lastError();
  ASSERT_EQ(response->status, 202) << response->body;

  const json::value got = get(port(), "/api/v1/runs/" + id).json();
  const json::value& notes = got.at("attachments").at("notes");
  EXPECT_EQ(notes.at("mime_type"), "text/plain");
  const std::string url(notes.at("presigned_url").as_string());
  const std::string path = url.substr(url.find("/api/"));
  const HttpResponse download = get(port(), path);
  EXPECT_EQ(download.status, 200);
  EXPECT_EQ(download.body, "hello");
  EXPECT_EQ(download.header("content-type"), "text/plain");
  EXPECT_EQ(download.header("content-disposition"), "attachment");
  EXPECT_EQ(download.header("x-content-type-options"), "nosniff");
}

TEST_F(RunsTest, BrokenMultipartFramingIs400) {
  const HttpResponse no_boundary = fetch(port(), "POST", "/api/v1/runs/multipart",
                                         {{"content-type", "multipart/form-data"}}, "x");
  EXPECT_TRUE(isJsonError(no_boundary, 400, "invalid_request"));
  const HttpResponse unterminated =
      fetch(port(), "POST", "/api/v1/runs/multipart",
            {{"content-type", "multipart/form-data; boundary=b"}},
            "--b\r\nContent-Disposition: form-data; name=\"post.x\"\r\n\r\n{}");
  EXPECT_TRUE(isJsonError(unterminated, 400, "invalid_request")) << unterminated.body;
}

TEST_F(RunsTest, TraceIsATreeInDottedOrderAndOrphansStay) {
  const std::string root = runId(40), child = runId(41), grandchild = runId(42), second = runId(43),
                    orphan = runId(44), missing_parent = runId(45);
  json::array posts;
  posts.push_back(runJson(root, {root}, "tree", "root"));
  posts.push_back(runJson(grandchild, {root, child, grandchild}, "tree", "grandchild"));
  posts.push_back(runJson(child, {root, child}, "tree", "child"));
  json::object late = runJson(second, {root, second}, "tree", "second");
  late["dotted_order"] = dotted({root, second}, 31);
  posts.push_back(late);
  posts.push_back(runJson(orphan, {root, missing_parent, orphan}, "tree", "orphan"));
  ASSERT_EQ(post("/api/v1/runs/batch", json::object{{"post", posts}}).status, 202);

  const HttpResponse response = get(port(), "/api/v1/traces/" + root);
  ASSERT_EQ(response.status, 200) << response.body;
  const json::value trace = response.json();
  EXPECT_EQ(trace.at("run_count"), 5);
  const json::array& roots = trace.at("runs").as_array();
  ASSERT_EQ(roots.size(), 2u) << "the root, and the run whose parent never arrived";
  EXPECT_EQ(roots[0].at("name"), "root");
  const json::array& children = roots[0].at("child_runs").as_array();
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].at("name"), "child");
  EXPECT_EQ(children[1].at("name"), "second");
  EXPECT_EQ(children[0].at("child_runs").as_array()[0].at("name"), "grandchild");
  EXPECT_EQ(children[0].at("child_runs").as_array()[0].at("parent_run_ids"),
            (json::array{json::string(root), json::string(child)}));
  EXPECT_EQ(roots[1].at("name"), "orphan");
  EXPECT_TRUE(isJsonError(get(port(), "/api/v1/traces/" + runId(4040)), 404, "not_found"));
}

TEST_F(RunsTest, CursorPaginationVisitsEveryRunOnce) {
  json::array posts;
  for (int i = 0; i < 7; ++i) {
    const std::string id = runId(100 + i);
    json::object run = runJson(id, {id}, "pages", "r" + std::to_string(i));
    run["start_time"] = fmt::format("2026-11-26T20:45:{:02}.000000Z", 10 + i);
    posts.push_back(run);
  }
  ASSERT_EQ(post("/api/v1/runs/batch", json::object{{"post", posts}}).status, 202);
  const std::string session(
      get(port(), "/api/v1/sessions?name=pages").json().as_array().at(0).at("id").as_string());
  std::vector<std::string> names;
  json::object body{
      {"session", json::array{json::string(session)}}, {"limit", 3}, {"order", "asc"}};
  for (int page = 0; page < 10; ++page) {
    const HttpResponse response = post("/api/v1/runs/query", body);
    ASSERT_EQ(response.status, 200) << response.body;
    const json::value answer = response.json();
    for (const json::value& run : answer.at("runs").as_array()) {
      names.emplace_back(run.at("name").as_string());
    }
    const json::value& next = answer.at("cursors").at("next");
    if (next.is_null()) break;
    body["cursor"] = next;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"r0", "r1", "r2", "r3", "r4", "r5", "r6"}));
}

TEST_F(RunsTest, ProjectsCreateListUpdateAndConflict) {
  const HttpResponse created =
      post("/api/v1/sessions", json::object{{"name", "exp-1"},
                                            {"description", nullptr},
                                            {"extra", {{"metadata", {{"k", "v"}}}}}});
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string id(created.json().at("id").as_string());
  EXPECT_TRUE(created.json().at("tenant_id").is_string());
  EXPECT_TRUE(
      isJsonError(post("/api/v1/sessions", json::object{{"name", "exp-1"}}), 409, "conflict"));
  const HttpResponse same_id =
      post("/api/v1/sessions", json::object{{"name", "exp-2"}, {"id", json::string(id)}});
  ASSERT_TRUE(isJsonError(same_id, 409, "conflict"));
  EXPECT_NE(errorMessage(same_id).find("id: a project with the id"), std::string::npos)
      << errorMessage(same_id);
  EXPECT_EQ(fetch(port(), "POST", "/api/v1/sessions?upsert=true", kJson, R"({"name":"exp-1"})")
                .json()
                .at("id"),
            json::value(id));
  const HttpResponse patched = fetch(port(), "PATCH", "/api/v1/sessions/" + id, kJson,
                                     R"({"name":null,"description":"d","end_time":null})");
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json().at("name"), "exp-1");
  EXPECT_EQ(patched.json().at("description"), "d");
  EXPECT_EQ(get(port(), "/api/v1/sessions/" + id + "?").json().at("description"), "d");
  EXPECT_EQ(get(port(), "/api/v1/sessions?limit=1&offset=0").json().as_array().size(), 1u);
  EXPECT_TRUE(get(port(), "/api/v1/sessions?name=nope").json().as_array().empty());
  EXPECT_TRUE(isJsonError(get(port(), "/api/v1/sessions/" + runId(77)), 404, "not_found"));

  // Deleting a project deletes its runs.
  const std::string run = runId(78);
  ASSERT_EQ(post("/api/v1/runs", runJson(run, {run}, "exp-1", "doomed")).status, 202);
  EXPECT_EQ(fetch(port(), "DELETE", "/api/v1/sessions/" + id).status, 200);
  EXPECT_EQ(get(port(), "/api/v1/sessions/" + id).status, 404);
  EXPECT_EQ(get(port(), "/api/v1/runs/" + run).status, 404);
  EXPECT_TRUE(isJsonError(fetch(port(), "DELETE", "/api/v1/sessions/" + id), 404, "not_found"));
}

TEST_F(RunsTest, StatsCountErrorsLatencyTokensAndCost) {
  json::array posts;
  for (int i = 0; i < 4; ++i) {
    const std::string id = runId(200 + i);
    json::object run = runJson(id, {id}, "stats", "llm" + std::to_string(i));
    run["run_type"] = "llm";
    run["start_time"] = 1795725929000 + i;  // epoch ms
    run["end_time"] = 1795725929000 + i + 1000 * (i + 1);
    run["outputs"] = {{"usage_metadata", {{"input_tokens", 1000}, {"output_tokens", 500}}}};
    run["extra"] = {{"metadata", {{"ls_model_name", "gpt-4o-mini"}}}};
    if (i == 3) run["error"] = "Error: boom";
    posts.push_back(run);
  }
  ASSERT_EQ(post("/api/v1/runs/batch", json::object{{"post", posts}}).status, 202);
  const json::value llm = get(port(), "/api/v1/runs/" + runId(200)).json();
  EXPECT_EQ(llm.at("total_tokens"), 1500);
  EXPECT_EQ(llm.at("model"), "gpt-4o-mini");
  // gpt-4o-mini: $0.15 / M prompt, $0.60 / M completion.
  EXPECT_NEAR(llm.at("total_cost").to_number<double>(), 1000 * 0.15e-6 + 500 * 0.60e-6, 1e-12);
  EXPECT_EQ(llm.at("figure_sources").at("total_tokens"), "computed");
  EXPECT_EQ(llm.at("figure_sources").at("prompt_tokens"), "reported");
  EXPECT_EQ(llm.at("figure_sources").at("cost"), "computed");

  const std::string session(
      get(port(), "/api/v1/sessions?name=stats").json().as_array().at(0).at("id").as_string());
  const HttpResponse stats =
      get(port(), "/api/v1/sessions/" + session +
                      "/stats?start_time=2026-11-26T00:00:00Z&end_time=2026-11-27T00:00:00Z"
                      "&interval=6h");
  ASSERT_EQ(stats.status, 200) << stats.body;
  const json::value s = stats.json();
  EXPECT_EQ(s.at("total").at("run_count"), 4);
  EXPECT_EQ(s.at("total").at("error_rate").to_number<double>(), 0.25);
  EXPECT_EQ(s.at("total").at("total_tokens"), 6000);
  EXPECT_NEAR(s.at("total").at("latency_p50").to_number<double>(), 2.0, 1e-9);
  EXPECT_NEAR(s.at("total").at("latency_p99").to_number<double>(), 4.0, 1e-9);
  ASSERT_EQ(s.at("buckets").as_array().size(), 4u);
  // 1795725929 s is 2026-11-26T20:45:29Z: the 18:00-24:00 bucket.
  EXPECT_EQ(s.at("buckets").as_array()[3].at("run_count"), 4);
  EXPECT_EQ(s.at("buckets").as_array()[0].at("run_count"), 0);
  for (std::string_view interval : {"soon", "0.5us", "99999999999999999999h", "0s"}) {
    EXPECT_TRUE(isJsonError(
        get(port(), "/api/v1/sessions/" + session + "/stats?interval=" + std::string(interval)),
        400, "invalid_request"))
        << interval;
  }
}

TEST_F(RunsTest, RunsListCommandPrintsATableAndJsonLines) {
  const std::string ok = runId(300), failed = runId(301);
  json::object failing = runJson(failed, {failed}, "cli", "failing");
  failing["error"] = "Error: exploded";
  failing["end_time"] = 1795725929500;
  json::object fine = runJson(ok, {ok}, "cli", "fine");
  fine["end_time"] = 1795725929500;
  ASSERT_EQ(post("/api/v1/runs/batch", json::object{{"post", json::array{fine, failing}}}).status,
            202);
  const std::string data = server_.dataDir().string();
  const CommandResult table = runPharos({"runs", "list", "--project", "cli", "--data", data});
  ASSERT_EQ(table.status.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("failing"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("Error: exploded"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("fine"), std::string::npos) << table.out;

  const CommandResult lines = runPharos({"runs", "list", "--project", "cli", "--filter",
                                         "eq(status, \"error\")", "--json", "--data", data});
  ASSERT_EQ(lines.status.exit_code, 0) << lines.err;
  const json::value only = json::parse(lines.out);  // exactly one line, one run
  EXPECT_EQ(only.at("id"), json::value(failed));
  EXPECT_EQ(only.at("inputs").at("question"), "what is failing");

  const CommandResult bad =
      runPharos({"runs", "list", "--project", "cli", "--filter", "eq(", "--data", data});
  EXPECT_NE(bad.status.exit_code, 0);
  EXPECT_NE(bad.err.find("filter: at position"), std::string::npos) << bad.err;
  const CommandResult unknown = runPharos({"runs", "list", "--project", "nope", "--data", data});
  EXPECT_NE(unknown.status.exit_code, 0);
  EXPECT_NE(unknown.err.find("no project is called \"nope\""), std::string::npos) << unknown.err;
}

// An oversized ingest is refused on its head (Content-Length) or as it streams (chunked), and the
// server keeps serving.
TEST(RunsLimitsTest, OversizedIngestBodiesAre413) {
  PharosServer server{ServeOptions{.sets = {"server.max_body_bytes=4KiB"}}};
  ASSERT_TRUE(server.start());
  const std::string id = runId(600);
  json::object run = runJson(id, {id}, "big", "root");
  run["inputs"] = {{"text", std::string(8192, 'x')}};
  const std::string big = multipartBody("B", {{"post." + id, json::serialize(run)}});
  const HttpResponse sized = fetch(server.port(), "POST", "/api/v1/runs/multipart",
                                   {{"content-type", "multipart/form-data; boundary=B"}}, big);
  EXPECT_EQ(sized.status, 413) << sized.body;
  HttpConnection connection(server.port());
  ASSERT_TRUE(connection.send(
      "POST /api/v1/runs/multipart HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: multipart/form-data; boundary=B\r\n\r\n" +
      fmt::format("{:x}\r\n", big.size()) + big + "\r\n0\r\n\r\n"));
  const auto streamed = connection.readResponse();
  ASSERT_TRUE(streamed) << connection.lastError();
  EXPECT_EQ(streamed->status, 413) << streamed->body;
  EXPECT_EQ(get(server.port(), "/api/v1/runs/" + id).status, 404) << "nothing half-stored";
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);
}

// Two workspaces on one server: runs, projects and traces never cross.
TEST(RunsTenancyTest, WorkspacesNeverSeeEachOthersRuns) {
  TempDir data;
  std::string keys[2];
  for (int i = 0; i < 2; ++i) {
    const CommandResult created =
        runPharos({"keys", "create", "--workspace", i == 0 ? "acme" : "globex", "--data",
                   data.path().string()});
    ASSERT_EQ(created.status.exit_code, 0) << created.err;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(created.out, match, std::regex(R"(\n  (phk_\S+)\n)")));
    keys[i] = match[1];
  }
  PharosServer server{ServeOptions{.sets = {"auth.mode=required"}, .data_dir = data.path()}};
  ASSERT_TRUE(server.start());
  const std::string id = runId(500);
  const Headers acme = {{"content-type", "application/json"}, {"x-api-key", keys[0]}};
  const Headers globex = {{"content-type", "application/json"}, {"x-api-key", keys[1]}};
  ASSERT_EQ(fetch(server.port(), "POST", "/api/v1/runs", acme,
                  json::serialize(runJson(id, {id}, "shared-name", "secret")))
                .status,
            202);
  EXPECT_EQ(fetch(server.port(), "GET", "/api/v1/runs/" + id, acme).status, 200);
  EXPECT_EQ(fetch(server.port(), "GET", "/api/v1/runs/" + id, globex).status, 404);
  EXPECT_EQ(fetch(server.port(), "GET", "/api/v1/traces/" + id, globex).status, 404);
  EXPECT_EQ(fetch(server.port(), "GET", "/api/v1/sessions?name=shared-name", globex).body, "[]");
  const HttpResponse all = fetch(server.port(), "POST", "/api/v1/runs/query", globex,
                                 R"j({"filter":"search(\"secret\")"})j");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_TRUE(all.json().at("runs").as_array().empty()) << all.body;
  // The same project name in the other workspace is a different project.
  ASSERT_EQ(
      fetch(server.port(), "POST", "/api/v1/sessions", globex, R"({"name":"shared-name"})").status,
      200);
}

// A 2xx on ingest means the runs are on disk: kill -9 in the middle of a load, restart, and
// every acknowledged run is there.
TEST(RunsDurabilityTest, EveryAcknowledgedRunSurvivesSigkill) {
  TempDir data;
  std::set<std::string> acknowledged;
  {
    PharosServer server{ServeOptions{.sets = {"log.access_log=false"}, .data_dir = data.path()}};
    ASSERT_TRUE(server.start());
    std::mutex mutex;
    std::atomic<bool> stop{false};
    std::atomic<int> failures_before_kill{0};
    std::atomic<bool> killed{false};
    std::vector<std::thread> clients;
    for (int t = 0; t < 4; ++t) {
      clients.emplace_back([&, t] {
        for (std::uint64_t batch = 0; !stop; ++batch) {
          json::array posts;
          std::vector<std::string> ids;
          for (int i = 0; i < 20; ++i) {
            const std::string id = runId(batch * 20 + static_cast<std::uint64_t>(i), 0x100 + t);
            ids.push_back(id);
            posts.push_back(runJson(id, {id}, "durable", "r"));
          }
          try {
            const HttpResponse response = fetch(server.port(), "POST", "/api/v1/runs/batch", kJson,
                                                json::serialize(json::object{{"post", posts}}));
            if (response.status == 202) {
              std::lock_guard lock(mutex);
              acknowledged.insert(ids.begin(), ids.end());
            } else if (!killed) {
              ++failures_before_kill;
            }
          } catch (const std::exception&) {
            if (!killed) ++failures_before_kill;
            return;  // the server is gone
          }
        }
      });
    }
    // Let acknowledgements accumulate, then kill without warning.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mutex);
        if (acknowledged.size() >= 2000) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    killed = true;
    server.sendSignal(SIGKILL);
    stop = true;
    for (auto& client : clients) client.join();
    server.waitForExit(std::chrono::seconds(5));
    EXPECT_EQ(failures_before_kill.load(), 0);
  }
  ASSERT_GT(acknowledged.size(), 100u) << "the load never got going";

  PharosServer restarted{ServeOptions{.data_dir = data.path()}};
  ASSERT_TRUE(restarted.start());
  std::vector<std::string> ids(acknowledged.begin(), acknowledged.end());
  std::size_t found = 0;
  for (std::size_t at = 0; at < ids.size(); at += 100) {
    json::array chunk;
    for (std::size_t i = at; i < std::min(ids.size(), at + 100); ++i) chunk.emplace_back(ids[i]);
    const HttpResponse response = fetch(
        restarted.port(), "POST", "/api/v1/runs/query", kJson,
        json::serialize(json::object{{"id", chunk}, {"limit", 100}, {"select", json::array{}}}));
    ASSERT_EQ(response.status, 200) << response.body;
    found += response.json().at("runs").as_array().size();
  }
  EXPECT_EQ(found, acknowledged.size());
}

}  // namespace
}  // namespace pharos::testing
