// Load generator for trace ingest: POST /api/v1/runs/multipart or /api/v1/runs/batch with the
// bodies `langsmith@0.10.5` sends (bench/run_gen.h), or POST /v1/traces with OTLP protobuf exports
// of realistic GenAI spans (bench/otlp_gen.h, --endpoint otlp), from C keep-alive connections for
// D seconds. Bodies are built once per connection; before every request the ids in it are
// overwritten in place (LangSmith: every occurrence of each run id; OTLP: the trace ids), so every
// request inserts new runs instead of merging.
//
//   ingest_load --url http://127.0.0.1:8080 --endpoint multipart --connections 8 --duration 10
//   ingest_load --url http://127.0.0.1:8080 --endpoint otlp --spans 512 --connections 8
//   ingest_load --check            # builds and validates bodies with Pharos's own parsers, no
//   server ingest_load --dump body.txt    # writes one request body
//
// Prints a human-readable report and one line `RESULT key=value ...` for scripts. Exit status 1
// when any request failed (non-2xx, or a connection error).
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "http/multipart.h"
#include "otlp_gen.h"
#include "run_gen.h"
#include "tracing/ingest/otlp_decode.h"
#include "tracing/run.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using pharos::bench::GenRun;

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

struct Options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string endpoint = "multipart";  // or "batch", "otlp"
  int connections = 8;
  int threads = 1;
  double duration = 10;
  double warmup = 1;
  int trees = 10;      // per request
  int tree_size = 10;  // runs per tree
  int spans = 512;     // per OTLP request
  bool chunked = false;
  std::string api_key;
  std::string session = "bench-ingest";
  bool check = false;
  std::string dump;
  std::string ceiling;  // a directory: time durable appends of the bodies there, no server
};

[[noreturn]] void usage(const std::string& problem) {
  std::cerr
      << "ingest_load: " << problem << "\n"
      << "usage: ingest_load [--url http://HOST:PORT] [--endpoint multipart|batch|otlp]\n"
         "         [--connections C] [--threads T] [--duration SECONDS] [--warmup SECONDS]\n"
         "         [--trees N (per request)] [--tree-size R] [--spans N (otlp, per request)]\n"
         "         [--chunked] [--api-key KEY]\n"
         "         [--session NAME] [--check] [--dump FILE] [--ceiling DIR]\n";
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
    } else if (arg == "--endpoint") {
      o.endpoint = value();
      if (o.endpoint != "multipart" && o.endpoint != "batch" && o.endpoint != "otlp") {
        usage("--endpoint multipart|batch|otlp");
      }
    } else if (arg == "--connections") {
      o.connections = std::stoi(value());
    } else if (arg == "--threads") {
      o.threads = std::stoi(value());
    } else if (arg == "--duration") {
      o.duration = std::stod(value());
    } else if (arg == "--warmup") {
      o.warmup = std::stod(value());
    } else if (arg == "--trees") {
      o.trees = std::stoi(value());
    } else if (arg == "--tree-size") {
      o.tree_size = std::stoi(value());
    } else if (arg == "--spans") {
      o.spans = std::stoi(value());
    } else if (arg == "--chunked") {
      o.chunked = true;
    } else if (arg == "--api-key") {
      o.api_key = value();
    } else if (arg == "--session") {
      o.session = value();
    } else if (arg == "--check") {
      o.check = true;
    } else if (arg == "--dump") {
      o.dump = value();
    } else if (arg == "--ceiling") {
      o.ceiling = value();
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (o.connections < 1 || o.threads < 1 || o.trees < 1 || o.tree_size < 4 || o.spans < 1) {
    usage("bad counts");
  }
  return o;
}

// One request body with the byte offsets of every occurrence of each run's id.
struct BodyTemplate {
  std::string content_type;
  std::string body;
  std::vector<std::vector<std::size_t>> id_offsets;  // per run (LangSmith bodies)
  std::optional<pharos::bench::OtlpBody> otlp;       // OTLP bodies
  std::size_t runs = 0;
};

std::string targetOf(const Options& o) {
  return o.endpoint == "otlp" ? "/v1/traces" : "/api/v1/runs/" + o.endpoint;
}

