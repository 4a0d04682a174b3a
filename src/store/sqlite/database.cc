#include "store/sqlite/database.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <type_traits>

#include "core/log.h"

namespace pharos::store::sqlite {
namespace {

// Each job's changes live in this savepoint, so that a failing job is undone alone.
constexpr std::string_view kOpenJobSavepoint = "SAVEPOINT pharos_job";
constexpr std::string_view kReleaseJobSavepoint = "RELEASE pharos_job";
constexpr std::string_view kUndoJobSavepoint = "ROLLBACK TO pharos_job";

std::string errorText(sqlite3* db, int code) {
  // sqlite3_errmsg describes the most recent failure on db, which may not be `code`'s.
  return db != nullptr && sqlite3_extended_errcode(db) == code ? sqlite3_errmsg(db)
                                                               : sqlite3_errstr(code);
}

}  // namespace

Error sqliteError(int code, std::string message) {
  switch (code & 0xff) {
    case SQLITE_CONSTRAINT:
      if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Error::alreadyExists(std::move(message));
      }
      return Error::invalidArgument(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PROTOCOL:
      return Error::unavailable(std::move(message));
    default:
      return Error::internal(std::move(message));
  }
}

// --- Statement ---

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)),
      path_(std::move(other.path_)),
      bind_error_(std::move(other.bind_error_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    path_ = std::move(other.path_);
    bind_error_ = std::move(other.bind_error_);
  }
  return *this;
}

Statement::~Statement() {
  sqlite3_finalize(stmt_);
}

Error Statement::error(int code) const {
  return sqliteError(code, fmt::format("{}: {} (SQL: {})", path_,
                                       errorText(sqlite3_db_handle(stmt_), code), sql()));
}

Statement& Statement::check(int code) {
  if (code != SQLITE_OK && !bind_error_) bind_error_ = error(code);
  return *this;
}

int Statement::parameterIndex(std::string_view name) {
  const int index = sqlite3_bind_parameter_index(stmt_, std::string(name).c_str());
  if (index == 0 && !bind_error_) {
    bind_error_ = Error::internal(fmt::format("{}: no parameter {} (SQL: {})", path_, name, sql()));
  }
  return index;
}

