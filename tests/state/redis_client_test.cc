// RedisClient against a real redis-server: replies of every kind, pipelining on one thread,
// a connection per I/O thread, AUTH and SELECT, scripts, a restarted server, a lost connection,
// a paused server (deadline), and URLs.
#include "state/redis_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "state/test_util.h"

namespace pharos::state {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using testing::IoThreads;
using testing::RedisServer;
using testing::runOn;
using Kind = RedisReply::Kind;

std::shared_ptr<RedisClient> clientFor(const std::string& url,
                                       std::chrono::milliseconds timeout = 1s) {
  auto client = RedisClient::fromUrl(url, timeout);
  if (!client) throw std::runtime_error(client.error().message);
  return *client;
}

asio::awaitable<core::Result<RedisReply>> send(std::shared_ptr<RedisClient> client,
                                               std::vector<std::string> args) {
  auto call = client->command(std::move(args));
  auto reply = co_await std::move(call);
  co_return reply;
}

class RedisClientTest : public ::testing::Test {
 protected:
  // Declared first: destroyed after the clients whose connections live on it.
  asio::io_context io_{1};
  std::string prefix_ = testing::uniquePrefix();

  core::Result<RedisReply> run(std::shared_ptr<RedisClient> client, std::vector<std::string> args) {
    return runOn(io_, send(std::move(client), std::move(args)));
  }
};

TEST_F(RedisClientTest, RepliesOfEveryKind) {
  auto client = clientFor(testing::sharedRedis().url());
  const std::string key = prefix_ + "k";
  const std::string binary("a\0b\r\nc", 6);

  auto set = run(client, {"SET", key, binary});
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ(set->kind, Kind::kStatus);
  EXPECT_EQ(set->str, "OK");

  auto get = run(client, {"GET", key});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->kind, Kind::kString);
  EXPECT_EQ(get->str, binary);

  auto missing = run(client, {"GET", prefix_ + "missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->isNil());

  auto incr = run(client, {"INCRBY", prefix_ + "n", "41"});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->kind, Kind::kInteger);
  EXPECT_EQ(incr->integer, 41);

  auto array = run(client, {"MGET", key, prefix_ + "missing", prefix_ + "n"});
  ASSERT_TRUE(array.ok());
  ASSERT_EQ(array->kind, Kind::kArray);
  ASSERT_EQ(array->elements.size(), 3u);
  EXPECT_EQ(array->elements[0].str, binary);
  EXPECT_TRUE(array->elements[1].isNil());
  EXPECT_EQ(array->elements[2].str, "41");

  // An error reply is an answer, not a failure of the client; the connection stays usable.
  auto wrong_type = run(client, {"INCR", key});
  ASSERT_TRUE(wrong_type.ok());
  EXPECT_TRUE(wrong_type->isError());
  EXPECT_THAT(wrong_type->str, HasSubstr("not an integer"));
  auto unknown = run(client, {"NOSUCHCOMMAND"});
  ASSERT_TRUE(unknown.ok());
  EXPECT_TRUE(unknown->isError());
  EXPECT_THAT(unknown->describe(), HasSubstr("unknown command"));

  auto empty = run(client, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().code, core::ErrorCode::kInvalidArgument);

  EXPECT_EQ(client->stats().connects, 1u);
  client->clear();
}

TEST_F(RedisClientTest, PipelinesManyCoroutinesOnOneConnection) {
  auto client = clientFor(testing::sharedRedis().url());
  constexpr int kCoroutines = 2000;
  const std::string counter = prefix_ + "counter";
  std::vector<std::string> seen(kCoroutines);
  int failures = 0;
  int finished = 0;
  for (int i = 0; i < kCoroutines; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          const std::string key = prefix_ + std::to_string(i);
          const std::string value = "value-" + std::to_string(i);
          auto set_call = client->command({"SET", key, value});
          auto set = co_await std::move(set_call);
          auto incr_call = client->command({"INCR", counter});
          auto incr = co_await std::move(incr_call);
          auto get_call = client->command({"GET", key});
          auto get = co_await std::move(get_call);
          if (!set || !incr || !get) {
            ++failures;
          } else {
            seen[i] = get->str;
          }
          if (++finished == kCoroutines) io_.stop();
        },
        asio::detached);
  }
  io_.run();
  EXPECT_EQ(failures, 0);
  for (int i = 0; i < kCoroutines; ++i) ASSERT_EQ(seen[i], "value-" + std::to_string(i));
  auto total = run(client, {"GET", counter});
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->str, std::to_string(kCoroutines));
  // All of it went over the one connection of this thread.
  EXPECT_EQ(client->stats().connects, 1u);
  EXPECT_EQ(client->stats().commands, 3u * kCoroutines + 1);
  client->clear();
}

