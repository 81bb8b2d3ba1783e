// The real turbine-autoscaler binary against an in-process fake Kubernetes API server and
// fake engine pods. Timings are shrunk by flags (0.2 s decisions, 2 s leases); every wait
// polls for an observable effect with a generous timeout, and every "it did not happen"
// check first waits for proof that the sidecar kept running (more lease calls, more
// decisions), never for a fixed time.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "fake_cluster.h"
#include "sidecar_process.h"

namespace turbine::autoscaler::testing {
namespace {

class AutoscalerIntegration : public ::testing::Test {
 protected:
  void SetUp() override {
    kubeconfig_ = dir_.write("kubeconfig", R"(apiVersion: v1
kind: Config
current-context: test
clusters:
- name: fake
  cluster: {server: ")" + kube_.url() + R"("}
contexts:
- name: test
  context: {cluster: fake, user: robot, namespace: llm}
users:
- name: robot
  user: {token: test-token}
)");
  }

  void add_pods(int n) {
    pods_ = std::make_unique<FakePods>(n);
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.endpoints.clear();
    for (int i = 0; i < n; ++i) kube_.endpoints.emplace_back(pods_->ip(i), pods_->name(i));
  }

  struct Sidecar {
    std::unique_ptr<SidecarProcess> proc;
    int port = 0;
    std::string identity;
  };

  Sidecar start(const std::string& identity, std::vector<std::string> extra = {}) {
    Sidecar s;
    s.identity = identity;
    s.port = free_port();
    std::vector<std::string> args = {
        "run",
        "--kubeconfig",
        kubeconfig_,
        "--deployment",
        FakeKube::kDeployment,
        "--service",
        FakeKube::kService,
        "--metrics-port",
        std::to_string(pods_->port()),
        "--identity",
        identity,
        "--listen",
        "127.0.0.1:" + std::to_string(s.port),
    };
    for (auto& a : fast_timing_args()) args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    s.proc = std::make_unique<SidecarProcess>(args, dir_.path() + "/" + identity + ".log");
    EXPECT_TRUE(eventually([&] {
      return sidecar_metrics(s.port).has_value() || !s.proc->running();
    })) << s.proc->log();
    EXPECT_TRUE(s.proc->running()) << s.proc->log();
    return s;
  }

  double m(const Sidecar& s, const std::string& name, const std::string& key = "",
           const std::string& value = "") {
    auto t = sidecar_metrics(s.port);
    return t ? metric(*t, name, key, value) : -1;
  }

  bool is_leader(const Sidecar& s) { return m(s, "turbine_autoscaler_leader") == 1; }

  // Waits until the sidecar has made `n` more Lease calls: proof it is alive and looping.
  void let_it_run(int n) {
    int base = kube_.lease_call_count();
    ASSERT_TRUE(eventually([&] { return kube_.lease_call_count() >= base + n; }));
  }

