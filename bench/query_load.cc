// Query latency of the runs API: POST /api/v1/runs/query with a set of filters (the body the
// `langsmith@0.10.5` listRuns sends: session, filter, start_time null, limit, the default select),
// and GET /api/v1/traces/{trace_id}. Each request is sent REQUESTS times, one at a time on one
// keep-alive connection (after WARMUP unrecorded ones; at most MAX_SECONDS per query), and its
// p50/p95/max are printed.
// Meant for the data `sqlite_ceiling seed` writes (see bench/run.sh), whose env file gives the ids:
//
//   query_load --url http://127.0.0.1:8080 --session SESSION_ID --user USER_ID
//              --trace TRACE_ID [--trace ...] [--requests 200] [--warmup 5] [--limit 100]
//
// Prints one `RESULT query=<name> ...` line per query for scripts. Exit status 1 when any request
// failed.
#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string session;
  std::string user = "user-4242";
  std::string name = "SupportAgent";
  std::vector<std::string> traces;
  std::string api_key;
  int requests = 200;
  int warmup = 5;
  int limit = 100;
  double max_seconds = 30;        // per query; stops early (and says so) past it
  std::vector<std::string> only;  // query names to run; empty: all
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "query_load: " << problem << "\n"
            << "usage: query_load --session SESSION_ID [--url http://HOST:PORT] [--user USER_ID]\n"
               "         [--name ROOT_NAME] [--trace TRACE_ID]... [--requests N] [--warmup N]\n"
               "         [--limit N] [--max-seconds S] [--api-key KEY] [--only NAME]...\n";
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--url") {
      const std::string text = value();
      auto url = boost::urls::parse_absolute_uri(text);
      if (!url || url->scheme() != "http") usage("--url must be http://HOST:PORT");
      o.host = std::string(url->host());
      o.port = url->has_port() ? std::string(url->port()) : "80";
    } else if (arg == "--session") {
      o.session = value();
    } else if (arg == "--user") {
      o.user = value();
    } else if (arg == "--name") {
      o.name = value();
    } else if (arg == "--trace") {
      o.traces.push_back(value());
    } else if (arg == "--requests") {
      o.requests = std::stoi(value());
    } else if (arg == "--warmup") {
      o.warmup = std::stoi(value());
    } else if (arg == "--limit") {
      o.limit = std::stoi(value());
    } else if (arg == "--max-seconds") {
      o.max_seconds = std::stod(value());
    } else if (arg == "--api-key") {
      o.api_key = value();
    } else if (arg == "--only") {
      o.only.push_back(value());
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (o.session.empty()) usage("--session is required");
  if (o.requests < 1) usage("--requests must be positive");
  return o;
}

struct Query {
  std::string name;
  std::string description;
  http::verb verb;
  std::vector<std::string> targets;  // rotated
  std::string body;
};

// The SDK's listRuns body (client.js:_listRuns): undefined keys dropped, start_time null, the
// default select list.
std::string listRunsBody(const Options& o, const std::optional<std::string>& filter,
                         std::optional<bool> is_root) {
  json::object body;
  body["session"] = json::array{json::value(o.session)};
  if (filter) body["filter"] = *filter;
  body["start_time"] = nullptr;
  body["limit"] = o.limit;
  body["select"] = json::array{
      "app_path",
      "completion_cost",
      "completion_tokens",
      "dotted_order",
      "end_time",
      "error",
      "events",
      "extra",
      "feedback_stats",
      "first_token_time",
      "id",
      "inputs",
      "name",
      "outputs",
      "parent_run_id",
      "parent_run_ids",
      "prompt_cost",
      "prompt_tokens",
      "reference_example_id",
      "run_type",
      "session_id",
      "start_time",
      "status",
      "tags",
      "total_cost",
      "total_tokens",
      "trace_id",
  };
  if (is_root) body["is_root"] = *is_root;
  return json::serialize(body);
}

std::vector<Query> buildQueries(const Options& o) {
  std::vector<Query> queries;
  auto list = [&](std::string name, std::optional<std::string> filter,
                  std::optional<bool> is_root = std::nullopt) {
    std::string description = filter ? *filter : "(no filter)";
    if (is_root) description += fmt::format(" is_root={}", *is_root);
    queries.push_back({std::move(name),
                       description,
                       http::verb::post,
                       {"/api/v1/runs/query"},
                       listRunsBody(o, filter, is_root)});
  };
  list("error_since_2024", R"(and(eq(status, "error"), gte(start_time, "2024-01-01")))");
  list("has_tag", R"(has(tags, "experimental"))");
  list("metadata_kv",
       fmt::format(R"(and(eq(metadata_key, "user_id"), eq(metadata_value, "{}")))", o.user));
  list("name_latency", fmt::format(R"(and(eq(name, "{}"), gt(latency, 10)))", o.name));
  // A word in nearly every run (the worst case for full-text), and a document number that a few
  // dozen retriever runs carry ("kb/doc-4242.md").
  list("search_common", R"(search("warranty"))");
  list("search_rare", R"(search("4242"))");
  list("roots_latest", std::nullopt, true);
  if (!o.traces.empty()) {
    Query trace{"trace_1000",
                "GET /api/v1/traces/{trace_id} (" + std::to_string(o.traces.size()) +
                    " traces in rotation)",
                http::verb::get,
                {},
                ""};
    for (const auto& id : o.traces) trace.targets.push_back("/api/v1/traces/" + id);
    queries.push_back(std::move(trace));
  }
  if (!o.only.empty()) {
    std::erase_if(queries, [&](const Query& q) {
      return std::find(o.only.begin(), o.only.end(), q.name) == o.only.end();
    });
  }
  return queries;
}