Statement& Statement::bindInt64(int index, std::int64_t value) {
  return check(sqlite3_bind_int64(stmt_, index, value));
}
Statement& Statement::bindDouble(int index, double value) {
  return check(sqlite3_bind_double(stmt_, index, value));
}
Statement& Statement::bindText(int index, std::string_view value) {
  return check(
      sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
}
Statement& Statement::bindBlob(int index, std::string_view bytes) {
  // A null data pointer would bind NULL, not an empty blob.
  if (bytes.empty()) return check(sqlite3_bind_zeroblob(stmt_, index, 0));
  return check(sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
}
Statement& Statement::bindNull(int index) {
  return check(sqlite3_bind_null(stmt_, index));
}

Statement& Statement::bindOptionalText(int index, const std::optional<std::string>& value) {
  return value ? bindText(index, *value) : bindNull(index);
}
Statement& Statement::bindOptionalInt64(int index, const std::optional<std::int64_t>& value) {
  return value ? bindInt64(index, *value) : bindNull(index);
}
Statement& Statement::bindOptionalDouble(int index, const std::optional<double>& value) {
  return value ? bindDouble(index, *value) : bindNull(index);
}
Statement& Statement::bindValue(int index, const SqlValue& value) {
  return std::visit(
      [&](const auto& v) -> Statement& {
        using V = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<V, std::nullptr_t>) {
          return bindNull(index);
        } else if constexpr (std::is_same_v<V, std::int64_t>) {
          return bindInt64(index, v);
        } else if constexpr (std::is_same_v<V, double>) {
          return bindDouble(index, v);
        } else {
          return bindText(index, v);
        }
      },
      value);
}
Statement& Statement::bindAll(std::span<const SqlValue> values) {
  for (std::size_t i = 0; i < values.size(); ++i) bindValue(static_cast<int>(i + 1), values[i]);
  return *this;
}

Statement& Statement::bindInt64(std::string_view name, std::int64_t value) {
  const int index = parameterIndex(name);
  return index == 0 ? *this : bindInt64(index, value);
}
Statement& Statement::bindDouble(std::string_view name, double value) {
  const int index = parameterIndex(name);
  return index == 0 ? *this : bindDouble(index, value);
}
Statement& Statement::bindText(std::string_view name, std::string_view value) {
  const int index = parameterIndex(name);
  return index == 0 ? *this : bindText(index, value);
}
Statement& Statement::bindBlob(std::string_view name, std::string_view bytes) {
  const int index = parameterIndex(name);
  return index == 0 ? *this : bindBlob(index, bytes);
}
Statement& Statement::bindNull(std::string_view name) {
  const int index = parameterIndex(name);
  return index == 0 ? *this : bindNull(index);
}

Result<bool> Statement::step() {
  if (bind_error_) return *bind_error_;
  const int code = sqlite3_step(stmt_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  return error(sqlite3_extended_errcode(sqlite3_db_handle(stmt_)));
}

Status Statement::run() {
  while (true) {
    auto row = step();
    if (!row) return std::move(row).error();
    if (!*row) return {};
  }
}

void Statement::reset() {
  sqlite3_reset(stmt_);
}

void Statement::clear() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_error_.reset();
}

int Statement::columnCount() const {
  return sqlite3_column_count(stmt_);
}
bool Statement::columnIsBlob(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_BLOB;
}

bool Statement::columnIsNull(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}
std::int64_t Statement::columnInt64(int column) const {
  return sqlite3_column_int64(stmt_, column);
}
double Statement::columnDouble(int column) const {
  return sqlite3_column_double(stmt_, column);
}
std::string_view Statement::columnText(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}
std::string_view Statement::columnBlob(int column) const {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
  if (data == nullptr) return {};
  return {data, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::optional<std::string> Statement::optionalText(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return std::string(columnText(column));
}
std::optional<std::int64_t> Statement::optionalInt64(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return columnInt64(column);
}
std::optional<double> Statement::optionalDouble(int column) const {
  if (columnIsNull(column)) return std::nullopt;
  return columnDouble(column);
}

std::string_view Statement::sql() const {
  const char* text = sqlite3_sql(stmt_);
  return text == nullptr ? std::string_view() : std::string_view(text);
}

// --- Connection ---

Result<std::unique_ptr<Connection>> Connection::open(const std::filesystem::path& path, int flags,
                                                     std::chrono::milliseconds busy_timeout) {
  sqlite3* db = nullptr;
  const int code = sqlite3_open_v2(path.c_str(), &db, flags | SQLITE_OPEN_EXRESCODE, nullptr);
  if (code != SQLITE_OK) {
    Error error = sqliteError(
        code, fmt::format("cannot open database {}: {}", path.string(), errorText(db, code)));
    sqlite3_close_v2(db);
    return error;
  }
  std::unique_ptr<Connection> connection(new Connection(db, path));
  sqlite3_busy_timeout(db, static_cast<int>(std::min<std::int64_t>(busy_timeout.count(), 1 << 30)));
  return connection;
}

Connection::~Connection() {
  cache_.clear();  // statements must be finalized before the connection can close
  sqlite3_close_v2(db_);
}

Error Connection::error(int code, std::string_view sql) const {
  return sqliteError(code,
                     fmt::format("{}: {} (SQL: {})", path_.string(), errorText(db_, code), sql));
}

Status Connection::exec(std::string_view sql) {
  const int code = sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, nullptr);
  if (code != SQLITE_OK) return error(sqlite3_extended_errcode(db_), sql);
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql) {
  return prepare(sql, 0);
}

Result<Statement> Connection::prepare(std::string_view sql, unsigned flags) {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  const int code =
      sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), flags, &stmt, &tail);
  if (code != SQLITE_OK) return error(sqlite3_extended_errcode(db_), sql);
  Statement statement(stmt, path_.string());
  // SQLite would silently ignore everything after the first statement.
  const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  if (stmt == nullptr || rest.find_first_not_of(" \t\r\n;") != std::string_view::npos) {
    return Error::internal(fmt::format(
        "{}: a statement must hold exactly one SQL statement (SQL: {})", path_.string(), sql));
  }
  return statement;
}

Result<Statement*> Connection::cached(std::string_view sql) {
  if (auto found = cache_.find(sql); found != cache_.end()) {
    found->second.clear();
    return &found->second;
  }
  auto prepared = prepare(sql, SQLITE_PREPARE_PERSISTENT);
  if (!prepared) return std::move(prepared).error();
  auto [inserted, _] = cache_.emplace(std::string(sql), std::move(prepared).value());
  return &inserted->second;
}

void Connection::resetCached() {
  for (auto& [sql, statement] : cache_) statement.reset();
}

std::int64_t Connection::changes() const {
  return sqlite3_changes64(db_);
}
std::int64_t Connection::lastInsertRowid() const {
  return sqlite3_last_insert_rowid(db_);
}
bool Connection::inTransaction() const {
  return sqlite3_get_autocommit(db_) == 0;
}

// --- SqliteDatabase ---

