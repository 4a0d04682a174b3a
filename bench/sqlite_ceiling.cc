// The ingest ceiling: the rows the server writes for each ingested run (bench/run_rows.h), inserted
// straight into a database with Pharos's schema by a minimal program — WAL, synchronous=FULL,
// prepared statements, one transaction per batch of 100 runs (10 trees). What the HTTP ingest
// path adds on top (parsing, merging, queueing) is the difference to bench/ingest_load.
//
//   sqlite_ceiling [--duration 10] [--batch 100] [--db PATH] [--sync FULL|NORMAL|OFF]
//                  [--savepoint] [--job-savepoint]
//                  [--no-text] [--no-metadata] [--no-tags] [--pragma 'cache_size=-65536']...
//                  [--exec 'SQL']...
//       Inserts for DURATION seconds into a fresh database (default: a temporary directory, which
//       is removed) and prints runs/s and CPU time per run. --savepoint wraps each run in its own
//       SAVEPOINT and --job-savepoint each batch, as the server does (its group commit runs every
//       request's job in a savepoint, and RunStore::ingest every run); --no-* leave out a side
//       table (to see its share); --pragma runs `PRAGMA NAME=VALUE` first, --exec any SQL after
//       the migrations (e.g. to try a variant of a table).
//   sqlite_ceiling seed --db DATA_DIR/pharos.db --runs 1000000 [--big-traces 10]
//       [--big-size 1000] [--workspace default] [--session bench-query] [--env-out FILE]
//       Fills a (stopped) server's database for bench/query_load: 10-run trees with start times
//       spread over 2023-07-01..2024-12-31, 5% failed, plus BIG_TRACES traces of BIG_SIZE runs.
//       Writes SESSION_ID, TRACE_ID, USER_ID, ... to FILE as shell assignments.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "run_gen.h"
#include "run_rows.h"