  FakeKube kube_;
  std::unique_ptr<FakePods> pods_;
  TempDir dir_;
  std::string kubeconfig_;
};

TEST_F(AutoscalerIntegration, TheLeaderScalesTheDeploymentAndTheOtherSidecarDoesNot) {
  add_pods(2);
  pods_->set_all(12, 0.5);  // ratio 3 over 2 pods: 6 wanted, ×2/+4 allows 6
  Sidecar a = start("pod-a");
  Sidecar b = start("pod-b");

  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); }))
      << a.proc->log() << b.proc->log();
  std::string leader = kube_.lease_holder();
  ASSERT_TRUE(leader == "pod-a" || leader == "pod-b") << leader;
  const Sidecar& L = leader == "pod-a" ? a : b;
  const Sidecar& F = leader == "pod-a" ? b : a;

  auto writes = kube_.scale_writes();
  EXPECT_EQ(writes[0].replicas, 6);
  EXPECT_NE(writes[0].user_agent.find("(" + leader + ")"), std::string::npos)
      << writes[0].user_agent;

  // One Event for the decision, with its reason and inputs, from the leader.
  ASSERT_TRUE(eventually([&] { return !kube_.events_with_reason("ScaledUp").empty(); }));
  json ev = kube_.events_with_reason("ScaledUp")[0];
  std::string msg = ev["message"];
  EXPECT_NE(msg.find("replicas 2 -> 6"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mean_waiting=12"), std::string::npos) << msg;
  EXPECT_EQ(ev["involvedObject"]["kind"], "Deployment");
  EXPECT_EQ(ev["involvedObject"]["name"], "turbine");
  EXPECT_EQ(ev["involvedObject"]["uid"], "uid-turbine");
  EXPECT_EQ(ev["reportingInstance"], leader);
  EXPECT_EQ(ev["type"], "Normal");

  // Both export who leads; only the leader decides.
  ASSERT_TRUE(eventually([&] { return is_leader(L) && m(F, "turbine_autoscaler_leader") == 0; }));
  let_it_run(10);
  EXPECT_EQ(m(F, "turbine_autoscaler_decisions_total", "direction", "up"), 0);
  EXPECT_EQ(m(F, "turbine_autoscaler_decisions_total", "direction", "hold"), 0);
  EXPECT_GE(m(L, "turbine_autoscaler_decisions_total", "direction", "up"), 1);
  EXPECT_EQ(m(L, "turbine_autoscaler_desired_replicas"), 6);
  EXPECT_EQ(m(L, "turbine_autoscaler_input", "name", "waiting_mean"), 12);
  for (const auto& w : kube_.scale_writes()) {
    EXPECT_NE(w.user_agent.find("(" + leader + ")"), std::string::npos) << w.user_agent;
  }
  // 4 new pods are starting (6 wanted, 2 ready) and the 2 ready ones still ask for 6:
  // nothing more to write, by anyone.
  EXPECT_EQ(kube_.scale_writes().size(), 1u);
  EXPECT_EQ(kube_.events_with_reason("ScaledUp").size(), 1u);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    for (const auto& e : kube_.events) EXPECT_EQ(e["reportingInstance"], leader) << e.dump();
  }

  auto health = http_get(F.port, "/healthz");
  ASSERT_TRUE(health.has_value());
  EXPECT_EQ((*health)->status, 200);

  // The leader hands the lease back on SIGTERM; the other takes over without waiting out
  // the lease.
  EXPECT_EQ(L.proc->stop(), 0) << L.proc->log();
  ASSERT_TRUE(eventually([&] { return kube_.lease_holder() == F.identity && is_leader(F); }))
      << F.proc->log();
}

TEST_F(AutoscalerIntegration, EnginesThatExportCountersAreSizedByTheCapacityModel) {
  // Two engines, no queue, KV at 0.3 (the ratio rule would not scale up), each running 80
  // requests and finishing 4 a second: W = 20 s, 8 req/s hold 160 slots, with headroom
  // 172.6, at 64 per engine: 2.7, so 3 replicas.
  add_pods(2);
  pods_->set_all(0, 0.3);
  for (int i = 0; i < 2; ++i) pods_->set_throughput(i, 80, 4);
  Sidecar a = start("pod-a", {"--max-running", "64"});
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
  EXPECT_EQ(kube_.scale_writes()[0].replicas, 3) << a.proc->log();
  ASSERT_TRUE(eventually([&] { return !kube_.events_with_reason("ScaledUp").empty(); }));
  std::string msg = kube_.events_with_reason("ScaledUp")[0]["message"];
  EXPECT_NE(msg.find("replicas 2 -> 3"), std::string::npos) << msg;
  const size_t at = msg.find("need ");
  ASSERT_NE(at, std::string::npos) << msg;
  const double need = std::stod(msg.substr(at + 5));
  EXPECT_NEAR(need, 2.70, 0.1) << msg;
  EXPECT_NE(msg.find("req/s forecast"), std::string::npos) << msg;
  EXPECT_NE(msg.find("slots at 64.0 per pod"), std::string::npos) << msg;
  // The model's inputs are on the sidecar's /metrics for the dashboard.
  EXPECT_NEAR(m(a, "turbine_autoscaler_input", "name", "arrival_rate"), 8, 0.5);
  EXPECT_NEAR(m(a, "turbine_autoscaler_input", "name", "run_seconds"), 20, 1);
  EXPECT_EQ(m(a, "turbine_autoscaler_input", "name", "slots_per_pod"), 64);
}

