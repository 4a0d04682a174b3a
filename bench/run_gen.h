// Synthetic LangSmith traces for the runs benchmarks (ingest_load, sqlite_ceiling, query_load):
// trees of runs shaped like what `langsmith@0.10.5` traceable/LangChain code sends, with about
// 1 KB of inputs and outputs per run, and their wire forms (the multipart body of
// POST /runs/multipart, the {"post":[...]} body of POST /runs/batch). Every run also carries the
// row values the server derives from it (status, latency, model, tokens, metadata rows, full-text),
// so that the SQLite ceiling inserts the same rows the server does. No I/O.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pharos::bench {

inline constexpr std::size_t kUuidLength = 36;

// UUIDv7-shaped ids: 48 bits of Unix milliseconds (taken once, at construction), version 7, then a
// per-generator stream number and a counter, so ids from one process never repeat and ids of two
// processes differ unless they started in the same millisecond with the same salt.
class IdGenerator {
 public:
  explicit IdGenerator(std::uint64_t stream, std::uint64_t salt = 0);
  // Writes the next id, 36 lower-case characters, to `out` (no terminator).
  void next(char* out);
  std::string next();

 private:
  std::uint64_t millis_;
  std::uint64_t high_;  // 12 random bits after the version nibble
  std::uint64_t stream_;
  std::uint64_t counter_ = 0;
};

struct GenRun {
  // ---- wire fields ----
  std::string id;
  std::string trace_id;
  std::string parent_run_id;  // empty for the root
  std::string dotted_order;
  std::string name;
  std::string run_type;
  std::string start_iso;  // "2024-03-05T10:20:30.123004Z" (last 3 digits: execution order)
  std::int64_t start_us;  // what the server parses from start_iso
  std::int64_t end_ms;    // end_time as sent: epoch milliseconds (a JSON number)
  std::string session_name;
  std::string error;    // empty: none
  std::string inputs;   // JSON object text
  std::string outputs;  // JSON object text
  std::string extra;    // JSON object text: {"metadata":{...},"runtime":{...}}
  std::string serialized = "{}";
  std::vector<std::string> tags;

  // ---- what the server derives and stores ----
  bool is_root = false;
  std::string status;  // "success" or "error"
  double latency = 0;  // seconds
  std::string model;   // llm runs only
  std::int64_t prompt_tokens = -1, completion_tokens = -1, total_tokens = -1;  // -1: none
  std::string thread_id;  // metadata conversation_id (empty: none)
  // run_metadata rows: top-level keys of extra.metadata, the value being the string itself or
  // the JSON text of anything else.
  std::vector<std::pair<std::string, std::string>> metadata;
  // run_text's text: name, error and the string leaves of inputs and outputs, one per line.
  std::string text;

  std::int64_t endMicros() const { return end_ms * 1000; }
};

struct TreeOptions {
  std::int64_t start_ms = 0;  // the root's start, Unix milliseconds
  std::string session_name = "default";
  int size = 10;        // 10: the standard tree; larger: a long agent trace
  bool failed = false;  // the root and one llm child end with an error
};

// Deterministic for a given seed (ids aside, which come from the IdGenerator).
class TreeGenerator {
 public:
  explicit TreeGenerator(std::uint64_t seed) : rng_(seed) {}

  // Appends one trace to `out`. size 10: a root chain with 9 children (retriever, prompt, llm,
  // parser, and an agent chain with a tool, an llm, a tool and an llm). Larger sizes: a root
  // chain with (size-1)/3 steps (chain -> llm, tool), plus llm children to reach `size`.
  void tree(const TreeOptions& options, IdGenerator& ids, std::vector<GenRun>& out);

  std::mt19937_64& rng() { return rng_; }

 private:
  std::string sentence(int words);
  std::string words(std::size_t approx_chars);

  std::mt19937_64 rng_;
};

// Gives every run of `runs` a fresh id from `ids` and rewrites trace_id, parent_run_id and
// dotted_order to match. `runs` must hold whole trees, each parent before its children.
void refreshIds(std::span<GenRun> runs, IdGenerator& ids);

// The JSON of a `post.{id}` multipart part: the run minus inputs, outputs, events, extra, error,
// serialized (keys in the SDK's order: id, name, start_time, end_time, run_type, session_name,
// child_runs, parent_run_id, trace_id, dotted_order, tags).
std::string postPartJson(const GenRun& run);
// The whole RunCreate inline, as in the `post` array of /runs/batch.
std::string runCreateJson(const GenRun& run);

// The body of POST /runs/multipart for `runs`: for each run the parts post.{id}, then
// post.{id}.inputs, .outputs, .extra, .error (when failed), .serialized, each with
// `Content-Type: application/json; length=N`, closed by `--boundary--`.
std::string multipartBody(std::span<const GenRun> runs, std::string_view boundary);
// The body of POST /runs/batch: {"post":[RunCreate...]}.
std::string batchBody(std::span<const GenRun> runs);

// "----LangSmithFormBoundary" + 11 base-36 characters, like the SDK's Math.random().toString(36).
std::string langsmithBoundary(std::mt19937_64& rng);

// Unix microseconds of "YYYY-MM-DD" (UTC midnight).
std::int64_t dayMicros(int year, int month, int day);

}  // namespace pharos::bench