namespace {

using Clock = std::chrono::steady_clock;
using pharos::bench::GenRun;
using pharos::bench::IdGenerator;
using pharos::bench::Project;
using pharos::bench::RunInserter;
using pharos::bench::TreeGenerator;
using pharos::bench::TreeOptions;
using pharos::store::sqlite::Connection;

[[noreturn]] void usage(const std::string& problem) {
  std::cerr << "sqlite_ceiling: " << problem << "\n"
            << "usage: sqlite_ceiling [--duration S] [--batch RUNS] [--db PATH] [--savepoint]\n"
               "           [--job-savepoint]\n"
               "           [--sync FULL|NORMAL|OFF] [--no-text] [--no-metadata] [--no-tags]\n"
               "           [--pragma 'NAME=VALUE']... [--exec 'SQL']...\n"
               "       sqlite_ceiling seed --db PATH [--runs N] [--big-traces K] [--big-size R]\n"
               "           [--workspace NAME] [--session NAME] [--error-rate P] [--env-out FILE]\n"
               "           [--analyze]\n";
  std::exit(2);
}

template <class T>
T check(pharos::core::Result<T> result, const char* what) {
  if (!result) {
    std::cerr << "sqlite_ceiling: " << what << ": " << result.error().message << "\n";
    std::exit(1);
  }
  return std::move(result).value();
}

void check(pharos::core::Status status, const char* what) {
  if (!status) {
    std::cerr << "sqlite_ceiling: " << what << ": " << status.error().message << "\n";
    std::exit(1);
  }
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string commas(std::string text) {
  std::replace(text.begin(), text.end(), ' ', ',');
  return text;
}

// User + system CPU time of this process.
double cpuSeconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(usage.ru_utime) + s(usage.ru_stime);
}

int ceiling(int argc, char** argv) {
  double duration = 10;
  int batch = 100;
  pharos::bench::InsertOptions insert_options;
  std::string sync = "FULL";
  std::vector<std::string> pragmas;
  std::vector<std::string> statements;  // run after the migrations, e.g. a variant of a table
  bool job_savepoint = false;
  std::filesystem::path db_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--duration") {
      duration = std::stod(value());
    } else if (arg == "--batch") {
      batch = std::stoi(value());
    } else if (arg == "--db") {
      db_path = value();
    } else if (arg == "--savepoint") {
      insert_options.savepoint = true;
    } else if (arg == "--job-savepoint") {
      job_savepoint = true;
    } else if (arg == "--no-text") {
      insert_options.text = false;
    } else if (arg == "--no-metadata") {
      insert_options.metadata = false;
    } else if (arg == "--no-tags") {
      insert_options.tags = false;
    } else if (arg == "--pragma") {
      pragmas.push_back(value());
    } else if (arg == "--exec") {
      statements.push_back(value());
    } else if (arg == "--sync") {
      sync = value();
      if (sync != "FULL" && sync != "NORMAL" && sync != "OFF") usage("--sync FULL|NORMAL|OFF");
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (batch < 10 || batch % 10 != 0) usage("--batch must be a multiple of 10 (whole trees)");

  std::filesystem::path temp_dir;
  if (db_path.empty()) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "pharos-ceiling.XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      std::cerr << "sqlite_ceiling: mkdtemp failed\n";
      return 1;
    }
    temp_dir = pattern;
    db_path = temp_dir / "pharos.db";
  }

  // A pool of 1,000 trees (10,000 runs); each batch takes the next slice and gives it fresh ids.
  TreeGenerator trees(42);
  IdGenerator ids(1);
  std::vector<GenRun> pool;
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (int t = 0; t < 1000; ++t) {
    TreeOptions options;
    options.start_ms = now_ms - 3'600'000 + t * 1000;
    options.session_name = "bench-ingest";
    options.failed = std::bernoulli_distribution(0.05)(trees.rng());
    trees.tree(options, ids, pool);
  }
  std::size_t text_bytes = 0;
  for (const GenRun& r : pool) text_bytes += r.inputs.size() + r.outputs.size();

  {
    auto db = check(pharos::bench::openPharosDb(db_path), "open");
    const Project project =
        check(pharos::bench::ensureProject(*db, "default", "bench-ingest"), "project");
    check(db->exec("PRAGMA synchronous = " + sync), "synchronous");
    for (const std::string& pragma : pragmas) check(db->exec("PRAGMA " + pragma), "pragma");
    for (const std::string& sql : statements) check(db->exec(sql), "exec");
    auto inserter = check(RunInserter::create(*db, insert_options), "prepare");

    std::vector<double> commit_ms;
    const double cpu_before = cpuSeconds();
    std::uint64_t runs = 0;
    std::size_t at = 0;
    const auto begin = Clock::now();
    const auto end = begin + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(duration));
    while (Clock::now() < end) {
      if (at + static_cast<std::size_t>(batch) > pool.size()) at = 0;
      std::span<GenRun> slice(pool.data() + at, static_cast<std::size_t>(batch));
      at += static_cast<std::size_t>(batch);
      pharos::bench::refreshIds(slice, ids);
      const auto t0 = Clock::now();
      check(db->exec("BEGIN IMMEDIATE"), "begin");
      if (job_savepoint) check(db->exec("SAVEPOINT job"), "savepoint");
      check(inserter.insert(slice, project), "insert");
      if (job_savepoint) check(db->exec("RELEASE job"), "release");
      check(db->exec("COMMIT"), "commit");
      commit_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      runs += static_cast<std::uint64_t>(batch);
    }
    const double elapsed = seconds(Clock::now() - begin);
    const double cpu = cpuSeconds() - cpu_before;
    std::sort(commit_ms.begin(), commit_ms.end());
    auto pct = [&](double p) {
      return commit_ms[std::min(
          commit_ms.size() - 1,
          static_cast<std::size_t>(p / 100 * static_cast<double>(commit_ms.size())))];
    };
    std::error_code ec;
    const auto db_bytes = std::filesystem::file_size(db_path, ec);
    const double runs_per_s = static_cast<double>(runs) / elapsed;
    std::string variant;
    if (job_savepoint) variant += " +job-savepoint";
    if (insert_options.savepoint) variant += " +savepoint";
    if (!insert_options.tags) variant += " -tags";
    if (!insert_options.metadata) variant += " -metadata";
    if (!insert_options.text) variant += " -text";
    for (const std::string& pragma : pragmas) variant += " " + pragma;
    if (!statements.empty()) variant += " +exec";
    std::cout << fmt::format(
        "SQLite ceiling{}: {} runs in {:.1f} s, {} runs per transaction (WAL, synchronous={}); "
        "inputs+outputs {:.0f} bytes/run\n"
        "  {:.0f} runs/s   CPU {:.1f} us/run ({:.0f} runs per CPU-second)   transaction p50 "
        "{:.2f} ms  p95 {:.2f} ms   database {:.1f} MiB\n",
        variant, runs, elapsed, batch, sync,
        static_cast<double>(text_bytes) / static_cast<double>(pool.size()), runs_per_s,
        cpu * 1e6 / static_cast<double>(runs), static_cast<double>(runs) / cpu, pct(50), pct(95),
        static_cast<double>(ec ? 0 : db_bytes) / (1 << 20));
    std::cout << fmt::format(
        "RESULT ceiling runs_per_s={:.0f} cpu_us_per_run={:.1f} batch={} sync={} variant={}\n",
        runs_per_s, cpu * 1e6 / static_cast<double>(runs), batch, sync,
        variant.empty() ? "full" : commas(variant.substr(1)));
  }
  if (!temp_dir.empty()) std::filesystem::remove_all(temp_dir);
  return 0;
}