TEST_F(AutoscalerIntegration, ConflictsAndServerErrorsAreRetried) {
  add_pods(2);
  pods_->set_all(12, 0.5);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.scale_get_faults = {500};
    kube_.scale_put_faults = {409, 500, 503};
  }
  Sidecar a = start("pod-a");
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
  EXPECT_EQ(kube_.scale_writes()[0].replicas, 6);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    EXPECT_EQ(kube_.scale_puts, 4);  // 409, 500, 503, then success
    EXPECT_EQ(kube_.scale_gets, 5);  // 500, then a fresh read before every PUT
  }
  ASSERT_TRUE(eventually([&] { return kube_.events_with_reason("ScaledUp").size() == 1; }));
  EXPECT_TRUE(kube_.events_with_reason("FailedScale").empty());
  EXPECT_EQ(m(a, "turbine_autoscaler_api_errors_total", "op", "update_scale"), 3);
  EXPECT_EQ(m(a, "turbine_autoscaler_api_errors_total", "op", "get_scale"), 1);
}

TEST_F(AutoscalerIntegration, PersistentServerErrorsGiveUpWithAWarningEvent) {
  add_pods(2);
  pods_->set_all(12, 0.5);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.scale_put_faults = std::deque<int>(5, 500);
  }
  Sidecar a = start("pod-a");
  ASSERT_TRUE(eventually([&] { return !kube_.events_with_reason("FailedScale").empty(); }))
      << a.proc->log();
  json ev = kube_.events_with_reason("FailedScale")[0];
  EXPECT_EQ(ev["type"], "Warning");
  EXPECT_NE(std::string(ev["message"]).find("giving up after 5 attempts"), std::string::npos)
      << ev["message"];
  // The next decision tries again, and succeeds.
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
  EXPECT_EQ(kube_.scale_writes()[0].replicas, 6);
}

TEST_F(AutoscalerIntegration, ALostLeaseStopsActuation) {
  add_pods(2);
  pods_->set_all(4, 0.5);  // at target: hold
  Sidecar a = start("pod-a");
  ASSERT_TRUE(eventually([&] { return is_leader(a); })) << a.proc->log();

  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.intruder = true;  // someone else holds the lease now, and keeps renewing it
  }
  ASSERT_TRUE(eventually([&] { return m(a, "turbine_autoscaler_leader") == 0; })) << a.proc->log();
  pods_->set_all(40, 0.9);  // a burst the leader would act on
  let_it_run(15);
  EXPECT_TRUE(kube_.scale_writes().empty());
  EXPECT_TRUE(kube_.events_with_reason("ScaledUp").empty());
  EXPECT_NE(a.proc->log().find("leader_lost"), std::string::npos);

  // Control: once the lease is free again the same sidecar acts on the same burst.
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.intruder = false;
    (*kube_.lease)["spec"]["holderIdentity"] = "";
  }
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
}

TEST_F(AutoscalerIntegration, ALeaderThatCannotRenewStepsDown) {
  add_pods(2);
  pods_->set_all(4, 0.5);
  Sidecar a = start("pod-a");
  ASSERT_TRUE(eventually([&] { return is_leader(a); })) << a.proc->log();
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.lease_down = true;  // Lease calls fail; the rest of the API works
  }
  ASSERT_TRUE(eventually([&] { return m(a, "turbine_autoscaler_leader") == 0; })) << a.proc->log();
  pods_->set_all(40, 0.9);
  let_it_run(15);
  EXPECT_TRUE(kube_.scale_writes().empty()) << a.proc->log();
  EXPECT_GE(m(a, "turbine_autoscaler_api_errors_total", "op", "get_lease"), 1);
}