BodyTemplate buildTemplate(const Options& o, std::uint64_t seed) {
  if (o.endpoint == "otlp") {
    BodyTemplate tpl;
    tpl.otlp = pharos::bench::makeOtlpBody(static_cast<std::size_t>(o.spans), seed);
    tpl.content_type = "application/x-protobuf";
    tpl.body = tpl.otlp->bytes;
    tpl.runs = tpl.otlp->spans;
    return tpl;
  }
  pharos::bench::TreeGenerator trees(seed);
  pharos::bench::IdGenerator ids(0xffff, seed);
  std::vector<GenRun> runs;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (int t = 0; t < o.trees; ++t) {
    pharos::bench::TreeOptions options;
    options.start_ms = now_ms - 60'000 + t * 5'000;
    options.session_name = o.session;
    options.size = o.tree_size;
    options.failed = std::bernoulli_distribution(0.05)(trees.rng());
    trees.tree(options, ids, runs);
  }
  BodyTemplate tpl;
  tpl.runs = runs.size();
  if (o.endpoint == "multipart") {
    const std::string boundary = pharos::bench::langsmithBoundary(trees.rng());
    tpl.content_type = "multipart/form-data; boundary=" + boundary;
    tpl.body = pharos::bench::multipartBody(runs, boundary);
  } else {
    tpl.content_type = "application/json";
    tpl.body = pharos::bench::batchBody(runs);
  }
  for (const GenRun& run : runs) {
    std::vector<std::size_t> offsets;
    for (std::size_t at = tpl.body.find(run.id); at != std::string::npos;
         at = tpl.body.find(run.id, at + 1)) {
      offsets.push_back(at);
    }
    tpl.id_offsets.push_back(std::move(offsets));
  }
  return tpl;
}

// Overwrites every run id of `body` (laid out as in `tpl`) with a fresh one.
void freshIds(const BodyTemplate& tpl, std::string& body, pharos::bench::IdGenerator& ids,
              std::uint64_t stream, std::uint64_t& counter) {
  if (tpl.otlp) {
    pharos::bench::freshOtlpIds(*tpl.otlp, body, stream, ++counter);
    return;
  }
  char id[pharos::bench::kUuidLength];
  for (const auto& offsets : tpl.id_offsets) {
    ids.next(id);
    for (std::size_t at : offsets) std::memcpy(body.data() + at, id, sizeof id);
  }
}

