// Tests of the filter -> SQL compiler against the real SQLite schema: a handful of runs in two
// workspaces with tags, metadata, full-text rows, feedback and a compressed inputs blob, and a
// table of filters with the run ids each must select. A few cases also pin the exact SQL text, and
// every case checks that no filter text reaches the SQL (only constants, the alias and `?`).
#include "tracing/query/sql_compiler.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "store/sqlite/database.h"
#include "store/sqlite/migrations.h"
#include "tracing/query/filter_parser.h"
#include "tracing/query/filter_validate.h"
#include "tracing/store/sql_functions.h"
#include "tracing/store/stored_json.h"

namespace pharos::tracing::query {
namespace {

using store::sqlite::Connection;
using store::sqlite::Statement;

// Run n (1..7) has this id; 1-5 and 7 live in workspace 1, 6 in workspace 2.
std::string runId(int n) {
  return "00000000-0000-4000-8000-00000000000" + std::to_string(n);
}
int runNumber(std::string_view id) {
  return id.back() - '0';
}

constexpr std::string_view kSessionA = "5e550000-0000-4000-8000-00000000000a";  // ws 1, seq 1
constexpr std::string_view kSessionB = "5e550000-0000-4000-8000-00000000000b";  // ws 1, seq 2
constexpr std::string_view kSessionC = "5e550000-0000-4000-8000-00000000000c";  // ws 2, seq 3

std::int64_t micros(std::string_view iso) {
  auto parsed = parseTimestampMicros(iso);
  EXPECT_TRUE(parsed.has_value()) << iso;
  return parsed.value_or(0);
}

struct Blob {
  std::string bytes;
};
using Cell = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;
using Row = std::initializer_list<std::pair<std::string_view, Cell>>;

void bindCell(Statement& statement, int index, const Cell& cell) {
  struct Visitor {
    Statement& s;
    int i;
    void operator()(std::nullptr_t) const { s.bindNull(i); }
    void operator()(std::int64_t v) const { s.bindInt64(i, v); }
    void operator()(double v) const { s.bindDouble(i, v); }
    void operator()(const std::string& v) const { s.bindText(i, v); }
    void operator()(const Blob& v) const { s.bindBlob(i, v.bytes); }
  };
  std::visit(Visitor{statement, index}, cell);
}

void bindParam(Statement& statement, int index, const SqlValue& value) {
  struct Visitor {
    Statement& s;
    int i;
    void operator()(std::nullptr_t) const { s.bindNull(i); }
    void operator()(std::int64_t v) const { s.bindInt64(i, v); }
    void operator()(double v) const { s.bindDouble(i, v); }
    void operator()(const std::string& v) const { s.bindText(i, v); }
  };
  std::visit(Visitor{statement, index}, value);
}

void insert(Connection& connection, std::string_view table, Row row) {
  std::string columns;
  std::string marks;
  for (const auto& [name, cell] : row) {
    if (!columns.empty()) {
      columns += ", ";
      marks += ", ";
    }
    columns += name;
    marks += '?';
  }
  auto statement = connection.prepare("INSERT INTO " + std::string(table) + " (" + columns +
                                      ") VALUES (" + marks + ")");
  ASSERT_TRUE(statement.ok()) << statement.error().message;
  int index = 1;
  for (const auto& [name, cell] : row) bindCell(*statement, index++, cell);
  auto done = statement->run();
  ASSERT_TRUE(done.ok()) << table << ": " << done.error().message;
}

std::unique_ptr<Connection> openDatabase() {
  auto connection = Connection::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     std::chrono::milliseconds(1000));
  EXPECT_TRUE(connection.ok()) << connection.error().message;
  if (!connection.ok()) return nullptr;
  auto migrated = store::sqlite::applyMigrations(**connection, store::sqlite::pharosMigrations());
  EXPECT_TRUE(migrated.ok()) << migrated.error().message;
  auto registered = registerRunSqlFunctions((*connection)->handle());
  EXPECT_TRUE(registered.ok()) << registered.error().message;
  return std::move(connection).value();
}

// Large and repetitive, so encodeStoredJson really compresses it.
std::string compressedInputsText() {
  return R"({"query":"kittens","padding":")" + std::string(3000, 'x') +
         R"(","nested":{"a.b":{"c":[{"d":"deep"}]}}})";
}

