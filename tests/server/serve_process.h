#pragma once
// Runs the real `dsv32 serve` on 127.0.0.1 for end-to-end tests: a free port, the tiny model
// made once under DSV32_TEST_TMP, ready when /v1/health/ready says so, SIGTERM at the end.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

namespace dsv32::server::test {

inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

inline std::filesystem::path test_tmp() {
  const std::filesystem::path dir = std::filesystem::path(DSV32_TEST_TMP) / "e2e";
  std::filesystem::create_directories(dir);
  return dir;
}

// The tiny model, made once per build tree with `dsv32 make-model`.
inline std::filesystem::path tiny_model() {
  const std::filesystem::path dir = test_tmp() / "tiny";
  if (!std::filesystem::exists(dir / "config.json")) {
    const std::string command = std::string("'") + DSV32_BINARY + "' make-model --preset tiny --out '" + dir.string() +
                                "' > '" + (test_tmp() / "make_model.log").string() + "' 2>&1";
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
  }
  return dir;
}

// Output and exit status of a shell command.
struct CommandResult {
  int status = -1;
  std::string output;
};
inline CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  for (std::size_t n; (n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0;) result.output.append(buffer, n);
  const int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class ServeProcess {
 public:
  explicit ServeProcess(std::vector<std::string> extra_args) : port_(free_port()) {
    std::vector<std::string> args = {DSV32_BINARY, "serve", "--host", "127.0.0.1", "--port", std::to_string(port_)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    log_ = test_tmp() / ("serve_" + std::to_string(port_) + ".log");
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = log_.string();
      std::freopen(log.c_str(), "w", stdout);
      ::dup2(::fileno(stdout), 2);
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
    httplib::Client client("127.0.0.1", port_);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (std::chrono::steady_clock::now() < deadline) {
      const auto res = client.Get("/v1/health/ready");
      if (res && res->status == 200) return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "dsv32 serve did not become ready; log:\n" << log_text();
  }
  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      wait_exit();
    }
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  std::string log_text() const {
    std::ifstream in(log_);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  // SIGTERM, then the exit status (-1: killed after 60 s).
  int terminate() {
    ::kill(pid_, SIGTERM);
    return wait_exit();
  }
  // Resident memory of the server that is not file-backed, from /proc: the mapped weights'
  // pages come in as new token ids are read and belong to the page cache, not to a leak.
  std::size_t rss_bytes() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/statm");
    std::size_t pages = 0, resident = 0, shared = 0;
    in >> pages >> resident >> shared;
    return (resident - shared) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  }

 private:
  int wait_exit() {
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return -1;
  }

  int port_;
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

}  // namespace dsv32::server::test