// Validates bodies with the server's own multipart parser and run parser; checks that ids are
// fresh across 1,000 patched bodies. Returns the number of problems.
int check(const Options& o) {
  int problems = 0;
  const BodyTemplate tpl = buildTemplate(o, 1);
  pharos::bench::IdGenerator ids(1);
  std::string body = tpl.body;
  std::unordered_set<std::string> seen;
  std::size_t runs_seen = 0;
  std::uint64_t counter = 0;
  Clock::duration decoding{};
  Clock::duration validating{};
  auto fail = [&](const std::string& what) {
    if (++problems <= 10) std::cerr << "check: " << what << "\n";
  };
  for (int round = 0; round < 1000; ++round) {
    freshIds(tpl, body, ids, 1, counter);
    const bool full = round < 3;  // parse a few bodies fully, collect ids of all
    std::vector<std::string> run_ids;
    if (o.endpoint == "otlp") {
      // Pharos's own decoder, timed: the per-span cost of reading an export.
      const auto start = Clock::now();
      auto counts = pharos::tracing::otlp::validateProtobuf(body);
      const auto validated = Clock::now();
      auto decoded = pharos::tracing::otlp::decodeProtobuf(body);
      decoding += Clock::now() - validated;
      validating += validated - start;
      if (!counts || counts->accepted != static_cast<std::int64_t>(tpl.runs)) {
        fail("otlp: validateProtobuf does not accept every span");
      }
      if (!decoded) {
        fail("otlp: " + decoded.error().message);
        break;
      }
      if (decoded->rejected != 0) fail("otlp: rejected spans: " + decoded->reasons.front());
      for (const auto& span : decoded->spans) {
        run_ids.push_back(span.trace_id.substr(0, 16) + span.span_id);
      }
    } else if (o.endpoint == "multipart") {
      auto boundary = pharos::http::multipartBoundary(tpl.content_type);
      if (!boundary) {
        fail("boundary: " + boundary.error().message);
        break;
      }
      auto parts = pharos::http::parseMultipart(body, *boundary);
      if (!parts) {
        fail("multipart: " + parts.error().message);
        break;
      }
      for (const auto& part : *parts) {
        const std::string& name = part.headers.name;
        const std::string expected_type =
            "application/json; length=" + std::to_string(part.body.size());
        if (full && part.headers.content_type != expected_type) {
          fail("part " + name + " has Content-Type " + part.headers.content_type);
        }
        boost::system::error_code ec;
        auto json = boost::json::parse(part.body, ec);
        if (ec) {
          fail("part " + name + " is not JSON: " + ec.message());
          continue;
        }
        const std::size_t dots =
            static_cast<std::size_t>(std::count(name.begin(), name.end(), '.'));
        if (dots == 1 && name.starts_with("post.")) {
          const std::string id = name.substr(5);
          run_ids.push_back(id);
          if (full) {
            auto parsed = pharos::tracing::parseRunJson(json, pharos::tracing::RunOp::kPost, id);
            if (!parsed) fail("post." + id + ": " + parsed.error().message);
          }
        }
      }
    } else {
      boost::system::error_code ec;
      auto json = boost::json::parse(body, ec);
      if (ec) {
        fail("batch body is not JSON: " + ec.message());
        break;
      }
      for (const auto& item : json.at("post").as_array()) {
        run_ids.emplace_back(item.at("id").as_string());
        if (full) {
          auto parsed = pharos::tracing::parseRunJson(item, pharos::tracing::RunOp::kPost);
          if (!parsed) fail("post " + run_ids.back() + ": " + parsed.error().message);
        }
      }
    }
    if (run_ids.size() != tpl.runs) {
      fail(fmt::format("body {} has {} runs, expected {}", round, run_ids.size(), tpl.runs));
    }
    for (auto& id : run_ids) {
      ++runs_seen;
      if (!seen.insert(std::move(id)).second) fail("duplicate run id across bodies");
    }
  }
  std::cout << fmt::format(
      "check {}: {} runs per body, body {} bytes ({:.0f} bytes/run); 1000 patched bodies, {} "
      "runs, {} distinct ids; {} problem(s)\n",
      o.endpoint, tpl.runs, tpl.body.size(), static_cast<double>(tpl.body.size()) / tpl.runs,
      runs_seen, seen.size(), problems);
  if (o.endpoint == "otlp") {
    std::cout << fmt::format("validateProtobuf: {:.2f} us/span   decodeProtobuf: {:.2f} us/span\n",
                             std::chrono::duration<double, std::micro>(validating).count() /
                                 static_cast<double>(runs_seen),
                             std::chrono::duration<double, std::micro>(decoding).count() /
                                 static_cast<double>(runs_seen));
  }
  return problems;
}

struct ConnStats {
  std::vector<double> latencies_ms;   // measured window only
  std::uint64_t ok_requests = 0;      // measured window only
  std::uint64_t all_ok_requests = 0;  // warm-up and overtime included
  std::uint64_t non2xx = 0;
  std::uint64_t errors = 0;
  std::vector<std::string> samples;  // first failures
};

struct Shared {
  const Options* options = nullptr;
  tcp::endpoint endpoint;
  Clock::time_point measure_from, end;
};

