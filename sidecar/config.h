// The `run` configuration: every knob is a flag and a key of the YAML file given by
// --config (key = flag name without the leading dashes; '_' may stand for '-'). Flags win
// over the file, the file over the defaults. Anything wrong here is the operator's to fix,
// so parse_run_config() returns a message and main() exits 2.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"
#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {

struct RunConfig {
  std::string config_file;
  std::string kubeconfig;      // empty: in-cluster
  std::string namespace_name;  // empty: from the service account or kubeconfig context
  std::string deployment;
  std::string service;
  int metrics_port = 8000;
  std::string lease_name;  // default "<deployment>-autoscaler"
  std::string identity;    // default $POD_NAME, else the hostname
  std::string listen = "0.0.0.0:9091";
  Seconds interval{15};
  Seconds scrape_timeout{2};
  Seconds lease_duration{15};
  Seconds renew_deadline{10};
  Seconds retry_period{2};
  bool dry_run = false;
  bool log_json = false;
  PolicyConfig policy;
};

// What parsing produced: a config to run, or text to print and an exit code.
struct ParsedRun {
  RunConfig config;
  bool exit = false;  // true: print `message` and exit with `exit_code`
  int exit_code = 0;
  std::string message;
};

// `args` are the arguments after the subcommand (argv[0] not included).
ParsedRun parse_run_config(const std::vector<std::string>& args);

// "15", "2.5", "15s", "500ms", "1m30s", "1h" -> seconds.
Result<double> parse_duration_seconds(const std::string& text);

// The run flags' help text (for the top-level --help).
std::string run_help();

}  // namespace turbine::autoscaler
