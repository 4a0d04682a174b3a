// A generic SQLite engine: one writer thread that group-commits queued write jobs, and a pool of
// reader threads with their own read-only connections (WAL lets them read while the writer
// writes). Coroutines on the I/O threads hand jobs over and resume with the job's Result once it
// is done — for a write, once its transaction is durably committed.
//
// Jobs receive a Connection; they must build SQL only from constants and bind every value.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "core/async.h"
#include "core/result.h"
#include "core/settings.h"
#include "store/sqlite/migrations.h"

namespace pharos::store::sqlite {

namespace asio = boost::asio;
using core::Error;
using core::Result;
using core::Status;

// Turns an SQLite result code into an Error: constraint violations become kAlreadyExists (unique,
// primary key) or kInvalidArgument, a busy/full/unreadable disk kUnavailable, the rest kInternal.
Error sqliteError(int code, std::string message);

// One bound value of a statement built at run time (IN lists, optional conditions), where the
// parameters are collected in a vector beside the SQL text and bound in order.
using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

// A prepared statement. Bind errors are remembered and reported by the next step()/run(), so
// binds can be chained without checking each one.
class Statement {
 public:
  Statement(sqlite3_stmt* stmt, std::string path) : stmt_(stmt), path_(std::move(path)) {}
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Parameters are numbered from 1, as in SQL ("?1"); names include their prefix (":name").
  Statement& bindInt64(int index, std::int64_t value);
  Statement& bindDouble(int index, double value);
  Statement& bindText(int index, std::string_view value);
  Statement& bindBlob(int index, std::string_view bytes);
  Statement& bindNull(int index);
  Statement& bindInt64(std::string_view name, std::int64_t value);
  Statement& bindDouble(std::string_view name, double value);
  Statement& bindText(std::string_view name, std::string_view value);
  Statement& bindBlob(std::string_view name, std::string_view bytes);
  Statement& bindNull(std::string_view name);
  // NULL when the value is absent.
  Statement& bindOptionalText(int index, const std::optional<std::string>& value);
  Statement& bindOptionalInt64(int index, const std::optional<std::int64_t>& value);
  Statement& bindOptionalDouble(int index, const std::optional<double>& value);
  Statement& bindValue(int index, const SqlValue& value);
  // values[0] to ?1, values[1] to ?2, and so on.
  Statement& bindAll(std::span<const SqlValue> values);

  // True when a row is ready to read, false when the statement is done.
  Result<bool> step();
  // Steps until done, skipping any rows (INSERT, UPDATE, DELETE, DDL).
  Status run();
  // Rewinds for another execution; bindings are kept.
  void reset();
  // Rewinds and forgets every binding (and any remembered bind error).
  void clear();

  // Columns are numbered from 0. Text and blob views stay valid until the next step/reset.
  int columnCount() const;
  bool columnIsNull(int column) const;
  bool columnIsBlob(int column) const;
  std::int64_t columnInt64(int column) const;
  double columnDouble(int column) const;
  std::string_view columnText(int column) const;
  std::string_view columnBlob(int column) const;
  // Copies of the column, nullopt when it is NULL.
  std::optional<std::string> optionalText(int column) const;
  std::optional<std::int64_t> optionalInt64(int column) const;
  std::optional<double> optionalDouble(int column) const;

  std::string_view sql() const;

 private:
  int parameterIndex(std::string_view name);
  Statement& check(int code);
  Error error(int code) const;

  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;
  std::optional<Error> bind_error_;
};

// One SQLite connection, used by one thread at a time.
class Connection {
 public:
  // `flags` as for sqlite3_open_v2. Errors name `path`.
  static Result<std::unique_ptr<Connection>> open(const std::filesystem::path& path, int flags,
                                                  std::chrono::milliseconds busy_timeout);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs one or more statements without parameters: constant SQL only (pragmas, DDL, BEGIN).
  Status exec(std::string_view sql);
  // Exactly one statement; anything after it is an error rather than silently ignored.
  Result<Statement> prepare(std::string_view sql);
  // A statement prepared once per connection and kept, keyed by its SQL text; it comes back
  // cleared (rewound, no bindings). The pointer stays valid while the connection lives.
  Result<Statement*> cached(std::string_view sql);
  // Rewinds every cached statement, so that none keeps a read snapshot or lock open.
  void resetCached();

  // Rows changed by the last INSERT, UPDATE or DELETE.
  std::int64_t changes() const;
  std::int64_t lastInsertRowid() const;
  bool inTransaction() const;
  const std::filesystem::path& path() const { return path_; }
  sqlite3* handle() const { return db_; }

 private:
  Connection(sqlite3* db, std::filesystem::path path) : db_(db), path_(std::move(path)) {}
  Result<Statement> prepare(std::string_view sql, unsigned flags);
  Error error(int code, std::string_view sql) const;

  sqlite3* db_;
  std::filesystem::path path_;
  std::map<std::string, Statement, std::less<>> cache_;
};

namespace detail {

// A queued unit of work, type-erased so that one queue holds jobs of every result type.
class Job {
 public:
  virtual ~Job() = default;
  // Runs the work; false when it failed (its own error is then kept for complete()).
  virtual bool run(Connection& connection) = 0;
  // Hands the job's own result to its caller.
  virtual void complete() = 0;
  // Hands `error` to its caller instead: the job was refused, or its transaction was lost.
  virtual void fail(Error error) = 0;
};

template <class T, class Deliver>
class TypedJob final : public Job {
 public:
  TypedJob(std::function<Result<T>(Connection&)> work, Deliver deliver)
      : work_(std::move(work)), deliver_(std::move(deliver)) {}

