// The leader's decision loop: one tick per --interval reads the Deployment, holds while a
// rollout runs, lists ready endpoints, scrapes them, asks the ScalePolicy and writes
// deployments/NAME/scale (unless --dry-run). Followers only export leader=0.
#pragma once
#include <atomic>
#include <functional>
#include <string>

#include "sidecar/config.h"
#include "sidecar/engine_load.h"
#include "sidecar/kube_objects.h"
#include "base/log.h"
#include "sidecar/scale_policy.h"
#include "sidecar/sidecar_metrics.h"

namespace turbine::autoscaler {

class Controller {
 public:
  Controller(const RunConfig& config, ClusterApi& api, SidecarMetrics& metrics, Logger& log,
             std::function<bool()> is_leader);

  void tick();

  // Steady-clock nanoseconds of the last finished tick (for /healthz).
  int64_t last_tick_ns() const { return last_tick_ns_.load(); }

 private:
  void export_decision(const Decision& d);
  void act(const DeploymentInfo& dep, const Decision& d);
  static std::string summary(const Decision& d);

  const RunConfig& cfg_;
  ClusterApi& api_;
  SidecarMetrics& m_;
  Logger& log_;
  std::function<bool()> is_leader_;
  ScalePolicy policy_;
  CounterRates rates_;
  bool was_leader_ = false;
  Guard last_hold_ = Guard::kNone;  // guard of the last hold Event, so holds are not re-announced
  std::atomic<int64_t> last_tick_ns_{0};
};

}  // namespace turbine::autoscaler