void fill(Connection& c) {
  insert(c, "sessions",
         {{"seq", std::int64_t{1}},
          {"ws", std::int64_t{1}},
          {"id", std::string(kSessionA)},
          {"name", std::string("A")},
          {"start_time", std::int64_t{0}}});
  insert(c, "sessions",
         {{"seq", std::int64_t{2}},
          {"ws", std::int64_t{1}},
          {"id", std::string(kSessionB)},
          {"name", std::string("B")},
          {"start_time", std::int64_t{0}}});
  insert(c, "sessions",
         {{"seq", std::int64_t{3}},
          {"ws", std::int64_t{2}},
          {"id", std::string(kSessionC)},
          {"name", std::string("C")},
          {"start_time", std::int64_t{0}}});

  const StoredJson compressed = encodeStoredJson(compressedInputsText());
  ASSERT_TRUE(compressed.compressed);
  const std::int64_t ws1 = 1, ws2 = 2;
  const std::string u1 = runId(1);
  insert(
      c, "runs",
      {{"seq", std::int64_t{1}},
       {"ws", ws1},
       {"id", u1},
       {"session", std::int64_t{1}},
       {"trace_id", u1},
       {"name", std::string("ChatOpenAI")},
       {"run_type", std::string("llm")},
       {"status", std::string("success")},
       {"start_time", micros("2024-01-02T00:00:00Z")},
       {"end_time", micros("2024-01-02T00:00:01.5Z")},
       {"latency", 1.5},
       {"is_root", std::int64_t{1}},
       {"thread_id", std::string("thread-1")},
       {"prompt_tokens", std::int64_t{60}},
       {"completion_tokens", std::int64_t{40}},
       {"total_tokens", std::int64_t{100}},
       {"prompt_cost", 0.006},
       {"completion_cost", 0.004},
       {"total_cost", 0.01},
       {"inputs", std::string(R"({"messages":[{"role":"user","content":"Hello world"}],)"
                              R"("question":"What is SQLite?"})")},
       {"outputs",
        std::string(R"({"generations":[{"message":{"kwargs":{"tool_calls":[{"name":"search"}]}}}],)"
                    R"("answer":"A database","score":1.5})")},
       {"posted", std::int64_t{1}}});
  insert(c, "runs",
         {{"seq", std::int64_t{2}},
          {"ws", ws1},
          {"id", runId(2)},
          {"session", std::int64_t{1}},
          {"trace_id", u1},
          {"parent_run_id", u1},
          {"name", std::string("RetrieveDocs")},
          {"run_type", std::string("retriever")},
          {"status", std::string("error")},
          {"start_time", micros("2023-12-31T23:00:00Z")},
          {"latency", 0.2},
          {"error", std::string("TimeoutError: upstream timed out")},
          {"is_root", std::int64_t{0}},
          {"inputs", Blob{compressed.bytes}},
          {"posted", std::int64_t{1}}});
  insert(c, "runs",
         {{"seq", std::int64_t{3}},
          {"ws", ws1},
          {"id", runId(3)},
          {"session", std::int64_t{2}},
          {"trace_id", runId(3)},
          {"name", std::string("ExpandQuery")},
          {"run_type", std::string("chain")},
          {"status", std::string("pending")},
          {"start_time", micros("2024-03-01T00:00:00Z")},
          {"is_root", std::int64_t{1}},
          {"reference_example_id", std::string("e0000000-0000-4000-8000-000000000001")},
          {"inputs", std::string(R"({"q":"a OR b*"})")},
          {"posted", std::int64_t{1}}});
  insert(c, "runs",
         {{"seq", std::int64_t{4}},
          {"ws", ws1},
          {"id", runId(4)},
          {"trace_id", runId(4)},
          {"name", std::string("100%_done")},
          {"run_type", std::string("tool")},
          {"status", std::string("error")},
          {"start_time", micros("2024-02-01T00:00:00Z")},
          {"end_time", micros("2024-02-01T00:00:12Z")},
          {"latency", 12.0},
          {"error", std::string(R"(ValueError: bad "quote")")},
          {"is_root", std::int64_t{1}},
          {"total_tokens", std::int64_t{6000}},
          {"inputs",
           std::string(R"({"x":1,"flag":false,"nothing":null,"ratio":0.25,"list":["p","q"]})")},
          {"outputs", std::string(R"({"answer":"done"})")},
          {"posted", std::int64_t{1}}});
  insert(c, "runs",
         {{"seq", std::int64_t{5}},
          {"ws", ws1},
          {"id", runId(5)},
          {"session", std::int64_t{1}},
          {"trace_id", u1},
          {"parent_run_id", u1},
          {"name", std::string("ChatOpenAI")},
          {"run_type", std::string("llm")},
          {"status", std::string("success")},
          {"start_time", micros("2024-01-05T00:00:00Z")},
          {"end_time", micros("2024-01-05T00:00:03Z")},
          {"latency", 3.0},
          {"is_root", std::int64_t{0}},
          {"total_tokens", std::int64_t{2000}},
          {"posted", std::int64_t{1}}});
  insert(c, "runs",
         {{"seq", std::int64_t{6}},
          {"ws", ws2},
          {"id", runId(6)},
          {"session", std::int64_t{3}},
          {"trace_id", runId(6)},
          {"name", std::string("ChatOpenAI")},
          {"run_type", std::string("llm")},
          {"status", std::string("error")},
          {"start_time", micros("2024-05-01T00:00:00Z")},
          {"error", std::string("boom")},
          {"is_root", std::int64_t{1}},
          {"inputs", std::string(R"({"question":"What is SQLite?"})")},
          {"posted", std::int64_t{1}}});
  // A trap: a workspace-1 run whose session number is workspace 2's session (only a ws-scoped
  // session lookup keeps it out of eq(session_id, C)).
  insert(c, "runs",
         {{"seq", std::int64_t{7}},
          {"ws", ws1},
          {"id", runId(7)},
          {"session", std::int64_t{3}},
          {"trace_id", runId(7)},
          {"name", std::string("trap")},
          {"run_type", std::string("chain")},
          {"status", std::string("success")},
          {"start_time", micros("2020-01-01T00:00:00Z")},
          {"is_root", std::int64_t{1}},
          {"inputs", std::string("{}")},
          {"posted", std::int64_t{1}}});

  for (auto [ws, tag, run] : std::initializer_list<std::tuple<std::int64_t, const char*, int>>{
           {1, "prod", 1},
           {1, "beta", 1},
           {1, "prod", 2},
           {1, "experimental", 4},
           {1, "beta", 5},
           {2, "prod", 6},
           {2, "beta", 6},
           {2, "ws2only", 1},  // trap: a workspace-2 row naming a workspace-1 run
       }) {
    insert(c, "run_tags", {{"ws", ws}, {"tag", std::string(tag)}, {"run", std::int64_t{run}}});
  }
  for (auto [ws, key, value, run] :
       std::initializer_list<std::tuple<std::int64_t, const char*, const char*, int>>{
           {1, "conversation_id", "conv-1", 1},
           {1, "user", "alice", 1},
           {1, "retries", "5", 1},
           {1, "ok", "true", 1},
           {1, "conversation_id", "conv-2", 2},
           {1, "user", "bob", 2},
           {1, "user", "carol", 4},
           {1, "nested", R"({"x":1})", 4},
           {1, "ratio", "5E-1", 4},  // Boost.JSON's text of 0.5, as ingest stores it
           {1, "conversation_id", "conv-1", 5},
           {2, "conversation_id", "conv-1", 6},
           {2, "user", "alice", 6},
           {2, "ws2key", "v", 1},  // trap
       }) {
    insert(c, "run_metadata",
           {{"ws", ws},
            {"key", std::string(key)},
            {"value", std::string(value)},
            {"run", std::int64_t{run}}});
  }
  for (auto [rowid, text] : std::initializer_list<std::pair<std::int64_t, const char*>>{
           {1 * 256, "ChatOpenAI What is SQLite? Hello world A database"},
           {2 * 256, "RetrieveDocs TimeoutError: upstream timed out kittens"},
           {2 * 256 + 1, "zebra crossing"},  // a later payload's text
           {3 * 256, "ExpandQuery a OR b"},
           {4 * 256, "100%_done ValueError: bad quote"},
           {5 * 256, "ChatOpenAI"},
           {6 * 256, "ChatOpenAI Hello world kittens"},
       }) {
    insert(c, "run_text", {{"rowid", rowid}, {"text", std::string(text)}});
  }
  int seq = 0;
  for (auto [ws, run, key, score] :
       std::initializer_list<std::tuple<std::int64_t, Cell, const char*, Cell>>{
           {1, runId(1), "user_score", 1.0},
           {1, runId(1), "correctness", 0.0},
           {1, runId(2), "user_score", 0.0},
           {1, runId(5), "correctness", 1.0},
           {1, runId(4), "note", nullptr},
           {1, nullptr, "user_score", 1.0},  // feedback on no run: must not poison NOT IN
           {2, runId(6), "user_score", 1.0},
           {2, runId(1), "ws2fb", 1.0},  // trap
       }) {
    ++seq;
    insert(c, "feedback",
           {{"seq", std::int64_t{seq}},
            {"ws", ws},
            {"id", "f" + std::to_string(seq)},
            {"run_id", run},
            {"key", std::string(key)},
            {"score", score},
            {"created_at", std::int64_t{0}}});
  }
}

// Compiles `filter` for workspace `ws` and returns the numbers of the runs it selects.
struct Outcome {
  SqlFilter compiled;
  std::set<int> runs;
};

Outcome select(Connection& connection, std::string_view filter, std::int64_t ws) {
  Outcome out;
  auto parsed = parseAndValidateFilter(filter);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  if (!parsed.ok()) return out;
  auto compiled = compileFilter(*parsed, "r", ws);
  EXPECT_TRUE(compiled.ok()) << compiled.error().message;
  if (!compiled.ok()) return out;
  out.compiled = std::move(compiled).value();
  auto statement =
      connection.prepare("SELECT id FROM runs r WHERE r.ws = ? AND (" + out.compiled.sql + ")");
  EXPECT_TRUE(statement.ok()) << statement.error().message << "\n" << out.compiled.sql;
  if (!statement.ok()) return out;
  statement->bindInt64(1, ws);
  int index = 2;
  for (const SqlValue& value : out.compiled.params) bindParam(*statement, index++, value);
  while (true) {
    auto row = statement->step();
    EXPECT_TRUE(row.ok()) << row.error().message << "\n" << out.compiled.sql;
    if (!row.ok() || !*row) break;
    out.runs.insert(runNumber(statement->columnText(0)));
  }
  return out;
}

