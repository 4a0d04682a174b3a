#include "state/redis_client.h"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "core/crypto.h"
#include "core/log.h"

namespace pharos::state {

namespace {

using Clock = std::chrono::steady_clock;
using tcp = asio::ip::tcp;
constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

RedisReply convert(const redisReply& raw) {
  RedisReply reply;
  switch (raw.type) {
    case REDIS_REPLY_STRING:
      reply.kind = RedisReply::Kind::kString;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_STATUS:
      reply.kind = RedisReply::Kind::kStatus;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_ERROR:
      reply.kind = RedisReply::Kind::kError;
      reply.str.assign(raw.str, raw.len);
      break;
    case REDIS_REPLY_INTEGER:
      reply.kind = RedisReply::Kind::kInteger;
      reply.integer = raw.integer;
      break;
    case REDIS_REPLY_ARRAY:
      reply.kind = RedisReply::Kind::kArray;
      reply.elements.reserve(raw.elements);
      for (std::size_t i = 0; i < raw.elements; ++i)
        reply.elements.push_back(convert(*raw.element[i]));
      break;
    default:  // REDIS_REPLY_NIL; we never ask for RESP3, so nothing else arrives
      reply.kind = RedisReply::Kind::kNil;
      break;
  }
  return reply;
}

core::Result<std::string> encode(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  char* out = nullptr;
  const int n =
      redisFormatCommandArgv(&out, static_cast<int>(argv.size()), argv.data(), lengths.data());
  if (n < 0 || out == nullptr) return core::Error::internal("cannot encode a Redis command");
  std::string encoded(out, static_cast<std::size_t>(n));
  redisFreeCommand(out);
  return encoded;
}

struct ReaderDeleter {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
using ReaderPtr = std::unique_ptr<redisReader, ReaderDeleter>;

ReaderPtr newReader() {
  ReaderPtr reader(redisReaderCreate());
  if (!reader) throw std::bad_alloc();
  return reader;
}

struct Counters {
  std::atomic<std::uint64_t> commands{0};
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> timeouts{0};
  std::atomic<std::uint64_t> disconnects{0};
};

// A command waiting for its reply. The waiting coroutine sleeps on `timer` until the deadline;
// the reader cancels the timer once `result` is set.
struct Pending {
  explicit Pending(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  bool done = false;
  core::Result<RedisReply> result;
  const char* step = nullptr;  // AUTH or SELECT sent on connect: no coroutine waits for it
};

// The connection of one I/O context. Only its own thread touches it, so nothing here is locked.
// `generation` changes whenever the socket is closed: a coroutine of an older generation (a
// read or write that completes after the close) sees it and leaves without touching anything.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::any_io_executor executor, std::shared_ptr<const RedisOptions> options,
             std::string endpoint, std::shared_ptr<Counters> counters)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        endpoint_(std::move(endpoint)),
        counters_(std::move(counters)),
        resolver_(executor_),
        socket_(executor_),
        reader_(newReader()) {}

  const asio::any_io_executor& executor() const { return executor_; }

  asio::awaitable<core::Result<RedisReply>> call(const std::string& encoded) {
    auto self = shared_from_this();
    if (state_ == State::kIdle) {
      if (Clock::now() < blocked_until_) {
        co_return core::Error::unavailable(
            fmt::format("redis at {} is unavailable: {}", endpoint_, last_connect_error_));
      }
      startConnect();
    }
    auto pending = std::make_shared<Pending>(executor_);
    pending_.push_back(pending);
    outbox_ += encoded;
    flush();
    pending->timer.expires_after(options_->command_timeout);
    if (!pending->done) (void)co_await pending->timer.async_wait(kNoThrow);
    if (!pending->done) {
      // Nothing came back in time. Whatever is pipelined behind this command waits on the same
      // server, so the connection is closed and the next command starts afresh.
      counters_->timeouts.fetch_add(1, std::memory_order_relaxed);
      const std::string message = fmt::format(
          "redis at {} did not answer within {} ms (the command may or may not have run)",
          endpoint_, options_->command_timeout.count());
      close(core::Error::unavailable(fmt::format("{}; the connection was reset", message)));
      co_return core::Error{core::ErrorCode::kTimeout, message};
    }
    co_return std::move(pending->result);
  }