namespace {

Error openError(const std::filesystem::path& path, std::string_view what, const Error& error) {
  return {error.code,
          fmt::format("cannot open database {}: {}: {}", path.string(), what, error.message)};
}

// Pragmas every connection needs; they are per connection, not stored in the file.
// temp_store = MEMORY keeps the statement and savepoint sub-journals (every write job runs in a
// savepoint) off the disk: in files they cost a create, pwrites and an unlink per transaction.
// A 64 MiB page cache and 1 GiB of memory-mapped reads: with SQLite's 2 MiB default the writer
// re-reads index pages through pread on every insert (kernel copies were most of its profile).
Status configure(Connection& connection) {
  return connection.exec(
      "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY; "
      "PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824");
}

Status enableWal(Connection& connection) {
  auto mode = connection.prepare("PRAGMA journal_mode = WAL");
  if (!mode) return std::move(mode).error();
  auto row = mode->step();
  if (!row) return std::move(row).error();
  if (!*row || mode->columnText(0) != "wal") {
    return Error::unavailable(
        fmt::format("journal_mode is {}, not wal", *row ? mode->columnText(0) : "unknown"));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(
    const std::filesystem::path& path, const core::StoreSettings& settings,
    std::span<const Migration> migrations) {
  if (path.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return Error::unavailable(fmt::format("cannot create directory {} for database {}: {}",
                                            path.parent_path().string(), path.string(),
                                            ec.message()));
    }
  }

  // SQLite creates the database and, beside it, its -wal and -shm files; its own error for a
  // directory it cannot write to ("unable to open database file") does not say so.
  const auto directory = path.has_parent_path() ? path.parent_path() : ".";
  if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    return Error::unavailable(
        fmt::format("cannot open database {}: directory {} is not writable ({})", path.string(),
                    directory.string(), std::generic_category().message(errno)));
  }

  auto writer =
      Connection::open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                       settings.busy_timeout);
  if (!writer) return std::move(writer).error();
  // SQLite silently falls back to read-only when the file is not writable.
  if (sqlite3_db_readonly((*writer)->handle(), "main") == 1) {
    return Error::unavailable(
        fmt::format("cannot open database {}: the file is not writable", path.string()));
  }
  if (auto wal = enableWal(**writer); !wal) {
    return openError(path, "cannot enable write-ahead logging", wal.error());
  }
  if (auto configured = configure(**writer); !configured) {
    return openError(path, "cannot configure the connection", configured.error());
  }
  if (auto migrated = applyMigrations(**writer, migrations); !migrated) return migrated.error();

  std::vector<std::unique_ptr<Connection>> readers;
  for (unsigned i = 0; i < std::max(1u, settings.reader_threads); ++i) {
    auto reader =
        Connection::open(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, settings.busy_timeout);
    if (!reader) return std::move(reader).error();
    if (auto configured = configure(**reader); !configured) {
      return openError(path, "cannot configure a reader connection", configured.error());
    }
    readers.push_back(std::move(reader).value());
  }
  return std::unique_ptr<SqliteDatabase>(
      new SqliteDatabase(path, settings, std::move(writer).value(), std::move(readers)));
}

SqliteDatabase::SqliteDatabase(std::filesystem::path path, const core::StoreSettings& settings,
                               std::unique_ptr<Connection> writer,
                               std::vector<std::unique_ptr<Connection>> readers)
    : path_(std::move(path)),
      max_batch_(std::max(1u, settings.max_batch)),
      max_pending_writes_(std::max(1u, settings.max_pending_writes)),
      writer_connection_(std::move(writer)),
      reader_connections_(std::move(readers)) {
  writer_thread_ = std::thread([this] { writerLoop(); });
  for (auto& connection : reader_connections_) {
    reader_threads_.emplace_back([this, &connection] { readerLoop(*connection); });
  }
}

SqliteDatabase::~SqliteDatabase() {
  close();
}

void SqliteDatabase::close() {
  if (!writer_thread_.joinable()) return;  // already closed
  {
    std::lock_guard lock(write_mutex_);
    writes_closed_ = true;
  }
  write_ready_.notify_one();
  writer_thread_.join();
  {
    std::lock_guard lock(read_mutex_);
    reads_closed_ = true;
  }
  read_ready_.notify_all();
  for (auto& thread : reader_threads_) thread.join();

  reader_connections_.clear();
  // Folds the WAL back into the database file so that it is self-contained at rest.
  if (auto checkpoint = writer_connection_->exec("PRAGMA wal_checkpoint(TRUNCATE)"); !checkpoint) {
    core::log::warn("database checkpoint at close failed",
                    {{"path", path_.string()}, {"error", checkpoint.error().message}});
  }
}

void SqliteDatabase::submitWrite(std::unique_ptr<detail::Job> job) {
  std::optional<Error> refusal;
  {
    std::lock_guard lock(write_mutex_);
    if (writes_closed_) {
      refusal = Error::unavailable(fmt::format("database {} is closing", path_.string()));
    } else if (write_queue_.size() >= max_pending_writes_) {
      refusal = Error::overloaded(fmt::format("{} writes are already waiting for database {}",
                                              write_queue_.size(), path_.string()));
    } else {
      write_queue_.push_back(std::move(job));
    }
  }
  if (refusal) {
    job->fail(std::move(*refusal));
    return;
  }
  write_ready_.notify_one();
}