// The SQL has exactly one `?` per parameter and no quoted text but the compiler's own constants.
void expectOnlyConstants(const SqlFilter& compiled) {
  EXPECT_EQ(static_cast<std::size_t>(std::count(compiled.sql.begin(), compiled.sql.end(), '?')),
            compiled.params.size())
      << compiled.sql;
  std::string rest = compiled.sql;
  for (std::string_view constant : {"'object'", "'array'", "'true'", "'false'", "'null'", "'\\'"}) {
    for (auto at = rest.find(constant); at != std::string::npos; at = rest.find(constant)) {
      rest.erase(at, constant.size());
    }
  }
  EXPECT_EQ(rest.find('\''), std::string::npos) << compiled.sql;
  EXPECT_EQ(rest.find('"'), std::string::npos) << compiled.sql;
  EXPECT_EQ(rest.find(';'), std::string::npos) << compiled.sql;
  EXPECT_EQ(rest.find("--"), std::string::npos) << compiled.sql;
}

struct Case {
  std::string_view filter;
  std::set<int> runs;
  std::int64_t ws = 1;
};

const std::set<int> kAllWs1 = {1, 2, 3, 4, 5, 7};

class SqlCompilerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    connection_ = openDatabase().release();
    if (connection_) fill(*connection_);
  }
  static void TearDownTestSuite() {
    delete connection_;
    connection_ = nullptr;
  }

  static void check(std::initializer_list<Case> cases) {
    ASSERT_NE(connection_, nullptr);
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.filter) + " (workspace " + std::to_string(c.ws) + ")");
      const Outcome outcome = select(*connection_, c.filter, c.ws);
      EXPECT_EQ(outcome.runs, c.runs) << outcome.compiled.sql;
      expectOnlyConstants(outcome.compiled);
    }
  }

  static Connection* connection_;
};

Connection* SqlCompilerTest::connection_ = nullptr;

TEST_F(SqlCompilerTest, EmptyFilterMatchesEverything) {
  check({{"", kAllWs1}, {"   ", kAllWs1}, {"", {6}, 2}});
}

TEST_F(SqlCompilerTest, TextAndIdentityColumns) {
  check({
      {R"(eq(name, "ChatOpenAI"))", {1, 5}},
      {R"(neq(name, "ChatOpenAI"))", {2, 3, 4, 7}},
      {R"(in(name, ["ExpandQuery", "trap", "nope"]))", {3, 7}},
      {R"(like(name, "Chat%"))", {1, 5}},
      {R"(like(name, "chat%"))", {1, 5}},  // SQLite LIKE ignores ASCII case
      // '\' escapes the wildcards: only the name with a literal '_' (unescaped, %_% is anything)
      {R"(like(name, "%\\_%"))", {4}},
      {R"(like(name, "100\\%\\_done"))", {4}},
      {R"(like(name, "100\\%"))", {}},
      {R"(like(name, "\\"))", {}},  // a dangling escape is no error
      {R"(search(name, "OPEN"))", {1, 5}},
      {R"(search(name, ""))", kAllWs1},
      {R"(eq(id, "00000000-0000-4000-8000-00000000000A"))", {}},
      {R"(eq(id, "00000000-0000-4000-8000-000000000002"))", {2}},
      {R"(neq(id, "00000000-0000-4000-8000-000000000002"))", {1, 3, 4, 5, 7}},
      {R"(in(id, ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000003",
                  "00000000-0000-4000-8000-000000000006"]))",
       {1, 3}},
      {R"(eq(run_type, "llm"))", {1, 5}},
      {R"(in(run_type, ["tool", "chain"]))", {3, 4, 7}},
      {R"(eq(status, "error"))", {2, 4}},
      {R"(neq(status, "success"))", {2, 3, 4}},
      {R"(in(status, ["pending", "success"]))", {1, 3, 5, 7}},
      {R"(eq(error, null))", {1, 3, 5, 7}},
      {R"(neq(error, null))", {2, 4}},
      {R"(eq(error, "TimeoutError: upstream timed out"))", {2}},
      {R"(neq(error, "TimeoutError: upstream timed out"))", {1, 3, 4, 5, 7}},  // NULL-safe
      {R"(like(error, "%timed out"))", {2}},
      {R"(search(error, "timeout"))", {2}},
      {R"(search(error, "\"quote\""))", {4}},
      {R"(eq(trace_id, "00000000-0000-4000-8000-000000000001"))", {1, 2, 5}},
      {R"(in(trace_id, ["00000000-0000-4000-8000-000000000003"]))", {3}},
      {R"(eq(parent_run_id, null))", {1, 3, 4, 7}},
      {R"(eq(parent_run_id, "00000000-0000-4000-8000-000000000001"))", {2, 5}},
      {R"(neq(parent_run_id, "00000000-0000-4000-8000-000000000001"))", {1, 3, 4, 7}},
      {R"(eq(reference_example_id, "E0000000-0000-4000-8000-000000000001"))", {3}},
      {R"(neq(reference_example_id, "e0000000-0000-4000-8000-000000000001"))", {1, 2, 4, 5, 7}},
      {R"(eq(thread_id, "thread-1"))", {1}},
      {R"(neq(thread_id, "thread-1"))", {2, 3, 4, 5, 7}},
      {R"(in(thread_id, ["thread-1", "thread-2"]))", {1}},
  });
}

TEST_F(SqlCompilerTest, TimesDurationsAndNumbers) {
  check({
      {R"(gt(start_time, "2024-01-01"))", {1, 3, 4, 5}},
      {R"(lt(start_time, "2024-01-01T00:00:00+01:00"))", {7}},
      {R"(lte(start_time, "2024-01-01T00:00:00+01:00"))", {2, 7}},
      {R"(eq(start_time, "2024-01-02"))", {1}},
      {R"(neq(start_time, "2024-01-02"))", {2, 3, 4, 5, 7}},
      {R"(gte(end_time, "2024-01-02T00:00:01Z"))", {1, 4, 5}},
      {R"(eq(end_time, null))", {2, 3, 7}},
      {R"(gt(latency, "1s"))", {1, 4, 5}},
      {R"(lt(latency, "500ms"))", {2}},
      {R"(gte(latency, 3))", {4, 5}},
      {R"(lte(latency, 1.5))", {1, 2}},
      {R"(eq(latency, null))", {3, 7}},
      {R"(gt(total_tokens, 5000))", {4}},
      {R"(gte(total_tokens, 100))", {1, 4, 5}},
      {R"(lt(total_tokens, 100.5))", {1}},
      {R"(lt(prompt_tokens, 100))", {1}},
      {R"(eq(completion_tokens, 40))", {1}},
      {R"(neq(completion_tokens, 40))", {2, 3, 4, 5, 7}},
      {R"(gt(total_cost, 0.005))", {1}},
      {R"(lte(prompt_cost, 0.006))", {1}},
      {R"(neq(completion_cost, 0.004))", {2, 3, 4, 5, 7}},
      {R"(eq(is_root, true))", {1, 3, 4, 7}},
      {R"(eq(is_root, false))", {2, 5}},
      {R"(neq(is_root, true))", {2, 5}},
      // execution_order: 1 for roots, unknown for the rest
      {R"(eq(execution_order, 1))", {1, 3, 4, 7}},
      {R"(gt(execution_order, 1))", {}},
      {R"(lte(execution_order, 1))", {1, 3, 4, 7}},
      {R"(neq(execution_order, 1))", {2, 5}},
      {R"(in(execution_order, [1, 2]))", {1, 3, 4, 7}},
      {R"(eq(execution_order, null))", {2, 5}},
      // the seed's monitoring filter
      {R"(and(eq(status, "error"), gte(start_time, "2024-01-01")))", {4}},
  });
}

