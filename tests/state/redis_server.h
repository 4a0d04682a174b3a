// A real redis-server for tests: /usr/bin/redis-server on a free 127.0.0.1 port, nothing saved
// to disk. The child gets SIGKILL when the test process dies (PR_SET_PDEATHSIG), so a crashed or
// failed test never leaves one behind; the destructor kills it too.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pharos::state::testing {

class RedisServer {
 public:
  // Starts at once; throws std::runtime_error if it does not answer PING within 10 s.
  explicit RedisServer(std::vector<std::string> extra_args = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:PORT

  void stop();     // SIGKILL and reap
  void restart();  // stop, then start on the same port
  void pause();    // SIGSTOP: connections stay open, nothing is answered
  void resume();   // SIGCONT

 private:
  void start();
  std::vector<std::string> extra_args_;
  int port_ = 0;
  pid_t pid_ = -1;
  bool paused_ = false;
};

}  // namespace pharos::state::testing
