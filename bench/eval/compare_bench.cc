// The experiment comparison (docs/plans/evaluation.md §4, WP13; target: 1,000 examples × 5
// experiments, a compare page in < 100 ms), next to a plain SQLite read of the rows a page needs.
//
//   cmake --build --preset release --target compare_bench -j2 && build/release/bench/compare_bench
//
// Seeded once per process into a fresh temp directory, through the real write paths:
// DatasetStore::createDataset/createExamples (1,000 examples, ~200-byte inputs and outputs),
// RunStore::createProject (5 experiments on the dataset) and RunStore::ingest (per experiment and
// example a root run with latency, 5% errors, and an llm child in its trace with tokens and a
// cost; for 2% of the examples an errored evaluator run in project "evaluators" whose
// extra.metadata.targetRunId names the root run), FeedbackStore::create (two numeric keys on
// every root run). Times are wall clock: the store's reads run on its reader threads.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "economics/pricing.h"
#include "eval/store/dataset_store.h"
#include "eval/store/experiment_store.h"
#include "store/store_test_util.h"
#include "tracing/run.h"
#include "tracing/store/feedback_store.h"
#include "tracing/store/run_store.h"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using pharos::core::Result;
using pharos::store::sqlite::Connection;
using pharos::store::sqlite::SqliteDatabase;
using pharos::store::test_util::runSync;
using pharos::store::test_util::TempDir;

constexpr std::string_view kWorkspace = "ws-bench";
constexpr int kExamples = 1000;
constexpr int kExperiments = 5;
constexpr std::size_t kPageSize = 100;
constexpr std::int64_t kT0Millis = 1795725929000;  // 2026-11-27, epoch ms

// Distinct id ranges: dataset 0x1…, examples 0x2…, experiments 0x3…, root runs 0x4…, llm
// children 0x5…, evaluator runs 0x6…, feedback 0x7….
std::string uuid(int kind, int n) {
  return fmt::format("01a2199b-2a7f-7000-8000-{:x}{:011x}", kind, n);
}
std::string rootRunId(int experiment, int example) {
  return uuid(4, experiment * kExamples + example);
}
std::string experimentId(int experiment) {
  return uuid(3, experiment);
}

// About 200 bytes of JSON text.
json::object exampleInputs(int n) {
  return {{"question", fmt::format("Question {}: which warehouse ships order {} fastest to the "
                                   "customer in zone {}, given carrier delays this week?",
                                   n, 100000 + n, n % 17)},
          {"context", fmt::format("customer-{} priority-{}", n % 311, n % 3)},
          {"locale", "en-US"}};
}
json::object exampleOutputs(int n) {
  return {{"answer", fmt::format("Warehouse W{} ships order {} in {} days; carrier C{} has the "
                                 "shortest delay for zone {} this week, so it is the fastest.",
                                 n % 9, 100000 + n, 1 + n % 4, n % 5, n % 17)},
          {"confidence", "high"}};
}

template <class T>
T await(asio::io_context& ctx, asio::awaitable<T> awaitable) {
  return runSync(ctx, std::move(awaitable));
}

void check(bool ok, std::string_view what, const std::string& message) {
  if (ok) return;
  std::cerr << "compare_bench seeding: " << what << ": " << message << "\n";
  std::exit(1);
}

pharos::tracing::PreparedRun prepared(const std::string& text,
                                      const pharos::economics::PriceTable& prices) {
  auto parsed = pharos::tracing::parseRunJson(json::parse(text), pharos::tracing::RunOp::kPost);
  check(parsed.ok(), "run payload", parsed.ok() ? "" : parsed.error().message);
  return pharos::tracing::prepareRun(parsed->run, "bench", prices);
}

struct Seeded {
  TempDir dir;  // declared first: removed after the database closed
  std::unique_ptr<SqliteDatabase> db;
  std::unique_ptr<pharos::eval::ExperimentStore> experiments;
  std::string dataset_id = uuid(1, 1);
  std::vector<std::string> experiment_ids;
  double seconds = 0;