  // Closes the socket and fails every command in flight with `error`.
  void close(const core::Error& error) {
    ++generation_;
    if (state_ == State::kOpen) counters_->disconnects.fetch_add(1, std::memory_order_relaxed);
    state_ = State::kIdle;
    boost::system::error_code ignored;
    socket_.close(ignored);
    resolver_.cancel();
    reader_ = newReader();
    outbox_.clear();
    writing_ = false;
    auto failed = std::move(pending_);
    pending_.clear();
    for (auto& pending : failed) {
      if (pending->done) continue;
      pending->result = error;
      pending->done = true;
      pending->timer.cancel();
    }
  }

 private:
  enum class State { kIdle, kConnecting, kOpen };

  void startConnect() {
    state_ = State::kConnecting;
    ++generation_;
    // AUTH and SELECT go first on the new connection; commands issued meanwhile queue behind.
    if (!options_->password.empty()) {
      std::vector<std::string> auth{"AUTH"};
      if (!options_->username.empty()) auth.push_back(options_->username);
      auth.push_back(options_->password);
      queueStep("AUTH", auth);
    }
    if (options_->db != 0) queueStep("SELECT", {"SELECT", std::to_string(options_->db)});
    asio::co_spawn(executor_, run(generation_), asio::detached);
  }

  void queueStep(const char* step, const std::vector<std::string>& args) {
    auto encoded = encode(args);
    if (!encoded) return;  // only on out-of-memory; the command itself will then fail
    auto pending = std::make_shared<Pending>(executor_);
    pending->step = step;
    pending_.push_back(std::move(pending));
    outbox_ += *encoded;
  }

  void connectFailed(const std::string& why) {
    counters_->connect_failures.fetch_add(1, std::memory_order_relaxed);
    if (!down_logged_) {
      core::log::warn("redis unavailable", {{"endpoint", endpoint_}, {"error", why}});
      down_logged_ = true;
    }
    last_connect_error_ = why;
    blocked_until_ = Clock::now() + options_->reconnect_backoff;
    close(core::Error::unavailable(fmt::format("redis at {} is unavailable: {}", endpoint_, why)));
  }

  void lost(const std::string& why) {
    core::log::warn("redis connection lost", {{"endpoint", endpoint_}, {"error", why}});
    close(core::Error::unavailable(fmt::format(
        "the connection to redis at {} was lost ({}); the command may or may not have run",
        endpoint_, why)));
  }

  asio::awaitable<void> run(std::uint64_t generation) {
    auto self = shared_from_this();
    asio::steady_timer watchdog(executor_, options_->connect_timeout);
    watchdog.async_wait([self, generation](const boost::system::error_code& ec) {
      if (ec || self->generation_ != generation || self->state_ != State::kConnecting) return;
      self->connectFailed(
          fmt::format("no connection within {} ms", self->options_->connect_timeout.count()));
    });
    auto [resolve_ec, endpoints] =
        co_await resolver_.async_resolve(options_->host, options_->port, kNoThrow);
    if (generation != generation_) co_return;
    if (resolve_ec) {
      connectFailed(fmt::format("cannot resolve {}: {}", options_->host, resolve_ec.message()));
      co_return;
    }
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket_, endpoints, kNoThrow);
    if (generation != generation_) co_return;
    if (connect_ec) {
      connectFailed(connect_ec.message());
      co_return;
    }
    watchdog.cancel();
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    counters_->connects.fetch_add(1, std::memory_order_relaxed);
    state_ = State::kOpen;
    flush();

