// Runs the real `pharos` binary for the integration tests: a server (`pharos serve`) on a free
// loopback port with a scratch data directory, or a one-shot command (`pharos keys list`, ...).
//
// Each child runs in its own scratch directory (so no ./pharos.toml or ./.env of the developer
// leaks in), with the test's environment minus every PHAROS_* variable plus what the test asks
// for. stdout and stderr go to files, never pipes: the server can log as much as it likes without
// blocking on a full pipe, and the test reads the files whenever it wants.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace pharos::testing {

using Environment = std::vector<std::pair<std::string, std::string>>;

// A fresh directory under the system temp dir, removed with its contents at the end.
class TempDir {
 public:
  TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct ExitStatus {
  bool exited = false;  // false: still running when the wait gave up
  int exit_code = -1;   // when it exited normally
  int signal = 0;       // when a signal killed it
  std::chrono::milliseconds elapsed{0};
};

std::string describe(const ExitStatus& status);

// Adds a test failure when `err` (a child's stderr) holds an ASan/UBSan/LSan report.
void expectNoSanitizerReport(std::string_view what, const std::string& err);

struct ServeOptions {
  std::vector<std::string> sets;  // each passed as --set path=value
  Environment environment;        // added to the child's environment
  std::vector<std::string> extra_args;
  std::optional<std::filesystem::path> data_dir;  // default: a fresh directory of this server
  std::string listen = "127.0.0.1:0";
  // Port 0 so that servers of concurrent tests never fight over 4317; "off" switches it off.
  std::string otlp_grpc_listen = "127.0.0.1:0";
};

class PharosServer {
 public:
  explicit PharosServer(ServeOptions options = {});
  PharosServer(const PharosServer&) = delete;
  PharosServer& operator=(const PharosServer&) = delete;
  // Stops a server still running (SIGTERM, then SIGKILL after 5 s): a failed test must not
  // leave it behind. Fails the test if the server's stderr holds a sanitizer report.
  ~PharosServer();

  // Spawns `pharos serve` and waits up to 10 s for its banner. The failure message carries the
  // child's stderr, since that is where a start-up problem is explained.
  ::testing::AssertionResult start();

  std::uint16_t port() const { return port_; }
  // The OTLP/gRPC listener's port; 0 when it is off.
  std::uint16_t grpcPort() const { return grpc_port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& dataDir() const { return data_dir_; }
  std::string stdoutText() const;
  std::string stderrText() const;

  // stderr's JSON log lines, parsed (anything else on stderr is skipped).
  std::vector<boost::json::object> logLines() const;
  // Polls the log (the server flushes it every ~50 ms) until a line matches.
  std::optional<boost::json::object> waitForLog(
      const std::function<bool(const boost::json::object&)>& matches,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  std::optional<boost::json::object> waitForLogMessage(
      std::string_view msg, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  void sendSignal(int signal) const;
  // Waits for the process to end; elapsed counts from the call.
  ExitStatus waitForExit(std::chrono::milliseconds timeout);
  // SIGTERM, then waitForExit; a server that outlives `timeout` is killed and reported so.
  ExitStatus stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool running() const { return pid_ > 0; }
  // How the process ended, once it has (also when start() saw it end early).
  const std::optional<ExitStatus>& exitStatus() const { return exit_status_; }

 private:
  ServeOptions options_;
  TempDir scratch_;
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t grpc_port_ = 0;
  std::optional<ExitStatus> exit_status_;
};

struct CommandResult {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Runs `pharos <args...>` to completion (killed after `timeout`), in a scratch working directory.
CommandResult runPharos(const std::vector<std::string>& args, const Environment& environment = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

std::string readFile(const std::filesystem::path& path);

}  // namespace pharos::testing