  ~Seeded() {
    experiments.reset();
    if (db) db->close();
  }
};

void seedRuns(asio::io_context& ctx, SqliteDatabase& db) {
  pharos::tracing::RunStore runs(db, std::make_shared<pharos::economics::PriceTable>(
                                         pharos::economics::PriceTable::builtIn()));
  for (int x = 0; x < kExperiments; ++x) {
    pharos::tracing::Project p;
    p.id = experimentId(x);
    p.name = fmt::format("experiment-{}", x);
    p.reference_dataset_id = uuid(1, 1);
    p.num_examples = kExamples;
    p.start_time = kT0Millis * 1000 + x * 1'000'000'000LL;
    p.extra = json::object{{"metadata", json::object{{"revision_id", fmt::format("rev-{}", x)}}}};
    auto made = await(ctx, runs.createProject(std::string(kWorkspace), std::move(p), false));
    check(made.ok(), "createProject", made.ok() ? "" : made.error().message);
  }

  std::vector<pharos::tracing::PreparedRun> batch;
  const auto flush = [&] {
    if (batch.empty()) return;
    const std::size_t sent = batch.size();
    auto stored = await(ctx, runs.ingest(std::string(kWorkspace), std::move(batch), {}));
    check(stored.ok(), "ingest", stored.ok() ? "" : stored.error().message);
    check(stored->stored == sent && stored->rejected.empty(), "ingest",
          stored->rejected.empty() ? "not all stored" : stored->rejected.front().message);
    batch.clear();
  };
  for (int x = 0; x < kExperiments; ++x) {
    for (int e = 0; e < kExamples; ++e) {
      const std::string root = rootRunId(x, e);
      const std::string child = uuid(5, x * kExamples + e);
      const std::int64_t start = kT0Millis + (x * kExamples + e) * 10'000LL;
      const int latency_ms = 400 + (e * 37 + x * 101) % 2600;
      const bool failed = (e * 7 + x) % 20 == 0;  // 5%
      const std::string inputs = json::serialize(exampleInputs(e));
      // Root: the target function's run, pointing at its example.
      batch.push_back(prepared(
          fmt::format(R"({{"id":"{0}","trace_id":"{0}","name":"target","run_type":"chain",)"
                      R"("start_time":{1},"end_time":{2},"session_name":"experiment-{3}",)"
                      R"("reference_example_id":"{4}","inputs":{5},"outputs":{6}{7}}})",
                      root, start, start + latency_ms, x, uuid(2, e), inputs,
                      failed ? "null" : json::serialize(exampleOutputs(e + x)),
                      failed ? R"(,"error":"TimeoutError: upstream took too long")" : ""),
          runs.prices()));
      // Its llm call: tokens and a reported cost, same trace and project.
      const int prompt = 150 + e % 200, completion = 40 + (e + x) % 120;
      batch.push_back(prepared(
          fmt::format(R"({{"id":"{0}","trace_id":"{1}","parent_run_id":"{1}","name":"ChatOpenAI",)"
                      R"("run_type":"llm","start_time":{2},"end_time":{3},)"
                      R"("session_name":"experiment-{4}","inputs":{{"messages":[]}},)"
                      R"("outputs":{{"usage_metadata":{{"input_tokens":{5},"output_tokens":{6},)"
                      R"("total_tokens":{7},"total_cost":{8}}}}}}})",
                      child, root, start + 5, start + latency_ms - 5, x, prompt, completion,
                      prompt + completion, (prompt * 0.15 + completion * 0.6) / 1e6),
          runs.prices()));
      // 2% of the examples: a failed evaluator of this run, in "evaluators".
      if ((e * 3 + x) % 50 == 0) {
        batch.push_back(prepared(
            fmt::format(
                R"({{"id":"{0}","trace_id":"{0}","name":"correctness","run_type":"chain",)"
                R"("start_time":{1},"end_time":{2},"session_name":"evaluators",)"
                R"("reference_example_id":"{3}","error":"ValueError: judge returned no score",)"
                R"("inputs":{{"run_id":"{4}"}},"extra":{{"metadata":{{"targetRunId":"{4}"}}}}}})",
                uuid(6, x * kExamples + e), start + latency_ms + 10, start + latency_ms + 90,
                uuid(2, e), root),
            runs.prices()));
      }
      if (batch.size() >= 1000) flush();
    }
  }
  flush();
}

