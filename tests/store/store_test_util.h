// Helpers for the store tests: a scratch directory and a way to drive a coroutine to its end.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <exception>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "core/ids.h"
#include "core/result.h"
#include "core/settings.h"
#include "store/sqlite/database.h"

namespace pharos::store::test_util {

namespace asio = boost::asio;

// A fresh directory under the system temp dir, removed (whatever its permissions) at the end.
class TempDir {
 public:
  TempDir()
      : path_(std::filesystem::temp_directory_path() /
              ("pharos-store-test-" + core::randomAlphanumeric(16))) {
    std::filesystem::create_directories(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(path_, ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
    }
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs `awaitable` on `ctx` (on this thread) until it finishes, and returns its value.
template <class T>
T runSync(asio::io_context& ctx, asio::awaitable<T> awaitable) {
  auto future = asio::co_spawn(ctx, std::move(awaitable), asio::use_future);
  ctx.restart();
  ctx.run();
  return future.get();
}

// Starts `awaitable` on `ctx`; its result lands in `out` once `ctx` runs it to the end. (A
// completion handler rather than a coroutine lambda, which invites writing a capturing lambda
// inside co_await — GCC 12 destroys such a lambda twice.)
template <class T>
void spawnInto(asio::io_context& ctx, asio::awaitable<T> awaitable, T& out) {
  asio::co_spawn(ctx, std::move(awaitable), [&out](std::exception_ptr error, T value) {
    if (error) std::rethrow_exception(error);
    out = std::move(value);
  });
}

// The Pharos database (every migration) at `path`, holding `workspace_ids` as workspaces (each
// named after its id): stores number a workspace's rows only once it exists.
inline core::Result<std::unique_ptr<sqlite::SqliteDatabase>> openWithWorkspaces(
    const std::filesystem::path& path, std::initializer_list<std::string_view> workspace_ids) {
  auto db = sqlite::SqliteDatabase::open(path, core::StoreSettings{});
  if (!db) return std::move(db).error();
  const std::vector<std::string> ids(workspace_ids.begin(), workspace_ids.end());
  auto made = (*db)->writeSync<bool>([&ids](sqlite::Connection& c) -> core::Result<bool> {
    for (const std::string& id : ids) {
      auto s = c.prepare("INSERT INTO workspaces(id, name, created_at) VALUES (?1, ?1, 0)");
      if (!s) return std::move(s).error();
      if (auto done = s->bindText(1, id).run(); !done) return done.error();
    }
    return true;
  });
  if (!made) return std::move(made).error();
  return db;
}

}  // namespace pharos::store::test_util
