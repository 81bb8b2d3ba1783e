#include "sidecar/run_command.h"

#include <algorithm>
#include <thread>

#include "sidecar/controller.h"
#include "sidecar/k8s_client.h"
#include "sidecar/kube_objects.h"
#include "sidecar/leader_elector.h"
#include "base/log.h"
#include "sidecar/sidecar_metrics.h"
#include "sidecar/status_server.h"

#ifndef TURBINE_AUTOSCALER_VERSION
#define TURBINE_AUTOSCALER_VERSION "dev"
#endif

namespace turbine::autoscaler {

int run_autoscaler(const RunConfig& config, const std::atomic<bool>& stop) {
  RunConfig cfg = config;
  Logger log(cfg.log_json);

  auto cluster = cfg.kubeconfig.empty() ? load_in_cluster(service_account_dir())
                                        : load_kubeconfig(cfg.kubeconfig);
  if (!cluster) {
    log.error("config_error", {{"error", cluster.error()}});
    std::fprintf(stderr, "turbine-autoscaler: %s\n", cluster.error().c_str());
    return 2;
  }
  if (cfg.namespace_name.empty()) cfg.namespace_name = cluster->namespace_name;
  if (cfg.namespace_name.empty()) cfg.namespace_name = "default";

  // No call may outlive the renew deadline: a hung request must not hold up a step-down.
  auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::min<Seconds>(Seconds(10), std::max<Seconds>(Seconds(1), cfg.renew_deadline)));
  K8sClient client(
      *cluster,
      std::string("turbine-autoscaler/") + TURBINE_AUTOSCALER_VERSION + " (" + cfg.identity + ")",
      timeout);
  metrics::Registry& registry = metrics::default_registry();
  SidecarMetrics m(registry);
  ClusterApi api(client, cfg.namespace_name, cfg.deployment, cfg.service, &m, log);

  LeaseTimings timings{cfg.lease_duration, cfg.renew_deadline, cfg.retry_period};
  LeaderElector elector(
      client, cfg.namespace_name, cfg.lease_name, cfg.identity, timings, log,
      [&m](const std::string& op) { m.api_error(op); },
      [&m](bool leader) { m.leader.set(leader ? 1 : 0); });
  Controller controller(cfg, api, m, log, [&elector] { return elector.is_leader(); });

  // Healthy while ticks keep coming; a tick may legitimately take a scrape timeout plus a
  // few API calls with retries, hence the generous margin.
  auto stall_limit = std::chrono::duration_cast<Clock::duration>(
      Seconds(3 * cfg.interval.count() + cfg.scrape_timeout.count() + 60));
  auto started = Clock::now().time_since_epoch().count();
  StatusServer status(registry, [&] {
    int64_t last = controller.last_tick_ns();
    if (last == 0) last = started;
    return Clock::now().time_since_epoch().count() - last < stall_limit.count();
  });
  if (Status st = status.start(cfg.listen); !st.ok()) {
    log.error("listen_failed", {{"error", st.error()}});
    return 1;
  }

  log.info("started", {{"version", TURBINE_AUTOSCALER_VERSION},
                       {"namespace", cfg.namespace_name},
                       {"deployment", cfg.deployment},
                       {"service", cfg.service},
                       {"lease", cfg.lease_name},
                       {"identity", cfg.identity},
                       {"server", cluster->server},
                       {"listen", cfg.listen + " (port " + std::to_string(status.port()) + ")"},
                       {"dry_run", cfg.dry_run ? "true" : "false"}});
  elector.start();
  auto period = std::chrono::duration_cast<Clock::duration>(cfg.interval);
  auto next = Clock::now();
  while (!stop) {
    if (Clock::now() >= next) {
      next += period;
      controller.tick();
      // After a long tick, do not fire a burst of catch-up ticks.
      if (next < Clock::now()) next = Clock::now() + period;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  log.info("stopping", {});
  elector.stop(/*release=*/true);
  m.leader.set(0);
  status.stop();
  return 0;
}

}  // namespace turbine::autoscaler