void seedFeedback(asio::io_context& ctx, SqliteDatabase& db) {
  pharos::tracing::FeedbackStore feedback(db);
  int failures = 0;
  std::string first_failure;
  int n = 0;
  // Posted concurrently in waves, so the writer group-commits them as the server would.
  for (int x = 0; x < kExperiments; ++x) {
    for (int e = 0; e < kExamples; e += 100) {
      for (int i = e; i < e + 100; ++i) {
        for (const char* key : {"correctness", "relevance"}) {
          pharos::tracing::Feedback f;
          f.id = uuid(7, n);
          f.run_id = rootRunId(x, i);
          f.session_id = experimentId(x);
          f.key = key;
          f.score = key[0] == 'c' ? ((i + x) % 4 == 0 ? 0.0 : 1.0) : ((i * 13 + x) % 101) / 100.0;
          f.created_at = (kT0Millis + 60'000'000) * 1000 + n;
          f.modified_at = f.created_at;
          f.feedback_source = json::object{{"type", "model"}, {"metadata", json::object{}}};
          f.source_type = "model";
          ++n;
          asio::co_spawn(ctx, feedback.create(std::string(kWorkspace), std::move(f)),
                         [&](std::exception_ptr error, Result<pharos::tracing::Feedback> r) {
                           if (error) std::rethrow_exception(error);
                           if (!r.ok() && failures++ == 0) first_failure = r.error().message;
                         });
        }
      }
      ctx.restart();
      ctx.run();
    }
  }
  check(failures == 0, "feedback", first_failure);
}

void seed(Seeded& out) {
  const auto began = std::chrono::steady_clock::now();
  auto db = SqliteDatabase::open(out.dir.path() / "pharos.db", pharos::core::StoreSettings{});
  check(db.ok(), "open", db.ok() ? "" : db.error().message);
  out.db = std::move(db).value();
  auto tenant = out.db->writeSync<bool>([](Connection& c) -> Result<bool> {
    auto st = c.exec(
        fmt::format("INSERT INTO workspaces(id, name, created_at) VALUES ('{0}', 'bench', 0); "
                    "INSERT INTO tenants(ws, workspace_id) VALUES (1, '{0}');",
                    kWorkspace));
    if (!st) return st.error();
    return true;
  });
  check(tenant.ok(), "workspace", tenant.ok() ? "" : tenant.error().message);

  asio::io_context ctx;
  pharos::eval::DatasetStore datasets(*out.db);
  pharos::eval::Dataset d;
  d.id = out.dataset_id;
  d.name = "support-qa";
  d.created_at = kT0Millis * 1000 - 1'000'000;
  auto made = await(ctx, datasets.createDataset(std::string(kWorkspace), std::move(d)));
  check(made.ok(), "createDataset", made.ok() ? "" : made.error().message);
  std::vector<pharos::eval::ExampleWrite> examples;
  for (int e = 0; e < kExamples; ++e) {
    pharos::eval::ExampleWrite w;
    w.id = uuid(2, e);
    w.inputs = exampleInputs(e);
    w.outputs = exampleOutputs(e);
    w.created_at = kT0Millis * 1000 + e;  // the compare page's order
    examples.push_back(std::move(w));
  }
  auto written = await(ctx, datasets.createExamples(std::string(kWorkspace), out.dataset_id,
                                                    std::move(examples), false));
  check(written.ok(), "createExamples", written.ok() ? "" : written.error().message);
  check(written->rejected.empty(), "createExamples", "an example was rejected");

  seedRuns(ctx, *out.db);
  seedFeedback(ctx, *out.db);
  // COMPARE_BENCH_SAVE=file.db: a copy of the seeded database, to look at with sqlite3.
  if (const char* save = std::getenv("COMPARE_BENCH_SAVE"); save != nullptr) {
    // On a connection of its own: the store's connections always hold a transaction.
    auto c = Connection::open(out.db->path(), SQLITE_OPEN_READWRITE, std::chrono::seconds(5));
    check(c.ok(), "COMPARE_BENCH_SAVE", c.ok() ? "" : c.error().message);
    auto st = (*c)->prepare("VACUUM INTO ?");
    check(st.ok(), "COMPARE_BENCH_SAVE", st.ok() ? "" : st.error().message);
    auto ran = st->bindText(1, save).run();
    check(ran.ok(), "COMPARE_BENCH_SAVE", ran.ok() ? "" : ran.error().message);
  }
  out.experiments = std::make_unique<pharos::eval::ExperimentStore>(*out.db);
  for (int x = 0; x < kExperiments; ++x) out.experiment_ids.push_back(experimentId(x));
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  std::cerr << fmt::format("seeded {} examples, {} experiments in {:.1f} s ({})\n", kExamples,
                           kExperiments, out.seconds, out.dir.path().string());
}

