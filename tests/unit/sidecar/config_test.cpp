// `run` configuration: flags, the YAML file (keys = flag names), precedence and errors.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "sidecar/config.h"

namespace turbine::autoscaler {
namespace {

std::string write_yaml(const std::string& text) {
  char path[] = "/tmp/turbine_cfg_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  std::ofstream(path) << text;
  return path;
}

ParsedRun parse(std::vector<std::string> args) {
  return parse_run_config(args);
}

TEST(RunConfig, DefaultsAreDesignMd) {
  auto p = parse({"--deployment", "turbine", "--service", "turbine-svc", "--identity", "pod-a"});
  ASSERT_FALSE(p.exit) << p.message;
  const RunConfig& c = p.config;
  EXPECT_EQ(c.lease_name, "turbine-autoscaler");
  EXPECT_EQ(c.identity, "pod-a");
  EXPECT_EQ(c.metrics_port, 8000);
  EXPECT_EQ(c.listen, "0.0.0.0:9091");
  EXPECT_EQ(c.interval.count(), 15);
  EXPECT_EQ(c.lease_duration.count(), 15);
  EXPECT_EQ(c.renew_deadline.count(), 10);
  EXPECT_EQ(c.retry_period.count(), 2);
  EXPECT_FALSE(c.dry_run);
  EXPECT_EQ(c.policy.min_replicas, 1);
  EXPECT_EQ(c.policy.max_replicas, 10);
  EXPECT_EQ(c.policy.target_waiting, 4);
  EXPECT_EQ(c.policy.target_kv, 0.8);
  EXPECT_EQ(c.policy.tolerance, 0.1);
  EXPECT_EQ(c.policy.scale_up_factor, 2);
  EXPECT_EQ(c.policy.scale_up_step, 4);
  EXPECT_EQ(c.policy.scale_up_period.count(), 15);
  // 120 s, not DESIGN.md's 300: the capacity model remembers peaks by peak-decay instead
  // (docs/ARCHITECTURE.md, "Autoscaler policy").
  EXPECT_EQ(c.policy.scale_down_window.count(), 120);
  EXPECT_EQ(c.policy.peak_decay.count(), 600);
  EXPECT_EQ(c.policy.demand.max_running, 64);
  // max-data-age 0 means four intervals plus a scrape timeout.
  EXPECT_EQ(c.policy.max_data_age.count(), 4 * 15 + 2);
}

TEST(RunConfig, YamlFileAsTheChartWritesItAndFlagsWin) {
  // The shape helm/turbine's ConfigMap renders (numbers unquoted, booleans bare).
  std::string f = write_yaml(R"(deployment: turbine
service: turbine
namespace: default
metrics-port: 8000
lease-name: turbine-autoscaler
listen: 0.0.0.0:9091
min-replicas: 2
max-replicas: 8
dry-run: true
interval: 15
scale-up-period: 15
scale-down-window: 300
target-waiting: 4
target-kv: 0.8
tolerance: 0.1
kv-free-floor-bytes: 1073741824
scrape_timeout: 500ms
max-running: 48
headroom: 1.5
forecast-horizon: 2m
peak-decay: 0
prefill-tokens-per-second: 4500
target-prefill: 0.6
)");
  auto p = parse({"--config", f, "--max-replicas", "5", "--identity", "x"});
  std::remove(f.c_str());
  ASSERT_FALSE(p.exit) << p.message;
  EXPECT_EQ(p.config.namespace_name, "default");
  EXPECT_EQ(p.config.policy.min_replicas, 2);
  EXPECT_EQ(p.config.policy.max_replicas, 5);  // the flag
  EXPECT_TRUE(p.config.dry_run);
  EXPECT_EQ(p.config.policy.kv_free_floor_bytes, 1073741824.0);
  EXPECT_DOUBLE_EQ(p.config.scrape_timeout.count(), 0.5);  // '_' stands for '-'
  const DemandConfig& d = p.config.policy.demand;
  EXPECT_EQ(d.max_running, 48);
  EXPECT_EQ(d.headroom, 1.5);
  EXPECT_EQ(d.forecast_horizon.count(), 120);
  EXPECT_EQ(p.config.policy.peak_decay.count(), 0);
  EXPECT_EQ(d.prefill_tokens_per_second, 4500);
  EXPECT_EQ(d.target_prefill, 0.6);
}

TEST(RunConfig, DryRunFlagOverridesTheFile) {
  std::string f = write_yaml("deployment: d\nservice: s\ndry-run: false\n");
  auto p = parse({"--config", f, "--dry-run"});
  std::remove(f.c_str());
  ASSERT_FALSE(p.exit) << p.message;
  EXPECT_TRUE(p.config.dry_run);
}

TEST(RunConfig, ErrorsExitTwoWithAMessage) {
  struct Case {
    std::vector<std::string> args;
    const char* message;
  } cases[] = {
      {{"--service", "s"}, "--deployment is required"},
      {{"--deployment", "d"}, "--service is required"},
      {{"--deployment", "d", "--service", "s", "--interval", "soon"}, "--interval"},
      {{"--deployment", "d", "--service", "s", "--min-replicas", "x"}, "expected an integer"},
      {{"--deployment", "d", "--service", "s", "--min-replicas", "5", "--max-replicas", "3"},
       "min-replicas must not exceed max-replicas"},
      {{"--deployment", "d", "--service", "s", "--renew-deadline", "20"},
       "--lease-duration must be longer than --renew-deadline"},
      {{"--deployment", "d", "--service", "s", "--metrics-port", "70000"}, "--metrics-port"},
      {{"--deployment", "d", "--service", "s", "--listen", "9091"}, "HOST:PORT"},
      {{"--deployment", "d", "--service", "s", "--bogus"}, "bogus"},
      {{"--deployment", "d", "--service", "s", "--max-running", "0"}, "max-running must be >= 1"},
      {{"--deployment", "d", "--service", "s", "--target-prefill", "1.5"}, "target-prefill"},
      {{"--deployment", "d", "--service", "s", "--drain-time", "0"}, "drain-time must be > 0"},
      {{"--deployment", "d", "--service", "s", "--config", "/nonexistent.yaml"},
       "/nonexistent.yaml"},
  };
  for (const auto& c : cases) {
    auto p = parse(c.args);
    ASSERT_TRUE(p.exit);
    EXPECT_EQ(p.exit_code, 2);
    EXPECT_NE(p.message.find(c.message), std::string::npos) << p.message;
  }
}

TEST(RunConfig, YamlUnknownKeysAndNonScalarsAreRejected) {
  std::string f = write_yaml("deployment: d\nservice: s\nmax-replica: 3\n");
  auto p = parse({"--config", f});
  EXPECT_TRUE(p.exit);
  EXPECT_NE(p.message.find("unknown key 'max-replica'"), std::string::npos) << p.message;
  std::ofstream(f) << "deployment: [a, b]\n";
  p = parse({"--config", f});
  EXPECT_NE(p.message.find("must be a scalar"), std::string::npos) << p.message;
  std::ofstream(f) << "- just\n- a list\n";
  p = parse({"--config", f});
  EXPECT_NE(p.message.find("expected a mapping"), std::string::npos) << p.message;
  std::remove(f.c_str());
}

TEST(RunConfig, HelpExitsZero) {
  auto p = parse({"--help"});
  EXPECT_TRUE(p.exit);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.message.find("--scale-down-window"), std::string::npos);
  EXPECT_NE(run_help().find("--dry-run"), std::string::npos);
}

TEST(Durations, Forms) {
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("15"), 15);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("2.5"), 2.5);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("15s"), 15);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("500ms"), 0.5);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1m30s"), 90);
  EXPECT_DOUBLE_EQ(*parse_duration_seconds("1h"), 3600);
  EXPECT_FALSE(parse_duration_seconds("").ok());
  EXPECT_FALSE(parse_duration_seconds("-1").ok());
  EXPECT_FALSE(parse_duration_seconds("5 minutes").ok());
  EXPECT_FALSE(parse_duration_seconds("5d").ok());
  EXPECT_FALSE(parse_duration_seconds("s").ok());
}

}  // namespace
}  // namespace turbine::autoscaler
