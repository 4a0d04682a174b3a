// Micro benchmarks of the per-request hot path: routing, gzip inflation, the metrics update, the
// access-log line and SSE framing. Run: build/release/bench/pharos_bench (see bench/README.md).
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstddef>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include "core/log.h"
#include "http/content_coding.h"
#include "http/metrics.h"
#include "http/router.h"
#include "http/sse.h"

namespace {

using namespace pharos;
using http::Verb;

http::Awaitable<http::Response> unused(http::Request&) {
  co_return http::Response::json(200, "{}");
}

// 30 routes shaped like Pharos's table: ops, LangSmith, OpenAI and OTLP endpoints.
void addRoutes(http::Router& r) {
  const char* const get_routes[] = {
      "/healthz",
      "/readyz",
      "/metrics",
      "/api/v1/info",
      "/api/v1/auth/whoami",
      "/api/v1/runs/{run_id}",
      "/api/v1/runs/{run_id}/share",
      "/api/v1/sessions",
      "/api/v1/sessions/{id}",
      "/api/v1/sessions/{id}/stats",
      "/api/v1/datasets",
      "/api/v1/datasets/{dataset_id}",
      "/api/v1/datasets/{dataset_id}/examples",
      "/api/v1/examples/{example_id}",
      "/api/v1/feedback/{feedback_id}",
      "/api/v1/prompts/{owner}/{repo}/commits/{commit}",
      "/v1/models",
      "/v1/models/{model}",
  };
  const char* const post_routes[] = {
      "/api/v1/runs",     "/api/v1/runs/batch", "/api/v1/runs/multipart", "/api/v1/runs/query",
      "/api/v1/sessions", "/api/v1/datasets",   "/api/v1/feedback",       "/v1/chat/completions",
      "/v1/embeddings",   "/v1/traces",
  };
  for (const char* pattern : get_routes) r.add(Verb::get, pattern, unused);
  for (const char* pattern : post_routes) r.add(Verb::post, pattern, unused);
  r.add(Verb::patch, "/api/v1/runs/{run_id}", unused);
  r.add(Verb::delete_, "/api/v1/sessions/{id}", unused);
}

const http::Router& router30() {
  static const http::Router* instance = [] {
    auto* r = new http::Router();
    addRoutes(*r);
    return r;
  }();
  return *instance;
}

void BM_RouterMatchLiteral(benchmark::State& state) {
  const http::Router& router = router30();
  for (auto _ : state) {
    auto match = router.match(Verb::post, "/api/v1/runs/batch");
    benchmark::DoNotOptimize(match);
  }
}
BENCHMARK(BM_RouterMatchLiteral);

void BM_RouterMatchParam(benchmark::State& state) {
  const http::Router& router = router30();
  for (auto _ : state) {
    auto match =
        router.match(Verb::get, "/api/v1/sessions/0b6c6a9e-1f2c-4c8e-9a8d-2f1d0e7a9c11/stats");
    benchmark::DoNotOptimize(match);
  }
}
BENCHMARK(BM_RouterMatchParam);

void BM_RouterMatchMiss(benchmark::State& state) {
  const http::Router& router = router30();
  for (auto _ : state) {
    auto match = router.match(Verb::get, "/api/v1/no/such/route");
    benchmark::DoNotOptimize(match);
  }
}
BENCHMARK(BM_RouterMatchMiss);

// A LangSmith-like batch of runs: ids, timestamps, numbers and prose that vary from run to run,
// so it compresses about as well as real traffic (several times, not a hundred times).
std::string jsonBody(std::size_t size) {
  static const char* const kWords[] = {
      "the",     "model",  "answer", "question",  "context",   "tool",     "search", "result",
      "user",    "Paris",  "France", "capital",   "summary",   "document", "token",  "latency",
      "request", "prompt", "system", "assistant", "retrieval", "chunk",    "score",  "embedding",
      "weather", "London", "today",  "tomorrow",  "invoice",   "customer", "order",  "refund"};
  std::mt19937 random(42);
  const auto hex = [&](int digits) {
    std::string out;
    for (int i = 0; i < digits; ++i) out += "0123456789abcdef"[random() % 16];
    return out;
  };
  const auto prose = [&](int words) {
    std::string out;
    for (int i = 0; i < words; ++i) {
      if (i > 0) out += ' ';
      out += kWords[random() % std::size(kWords)];
    }
    return out;
  };
  std::string body = R"({"post":[)";
  for (int i = 0; body.size() + 1500 < size; ++i) {
    if (i > 0) body += ',';
    body += R"({"id":")" + hex(8) + "-" + hex(4) + "-" + hex(4) + "-" + hex(4) + "-" + hex(12) +
            R"(","trace_id":")" + hex(32) + R"(","name":"ChatOpenAI","run_type":"llm",)" +
            R"("start_time":"2026-11-26T21:10:)" + std::to_string(10 + random() % 50) + "." +
            std::to_string(100000 + random() % 900000) + R"(Z","inputs":{"messages":[)" +
            R"({"role":"user","content":")" + prose(12 + static_cast<int>(random() % 30)) +
            R"("}]},"extra":{"invocation_params":{"temperature":0.)" +
            std::to_string(random() % 10) + R"(,"max_tokens":)" + std::to_string(random() % 4096) +
            R"(}},"outputs":{"generations":[{"text":")" +
            prose(20 + static_cast<int>(random() % 60)) + R"("}]}})";
  }
  body += "]}";
  body.resize(size, ' ');
  return body;
}