void SqliteDatabase::submitRead(std::unique_ptr<detail::Job> job) {
  {
    std::lock_guard lock(read_mutex_);
    if (!reads_closed_) {
      read_queue_.push_back(std::move(job));
      read_ready_.notify_one();
      return;
    }
  }
  job->fail(Error::unavailable(fmt::format("database {} is closing", path_.string())));
}

SqliteDatabase::WriterStats SqliteDatabase::writerStats() const {
  return {batches_committed_.load(), jobs_committed_.load(), last_batch_size_.load()};
}

std::size_t SqliteDatabase::pendingWrites() const {
  std::lock_guard lock(write_mutex_);
  return write_queue_.size();
}

void SqliteDatabase::writerLoop() {
  std::vector<std::unique_ptr<detail::Job>> batch;
  while (true) {
    {
      std::unique_lock lock(write_mutex_);
      write_ready_.wait(lock, [this] { return writes_closed_ || !write_queue_.empty(); });
      if (write_queue_.empty()) return;  // closed and drained
      const std::size_t take = std::min(max_batch_, write_queue_.size());
      for (std::size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(write_queue_.front()));
        write_queue_.pop_front();
      }
    }
    last_batch_size_.store(batch.size());
    runBatch(batch);
    batch.clear();
  }
}

void SqliteDatabase::runBatch(std::vector<std::unique_ptr<detail::Job>>& batch) {
  Connection& connection = *writer_connection_;
  // Jobs that succeeded inside the open transaction: they are answered only once it commits.
  std::vector<detail::Job*> uncommitted;
  auto failUncommitted = [&](const Error& error) {
    for (detail::Job* job : uncommitted) job->fail(error);
    uncommitted.clear();
  };

  for (auto& job : batch) {
    if (!connection.inTransaction()) {
      if (auto begun = connection.exec("BEGIN IMMEDIATE"); !begun) {
        job->fail(begun.error());
        continue;
      }
    }
    if (auto opened = connection.exec(kOpenJobSavepoint); !opened) {
      job->fail(opened.error());
      continue;
    }
    const bool succeeded = job->run(connection);
    connection.resetCached();

    if (!connection.inTransaction()) {
      // SQLite itself rolled the whole transaction back (disk full, I/O error, ...), so the
      // earlier jobs' changes are gone with it; later jobs start a new transaction.
      const Error lost = Error::unavailable(
          fmt::format("{}: the transaction ended before its commit (SQLite aborts it on errors "
                      "such as a full disk); this write was not committed",
                      path_.string()));
      failUncommitted(lost);
      if (succeeded) {
        job->fail(lost);
      } else {
        job->complete();
      }
      continue;
    }
    if (succeeded) {
      auto released = connection.exec(kReleaseJobSavepoint);
      if (released) {
        uncommitted.push_back(job.get());
        continue;
      }
      job->fail(std::move(released).error());
    }
    // The savepoint is still open: undo this job's changes and keep the others'.
    Status undone = connection.exec(kUndoJobSavepoint);
    if (undone) undone = connection.exec(kReleaseJobSavepoint);
    if (!undone) {
      // This job's changes cannot be told apart from the others' any more: give them all up.
      (void)connection.exec("ROLLBACK");
      failUncommitted(undone.error());
    }
    if (!succeeded) job->complete();
  }

  if (!connection.inTransaction()) return;
  if (auto committed = connection.exec("COMMIT"); !committed) {
    if (connection.inTransaction()) (void)connection.exec("ROLLBACK");
    failUncommitted(committed.error());
    return;
  }
  batches_committed_.fetch_add(1);
  jobs_committed_.fetch_add(uncommitted.size());
  for (detail::Job* job : uncommitted) job->complete();
}

void SqliteDatabase::readerLoop(Connection& connection) {
  while (true) {
    std::unique_ptr<detail::Job> job;
    {
      std::unique_lock lock(read_mutex_);
      read_ready_.wait(lock, [this] { return reads_closed_ || !read_queue_.empty(); });
      if (read_queue_.empty()) return;  // closed and drained
      job = std::move(read_queue_.front());
      read_queue_.pop_front();
    }
    // One transaction per job, so every statement in it reads the same snapshot.
    if (auto begun = connection.exec("BEGIN"); !begun) {
      job->fail(begun.error());
      continue;
    }
    job->run(connection);
    connection.resetCached();
    if (connection.inTransaction()) {
      if (auto ended = connection.exec("ROLLBACK"); !ended) {
        core::log::warn("ending a read transaction failed",
                        {{"path", path_.string()}, {"error", ended.error().message}});
      }
    }
    job->complete();
  }
}

}  // namespace pharos::store::sqlite
