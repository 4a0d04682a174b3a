#include "integration/pharos_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

extern char** environ;

namespace pharos::testing {

namespace {

using Clock = std::chrono::steady_clock;

std::string randomSuffix() {
  static std::mt19937_64 generator{std::random_device{}()};
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  for (int i = 0; i < 12; ++i) out.push_back(kAlphabet[generator() % (sizeof kAlphabet - 1)]);
  return out;
}

// The binary under test: the one built with these tests, unless PHAROS_TEST_BINARY names another
// (to run the suite against a release build or an older version).
std::string pharosBinary() {
  const char* override_path = std::getenv("PHAROS_TEST_BINARY");
  return override_path != nullptr && *override_path != '\0' ? override_path : PHAROS_BINARY;
}

// The child's environment: ours without PHAROS_* (a developer's PHAROS_CONFIG or
// PHAROS_AUTH_MODE must not change what a test sees), plus the test's additions.
std::vector<std::string> childEnvironment(const Environment& extra) {
  std::vector<std::string> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::string_view(*entry).starts_with("PHAROS_")) continue;
    out.emplace_back(*entry);
  }
  for (const auto& [name, value] : extra) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork + execve with stdout/stderr redirected to files and `cwd` as working directory.
// Everything the child needs is prepared before fork: between fork and exec only
// async-signal-safe calls are allowed.
pid_t spawn(std::vector<std::string> args, const Environment& environment,
            const std::filesystem::path& cwd, const std::filesystem::path& out_file,
            const std::filesystem::path& err_file) {
  args.insert(args.begin(), pharosBinary());
  std::vector<std::string> env = childEnvironment(environment);
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);
  const std::string cwd_text = cwd.string();
  const int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out_fd < 0 || err_fd < 0 || null_fd < 0) {
    throw std::runtime_error(std::string("cannot open output files: ") + std::strerror(errno));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A test binary killed mid-test must not leave a server running.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(out_fd, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    if (::chdir(cwd_text.c_str()) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  return pid;
}

// Waits for `pid` up to `timeout`; fills `status` when it has ended.
bool waitFor(pid_t pid, std::chrono::milliseconds timeout, ExitStatus& status) {
  const auto start = Clock::now();
  const auto deadline = start + timeout;
  for (;;) {
    int raw = 0;
    const pid_t done = ::waitpid(pid, &raw, WNOHANG);
    if (done == pid) {
      status.exited = true;
      status.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      if (WIFEXITED(raw)) status.exit_code = WEXITSTATUS(raw);
      if (WIFSIGNALED(raw)) status.signal = WTERMSIG(raw);
      return true;
    }
    if (done < 0 && errno != EINTR) {
      status.exited = true;  // not our child any more; nothing to wait for
      return true;
    }
    if (Clock::now() >= deadline) {
      status.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void expectNoSanitizerReport(std::string_view what, const std::string& err) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                             "runtime error:", "WARNING: ThreadSanitizer"}) {
    if (err.find(marker) != std::string::npos) {
      ADD_FAILURE() << what << " reported a sanitizer error:\n" << err;
      return;
    }
  }
}

std::string describe(const ExitStatus& status) {
  if (!status.exited)
    return "still running after " + std::to_string(status.elapsed.count()) + " ms";
  if (status.signal != 0) return "killed by signal " + std::to_string(status.signal);
  return "exit code " + std::to_string(status.exit_code) + " after " +
         std::to_string(status.elapsed.count()) + " ms";
}

TempDir::TempDir()
    : path_(std::filesystem::temp_directory_path() / ("pharos-integration-" + randomSuffix())) {
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

PharosServer::PharosServer(ServeOptions options)
    : options_(std::move(options)),
      data_dir_(options_.data_dir ? *options_.data_dir : scratch_.path() / "data") {}

PharosServer::~PharosServer() {
  if (pid_ > 0) {
    // A clean stop, not SIGKILL, so that a sanitizer build gets to run its exit-time checks
    // (LeakSanitizer) on every test's server. Slow shutdowns are other tests' business.
    ::kill(pid_, SIGTERM);
    ExitStatus status;
    if (!waitFor(pid_, std::chrono::seconds(5), status)) {
      ::kill(pid_, SIGKILL);
      waitFor(pid_, std::chrono::seconds(10), status);
    }
    pid_ = -1;
  }
  expectNoSanitizerReport("pharos serve", stderrText());
}

::testing::AssertionResult PharosServer::start() {
  std::vector<std::string> args = {
      "serve",  "--listen",        options_.listen, "--otlp-grpc-listen", options_.otlp_grpc_listen,
      "--data", data_dir_.string()};
  for (const std::string& set : options_.sets) {
    args.push_back("--set");
    args.push_back(set);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  pid_ = spawn(args, options_.environment, scratch_.path(), scratch_.path() / "stdout.txt",
               scratch_.path() / "stderr.txt");

  // "Pharos 0.1.0 listening on http://127.0.0.1:PORT (data in ...)"
  static const std::regex kBanner(R"(Pharos \S+ listening on http://[^ ]+:(\d+) \(data in )");
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    std::smatch match;
    const std::string out = stdoutText();
    if (std::regex_search(out, match, kBanner)) {
      port_ = static_cast<std::uint16_t>(std::stoi(match[1].str()));
      static const std::regex kGrpc(R"(gRPC on http://[^ ]+:(\d+))");
      if (std::smatch grpc; std::regex_search(out, grpc, kGrpc)) {
        grpc_port_ = static_cast<std::uint16_t>(std::stoi(grpc[1].str()));
      }
      return ::testing::AssertionSuccess();
    }
    ExitStatus status;
    if (waitFor(pid_, std::chrono::milliseconds(0), status)) {
      pid_ = -1;
      exit_status_ = status;
      return ::testing::AssertionFailure()
             << "pharos serve ended before listening (" << describe(status) << ")\nstdout:\n"
             << out << "\nstderr:\n"
             << stderrText();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ::testing::AssertionFailure() << "no banner from pharos serve within 10 s\nstdout:\n"
                                       << stdoutText() << "\nstderr:\n"
                                       << stderrText();
}

std::string PharosServer::stdoutText() const {
  return readFile(scratch_.path() / "stdout.txt");
}
std::string PharosServer::stderrText() const {
  return readFile(scratch_.path() / "stderr.txt");
}

std::vector<boost::json::object> PharosServer::logLines() const {
  std::vector<boost::json::object> lines;
  std::istringstream in(stderrText());
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(line, ec);
    if (!ec && value.is_object()) lines.push_back(std::move(value.as_object()));
  }
  return lines;
}

std::optional<boost::json::object> PharosServer::waitForLog(
    const std::function<bool(const boost::json::object&)>& matches,
    std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    for (boost::json::object& line : logLines()) {
      if (matches(line)) return std::move(line);
    }
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::optional<boost::json::object> PharosServer::waitForLogMessage(
    std::string_view msg, std::chrono::milliseconds timeout) const {
  return waitForLog(
      [msg](const boost::json::object& line) {
        const auto* found = line.if_contains("msg");
        return found != nullptr && found->is_string() && found->as_string() == msg;
      },
      timeout);
}

void PharosServer::sendSignal(int signal) const {
  if (pid_ > 0) ::kill(pid_, signal);
}

ExitStatus PharosServer::waitForExit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0 && exit_status_) return *exit_status_;
  ExitStatus status;
  if (pid_ <= 0) return status;
  if (waitFor(pid_, timeout, status)) {
    pid_ = -1;
    exit_status_ = status;
  }
  return status;
}

ExitStatus PharosServer::stop(std::chrono::milliseconds timeout) {
  sendSignal(SIGTERM);
  ExitStatus status = waitForExit(timeout);
  if (!status.exited) {
    ::kill(pid_, SIGKILL);
    ExitStatus killed;
    waitFor(pid_, std::chrono::seconds(10), killed);
    pid_ = -1;
  }
  return status;
}

CommandResult runPharos(const std::vector<std::string>& args, const Environment& environment,
                        std::chrono::milliseconds timeout) {
  TempDir scratch;
  const pid_t pid = spawn(args, environment, scratch.path(), scratch.path() / "stdout.txt",
                          scratch.path() / "stderr.txt");
  CommandResult result;
  if (!waitFor(pid, timeout, result.status)) {
    ::kill(pid, SIGKILL);
    ExitStatus killed;
    waitFor(pid, std::chrono::seconds(10), killed);
  }
  result.out = readFile(scratch.path() / "stdout.txt");
  result.err = readFile(scratch.path() / "stderr.txt");
  expectNoSanitizerReport("pharos " + (args.empty() ? std::string() : args.front()), result.err);
  return result;
}

}  // namespace pharos::testing