asio::awaitable<void> connectionLoop(Shared& shared, BodyTemplate tpl, int index,
                                     ConnStats& stats) {
  const Options& o = *shared.options;
  auto executor = co_await asio::this_coro::executor;
  pharos::bench::IdGenerator ids(static_cast<std::uint64_t>(index) + 1);
  std::uint64_t counter = 0;
  // OTLP id streams differ per connection and per run of the tool.
  const std::uint64_t id_stream =
      (static_cast<std::uint64_t>(index) + 1) |
      ((static_cast<std::uint64_t>(std::random_device{}()) & 0x3fff) << 8);
  http::request<http::string_body> req{http::verb::post, targetOf(o), 11};
  req.set(http::field::host, o.host + ":" + o.port);
  req.set(http::field::user_agent, "langsmith-js/0.10.5");
  req.set(http::field::content_type, tpl.content_type);
  req.set(http::field::accept, "application/json");
  if (!o.api_key.empty()) req.set("x-api-key", o.api_key);
  req.keep_alive(true);
  req.body() = tpl.body;
  if (o.chunked) {
    req.chunked(true);
  } else {
    req.prepare_payload();
  }

  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  auto note = [&](std::string what) {
    if (stats.samples.size() < 3) stats.samples.push_back(std::move(what));
  };
  while (Clock::now() < shared.end) {
    if (!stream) {
      stream.emplace(executor);
      auto [ec] = co_await stream->async_connect(shared.endpoint, kNoThrow);
      if (ec) {
        ++stats.errors;
        note("connect: " + ec.message());
        stream.reset();
        asio::steady_timer wait(executor, std::chrono::milliseconds(100));
        co_await wait.async_wait(kNoThrow);
        continue;
      }
      buffer.clear();
    }
    freshIds(tpl, req.body(), ids, id_stream, counter);
    const auto start = Clock::now();
    auto [wec, written] = co_await http::async_write(*stream, req, kNoThrow);
    (void)written;
    http::response<http::string_body> res;
    boost::system::error_code rec;
    if (!wec) {
      auto [ec, read] = co_await http::async_read(*stream, buffer, res, kNoThrow);
      (void)read;
      rec = ec;
    }
    const auto done = Clock::now();
    if (wec || rec) {
      ++stats.errors;
      note(fmt::format("{}: {}", wec ? "write" : "read", (wec ? wec : rec).message()));
      stream.reset();
      continue;
    }
    const unsigned status = res.result_int();
    if (status < 200 || status > 299) {
      ++stats.non2xx;
      note(fmt::format("HTTP {}: {}", status, res.body().substr(0, 300)));
    } else {
      ++stats.all_ok_requests;
      if (done >= shared.measure_from && done <= shared.end) {  // completed in the window
        ++stats.ok_requests;
        stats.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(done - start).count());
      }
    }
    if (!res.keep_alive()) stream.reset();
  }
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const std::size_t i = std::min(
      sorted.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[i];
}

int run(const Options& o) {
  asio::io_context resolve_context;
  tcp::resolver resolver(resolve_context);
  Shared shared;
  shared.options = &o;
  shared.endpoint = *resolver.resolve(o.host, o.port).begin();

  std::vector<BodyTemplate> templates;
  for (int c = 0; c < o.connections; ++c) templates.push_back(buildTemplate(o, 1000 + c));
  const std::size_t runs_per_request = templates.front().runs;
  const std::size_t body_bytes = templates.front().body.size();

  std::vector<ConnStats> stats(static_cast<std::size_t>(o.connections));
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < o.threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  const auto begin = Clock::now();
  shared.measure_from =
      begin + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.warmup));
  shared.end = shared.measure_from + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(o.duration));
  for (int c = 0; c < o.connections; ++c) {
    asio::co_spawn(*contexts[static_cast<std::size_t>(c % o.threads)],
                   connectionLoop(shared, std::move(templates[static_cast<std::size_t>(c)]), c,
                                  stats[static_cast<std::size_t>(c)]),
                   [](std::exception_ptr e) {
                     if (e) std::rethrow_exception(e);
                   });
  }
  std::vector<std::thread> threads;
  for (int t = 1; t < o.threads; ++t) {
    threads.emplace_back([&, t] { contexts[static_cast<std::size_t>(t)]->run(); });
  }
  contexts[0]->run();
  for (auto& thread : threads) thread.join();

  ConnStats total;
  for (auto& s : stats) {
    total.ok_requests += s.ok_requests;
    total.all_ok_requests += s.all_ok_requests;
    total.non2xx += s.non2xx;
    total.errors += s.errors;
    total.latencies_ms.insert(total.latencies_ms.end(), s.latencies_ms.begin(),
                              s.latencies_ms.end());
    for (auto& sample : s.samples) {
      if (total.samples.size() < 5) total.samples.push_back(sample);
    }
  }
  std::sort(total.latencies_ms.begin(), total.latencies_ms.end());
  const double seconds = o.duration;
  const double rps = static_cast<double>(total.ok_requests) / seconds;
  const double runs_per_s = rps * static_cast<double>(runs_per_request);
  const double p50 = percentile(total.latencies_ms, 50);
  const double p95 = percentile(total.latencies_ms, 95);
  const double p99 = percentile(total.latencies_ms, 99);
  std::cout << fmt::format(
      "POST {}{}: {} connections, {} s (+{} s warm-up), {} runs per request, {} bytes per body "
      "({:.0f} bytes/run)\n",
      targetOf(o), o.chunked ? " (chunked)" : "", o.connections, o.duration, o.warmup,
      runs_per_request, body_bytes,
      static_cast<double>(body_bytes) / static_cast<double>(runs_per_request));
  std::cout << fmt::format(
      "  {:.0f} runs/s   {:.1f} requests/s   latency p50 {:.2f} ms  p95 {:.2f} ms  p99 {:.2f} ms\n",
      runs_per_s, rps, p50, p95, p99);
  std::cout << fmt::format(
      "  acknowledged runs (warm-up included): {}   non-2xx: {}   errors: {}\n",
      total.all_ok_requests * runs_per_request, total.non2xx, total.errors);
  for (const auto& sample : total.samples) std::cout << "  failure: " << sample << "\n";
  std::cout << fmt::format(
      "RESULT endpoint={} runs_per_s={:.0f} requests_per_s={:.1f} p50_ms={:.2f} p95_ms={:.2f} "
      "p99_ms={:.2f} acked_runs={} non2xx={} errors={}\n",
      o.endpoint, runs_per_s, rps, p50, p95, p99, total.all_ok_requests * runs_per_request,
      total.non2xx, total.errors);
  return total.non2xx + total.errors == 0 ? 0 : 1;
}

}  // namespace