TEST_F(SqlCompilerTest, Sessions) {
  const std::string a(kSessionA), b(kSessionB), cc(kSessionC);
  const std::string eqA = "eq(session_id, \"" + a + "\")";
  const std::string neqA = "neq(session_id, \"" + a + "\")";
  const std::string inAB = "in(session_id, [\"" + a + "\", \"" + b + "\"])";
  const std::string eqC = "eq(session_id, \"" + cc + "\")";
  const std::string neqC = "neq(session_id, \"" + cc + "\")";
  const std::string unknown = "eq(session_id, \"5e550000-0000-4000-8000-0000000000ff\")";
  const std::string neqUnknown = "neq(session_id, \"5e550000-0000-4000-8000-0000000000ff\")";
  check({
      {eqA, {1, 2, 5}},
      {neqA, {3, 4, 7}},  // run 4 has no session: not equal
      {inAB, {1, 2, 3, 5}},
      {"eq(session_id, null)", {4}},
      {"neq(session_id, null)", {1, 2, 3, 5, 7}},
      // workspace 2's session is not visible from workspace 1, though run 7 carries its number
      {eqC, {}},
      {neqC, kAllWs1},
      {eqC, {6}, 2},
      {unknown, {}},
      {neqUnknown, kAllWs1},
  });
}

TEST_F(SqlCompilerTest, BooleanCombinators) {
  check({
      {R"(and(eq(run_type, "chain"), gt(latency, 10), gt(total_tokens, 5000)))", {}},
      {R"(and(eq(run_type, "tool"), gt(latency, 10), gt(total_tokens, 5000)))", {4}},
      {R"(and(eq(name, "ChatOpenAI")))", {1, 5}},
      {R"(or(eq(name, "trap"), eq(status, "pending")))", {3, 7}},
      {R"(or(eq(name, "trap")))", {7}},
      {R"(not(eq(name, "trap")))", {1, 2, 3, 4, 5}},
      // NULL columns: the negation of an unknown comparison is true, not unknown
      {R"(not(eq(error, "boom")))", kAllWs1},
      {R"(not(gt(latency, 1)))", {2, 3, 7}},
      {R"(not(not(gt(latency, 1))))", {1, 4, 5}},
      {R"(not(or(gt(latency, 1), eq(status, "pending"))))", {2, 7}},
      {R"(not(and(gt(latency, 1), eq(status, "success"))))", {2, 3, 4, 7}},
      {R"(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null),
              and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0)))))",
       {2, 4}},
      {R"(and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null),
              and(eq(feedback_key, "correctness"), eq(feedback_score, 0.0)))))",
       {1, 2, 4}},
  });
}

TEST_F(SqlCompilerTest, Tags) {
  check({
      {R"(has(tags, "prod"))", {1, 2}},
      {R"(has(tags, "beta"))", {1, 5}},
      {R"(has(tags, "PROD"))", {}},
      {R"(or(has(tags, "experimental"), has(tags, "beta")))", {1, 4, 5}},
      {R"(and(has(tags, "prod"), has(tags, "beta")))", {1}},
      {R"(not(has(tags, "prod")))", {3, 4, 5, 7}},
      {R"(has(tags, "ws2only"))", {}},  // a workspace-2 tag row on a workspace-1 run
      {R"(has(tags, "ws2only"))", {}, 2},
      {R"(has(tags, "prod"))", {6}, 2},
  });
}

TEST_F(SqlCompilerTest, MetadataObject) {
  check({
      {R"(exists(metadata, "user"))", {1, 2, 4}},
      {R"(exists(metadata, "nope"))", {}},
      {R"(exists(metadata, "ws2key"))", {}},
      {R"(has(metadata, '{"user": "alice"}'))", {1}},
      {R"(has(metadata, '{"user": "alice"}'))", {6}, 2},
      {R"(has(metadata, '{"conversation_id": "conv-1", "retries": 5}'))", {1}},
      {R"(has(metadata, '{"conversation_id": "conv-1", "retries": 6}'))", {}},
      {R"(has(metadata, '{"conversation_id": "conv-1"}'))", {1, 5}},
      {R"(has(metadata, '{"ok": true}'))", {1}},
      {R"(has(metadata, '{"ok": "true"}'))", {1}},
      {R"(has(metadata, '{"ratio": 0.5}'))", {4}},
      {R"(has(metadata, '{"nested": {"x": 1}}'))", {4}},
      {R"(has(metadata, '{}'))", kAllWs1},
      {R"(not(has(metadata, '{"user": "alice"}')))", {2, 3, 4, 5, 7}},
      {R"(not(exists(metadata, "user")))", {3, 5, 7}},
  });
}

TEST_F(SqlCompilerTest, MetadataKeyValuePairs) {
  check({
      {R"(eq(metadata_key, "user"))", {1, 2, 4}},
      {R"(and(eq(metadata_key, "conversation_id"), eq(metadata_value, "conv-1")))", {1, 5}},
      // the key and the value belong to the same pair: run 1 has key user and a value conv-1, but
      // not together
      {R"(and(eq(metadata_key, "user"), eq(metadata_value, "conv-1")))", {}},
      {R"(and(eq(metadata_value, "conv-1"), eq(metadata_key, "user")))", {}},
      {R"(and(eq(name, 'ChatOpenAI'), eq(metadata_key, 'conversation_id'),
              eq(metadata_value, 'conv-1')))",
       {1, 5}},
      {R"(and(eq(metadata_key, "conversation_id"), eq(name, "ChatOpenAI"), gt(latency, 2),
              eq(metadata_value, "conv-1")))",
       {5}},
      // only DIRECT children pair up: here "has a key user" and "has a value conv-1"
      {R"(and(eq(metadata_key, "user"), and(eq(metadata_value, "conv-1"))))", {1}},
      {R"(neq(metadata_key, "user"))", {3, 5, 7}},
      {R"(and(neq(metadata_key, "user"), neq(metadata_key, "conversation_id")))", {3, 7}},
      {R"(and(eq(metadata_key, "conversation_id"), neq(metadata_key, "user")))", {5}},
      {R"(and(eq(metadata_key, "user"), neq(metadata_value, "alice")))", {2, 4}},
      {R"(and(neq(metadata_key, "user"), eq(metadata_value, "conv-1")))", {1, 5}},
      {R"(not(and(eq(metadata_key, "user"), eq(metadata_value, "alice"))))", {2, 3, 4, 5, 7}},
      {R"(and(eq(metadata_key, "conversation_id"), eq(metadata_key, "user")))", {}},
      {R"(and(in(metadata_key, ["session_id", "conversation_id", "thread_id"]),
              eq(metadata_value, "conv-2")))",
       {2}},
      {R"(or(eq(metadata_key, "user"), eq(metadata_value, "conv-1")))", {1, 2, 4, 5}},
      {R"(eq(metadata_value, "alice"))", {1}},
      {R"(neq(metadata_value, "alice"))", {1, 2, 4, 5}},  // a pair whose value is not alice
      {R"(eq(metadata_value, 5))", {1}},
      {R"(eq(metadata_value, true))", {1}},
      {R"(eq(metadata_value, 0.5))", {4}},
      {R"(in(metadata_value, ["bob", 5]))", {1, 2}},
      {R"(like(metadata_value, "conv-%"))", {1, 2, 5}},
      {R"(search(metadata_value, "CAR"))", {4}},
      {R"(and(like(metadata_key, "conv%"), search(metadata_value, "-2")))", {2}},
      {R"(like(metadata_key, "%_id"))", {1, 2, 5}},
      {R"(eq(metadata_key, null))", {}},
      {R"(neq(metadata_key, null))", {1, 2, 4, 5}},
      {R"(eq(metadata_key, "ws2key"))", {}},
      {R"(and(eq(metadata_key, "conversation_id"), eq(metadata_value, "conv-1")))", {6}, 2},
  });
}