    std::array<char, 16 * 1024> buffer;
    for (;;) {
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buffer), kNoThrow);
      if (generation != generation_) co_return;
      if (ec) {
        lost(ec == asio::error::eof ? std::string("redis closed it") : ec.message());
        co_return;
      }
      if (redisReaderFeed(reader_.get(), buffer.data(), n) != REDIS_OK) {
        lost(fmt::format("protocol error: {}", reader_->errstr));
        co_return;
      }
      for (;;) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
          lost(fmt::format("protocol error: {}", reader_->errstr));
          co_return;
        }
        if (raw == nullptr) break;
        RedisReply reply = convert(*static_cast<redisReply*>(raw));
        freeReplyObject(raw);
        if (!deliver(std::move(reply))) co_return;
      }
    }
  }

  // Hands a reply to the oldest command in flight; false when the connection was closed.
  bool deliver(RedisReply reply) {
    if (pending_.empty()) {
      lost("a reply arrived that no command asked for");
      return false;
    }
    auto pending = std::move(pending_.front());
    pending_.pop_front();
    if (pending->step != nullptr) {
      if (reply.isError()) {
        connectFailed(fmt::format("{} was refused: {}", pending->step, reply.str));
        return false;
      }
      return true;
    }
    if (pending_.empty() || pending_.front()->step == nullptr) down_logged_ = false;
    pending->result = std::move(reply);
    pending->done = true;
    pending->timer.cancel();
    return true;
  }

  void flush() {
    if (state_ != State::kOpen || writing_ || outbox_.empty()) return;
    writing_ = true;
    asio::co_spawn(executor_, writeLoop(generation_), asio::detached);
  }

  asio::awaitable<void> writeLoop(std::uint64_t generation) {
    auto self = shared_from_this();
    while (generation == generation_ && !outbox_.empty()) {
      // Everything issued since the last write goes out in one write.
      std::string chunk = std::move(outbox_);
      outbox_.clear();
      auto [ec, written] = co_await asio::async_write(socket_, asio::buffer(chunk), kNoThrow);
      if (generation != generation_) co_return;
      if (ec) {
        lost(ec.message());
        co_return;
      }
    }
    writing_ = false;
  }

  asio::any_io_executor executor_;
  std::shared_ptr<const RedisOptions> options_;
  std::string endpoint_;
  std::shared_ptr<Counters> counters_;
  tcp::resolver resolver_;
  tcp::socket socket_;
  ReaderPtr reader_;
  State state_ = State::kIdle;
  std::uint64_t generation_ = 0;
  std::deque<std::shared_ptr<Pending>> pending_;
  std::string outbox_;
  bool writing_ = false;
  bool down_logged_ = false;
  Clock::time_point blocked_until_{};
  std::string last_connect_error_;
};

bool isDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string RedisReply::describe() const {
  switch (kind) {
    case Kind::kNil:
      return "nil";
    case Kind::kInteger:
      return fmt::format("integer {}", integer);
    case Kind::kString:
      return fmt::format("string \"{}\"", str.size() > 64 ? str.substr(0, 64) + "..." : str);
    case Kind::kStatus:
      return fmt::format("status \"{}\"", str);
    case Kind::kError:
      return fmt::format("error \"{}\"", str);
    case Kind::kArray:
      return fmt::format("array of {}", elements.size());
  }
  return "unknown";
}

core::Result<RedisOptions> parseRedisUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return core::Error::invalidArgument(
        fmt::format("\"{}\" is not a URL like redis://[:password@]host:port[/db]", url));
  }
  const std::string scheme(parsed->scheme());
  if (scheme == "rediss") {
    return core::Error::invalidArgument(
        fmt::format("\"{}\": TLS (rediss://) is not supported; use redis://", url));
  }
  if (scheme != "redis") {
    return core::Error::invalidArgument(
        fmt::format("\"{}\": the scheme must be redis, not {}", url, scheme));
  }
  if (parsed->has_query() || parsed->has_fragment()) {
    return core::Error::invalidArgument(
        fmt::format("\"{}\": a Redis URL has no query or fragment", url));
  }
  RedisOptions options;
  options.host = parsed->host_type() == boost::urls::host_type::name
                     ? std::string(parsed->host_name())
                     : std::string(parsed->host_address());  // 127.0.0.1, or ::1 without []
  if (options.host.empty())
    return core::Error::invalidArgument(fmt::format("\"{}\" names no host", url));
  if (parsed->has_port()) {
    const std::string_view port = parsed->port();
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (!isDigits(port) || ec != std::errc() || end != port.data() + port.size() || number == 0 ||
        number > 65535) {
      return core::Error::invalidArgument(
          fmt::format("\"{}\": the port must be a number from 1 to 65535, not \"{}\"", url, port));
    }
    options.port = std::string(port);
  }
  if (parsed->has_userinfo()) {
    options.username = std::string(parsed->user());
    options.password = std::string(parsed->password());
    if (options.password.empty() && !options.username.empty()) {
      // redis://secret@host: a lone user part is taken as the password, as redis-cli does.
      options.password = std::move(options.username);
      options.username.clear();
    }
  }
  std::string_view path = parsed->encoded_path();
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty()) {
    int db = 0;
    const auto [end, ec] = std::from_chars(path.data(), path.data() + path.size(), db);
    if (!isDigits(path) || ec != std::errc() || end != path.data() + path.size()) {
      return core::Error::invalidArgument(fmt::format(
          "\"{}\": the path must be a database number like /0, not \"/{}\"", url, path));
    }
    options.db = db;
  }
  return options;
}