Seeded& seeded() {
  static Seeded s;
  static const bool done = (seed(s), true);
  (void)done;
  return s;
}

// ---- Pharos ----

// CPU seconds of the whole process (the reader thread included), user + system: on a shared
// machine the wall time also counts waiting for a core, this does not.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(u.ru_utime) + seconds(u.ru_stime);
}

// Reports the process CPU per iteration since `began` as the counter cpu_ms.
void reportCpu(benchmark::State& state, double began) {
  if (state.iterations() == 0) return;
  state.counters["cpu_ms"] =
      (processCpuSeconds() - began) * 1e3 / static_cast<double>(state.iterations());
}

void compareAt(benchmark::State& state, std::size_t offset) {
  Seeded& s = seeded();
  asio::io_context ctx;
  std::size_t rows = 0, bytes = 0;
  const double cpu_began = processCpuSeconds();
  for (auto _ : state) {
    pharos::eval::CompareQuery q;
    q.dataset_id = s.dataset_id;
    q.experiment_ids = s.experiment_ids;
    q.offset = offset;
    q.limit = kPageSize;
    auto out = await(ctx, s.experiments->compare(std::string(kWorkspace), std::move(q)));
    if (!out.ok()) {
      state.SkipWithError(out.error().message.c_str());
      return;
    }
    rows = out->at("examples").as_array().size();
    // What the handler would send; the serialization is part of the page's cost.
    bytes = json::serialize(*out).size();
    benchmark::DoNotOptimize(bytes);
  }
  reportCpu(state, cpu_began);
  state.counters["examples"] = static_cast<double>(rows);
  state.counters["json_bytes"] = static_cast<double>(bytes);
}

void BM_CompareFirstPage(benchmark::State& state) {
  compareAt(state, 0);
}
BENCHMARK(BM_CompareFirstPage)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_CompareMiddlePage(benchmark::State& state) {
  compareAt(state, 500);
}
BENCHMARK(BM_CompareMiddlePage)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_AggregatesOneExperiment(benchmark::State& state) {
  Seeded& s = seeded();
  asio::io_context ctx;
  pharos::eval::ExperimentStats last;
  const double cpu_began = processCpuSeconds();
  for (auto _ : state) {
    auto stats =
        await(ctx, s.experiments->aggregates(std::string(kWorkspace), s.experiment_ids[0]));
    if (!stats.ok()) {
      state.SkipWithError(stats.error().message.c_str());
      return;
    }
    last = std::move(stats).value();
  }
  reportCpu(state, cpu_began);
  // The seeding's shape, read back: 1,000 runs, 5% errors, 2% failed evaluators, 2 keys.
  state.counters["runs"] = static_cast<double>(last.run_count);
  state.counters["errors"] = static_cast<double>(last.error_count);
  state.counters["evaluator_errors"] = static_cast<double>(last.evaluator_errors);
  state.counters["feedback_keys"] = static_cast<double>(last.feedback.size());
  state.counters["total_tokens"] = static_cast<double>(last.total_tokens);
}
BENCHMARK(BM_AggregatesOneExperiment)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- the raw limit ----