TEST_F(SqlCompilerTest, InputAndOutputKeyValuePairs) {
  check({
      {R"(eq(input_key, "question"))", {1}},
      {R"(eq(input_key, "messages.content"))", {1}},
      {R"(eq(input_key, "messages"))", {}},  // not a leaf
      {R"(and(eq(input_key, "messages.role"), eq(input_value, "user")))", {1}},
      {R"(and(eq(input_key, "question"), eq(input_value, "Hello world")))", {}},
      // from the compressed blob, through a key that itself contains a dot
      {R"(and(eq(input_key, "nested.a.b.c.d"), eq(input_value, "deep")))", {2}},
      {R"(eq(input_value, "kittens"))", {2}},
      {R"(eq(input_value, 1))", {4}},
      {R"(eq(input_value, "1"))", {4}},
      {R"(eq(input_value, false))", {4}},
      {R"(eq(input_value, null))", {4}},
      {R"(eq(input_value, 0.25))", {4}},
      {R"(and(eq(input_key, "list"), eq(input_value, "q")))", {4}},
      {R"(neq(input_key, "question"))", {2, 3, 4, 5, 7}},
      {R"(and(eq(input_key, "question"), neq(input_value, "What is SQLite?")))", {}},
      {R"(and(eq(input_key, "query"), neq(input_value, "puppies")))", {2}},
      {R"(like(input_key, "messages.%"))", {1}},
      {R"(in(input_key, ["q", "x"]))", {3, 4}},
      {R"(search(input_value, "sqlite"))", {1}},
      {R"(like(input_value, "%kitten%"))", {2}},
      {R"(in(input_value, ["user", "kittens"]))", {1, 2}},
      {R"(not(eq(input_key, "question")))", {2, 3, 4, 5, 7}},
      {R"(eq(input_key, "question"))", {6}, 2},
      {R"(and(eq(output_key, "generations.message.kwargs.tool_calls.name"),
              eq(output_value, "search")))",
       {1}},
      {R"(eq(output_value, 1.5))", {1}},
      {R"(eq(output_key, "answer"))", {1, 4}},
      {R"(neq(output_key, "answer"))", {2, 3, 5, 7}},
      {R"(and(eq(output_key, "answer"), neq(output_value, "done")))", {1}},
      // the families pair separately
      {R"(and(eq(input_key, "x"), eq(output_key, "answer"), eq(input_value, 1),
              eq(output_value, "done")))",
       {4}},
      {R"(and(eq(input_key, "x"), eq(output_value, 1)))", {}},
  });
}

TEST_F(SqlCompilerTest, FeedbackPairs) {
  check({
      {R"(and(eq(feedback_key, "user_score"), eq(feedback_score, 1)))", {1}},
      // run 1 has correctness 0 and user_score 1; the key and score must be on one row
      {R"(and(eq(feedback_key, "correctness"), eq(feedback_score, 1)))", {5}},
      {R"(and(eq(feedback_key, "correctness"), eq(feedback_score, 0.0)))", {1}},
      {R"(eq(feedback_key, "user_score"))", {1, 2}},
      // the feedback row without a run must not make NOT IN unknown for every run
      {R"(neq(feedback_key, "user_score"))", {3, 4, 5, 7}},
      {R"(gte(feedback_score, 1))", {1, 5}},
      {R"(lt(feedback_score, 1))", {1, 2}},
      {R"(and(eq(feedback_key, "note"), eq(feedback_score, null)))", {4}},
      {R"(and(eq(feedback_key, "user_score"), neq(feedback_score, 1)))", {2}},
      {R"(in(feedback_key, ["correctness", "note"]))", {1, 4, 5}},
      {R"(eq(feedback_key, "ws2fb"))", {}},
      {R"(eq(feedback_key, "user_score"))", {6}, 2},
      {R"(and(eq(is_root, true), and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))",
       {1}},
      {R"(not(and(eq(feedback_key, "user_score"), eq(feedback_score, 1))))", {2, 3, 4, 5, 7}},
  });
}

TEST_F(SqlCompilerTest, FullTextSearch) {
  check({
      {R"(search("kittens"))", {2}},
      {R"(search("kittens"))", {6}, 2},
      {R"(search("zebra"))", {2}},  // a later text version of run 2
      {R"(search("hello world"))", {1}},
      {R"(search("world hello"))", {}},  // a phrase, not a bag of words
      {R"(search("chatopenai"))", {1, 5}},
      {R"(search(""))", kAllWs1},
      {R"(search("  \t "))", kAllWs1},
      {R"(and(search("chatopenai"), eq(is_root, false)))", {5}},
      {R"(not(search("chatopenai")))", {2, 3, 4, 7}},
  });
}