int seed(int argc, char** argv) {
  std::filesystem::path db_path;
  std::int64_t total = 1'000'000;
  int big_traces = 10, big_size = 1000;
  std::string workspace = "default", session = "bench-query", env_out;
  double error_rate = 0.05;
  bool analyze = false;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--db") {
      db_path = value();
    } else if (arg == "--runs") {
      total = std::stoll(value());
    } else if (arg == "--big-traces") {
      big_traces = std::stoi(value());
    } else if (arg == "--big-size") {
      big_size = std::stoi(value());
    } else if (arg == "--workspace") {
      workspace = value();
    } else if (arg == "--session") {
      session = value();
    } else if (arg == "--error-rate") {
      error_rate = std::stod(value());
    } else if (arg == "--env-out") {
      env_out = value();
    } else if (arg == "--analyze") {
      analyze = true;
    } else {
      usage("unknown argument " + arg);
    }
  }
  if (db_path.empty()) usage("seed needs --db");

  auto db = check(pharos::bench::openPharosDb(db_path), "open");
  const Project project = check(pharos::bench::ensureProject(*db, workspace, session), "project");
  auto inserter = check(RunInserter::create(*db, {}), "prepare");

  TreeGenerator trees(7);
  IdGenerator ids(2);
  std::mt19937_64& rng = trees.rng();
  const std::int64_t from_ms = pharos::bench::dayMicros(2023, 7, 1) / 1000;
  const std::int64_t to_ms = pharos::bench::dayMicros(2025, 1, 1) / 1000;
  std::uniform_int_distribution<std::int64_t> when(from_ms, to_ms - 3'600'000);
  const std::int64_t big_runs = static_cast<std::int64_t>(big_traces) * big_size;
  const std::int64_t small_trees = std::max<std::int64_t>(0, (total - big_runs) / 10);

  std::vector<GenRun> pending;
  std::vector<std::string> big_trace_ids;
  std::string user_id, conversation_id;
  std::int64_t written = 0, failed_trees = 0;
  const auto begin = Clock::now();
  auto flush = [&] {
    check(db->exec("BEGIN IMMEDIATE"), "begin");
    check(inserter.insert(pending, project), "insert");
    check(db->exec("COMMIT"), "commit");
    const std::int64_t before = written;
    written += static_cast<std::int64_t>(pending.size());
    pending.clear();
    if (written / 100'000 != before / 100'000) {
      std::cerr << fmt::format("  seeded {} runs ({:.0f} runs/s)\n", written,
                               static_cast<double>(written) / seconds(Clock::now() - begin));
    }
  };
  // Big traces are spread among the small ones.
  const std::int64_t big_every =
      big_traces > 0 ? std::max<std::int64_t>(1, small_trees / big_traces) : 0;
  for (std::int64_t t = 0; t < small_trees; ++t) {
    if (big_every > 0 && t % big_every == 0 &&
        static_cast<int>(big_trace_ids.size()) < big_traces) {
      TreeOptions big;
      big.start_ms = std::uniform_int_distribution<std::int64_t>(
          pharos::bench::dayMicros(2024, 1, 1) / 1000, to_ms - 86'400'000)(rng);
      big.session_name = session;
      big.size = big_size;
      trees.tree(big, ids, pending);
      big_trace_ids.push_back(pending[pending.size() - static_cast<std::size_t>(big_size)].id);
    }
    TreeOptions options;
    options.start_ms = when(rng);
    options.session_name = session;
    options.failed = std::bernoulli_distribution(error_rate)(rng);
    failed_trees += options.failed ? 1 : 0;
    trees.tree(options, ids, pending);
    if (t == small_trees / 2) {
      const GenRun& root = pending[pending.size() - 10];
      for (const auto& [key, value] : root.metadata) {
        if (key == "user_id") user_id = value;
        if (key == "conversation_id") conversation_id = value;
      }
    }
    if (pending.size() >= 10'000) flush();
  }
  if (!pending.empty()) flush();
  const double insert_s = seconds(Clock::now() - begin);
  if (analyze) check(db->exec("ANALYZE"), "analyze");
  check(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");

  std::error_code ec;
  const auto db_bytes = std::filesystem::file_size(db_path, ec);
  std::cout << fmt::format(
      "seeded {} runs ({} trees of 10, {} failed; {} traces of {}) into {} in {:.1f} s "
      "({:.0f} runs/s); database {:.0f} MiB\n",
      written, small_trees, failed_trees, big_trace_ids.size(), big_size, db_path.string(),
      insert_s, static_cast<double>(written) / insert_s,
      static_cast<double>(ec ? 0 : db_bytes) / (1 << 20));
  std::string env = fmt::format(
      "WORKSPACE_ID={}\nWS={}\nSESSION_ID={}\nSESSION_NAME={}\nRUNS={}\nTRACE_ID={}\n"
      "USER_ID={}\nCONVERSATION_ID={}\nTRACE_IDS=\"",
      project.workspace_id, project.ws, project.session_id, session, written,
      big_trace_ids.empty() ? "" : big_trace_ids.front(), user_id, conversation_id);
  for (std::size_t i = 0; i < big_trace_ids.size(); ++i) {
    env += (i > 0 ? " " : "") + big_trace_ids[i];
  }
  env += "\"\n";
  if (!env_out.empty()) {
    std::ofstream(env_out) << env;
  } else {
    std::cout << env;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "seed") return seed(argc, argv);
  return ceiling(argc, argv);
}