TEST_F(AutoscalerIntegration, ScrapeFailuresNeverCauseAScaleDown) {
  add_pods(4);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.replicas = 4;
  }
  pods_->set_all(0, 0);  // idle: complete data would scale down
  pods_->set_mode(1, PodMode::kError500);
  pods_->set_mode(2, PodMode::kGarbage);
  pods_->set_mode(3, PodMode::kSlow);  // past the scrape timeout
  Sidecar a = start("pod-a", {"--scale-down-window", "0.5", "--max-data-age", "1"});
  ASSERT_TRUE(eventually([&] {
    return m(a, "turbine_autoscaler_decisions_total", "direction", "hold") >= 5;
  })) << a.proc->log();
  EXPECT_TRUE(kube_.scale_writes().empty());
  EXPECT_GE(m(a, "turbine_autoscaler_scrape_errors_total"), 15);
  EXPECT_EQ(m(a, "turbine_autoscaler_input", "name", "missing_pods"), 3);
  EXPECT_EQ(m(a, "turbine_autoscaler_decisions_total", "direction", "down"), 0);
  // One Event for the hold episode, not one per tick.
  auto holds = kube_.events_with_reason("ScaleHold");
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_NE(std::string(holds[0]["message"]).find("no scale-down on missing or stale metrics"),
            std::string::npos)
      << holds[0]["message"];

  // Every scrape failing is no data at all: still no scale-down.
  pods_->set_mode(0, PodMode::kNoMetrics);
  double holds_before = m(a, "turbine_autoscaler_decisions_total", "direction", "hold");
  ASSERT_TRUE(eventually([&] {
    return m(a, "turbine_autoscaler_decisions_total", "direction", "hold") >= holds_before + 5;
  }));
  EXPECT_TRUE(kube_.scale_writes().empty());

  // Control: with complete data the same idle pods do get scaled down (by at most 50%).
  pods_->set_all_modes(PodMode::kOk);
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
  EXPECT_EQ(kube_.scale_writes()[0].replicas, 2);
  ASSERT_TRUE(eventually([&] { return !kube_.events_with_reason("ScaledDown").empty(); }));
}

TEST_F(AutoscalerIntegration, DryRunWritesNothing) {
  add_pods(2);
  pods_->set_all(12, 0.5);
  Sidecar a = start("pod-a", {"--dry-run"});
  ASSERT_TRUE(eventually([&] {
    return m(a, "turbine_autoscaler_decisions_total", "direction", "up") >= 5;
  })) << a.proc->log();
  EXPECT_EQ(m(a, "turbine_autoscaler_desired_replicas"), 6);
  EXPECT_EQ(m(a, "turbine_autoscaler_current_replicas"), 2);
  std::lock_guard<std::mutex> l(kube_.mu);
  EXPECT_TRUE(kube_.writes.empty());
  EXPECT_EQ(kube_.scale_puts, 0);
  EXPECT_EQ(kube_.scale_gets, 0);
  EXPECT_TRUE(kube_.events.empty());
  EXPECT_EQ(kube_.replicas, 2);
  EXPECT_NE(a.proc->log().find("dry_run=true"), std::string::npos);
}

TEST_F(AutoscalerIntegration, ARolloutInProgressHolds) {
  add_pods(2);
  pods_->set_all(40, 0.9);
  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.updated_replicas_lag = 1;  // 1 of 2 pods still on the old template
  }
  Sidecar a = start("pod-a");
  ASSERT_TRUE(eventually([&] {
    return m(a, "turbine_autoscaler_decisions_total", "direction", "hold") >= 5;
  })) << a.proc->log();
  EXPECT_EQ(m(a, "turbine_autoscaler_rollout_in_progress"), 1);
  EXPECT_TRUE(kube_.scale_writes().empty());
  auto holds = kube_.events_with_reason("ScaleHold");
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_NE(std::string(holds[0]["message"]).find("rollout in progress"), std::string::npos)
      << holds[0]["message"];

  {
    std::lock_guard<std::mutex> l(kube_.mu);
    kube_.updated_replicas_lag = 0;  // rollout done: the burst is acted on
  }
  ASSERT_TRUE(eventually([&] { return !kube_.scale_writes().empty(); })) << a.proc->log();
  EXPECT_EQ(m(a, "turbine_autoscaler_rollout_in_progress"), 0);
}

TEST_F(AutoscalerIntegration, BadCredentialsConfigExitsTwo) {
  add_pods(1);
  std::string bad = dir_.write("bad-kubeconfig", "current-context: nope\n");
  SidecarProcess p(
      {"--kubeconfig", bad, "--deployment", "d", "--service", "s", "--listen", "127.0.0.1:0"},
      dir_.path() + "/bad.log");
  ASSERT_TRUE(eventually([&] { return !p.running(); })) << p.log();
  EXPECT_EQ(p.stop(), 2);
  EXPECT_NE(p.log().find("context 'nope' not found"), std::string::npos) << p.log();
}

}  // namespace
}  // namespace turbine::autoscaler::testing