RedisScript::RedisScript(std::string source) : source_(std::move(source)) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(source_.data(), source_.size(), digest, &size, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 is not available");
  }
  sha1_ = core::toHex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

struct RedisClient::Impl {
  std::mutex mutex;
  std::unordered_map<const void*, std::shared_ptr<Connection>> connections;  // by I/O context
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
};

RedisClient::RedisClient(RedisOptions options)
    : options_(std::make_shared<const RedisOptions>(std::move(options))),
      endpoint_(fmt::format("{}:{}/{}", options_->host, options_->port, options_->db)),
      impl_(std::make_unique<Impl>()) {}

core::Result<std::shared_ptr<RedisClient>> RedisClient::fromUrl(
    std::string_view url, std::chrono::milliseconds command_timeout) {
  auto options = parseRedisUrl(url);
  if (!options) return options.error();
  options->command_timeout = command_timeout;
  return std::make_shared<RedisClient>(std::move(options).value());
}

RedisClient::~RedisClient() {
  clear();
}

void RedisClient::clear() {
  std::unordered_map<const void*, std::shared_ptr<Connection>> connections;
  {
    std::lock_guard lock(impl_->mutex);
    connections.swap(impl_->connections);
  }
  // Each connection is closed on its own thread. If that I/O context no longer runs, the posted
  // close is destroyed with it, and the connection with it.
  for (auto& [context, connection] : connections) {
    asio::any_io_executor executor = connection->executor();
    asio::post(executor, [connection = std::move(connection)] {
      connection->close(core::Error::unavailable("the redis client was shut down"));
    });
  }
}

RedisClientStats RedisClient::stats() const {
  const Counters& c = *impl_->counters;
  return {c.commands.load(), c.connects.load(), c.connect_failures.load(), c.timeouts.load(),
          c.disconnects.load()};
}

asio::awaitable<core::Result<RedisReply>> RedisClient::command(std::vector<std::string> args) {
  if (args.empty()) co_return core::Error::invalidArgument("a Redis command needs at least a name");
  auto encoded = encode(args);
  if (!encoded) co_return encoded.error();
  auto executor = co_await asio::this_coro::executor;
  const void* context = &asio::query(executor, asio::execution::context);
  std::shared_ptr<Connection> connection;
  {
    std::lock_guard lock(impl_->mutex);
    auto& slot = impl_->connections[context];
    if (!slot) slot = std::make_shared<Connection>(executor, options_, endpoint_, impl_->counters);
    connection = slot;
  }
  impl_->counters->commands.fetch_add(1, std::memory_order_relaxed);
  auto call = connection->call(*encoded);
  auto reply = co_await std::move(call);
  co_return reply;
}

asio::awaitable<core::Result<RedisReply>> RedisClient::evalScript(RedisScript script,
                                                                  std::vector<std::string> keys,
                                                                  std::vector<std::string> args) {
  std::vector<std::string> command_args;
  command_args.reserve(3 + keys.size() + args.size());
  command_args.push_back("EVALSHA");
  command_args.push_back(script.sha1());
  command_args.push_back(std::to_string(keys.size()));
  for (auto& key : keys) command_args.push_back(std::move(key));
  for (auto& arg : args) command_args.push_back(std::move(arg));
  std::vector<std::string> first = command_args;
  // Awaitables are built in named locals first (GCC 12 and temporaries in co_await).
  auto first_call = command(std::move(first));
  auto reply = co_await std::move(first_call);
  if (!reply || !reply->isError() || !reply->str.starts_with("NOSCRIPT")) co_return reply;
  // Not cached on this server yet (or it restarted): EVAL loads it for the next EVALSHA.
  command_args[0] = "EVAL";
  command_args[1] = script.source();
  auto eval_call = command(std::move(command_args));
  auto evaluated = co_await std::move(eval_call);
  co_return evaluated;
}

}  // namespace pharos::state