TEST_F(SqlCompilerTest, HostileStringsStayInParameters) {
  check({
      // FTS5 syntax is text: "a OR b*" unquoted would match run 1's "A" as well
      {R"(search("a OR b*"))", {3}},
      {R"x(search("NEAR(hello world)"))x", {}},
      {R"(search("\""))", {}},
      {R"(search("hello\" OR \"kittens"))", {}},
      {R"(search("text:kittens"))", {}},
      {R"(search("'); DROP TABLE runs; --"))", {}},
      {R"(eq(name, "'); DROP TABLE runs; --"))", {}},
      {R"(like(name, "%'); DROP TABLE runs; --"))", {}},
      {R"(has(tags, "x' OR 1=1 --"))", {}},
      {R"(exists(metadata, "k'); DROP TABLE runs; --"))", {}},
      {R"(has(metadata, '{"k\\\"); DROP TABLE runs; --": "v\\\" OR 1=1"}'))", {}},
      {R"(eq(metadata_value, "\" OR \"1\"=\"1"))", {}},
      {R"(eq(input_key, "') OR 1=1 --"))", {}},
      {R"(search(name, "\u0000"))", {}},
      {R"(search("\u0000kittens"))", {2}},         // a NUL would cut FTS5's query short
      {"search(\"\xff\xfe kittens \xc3\")", {2}},  // invalid UTF-8 bytes are no tokens
      {"like(name, \"\xff%\")", {}},
  });
  auto count = connection_->prepare("SELECT count(*) FROM runs");
  ASSERT_TRUE(count.ok()) << count.error().message;
  auto counted = count->step();
  ASSERT_TRUE(counted.ok() && *counted);
  EXPECT_EQ(count->columnInt64(0), 7);
}

TEST_F(SqlCompilerTest, EveryFieldAndFunctionCompilesAgainstTheSchema) {
  auto sample = [](const FieldSpec& field, Function function) -> std::string {
    switch (field.kind) {
      case ValueKind::kUuid:
        return "\"00000000-0000-4000-8000-000000000001\"";
      case ValueKind::kStatus:
        return "\"error\"";
      case ValueKind::kTimestamp:
        return "\"2024-01-01\"";
      case ValueKind::kDuration:
        return "\"5s\"";
      case ValueKind::kNumber:
        return "1";
      case ValueKind::kBool:
        return "true";
      case ValueKind::kJson:
        return function == Function::kHas ? R"('{"k": "v"}')" : "\"k\"";
      case ValueKind::kString:
      case ValueKind::kStringList:
      case ValueKind::kScalar:
        return "\"x\"";
    }
    return "";
  };
  std::size_t compiled = 0;
  for (const FieldSpec& field : filterFields()) {
    for (std::size_t f = 0; f < kFunctionCount; ++f) {
      const auto function = static_cast<Function>(f);
      if (!(field.functions & functionBit(function))) continue;
      std::string value = sample(field, function);
      if (function == Function::kIn) value = "[" + value + "]";
      const std::string filter =
          std::string(functionName(function)) + "(" + std::string(field.name) + ", " + value + ")";
      for (const std::string& text : {filter, "not(" + filter + ")"}) {
        SCOPED_TRACE(text);
        const Outcome outcome = select(*connection_, text, 1);
        expectOnlyConstants(outcome.compiled);
        EXPECT_FALSE(outcome.compiled.sql.empty());
        ++compiled;
      }
    }
  }
  EXPECT_GT(compiled, 2 * filterFields().size());
}

std::string repeated(std::string_view open, std::string_view item, std::size_t count,
                     std::string_view close) {
  std::string out(open);
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    std::string one(item);
    if (auto at = one.find('#'); at != std::string::npos) one.replace(at, 1, std::to_string(i));
    out += one;
  }
  out += close;
  return out;
}

// SQLite parses a chain of ANDs left-deep and refuses expression trees deeper than 1000.
TEST_F(SqlCompilerTest, WideFiltersStayWithinSqliteLimits) {
  const std::string wideAnd = repeated("and(", "eq(is_root, true)", 3000, ")");
  const std::string wideOr = repeated("or(", R"(eq(name, "trap"))", 3000, ")");
  const std::string manyPairs = repeated("has(metadata, '{", R"("k#": "v")", 2000, "}')");
  const std::string manyExisting =
      repeated("has(metadata, '{", R"("user": "alice")", 1, "}')");  // control for the above
  const std::string bigGroup =
      repeated("and(", R"(neq(metadata_value, "x#"))", 1500, R"(, eq(metadata_key, "user")))");
  const std::string manyAbsent = repeated("and(", R"(neq(metadata_key, "a#"))", 2000, ")");
  const std::string longList = repeated("in(name, [", R"("n#")", 999, R"(, "trap"]))");
  const std::string deepAndWide =
      repeated("and(", "eq(is_root, true)", 100,
               ", " + repeated("or(", R"(eq(name, "trap"))", 100, ")") + ")");
  ASSERT_LE(wideAnd.size(), kMaxFilterBytes);
  ASSERT_LE(bigGroup.size(), kMaxFilterBytes);
  check({
      {wideAnd, {1, 3, 4, 7}},
      {wideOr, {7}},
      {manyPairs, {}},
      {manyExisting, {1}},
      {bigGroup, {1, 2, 4}},
      {manyAbsent, kAllWs1},
      {longList, {7}},
      {deepAndWide, {7}},
      {"not(" + wideAnd + ")", {2, 5}},
  });
}

// SQLite's parser has a fixed stack (100 entries in 3.40), so nesting is capped below what the
// validator allows; at the cap, the filter must still fit in the run store's statements.
TEST_F(SqlCompilerTest, DeepestAllowedFiltersPrepareInsideTheStoresStatements) {
  const std::vector<std::string> leaves = {
      R"(eq(input_value, 1.5))",
      R"(and(eq(output_key, "a"), neq(output_value, 1.5)))",
      R"(neq(session_id, "5e550000-0000-4000-8000-00000000000a"))",
      R"(has(metadata, '{"a": 1, "b": 2}'))",
      repeated("has(metadata, '{", R"("k#": "v")", 65, "}')"),
      R"(and(eq(feedback_key, "a"), gt(feedback_score, 1)))",
      R"(neq(metadata_key, "k"))",
      R"(search("x"))",
      R"(like(name, "x"))",
  };
  const std::string wide = repeated("", R"(eq(name, "y"))", 64, "");
  // Wrap `inner` in one more and/or/not; `level` alternates the shapes.
  using Wrap = std::string (*)(const std::string& inner, const std::string& wide, int level);
  const std::vector<std::pair<std::string_view, Wrap>> shapes = {
      {"not", [](const std::string& in, const std::string&, int) { return "not(" + in + ")"; }},
      {"and, nested last", [](const std::string& in, const std::string& w,
                              int) { return "and(" + w + ", " + in + ")"; }},
      {"and, nested first", [](const std::string& in, const std::string& w,
                               int) { return "and(" + in + ", " + w + ")"; }},
      {"or and not",
       [](const std::string& in, const std::string& w, int level) {
         return level % 2 ? "not(" + in + ")" : "or(" + w + ", " + in + ")";
       }},
      {"and and or",
       [](const std::string& in, const std::string& w, int level) {
         return std::string(level % 2 ? "and(" : "or(") + w + ", " + in + ")";
       }},
  };
  // How run_store.cc splices filter, trace_filter and tree_filter, all at once.
  auto statement = [](const SqlFilter& f) {
    return "SELECT r.id FROM runs r WHERE r.ws = ? AND r.session IN (?, ?) AND r.is_root = ? AND "
           "r.run_type = ? AND r.id IN (?) AND r.start_time >= ? AND (" +
           f.sql +
           ") AND EXISTS (SELECT 1 FROM runs t WHERE t.ws = r.ws AND t.id = r.trace_id AND (" +
           f.sql +
           ")) AND EXISTS (SELECT 1 FROM runs t WHERE t.ws = r.ws AND t.trace_id = r.trace_id AND "
           "(" +
           f.sql +
           ")) AND (r.start_time < ? OR (r.start_time = ? AND r.seq < ?)) ORDER BY r.start_time "
           "DESC, r.seq DESC LIMIT ?";
  };
  for (const auto& [name, wrap] : shapes) {
    for (const std::string& leaf : leaves) {
      const bool leafIsCall = leaf.starts_with("and(");
      std::string filter = leaf;
      const std::size_t levels = kMaxSqlNesting - (leafIsCall ? 1 : 0);
      for (std::size_t level = 0; level < levels; ++level) {
        filter = wrap(filter, wide, static_cast<int>(level));
      }
      SCOPED_TRACE(std::string(name) + " around " + leaf);
      auto parsed = parseAndValidateFilter(filter);
      ASSERT_TRUE(parsed.ok()) << parsed.error().message;
      auto compiled = compileFilter(*parsed, "r", 1);
      ASSERT_TRUE(compiled.ok()) << compiled.error().message;
      auto prepared = connection_->prepare(statement(*compiled));
      EXPECT_TRUE(prepared.ok()) << prepared.error().message;

      // One level more is refused as the caller's mistake, pointing at the first call too deep.
      auto deeper = parseAndValidateFilter(wrap(filter, wide, static_cast<int>(levels)));
      ASSERT_TRUE(deeper.ok()) << deeper.error().message;
      auto refused = compileFilter(*deeper, "r", 1);
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.error().code, core::ErrorCode::kInvalidArgument);
      EXPECT_TRUE(refused.error().message.starts_with("filter: at position "));
      EXPECT_TRUE(refused.error().message.ends_with(
          ": and, or and not are nested too deeply (the limit is " +
          std::to_string(kMaxSqlNesting) + " levels)"))
          << refused.error().message;
    }
  }
}

// ---- exact SQL text
// -------------------------------------------------------------------------------

struct Shape {
  std::string_view filter;
  std::string_view sql;
  std::vector<SqlValue> params;
};

TEST(SqlCompiler, ExactSqlText) {
  const std::string jsonLeaf =
      "CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' "
      "ELSE CAST(j.value AS TEXT) END";
  const std::string inputKeyValue =
      "(EXISTS (SELECT 1 FROM json_tree(run_json(t.inputs)) j WHERE j.type NOT IN ('object', "
      "'array') AND run_json_key(j.fullkey) = ? AND " +
      jsonLeaf + " = CAST(? AS TEXT)))";
  const std::vector<Shape> shapes = {
      {"", "1", {}},
      {R"(eq(name, "x"))", "t.name = ?", {std::string("x")}},
      {R"(neq(name, "x"))", "t.name IS NOT ?", {std::string("x")}},
      {R"(neq(error, null))", "t.error IS NOT NULL", {}},
      {R"(eq(error, null))", "t.error IS NULL", {}},
      {R"(and(eq(status, "error"), gte(start_time, "2024-01-01")))",
       "(t.status = ? AND t.start_time >= ?)",
       {std::string("error"), std::int64_t{1704067200000000}}},
      {R"(or(lt(latency, "250ms"), eq(is_root, false)))",
       "(t.latency < ? OR t.is_root = ?)",
       {0.25, std::int64_t{0}}},
      {R"(not(eq(name, "x")))", "NOT coalesce((t.name = ?), 0)", {std::string("x")}},
      {R"(in(run_type, ["llm", "tool"]))",
       "t.run_type IN (?, ?)",
       {std::string("llm"), std::string("tool")}},
      {R"(like(name, "a%"))", "t.name LIKE ? ESCAPE '\\'", {std::string("a%")}},
      {R"(search(name, "Ab"))", "instr(lower(t.name), lower(?)) > 0", {std::string("Ab")}},
      {R"(gt(execution_order, 1))", "(CASE WHEN t.is_root = 1 THEN 1 END) > ?", {std::int64_t{1}}},
      {R"(has(tags, "x"))",
       "t.seq IN (SELECT run FROM run_tags WHERE ws = ? AND tag = ?)",
       {std::int64_t{42}, std::string("x")}},
      {R"(exists(metadata, "k"))",
       "t.seq IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ?)",
       {std::int64_t{42}, std::string("k")}},
      {R"(has(metadata, '{"k": "v", "n": 5}'))",
       "(t.seq IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ? AND value = ?) AND "
       "t.seq IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ? AND value = ?))",
       {std::int64_t{42}, std::string("k"), std::string("v"), std::int64_t{42}, std::string("n"),
        std::string("5")}},
      {R"(eq(session_id, "5e550000-0000-4000-8000-00000000000A"))",
       "t.session IN (SELECT seq FROM sessions WHERE ws = ? AND id = ?)",
       {std::int64_t{42}, std::string("5e550000-0000-4000-8000-00000000000a")}},
      {R"(neq(session_id, "5e550000-0000-4000-8000-00000000000a"))",
       "coalesce(t.session NOT IN (SELECT seq FROM sessions WHERE ws = ? AND id = ?), 1)",
       {std::int64_t{42}, std::string("5e550000-0000-4000-8000-00000000000a")}},
      {R"(and(eq(metadata_key, "k"), neq(metadata_value, 5)))",
       "(t.seq IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ? AND value <> ?))",
       {std::int64_t{42}, std::string("k"), std::string("5")}},
      {R"(neq(metadata_key, "k"))",
       "t.seq NOT IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ?)",
       {std::int64_t{42}, std::string("k")}},
      {R"(and(neq(metadata_key, "a"), eq(name, "n"), eq(metadata_key, "b")))",
       "(t.seq NOT IN (SELECT run FROM run_metadata WHERE ws = ? AND key = ?) AND t.seq IN (SELECT "
       "run FROM run_metadata WHERE ws = ? AND key = ?) AND t.name = ?)",
       {std::int64_t{42}, std::string("a"), std::int64_t{42}, std::string("b"), std::string("n")}},
      {R"(and(eq(feedback_key, "user_score"), gte(feedback_score, 0.5)))",
       "(t.id IN (SELECT run_id FROM feedback WHERE ws = ? AND run_id IS NOT NULL AND key = ? AND "
       "score >= ?))",
       {std::int64_t{42}, std::string("user_score"), 0.5}},
      {R"(and(eq(input_key, "a.b"), eq(input_value, 1.5)))",
       inputKeyValue,
       {std::string("a.b"), 1.5}},
      {R"(neq(output_key, "a"))",
       "NOT EXISTS (SELECT 1 FROM json_tree(run_json(t.outputs)) j WHERE j.type NOT IN ('object', "
       "'array') AND run_json_key(j.fullkey) = ?)",
       {std::string("a")}},
      {R"(search("a \"b\" OR c*"))",
       "EXISTS (SELECT 1 FROM run_text WHERE run_text MATCH ? AND rowid BETWEEN t.seq * 256 AND "
       "t.seq * 256 + 255)",
       {std::string(R"("a ""b"" OR c*")")}},
      {R"(search(" "))", "1", {}},
  };
  for (const Shape& shape : shapes) {
    SCOPED_TRACE(shape.filter);
    auto parsed = parseAndValidateFilter(shape.filter);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    auto compiled = compileFilter(*parsed, "t", 42);
    ASSERT_TRUE(compiled.ok()) << compiled.error().message;
    EXPECT_EQ(compiled->sql, shape.sql);
    EXPECT_EQ(compiled->params, shape.params);
  }
}

TEST(SqlCompiler, NestingLimitPointsAtTheFirstCallTooDeep) {
  std::string filter = R"(eq(name, "x"))";
  for (std::size_t i = 0; i <= kMaxSqlNesting; ++i) filter = "not(" + filter + ")";
  auto parsed = parseAndValidateFilter(filter);
  ASSERT_TRUE(parsed.ok());
  auto compiled = compileFilter(*parsed, "r", 1);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(compiled.error().message, "filter: at position " + std::to_string(4 * kMaxSqlNesting) +
                                          ": and, or and not are nested too deeply (the limit is " +
                                          std::to_string(kMaxSqlNesting) + " levels)");
  // Predicates do not count: kMaxSqlNesting levels around one are fine.
  auto fits = parseAndValidateFilter(filter.substr(4, filter.size() - 5));
  ASSERT_TRUE(fits.ok());
  EXPECT_TRUE(compileFilter(*fits, "r", 1).ok());
}

TEST(SqlCompiler, BoundValuesAreCapped) {
  // Each pair binds the workspace, the key and the value.
  const std::string fits = repeated("has(metadata, '{", R"("k#": "v")", kMaxSqlParams / 3, "}')");
  const std::string tooMany =
      repeated("has(metadata, '{", R"("k#": "v")", kMaxSqlParams / 3 + 1, "}')");
  auto parsed = parseAndValidateFilter(fits);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto compiled = compileFilter(*parsed, "r", 1);
  ASSERT_TRUE(compiled.ok()) << compiled.error().message;
  EXPECT_EQ(compiled->params.size(), kMaxSqlParams / 3 * 3);

  parsed = parseAndValidateFilter(tooMany);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  compiled = compileFilter(*parsed, "r", 1);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(compiled.error().message,
            "filter: at position 0: the filter has too many values (it needs " +
                std::to_string((kMaxSqlParams / 3 + 1) * 3) + " bound values; the limit is " +
                std::to_string(kMaxSqlParams) + ")");
}

TEST(SqlCompiler, RefusesUnvalidatedFiltersAndBadAliases) {
  auto parsed = parseFilter(R"(eq(no_such_field, "x"))");
  ASSERT_TRUE(parsed.ok());
  auto compiled = compileFilter(*parsed, "r", 1);
  ASSERT_FALSE(compiled.ok());
  EXPECT_EQ(compiled.error().code, core::ErrorCode::kInternal);

  auto wrongFunction = parseFilter(R"(gt(tags, "x"))");
  ASSERT_TRUE(wrongFunction.ok());
  EXPECT_FALSE(compileFilter(*wrongFunction, "r", 1).ok());

  auto valid = parseAndValidateFilter(R"(eq(name, "x"))");
  ASSERT_TRUE(valid.ok());
  for (std::string_view alias : {"", "r; DROP TABLE runs", "r.x", "1r", "r r"}) {
    EXPECT_FALSE(compileFilter(*valid, alias, 1).ok()) << alias;
  }
  EXPECT_TRUE(compileFilter(*valid, "runs_2", 1).ok());
}

TEST(SqlCompiler, FtsPhrase) {
  EXPECT_EQ(ftsPhrase("abc"), "\"abc\"");
  EXPECT_EQ(ftsPhrase("a\"b"), "\"a\"\"b\"");
  EXPECT_EQ(ftsPhrase("\""), "\"\"\"\"");
  EXPECT_EQ(ftsPhrase(""), "\"\"");
}

// ---- the SQL functions
// ----------------------------------------------------------------------------

TEST(RunSqlFunctions, FlattensJsonTreeKeys) {
  EXPECT_EQ(flattenJsonTreeKey("$"), "");
  EXPECT_EQ(flattenJsonTreeKey("$.a"), "a");
  EXPECT_EQ(flattenJsonTreeKey("$.a.b[0].c"), "a.b.c");
  EXPECT_EQ(flattenJsonTreeKey("$[0][1].a"), "a");
  EXPECT_EQ(flattenJsonTreeKey("$.x[0][1]"), "x");
  EXPECT_EQ(flattenJsonTreeKey(R"($."a.b".c)"), "a.b.c");
  EXPECT_EQ(flattenJsonTreeKey(R"($.a."q\"r")"), "a.q\"r");
  EXPECT_EQ(flattenJsonTreeKey(R"($."a\u0041")"), "aA");
  EXPECT_EQ(flattenJsonTreeKey(R"($."a[0]"[3])"), "a[0]");
  EXPECT_EQ(flattenJsonTreeKey(R"($."")"), "");
  EXPECT_EQ(flattenJsonTreeKey(R"($.a."")"), "a.");
  EXPECT_EQ(flattenJsonTreeKey(R"($."unterminated)"), "unterminated");
  EXPECT_EQ(flattenJsonTreeKey("$.a[0"), "a");
}

std::string queryText(Connection& connection, std::string_view sql) {
  auto statement = connection.prepare(sql);
  EXPECT_TRUE(statement.ok()) << statement.error().message;
  if (!statement.ok()) return "<prepare failed>";
  auto row = statement->step();
  if (!row.ok()) return "<error: " + row.error().message + ">";
  if (!*row) return "<no row>";
  if (statement->columnIsNull(0)) return "<null>";
  return std::string(statement->columnText(0));
}

TEST(RunSqlFunctions, KeysOfRealJsonTrees) {
  auto connection = openDatabase();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(queryText(*connection,
                      R"(SELECT group_concat(run_json_key(fullkey), '|') FROM json_tree('{"a":)"
                      R"({"b":[{"c":1}]},"x.y":true,"q\"r":null,"":2,"l":[[1]]}') WHERE type NOT )"
                      R"(IN ('object', 'array'))"),
            "a.b.c|x.y|q\"r||l");
  EXPECT_EQ(queryText(*connection, "SELECT run_json_key(NULL)"), "<null>");
}

TEST(RunSqlFunctions, RunJsonPassesTextAndInflatesBlobs) {
  auto connection = openDatabase();
  ASSERT_NE(connection, nullptr);
  EXPECT_EQ(queryText(*connection, R"(SELECT run_json('{"a":1}'))"), R"({"a":1})");
  EXPECT_EQ(queryText(*connection, "SELECT run_json(NULL)"), "<null>");
  EXPECT_EQ(queryText(*connection, "SELECT typeof(run_json(5))"), "integer");

  const StoredJson stored = encodeStoredJson(compressedInputsText());
  ASSERT_TRUE(stored.compressed);
  auto statement = connection->prepare("SELECT run_json(?)");
  ASSERT_TRUE(statement.ok());
  statement->bindBlob(1, stored.bytes);
  auto row = statement->step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(statement->columnText(0), compressedInputsText());

  // A damaged blob is an error, not a silently skipped run.
  auto damaged = connection->prepare("SELECT run_json(?)");
  ASSERT_TRUE(damaged.ok());
  damaged->bindBlob(1, std::string_view("\x10\x00\x00\x00garbage", 11));
  auto failed = damaged->step();
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message.find("run_json"), std::string::npos) << failed.error().message;
}

TEST(RunSqlFunctions, AutoExtensionReachesLaterConnections) {
  registerRunSqlFunctionsForEveryConnection();
  registerRunSqlFunctionsForEveryConnection();  // idempotent
  auto connection = Connection::open(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     std::chrono::milliseconds(1000));
  ASSERT_TRUE(connection.ok()) << connection.error().message;
  EXPECT_EQ(queryText(**connection, "SELECT run_json_key('$.a[1].b')"), "a.b");
  EXPECT_EQ(queryText(**connection, "SELECT run_json('[1]')"), "[1]");
}

}  // namespace
}  // namespace pharos::tracing::query