  bool run(Connection& connection) override {
    // The job runs on an engine thread, where an escaping exception would end the process.
    try {
      result_ = work_(connection);
    } catch (const std::exception& e) {
      result_ = Error::internal(std::string("storage job threw: ") + e.what());
    }
    return result_.ok();
  }
  void complete() override { deliver_(std::move(result_)); }
  void fail(Error error) override { deliver_(Result<T>(std::move(error))); }

 private:
  std::function<Result<T>(Connection&)> work_;
  Deliver deliver_;
  Result<T> result_;
};

template <class T>
struct PromiseDelivery {
  std::shared_ptr<std::promise<Result<T>>> promise;
  void operator()(Result<T> result) { promise->set_value(std::move(result)); }
};

}  // namespace detail

class SqliteDatabase {
 public:
  struct WriterStats {
    std::uint64_t batches_committed = 0;
    std::uint64_t jobs_committed = 0;
    std::uint64_t last_batch_size = 0;  // jobs the writer took in its most recent batch
  };

  // Opens (creating it and its directory if needed) the database at `path` and brings its
  // schema up to date with `migrations`. Errors name the file.
  static Result<std::unique_ptr<SqliteDatabase>> open(
      const std::filesystem::path& path, const core::StoreSettings& settings,
      std::span<const Migration> migrations = pharosMigrations());

  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  // Finishes every queued job, then closes the connections.
  ~SqliteDatabase();
  // What the destructor does, earlier: later jobs fail with kUnavailable. Idempotent; call it
  // from one thread, not from a job.
  void close();

  // Runs `job` on the writer inside its own savepoint of a group-committed transaction; resumes
  // (on the caller's executor) once that transaction committed, or with the job's own error
  // (its changes rolled back), or kOverloaded at once when too many writes are queued.
  template <class T>
  asio::awaitable<Result<T>> write(std::function<Result<T>(Connection&)> job) {
    return core::suspendUntil<Result<T>>(
        [this, job = std::move(job)](core::Completion<Result<T>> done) mutable {
          submitWrite(std::make_unique<detail::TypedJob<T, core::Completion<Result<T>>>>(
              std::move(job), std::move(done)));
        });
  }

  // Runs `job` on a reader, inside a read transaction (one consistent snapshot).
  template <class T>
  asio::awaitable<Result<T>> read(std::function<Result<T>(Connection&)> job) {
    return core::suspendUntil<Result<T>>(
        [this, job = std::move(job)](core::Completion<Result<T>> done) mutable {
          submitRead(std::make_unique<detail::TypedJob<T, core::Completion<Result<T>>>>(
              std::move(job), std::move(done)));
        });
  }

  // Blocking versions for command-line tools; never call them from an engine thread.
  template <class T>
  Result<T> writeSync(std::function<Result<T>(Connection&)> job) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    submitWrite(std::make_unique<detail::TypedJob<T, detail::PromiseDelivery<T>>>(
        std::move(job), detail::PromiseDelivery<T>{std::move(promise)}));
    return future.get();
  }
  template <class T>
  Result<T> readSync(std::function<Result<T>(Connection&)> job) {
    auto promise = std::make_shared<std::promise<Result<T>>>();
    auto future = promise->get_future();
    submitRead(std::make_unique<detail::TypedJob<T, detail::PromiseDelivery<T>>>(
        std::move(job), detail::PromiseDelivery<T>{std::move(promise)}));
    return future.get();
  }

  WriterStats writerStats() const;
  // Writes queued and not yet taken by the writer.
  std::size_t pendingWrites() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  SqliteDatabase(std::filesystem::path path, const core::StoreSettings& settings,
                 std::unique_ptr<Connection> writer,
                 std::vector<std::unique_ptr<Connection>> readers);

  void submitWrite(std::unique_ptr<detail::Job> job);
  void submitRead(std::unique_ptr<detail::Job> job);
  void writerLoop();
  void runBatch(std::vector<std::unique_ptr<detail::Job>>& batch);
  void readerLoop(Connection& connection);

  const std::filesystem::path path_;
  const std::size_t max_batch_;
  const std::size_t max_pending_writes_;
  std::unique_ptr<Connection> writer_connection_;
  std::vector<std::unique_ptr<Connection>> reader_connections_;

  mutable std::mutex write_mutex_;
  std::condition_variable write_ready_;
  std::deque<std::unique_ptr<detail::Job>> write_queue_;
  bool writes_closed_ = false;

  std::mutex read_mutex_;
  std::condition_variable read_ready_;
  std::deque<std::unique_ptr<detail::Job>> read_queue_;
  bool reads_closed_ = false;

  std::atomic<std::uint64_t> batches_committed_{0};
  std::atomic<std::uint64_t> jobs_committed_{0};
  std::atomic<std::uint64_t> last_batch_size_{0};

  std::thread writer_thread_;
  std::vector<std::thread> reader_threads_;
};

}  // namespace pharos::store::sqlite
