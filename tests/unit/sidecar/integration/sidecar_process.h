// Runs the real turbine-autoscaler binary as a child process for the integration tests:
// its log goes to a file, its /metrics are read over HTTP and parsed with the sidecar's own
// Prometheus parser, and the destructor stops it with SIGTERM (SIGKILL if it lingers).
#pragma once
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sidecar/prom_parser.h"
#include "../temp_dir.h"

namespace turbine::autoscaler::testing {

inline std::string autoscaler_bin() {
  return TURBINE_AUTOSCALER_BIN;
}

// A port nobody listens on right now (bound then released: a small race we accept).
inline int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Polls `pred` every 20 ms; the timeout is generous (a loaded CI machine), never a claim
// about speed.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// The sidecar's timings shrunk so a test sees several lease and decision rounds a second.
inline std::vector<std::string> fast_timing_args() {
  return {"--interval", "0.2", "--scrape-timeout", "0.4", "--lease-duration", "2",
          "--renew-deadline", "1", "--retry-period", "0.2", "--scale-up-period", "0"};
}

class SidecarProcess {
 public:
  // `env`: "NAME=value" entries that replace or extend this process's environment for the
  // child (built before fork: the parent has threads, so the child only calls exec).
  SidecarProcess(const std::vector<std::string>& args, const std::string& log_path,
                 const std::vector<std::string>& env = {})
      : log_path_(log_path) {
    std::vector<std::string> argv_s = {autoscaler_bin()};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      std::string name = kv.substr(0, kv.find('='));
      bool replaced = false;
      for (const auto& o : env) replaced = replaced || o.substr(0, o.find('=')) == name;
      if (!replaced) env_s.push_back(kv);
    }
    env_s.insert(env_s.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::execve(argv[0], argv.data(), envp.data());
      ::_exit(127);
    }
    ::close(fd);
  }
  SidecarProcess(const SidecarProcess&) = delete;
  SidecarProcess& operator=(const SidecarProcess&) = delete;
  ~SidecarProcess() { stop(); }

  // SIGTERM, then wait (SIGKILL after 10 s). Returns the exit status (or -1).
  int stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 500; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = 0;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ = -1;
    return exit_code_;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = 0;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      return false;
    }
    return true;
  }

  std::string log() const {
    std::ifstream f(log_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// GET http://127.0.0.1:port/path; nullopt when it cannot connect.
inline std::optional<httplib::Result> http_get(int port, const std::string& path) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(std::chrono::seconds(2));
  cli.set_read_timeout(std::chrono::seconds(5));
  auto r = cli.Get(path.c_str());
  if (!r) return std::nullopt;
  return r;
}

// The sidecar's own /metrics, parsed; empty when unreachable.
inline std::optional<PromText> sidecar_metrics(int port) {
  auto r = http_get(port, "/metrics");
  if (!r || (*r)->status != 200) return std::nullopt;
  auto t = parse_prom_text((*r)->body);
  if (!t) return std::nullopt;
  return *t;
}

// The value of `name` with label `key`="value" (or without labels when key is empty).
inline double metric(const PromText& t, const std::string& name, const std::string& key = "",
                     const std::string& value = "") {
  for (const PromSample* s : t.find(name)) {
    if (key.empty() || s->label(key) == value) return s->value;
  }
  return -1;
}

}  // namespace turbine::autoscaler::testing