// "?, ?, …" with n placeholders.
std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

struct RawCounts {
  std::size_t examples = 0, roots = 0, children = 0, feedback = 0, bytes = 0;
};

// The rows the first page shows, with statements prepared once per reader connection, each
// column read once, nothing built: the 100 examples, their 500 root runs, every run of those
// runs' traces, and the feedback on the roots.
Result<RawCounts> rawFirstPage(Connection& c, std::int64_t dataset_seq,
                               const std::vector<std::int64_t>& sessions) {
  RawCounts n;
  const auto text = [&](const pharos::store::sqlite::Statement& s, int col) {
    n.bytes += s.columnText(col).size();
  };
  auto examples = c.cached(
      "SELECT e.id, e.inputs, e.outputs, e.metadata, e.modified_at FROM examples e "
      "WHERE e.dataset = ? AND e.valid_to IS NULL AND e.deleted = 0 "
      "ORDER BY e.created_at, e.id LIMIT ? OFFSET 0");
  if (!examples) return std::move(examples).error();
  (*examples)->bindInt64(1, dataset_seq).bindInt64(2, static_cast<std::int64_t>(kPageSize));
  std::vector<std::string> example_ids;
  while (true) {
    auto row = (*examples)->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    const auto& s = **examples;
    example_ids.emplace_back(s.columnText(0));
    text(s, 1);
    text(s, 2);
    if (!s.columnIsNull(3)) text(s, 3);
    benchmark::DoNotOptimize(s.columnInt64(4));
  }
  (*examples)->reset();
  n.examples = example_ids.size();

  auto roots = c.cached(
      fmt::format("SELECT r.id, r.trace_id, r.status, r.error, r.outputs, r.latency, "
                  "r.total_tokens, r.total_cost, r.session, r.reference_example_id FROM runs r "
                  "WHERE r.ws = 1 AND r.is_root = 1 AND r.reference_example_id IN ({}) "
                  "AND r.session IN ({}) ORDER BY r.start_time, r.seq",
                  placeholders(kPageSize), placeholders(sessions.size())));
  if (!roots) return std::move(roots).error();
  int p = 1;
  for (const std::string& id : example_ids) (*roots)->bindText(p++, id);
  for (std::size_t i = example_ids.size(); i < kPageSize; ++i) (*roots)->bindNull(p++);
  for (std::int64_t seq : sessions) (*roots)->bindInt64(p++, seq);
  std::vector<std::string> run_ids, trace_ids;
  while (true) {
    auto row = (*roots)->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    const auto& s = **roots;
    run_ids.emplace_back(s.columnText(0));
    trace_ids.emplace_back(s.columnText(1));
    text(s, 2);
    if (!s.columnIsNull(3)) text(s, 3);
    if (!s.columnIsNull(4)) text(s, 4);
    benchmark::DoNotOptimize(s.columnDouble(5) + s.columnDouble(7));
    benchmark::DoNotOptimize(s.columnInt64(6) + s.columnInt64(8));
    text(s, 9);
  }
  (*roots)->reset();
  n.roots = run_ids.size();
  const std::size_t capacity = kPageSize * kExperiments;

  auto children =
      c.cached(fmt::format("SELECT trace_id, total_tokens, total_cost FROM runs WHERE ws = 1 "
                           "AND trace_id IN ({})",
                           placeholders(capacity)));
  if (!children) return std::move(children).error();
  p = 1;
  for (const std::string& id : trace_ids) (*children)->bindText(p++, id);
  for (std::size_t i = trace_ids.size(); i < capacity; ++i) (*children)->bindNull(p++);
  while (true) {
    auto row = (*children)->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    const auto& s = **children;
    text(s, 0);
    benchmark::DoNotOptimize(s.columnInt64(1) + static_cast<std::int64_t>(s.columnDouble(2)));
    ++n.children;
  }
  (*children)->reset();

  auto feedback =
      c.cached(fmt::format("SELECT run_id, id, key, score, value, comment, extra FROM feedback "
                           "WHERE ws = 1 AND run_id IN ({}) ORDER BY created_at, seq",
                           placeholders(capacity)));
  if (!feedback) return std::move(feedback).error();
  p = 1;
  for (const std::string& id : run_ids) (*feedback)->bindText(p++, id);
  for (std::size_t i = run_ids.size(); i < capacity; ++i) (*feedback)->bindNull(p++);
  while (true) {
    auto row = (*feedback)->step();
    if (!row) return std::move(row).error();
    if (!*row) break;
    const auto& s = **feedback;
    text(s, 0);
    text(s, 1);
    text(s, 2);
    benchmark::DoNotOptimize(s.columnDouble(3));
    if (!s.columnIsNull(4)) text(s, 4);
    if (!s.columnIsNull(5)) text(s, 5);
    if (!s.columnIsNull(6)) text(s, 6);
    ++n.feedback;
  }
  (*feedback)->reset();
  return n;
}