// How many runs a response carries: {"runs":[...]} for queries, {"run_count": N, ...} (or an
// array) for a trace.
std::size_t countRuns(const std::string& body) {
  boost::system::error_code ec;
  const json::value v = json::parse(body, ec);
  if (ec) return 0;
  if (v.is_array()) return v.get_array().size();
  if (v.is_object()) {
    if (const json::value* count = v.get_object().if_contains("run_count");
        count && count->is_int64()) {
      return static_cast<std::size_t>(count->get_int64());
    }
    if (const json::value* runs = v.get_object().if_contains("runs"); runs && runs->is_array()) {
      return runs->get_array().size();
    }
  }
  return 0;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parseOptions(argc, argv);
  try {
    asio::io_context io;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(o.host, o.port);
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    int failures = 0;

    auto send = [&](const Query& q, const std::string& target,
                    http::response<http::string_body>& res) {
      if (!stream) {
        stream.emplace(io);
        stream->connect(endpoints);
        buffer.clear();
      }
      http::request<http::string_body> req{q.verb, target, 11};
      req.set(http::field::host, o.host + ":" + o.port);
      req.set(http::field::user_agent, "langsmith-js/0.10.5");
      req.set(http::field::accept, "application/json");
      if (!o.api_key.empty()) req.set("x-api-key", o.api_key);
      if (q.verb == http::verb::post) {
        req.set(http::field::content_type, "application/json");
        req.body() = q.body;
      }
      req.prepare_payload();
      http::write(*stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 30);
      http::read(*stream, buffer, parser);
      res = parser.release();
      if (!res.keep_alive()) stream.reset();
    };

    const std::vector<Query> queries = buildQueries(o);
    std::vector<std::string> results;
    std::cout << fmt::format("{} requests per query (+{} warm-up), one at a time, limit {}\n",
                             o.requests, o.warmup, o.limit);
    std::cout << fmt::format("{:<18} {:>9} {:>9} {:>9} {:>9} {:>6} {:>10}  {}\n", "query", "p50 ms",
                             "p95 ms", "max ms", "mean ms", "runs", "bytes", "what");
    for (const Query& q : queries) {
      std::vector<double> ms;
      std::size_t runs = 0, bytes = 0;
      int failed = 0;
      std::string sample;
      const auto query_start = Clock::now();
      for (int i = 0; i < o.warmup + o.requests; ++i) {
        if (std::chrono::duration<double>(Clock::now() - query_start).count() > o.max_seconds) {
          break;
        }
        const std::string& target = q.targets[static_cast<std::size_t>(i) % q.targets.size()];
        http::response<http::string_body> res;
        const auto start = Clock::now();
        send(q, target, res);
        const double elapsed =
            std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (res.result_int() < 200 || res.result_int() > 299) {
          ++failed;
          if (sample.empty())
            sample = fmt::format("HTTP {}: {}", res.result_int(), res.body().substr(0, 300));
          continue;
        }
        if (i == o.warmup) {
          runs = countRuns(res.body());
          bytes = res.body().size();
        }
        if (i >= o.warmup) ms.push_back(elapsed);
      }
      std::sort(ms.begin(), ms.end());
      double mean = 0;
      for (double m : ms) mean += m;
      mean = ms.empty() ? 0 : mean / static_cast<double>(ms.size());
      std::cout << fmt::format("{:<18} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>6} {:>10}  {}\n",
                               q.name, percentile(ms, 50), percentile(ms, 95),
                               ms.empty() ? 0 : ms.back(), mean, runs, bytes, q.description);
      if (failed > 0) std::cout << fmt::format("  {} failed; first: {}\n", failed, sample);
      if (static_cast<int>(ms.size()) + failed < o.requests) {
        std::cout << fmt::format("  stopped after {} s: {} of {} requests measured\n",
                                 o.max_seconds, ms.size(), o.requests);
      }
      failures += failed;
      std::cout << std::flush;
      results.push_back(fmt::format(
          "RESULT query={} p50_ms={:.2f} p95_ms={:.2f} max_ms={:.2f} runs={} bytes={} n={} "
          "failed={}\n",
          q.name, percentile(ms, 50), percentile(ms, 95), ms.empty() ? 0 : ms.back(), runs, bytes,
          ms.size(), failed));
    }
    for (const auto& line : results) std::cout << line;
    return failures == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "query_load: " << e.what() << "\n";
    return 1;
  }
}