std::string gzipCompress(std::string_view input) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(input.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  zs.avail_in = static_cast<uInt>(input.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

void BM_InflateGzipJson64KiB(benchmark::State& state) {
  const std::string json = jsonBody(64 * 1024);
  const std::string gzipped = gzipCompress(json);
  for (auto _ : state) {
    auto out = http::inflate(gzipped, http::ContentCoding::kGzip, 256 * 1024 * 1024);
    if (!out || out->size() != json.size()) {
      state.SkipWithError("inflate failed");
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * json.size()));
  state.counters["gzip_bytes"] = static_cast<double>(gzipped.size());
}
BENCHMARK(BM_InflateGzipJson64KiB);

void BM_CounterIncExistingLabels(benchmark::State& state) {
  http::MetricsRegistry registry;
  http::CounterFamily& family = registry.counter(
      "pharos_http_requests_total", "HTTP requests answered", {"route", "method", "status"});
  // A realistic number of children, so the look-up is not into a one-entry map.
  for (const char* route : {"/healthz", "/readyz", "/metrics", "/api/v1/runs", "/api/v1/runs/batch",
                            "/api/v1/runs/{run_id}", "/v1/chat/completions", "unmatched"}) {
    for (const char* status : {"200", "202", "400", "401", "404", "500"}) {
      family.with({route, "GET", status}).inc();
      family.with({route, "POST", status}).inc();
    }
  }
  for (auto _ : state) {
    family.with({"/api/v1/runs/batch", "POST", "202"}).inc();
  }
}
BENCHMARK(BM_CounterIncExistingLabels);

void BM_LogFormatAccessLine(benchmark::State& state) {
  for (auto _ : state) {
    std::string line =
        core::log::formatLine(core::LogLevel::kInfo, "request",
                              {{"request_id", "6f1c0e9a4b2d4c8e9a8d2f1d0e7a9c11"},
                               {"method", "POST"},
                               {"path", "/api/v1/runs/batch"},
                               {"route", "/api/v1/runs/batch"},
                               {"status", 202u},
                               {"duration_ms", 0.734},
                               {"bytes_in", std::size_t{18234}},
                               {"bytes_out", std::size_t{2}},
                               {"remote", "127.0.0.1:53122"},
                               {"workspace", "default"},
                               {"user_agent", "langsmith-py/0.4.1 \"python\"/3.12"}});
    benchmark::DoNotOptimize(line);
  }
}
BENCHMARK(BM_LogFormatAccessLine);

void BM_FormatSseEvent(benchmark::State& state) {
  const std::string chunk =
      R"({"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764191441,)"
      R"("model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":" Paris"},)"
      R"("finish_reason":null}]})";
  for (auto _ : state) {
    std::string event = http::formatSseEvent(chunk);
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunk.size()));
}
BENCHMARK(BM_FormatSseEvent);

void BM_FormatSseEventMultiline(benchmark::State& state) {
  const std::string data = "line one\nline two\r\nline three\rline four";
  for (auto _ : state) {
    std::string event = http::formatSseEvent(data, "message", "42");
    benchmark::DoNotOptimize(event);
  }
}
BENCHMARK(BM_FormatSseEventMultiline);

}  // namespace