void BM_RawFirstPageRows(benchmark::State& state) {
  Seeded& s = seeded();
  // The dataset's and experiments' row numbers, looked up once (the store does it per call).
  auto seqs = s.db->readSync<std::vector<std::int64_t>>(
      [&](Connection& c) -> Result<std::vector<std::int64_t>> {
        std::vector<std::int64_t> out;
        auto d = c.prepare("SELECT seq FROM datasets WHERE ws = 1 AND id = ?");
        if (!d) return std::move(d).error();
        auto row = d->bindText(1, s.dataset_id).step();
        if (!row) return std::move(row).error();
        out.push_back(d->columnInt64(0));
        for (const std::string& id : s.experiment_ids) {
          auto q = c.prepare("SELECT seq FROM sessions WHERE ws = 1 AND id = ?");
          if (!q) return std::move(q).error();
          auto found = q->bindText(1, id).step();
          if (!found) return std::move(found).error();
          out.push_back(q->columnInt64(0));
        }
        return out;
      });
  if (!seqs.ok()) {
    state.SkipWithError(seqs.error().message.c_str());
    return;
  }
  const std::int64_t dataset_seq = seqs->front();
  const std::vector<std::int64_t> sessions(seqs->begin() + 1, seqs->end());
  asio::io_context ctx;
  RawCounts counts;
  const double cpu_began = processCpuSeconds();
  for (auto _ : state) {
    // On the reader pool, in a read transaction, like the store's own calls.
    std::function<Result<RawCounts>(Connection&)> job = [&](Connection& c) {
      return rawFirstPage(c, dataset_seq, sessions);
    };
    auto reading = s.db->read<RawCounts>(std::move(job));
    auto got = await(ctx, std::move(reading));
    if (!got.ok()) {
      state.SkipWithError(got.error().message.c_str());
      return;
    }
    counts = *got;
  }
  reportCpu(state, cpu_began);
  state.counters["examples"] = static_cast<double>(counts.examples);
  state.counters["roots"] = static_cast<double>(counts.roots);
  state.counters["trace_runs"] = static_cast<double>(counts.children);
  state.counters["feedback"] = static_cast<double>(counts.feedback);
}
BENCHMARK(BM_RawFirstPageRows)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
