// A small asynchronous Redis client for the state shared between Pharos processes (the response
// cache, budgets, rate limits).
//
// hiredis is used only for the protocol (RESP): redisFormatCommandArgv encodes a command and a
// redisReader parses replies. The socket is ours, on Asio, so commands are coroutines on the
// caller's I/O thread. There is one connection per I/O context (Pharos runs one thread per
// context, so a connection is only ever touched by its own thread and needs no lock); the
// coroutines of a thread share it and pipeline their commands: each is written as soon as it is
// issued and replies come back in order.
//
// Failures: a command that gets no reply before its deadline fails with kTimeout and the
// connection is closed (whatever was pipelined behind it would wait on the same stuck server);
// a lost connection fails every command in flight with kUnavailable, saying the command may or
// may not have run. The next command reconnects (after a short back-off when connecting failed).
// A Redis error reply ("-ERR ...") is not a failure of the client: it is a RedisReply of kind
// kError, because for some commands (EVALSHA's NOSCRIPT) it is an expected answer.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace pharos::state {

namespace asio = boost::asio;

// One RESP reply. RESP2 has five kinds; status and bulk strings both land in `str`.
struct RedisReply {
  enum class Kind { kNil, kInteger, kString, kStatus, kError, kArray };
  Kind kind = Kind::kNil;
  std::int64_t integer = 0;
  std::string str;                   // kString, kStatus, and the message of kError
  std::vector<RedisReply> elements;  // kArray

  bool isNil() const { return kind == Kind::kNil; }
  bool isError() const { return kind == Kind::kError; }
  // "nil", "integer 3", "string \"abc\"", "error \"ERR ...\"", "array of 2": for error messages.
  std::string describe() const;
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::string port = "6379";
  std::string username;  // Redis 6 ACL user; empty: AUTH with the password only
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed on connect when not 0
  std::chrono::milliseconds command_timeout{1000};  // per command, from issue to reply
  std::chrono::milliseconds connect_timeout{1000};
  // After a failed connect, commands fail at once for this long instead of each trying again.
  std::chrono::milliseconds reconnect_backoff{100};
};

// "redis://[[user]:password@]host[:port][/db]"; kInvalidArgument names what is wrong. Fills
// host, port (default 6379), username, password (percent-decoded) and db.
core::Result<RedisOptions> parseRedisUrl(std::string_view url);

// A Lua script and its SHA-1, for evalScript.
class RedisScript {
 public:
  explicit RedisScript(std::string source);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // lower-case hex

 private:
  std::string source_;
  std::string sha1_;
};

struct RedisClientStats {
  std::uint64_t commands = 0;
  std::uint64_t connects = 0;          // connections established
  std::uint64_t connect_failures = 0;  // connects (including AUTH/SELECT) that failed
  std::uint64_t timeouts = 0;
  std::uint64_t disconnects = 0;  // established connections lost (reset, timeout, protocol error)
};

// Thread-safe: use it from any number of I/O threads. Each I/O context must be run by one thread.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  // From a URL (see parseRedisUrl); `command_timeout` overrides the default of 1 s.
  static core::Result<std::shared_ptr<RedisClient>> fromUrl(
      std::string_view url, std::chrono::milliseconds command_timeout = std::chrono::seconds(1));
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  const RedisOptions& options() const { return *options_; }
  // "host:port/db", for logs and errors (never the password).
  const std::string& endpoint() const { return endpoint_; }

  // Sends one command ({"SET", "k", "v"}) on the calling I/O context's connection and returns
  // its reply. Errors: kUnavailable (cannot connect, AUTH/SELECT refused, connection lost),
  // kTimeout (no reply within command_timeout), kInvalidArgument (no arguments).
  asio::awaitable<core::Result<RedisReply>> command(std::vector<std::string> args);

  // EVALSHA, and EVAL when the server does not have the script cached (NOSCRIPT).
  asio::awaitable<core::Result<RedisReply>> evalScript(RedisScript script,
                                                       std::vector<std::string> keys,
                                                       std::vector<std::string> args);

  // Closes every connection (commands in flight fail with kUnavailable). Call before the I/O
  // contexts are destroyed; a later command opens a new connection.
  void clear();

  RedisClientStats stats() const;

 private:
  struct Impl;
  std::shared_ptr<const RedisOptions> options_;
  std::string endpoint_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pharos::state