// The raw limit of "durable on acknowledgement" on this disk: the same bodies (fresh ids each),
// one per connection, appended to one file with a single writev and one fdatasync per round —
// the best any server's group commit could do with C requests in flight, with no HTTP, no
// parsing and no validation.
int ceiling(const Options& o) {
  std::filesystem::create_directories(o.ceiling);
  const std::filesystem::path path = std::filesystem::path(o.ceiling) / "ceiling.log";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string());
  std::vector<BodyTemplate> templates;
  std::vector<std::string> bodies;
  for (int c = 0; c < o.connections; ++c) {
    templates.push_back(buildTemplate(o, 1000 + static_cast<std::uint64_t>(c)));
    bodies.push_back(templates.back().body);
  }
  pharos::bench::IdGenerator ids(1);
  std::uint64_t counter = 0;
  std::uint64_t runs = 0;
  std::uint64_t bytes = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration));
  while (Clock::now() < end) {
    std::vector<iovec> iov;
    for (std::size_t c = 0; c < bodies.size(); ++c) {
      freshIds(templates[c], bodies[c], ids, c + 1, counter);
      iov.push_back({bodies[c].data(), bodies[c].size()});
      runs += templates[c].runs;
      bytes += bodies[c].size();
    }
    if (::writev(fd, iov.data(), static_cast<int>(iov.size())) < 0 || ::fdatasync(fd) != 0) {
      throw std::runtime_error("write or fdatasync failed on " + path.string());
    }
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  std::filesystem::remove(path);
  const double runs_per_s = static_cast<double>(runs) / seconds;
  std::cout << fmt::format(
      "durable append ceiling ({} bodies per writev+fdatasync): {:.0f} runs/s, {:.0f} MB/s\n",
      o.connections, runs_per_s, static_cast<double>(bytes) / seconds / 1e6);
  std::cout << fmt::format("RESULT endpoint=ceiling runs_per_s={:.0f}\n", runs_per_s);
  return 0;
}

int main(int argc, char** argv) {
  const Options options = parseOptions(argc, argv);
  try {
    if (!options.dump.empty()) {
      const BodyTemplate tpl = buildTemplate(options, 1);
      std::ofstream(options.dump, std::ios::binary) << tpl.body;
      std::cout << "wrote " << tpl.body.size() << " bytes (" << tpl.runs << " runs, "
                << tpl.content_type << ") to " << options.dump << "\n";
      return 0;
    }
    if (options.check) return check(options) == 0 ? 0 : 1;
    if (!options.ceiling.empty()) return ceiling(options);
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "ingest_load: " << e.what() << "\n";
    return 1;
  }
}