TEST_F(RedisClientTest, OneConnectionPerIoThread) {
  auto client = clientFor(testing::sharedRedis().url());
  IoThreads threads(2);
  std::vector<std::future<core::Result<RedisReply>>> futures;
  const std::string counter = prefix_ + "counter";
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> args{"INCR", counter};
    futures.push_back(asio::co_spawn(threads[i % 2], send(client, args), asio::use_future));
  }
  std::vector<std::int64_t> values;
  for (auto& future : futures) {
    auto reply = future.get();
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    values.push_back(reply->integer);
  }
  std::sort(values.begin(), values.end());
  for (int i = 0; i < 200; ++i) EXPECT_EQ(values[i], i + 1);
  EXPECT_EQ(client->stats().connects, 2u);
  client->clear();
  threads.stop();
}

TEST_F(RedisClientTest, ScriptsFallBackToEvalWhenNotCached) {
  auto client = clientFor(testing::sharedRedis().url());
  ASSERT_TRUE(run(client, {"SCRIPT", "FLUSH"}).ok());
  const RedisScript script("return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}");
  auto eval = [&](std::string arg) {
    return runOn(io_,
                 [](std::shared_ptr<RedisClient> c, RedisScript s,
                    std::string a) -> asio::awaitable<core::Result<RedisReply>> {
                   auto call = c->evalScript(std::move(s), {"the-key"}, {std::move(a), "41"});
                   auto reply = co_await std::move(call);
                   co_return reply;
                 }(client, script, std::move(arg)));
  };
  auto first = eval("x");  // NOSCRIPT, then EVAL
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->kind, Kind::kArray) << first->describe();
  ASSERT_EQ(first->elements.size(), 3u);
  EXPECT_EQ(first->elements[0].str, "the-key");
  EXPECT_EQ(first->elements[1].str, "x");
  EXPECT_EQ(first->elements[2].integer, 42);
  auto exists = run(client, {"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok());
  ASSERT_EQ(exists->elements.size(), 1u);
  EXPECT_EQ(exists->elements[0].integer, 1);
  const auto commands_before = client->stats().commands;
  auto second = eval("y");  // EVALSHA alone
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->elements[1].str, "y");
  EXPECT_EQ(client->stats().commands, commands_before + 1);
  // A script error comes back as an error reply.
  auto broken =
      runOn(io_, [](std::shared_ptr<RedisClient> c) -> asio::awaitable<core::Result<RedisReply>> {
        RedisScript bad("return redis.call('NOSUCH')");
        auto call = c->evalScript(std::move(bad), {}, {});
        auto reply = co_await std::move(call);
        co_return reply;
      }(client));
  ASSERT_TRUE(broken.ok());
  EXPECT_TRUE(broken->isError());
  EXPECT_EQ(RedisScript("").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  client->clear();
}

TEST_F(RedisClientTest, AuthAndSelect) {
  RedisServer server({"--requirepass", "s3cret"});
  const std::string base = "redis://:s3cret@127.0.0.1:" + std::to_string(server.port());
  auto db3 = clientFor(base + "/3");
  auto db0 = clientFor(base);
  ASSERT_TRUE(run(db3, {"SET", "k", "in-3"}).ok());
  auto in0 = run(db0, {"GET", "k"});
  ASSERT_TRUE(in0.ok()) << in0.error().message;
  EXPECT_TRUE(in0->isNil()) << in0->describe();
  auto in3 = run(db3, {"GET", "k"});
  ASSERT_TRUE(in3.ok());
  EXPECT_EQ(in3->str, "in-3");

  auto wrong = clientFor("redis://:nope@127.0.0.1:" + std::to_string(server.port()));
  auto refused = run(wrong, {"GET", "k"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(refused.error().message, HasSubstr("AUTH was refused"));
  EXPECT_EQ(wrong->stats().connect_failures, 1u);

  auto anonymous = clientFor(server.url());
  auto noauth = run(anonymous, {"GET", "k"});
  ASSERT_TRUE(noauth.ok());
  EXPECT_TRUE(noauth->isError());
  EXPECT_THAT(noauth->str, HasSubstr("NOAUTH"));
  for (auto* c : {&db3, &db0, &wrong, &anonymous}) (*c)->clear();
}

TEST_F(RedisClientTest, ReconnectsAfterTheServerRestarts) {
  RedisServer server;
  auto client = clientFor(server.url());
  ASSERT_TRUE(run(client, {"SET", "k", "v"}).ok());
  server.restart();
  // The first command may find the old connection gone: a clear kUnavailable, then it recovers.
  bool recovered = false;
  for (int attempt = 0; attempt < 50 && !recovered; ++attempt) {
    auto reply = run(client, {"PING"});
    if (reply.ok()) {
      EXPECT_EQ(reply->str, "PONG");
      recovered = true;
    } else {
      EXPECT_EQ(reply.error().code, core::ErrorCode::kUnavailable) << reply.error().message;
      runOn(io_, testing::sleepFor(50ms));
    }
  }
  EXPECT_TRUE(recovered);
  EXPECT_EQ(client->stats().connects, 2u);
  client->clear();
}

TEST_F(RedisClientTest, CommandsInFlightFailClearlyWhenTheConnectionIsLost) {
  auto server = std::make_unique<RedisServer>();
  auto client = clientFor(server->url(), 5s);
  ASSERT_TRUE(run(client, {"PING"}).ok());
  // BLPOP blocks on the server; the server dies while it waits.
  auto blocked = asio::co_spawn(io_, send(client, {"BLPOP", "empty-list", "0"}), asio::use_future);
  auto also = asio::co_spawn(io_, send(client, {"GET", "k"}), asio::use_future);
  runOn(io_, testing::sleepFor(100ms));
  server->stop();
  runOn(io_, testing::sleepFor(100ms));
  ASSERT_EQ(blocked.wait_for(0s), std::future_status::ready);
  auto lost = blocked.get();
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(lost.error().message, HasSubstr("was lost"));
  EXPECT_THAT(lost.error().message, HasSubstr("may or may not have run"));
  auto second = also.get();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, core::ErrorCode::kUnavailable);
  EXPECT_EQ(client->stats().disconnects, 1u);

  // Nothing listens now: connecting fails fast and says so; the back-off answers at once.
  auto refused = run(client, {"PING"});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, core::ErrorCode::kUnavailable);
  EXPECT_THAT(refused.error().message, HasSubstr("unavailable"));
  EXPECT_THAT(refused.error().message, HasSubstr("refused"));
  auto backed_off = run(client, {"PING"});
  ASSERT_FALSE(backed_off.ok());
  EXPECT_EQ(client->stats().connect_failures, 1u);
  client->clear();
}

TEST_F(RedisClientTest, DeadlineWithAPausedServer) {
  RedisServer server;
  auto client = clientFor(server.url(), 200ms);
  ASSERT_TRUE(run(client, {"PING"}).ok());
  server.pause();
  const auto started = std::chrono::steady_clock::now();
  auto first = asio::co_spawn(io_, send(client, {"PING"}), asio::use_future);
  auto second = asio::co_spawn(io_, send(client, {"GET", "x"}), asio::use_future);
  runOn(io_, testing::sleepFor(400ms));
  ASSERT_EQ(first.wait_for(0s), std::future_status::ready);
  ASSERT_EQ(second.wait_for(0s), std::future_status::ready);
  auto timed_out = first.get();
  const auto elapsed = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(timed_out.ok());
  EXPECT_EQ(timed_out.error().code, core::ErrorCode::kTimeout);
  EXPECT_THAT(timed_out.error().message, HasSubstr("did not answer within 200 ms"));
  EXPECT_GE(elapsed, 200ms);
  // The command pipelined behind it failed with the connection.
  EXPECT_FALSE(second.get().ok());
  EXPECT_GE(client->stats().timeouts, 1u);

  server.resume();
  auto after = run(client, {"PING"});
  ASSERT_TRUE(after.ok()) << after.error().message;
  EXPECT_EQ(after->str, "PONG");
  EXPECT_EQ(client->stats().connects, 2u);
  client->clear();
}

TEST_F(RedisClientTest, ClearDropsConnectionsAndALaterCommandReconnects) {
  auto client = clientFor(testing::sharedRedis().url());
  ASSERT_TRUE(run(client, {"PING"}).ok());
  client->clear();
  auto again = run(client, {"PING"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(client->stats().connects, 2u);
  client->clear();
}

TEST(RedisUrlTest, Parses) {
  auto plain = parseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->host, "cache.internal");
  EXPECT_EQ(plain->port, "6379");
  EXPECT_EQ(plain->db, 0);
  EXPECT_TRUE(plain->password.empty());

  auto full = parseRedisUrl("redis://:p%40ss@10.0.0.5:6380/2");
  ASSERT_TRUE(full.ok()) << full.error().message;
  EXPECT_EQ(full->host, "10.0.0.5");
  EXPECT_EQ(full->port, "6380");
  EXPECT_EQ(full->password, "p@ss");
  EXPECT_TRUE(full->username.empty());
  EXPECT_EQ(full->db, 2);

  auto acl = parseRedisUrl("redis://pharos:pw@[::1]:7000/");
  ASSERT_TRUE(acl.ok()) << acl.error().message;
  EXPECT_EQ(acl->host, "::1");
  EXPECT_EQ(acl->username, "pharos");
  EXPECT_EQ(acl->password, "pw");
  EXPECT_EQ(acl->db, 0);
}

TEST(RedisUrlTest, BadUrlsNameTheProblem) {
  const std::pair<const char*, const char*> cases[] = {
      {"localhost:6379", "scheme must be redis"},
      {"http://localhost", "scheme must be redis"},
      {"rediss://localhost", "TLS"},
      {"redis://", "names no host"},
      {"redis://localhost:0", "port must be a number"},
      {"redis://localhost:99999", "port must be a number"},
      {"redis://localhost/one", "database number"},
      {"redis://localhost/-1", "database number"},
      {"redis://localhost/1?x=y", "no query"},
      {"not a url", "is not a URL"},
  };
  for (const auto& [url, expected] : cases) {
    auto parsed = parseRedisUrl(url);
    ASSERT_FALSE(parsed.ok()) << url;
    EXPECT_EQ(parsed.error().code, core::ErrorCode::kInvalidArgument);
    EXPECT_THAT(parsed.error().message, HasSubstr(expected)) << url;
  }
  auto client = RedisClient::fromUrl("redis://h:notaport");
  ASSERT_FALSE(client.ok());
  EXPECT_THAT(client.error().message, HasSubstr("port"));
}

}  // namespace
}  // namespace pharos::state
