// The `turbine-autoscaler` binary: `run` (the default: the sidecar's decision loop) and
// `simulate --trace FILE` (the policy on a recorded or generated trace, no cluster).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "sidecar/config.h"
#include "sidecar/run_command.h"
#include "sidecar/simulate_command.h"

#ifndef TURBINE_AUTOSCALER_VERSION
#define TURBINE_AUTOSCALER_VERSION "dev"
#endif

namespace {

std::atomic<bool> g_stop{false};  // set by SIGTERM/SIGINT; the run loop polls it

void on_signal(int) {
  g_stop = true;
}

const char* kUsage =
    "turbine-autoscaler: scales a turbine engine Deployment by queue depth and KV/GPU\n"
    "memory pressure (runs as a sidecar in every engine pod; one leader acts).\n"
    "\n"
    "Usage:\n"
    "  turbine-autoscaler [run] [FLAGS]          the decision loop (default)\n"
    "  turbine-autoscaler simulate --trace FILE  replay a trace: turbine's policy vs an\n"
    "                                            HPA-style CPU baseline (see simulate --help)\n"
    "  turbine-autoscaler --version\n"
    "  turbine-autoscaler --help\n"
    "\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--version" || args[0] == "-V" || args[0] == "version")) {
    std::printf("turbine-autoscaler %s\n", TURBINE_AUTOSCALER_VERSION);
    return 0;
  }
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    std::fputs(kUsage, stdout);
    std::fputs(turbine::autoscaler::run_help().c_str(), stdout);
    return 0;
  }
  if (!args.empty() && args[0] == "simulate") {
    return turbine::autoscaler::simulate_main({args.begin() + 1, args.end()});
  }
  if (!args.empty() && args[0] == "run") args.erase(args.begin());
  if (!args.empty() && !args[0].empty() && args[0][0] != '-') {
    std::fprintf(stderr,
                 "turbine-autoscaler: unknown command '%s' (commands: run, simulate; see "
                 "--help)\n",
                 args[0].c_str());
    return 2;
  }
  auto parsed = turbine::autoscaler::parse_run_config(args);
  if (parsed.exit) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    if (!parsed.message.empty() && parsed.message.back() != '\n') {
      std::fputc('\n', parsed.exit_code == 0 ? stdout : stderr);
    }
    return parsed.exit_code;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return turbine::autoscaler::run_autoscaler(parsed.config, g_stop);
}
