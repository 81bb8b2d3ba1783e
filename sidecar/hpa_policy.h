// The baseline the simulator compares against: what a HorizontalPodAutoscaler on CPU
// utilisation would do, with the HPA's defaults — 70% target, 10% tolerance, scale-up
// max(100%, 4 pods) per 15 s with no stabilization, scale-down stabilized over 300 s,
// not-yet-ready pods assumed idle on scale-up. "Utilisation" is the replica's batch
// occupancy (time-weighted running sequences / max batch): the compute it spends as a share
// of what it could do. That is a generous stand-in for CPU utilisation — it is proportional
// to load, where a raw busy fraction would read 100% as soon as one request runs (a decoder
// is never idle while it has a sequence) — but like every utilisation signal it tops out at
// 100% however long the queue behind it grows, and it cannot see KV-cache pressure.
//
// The same algorithm on another per-pod metric is the queue baseline: an HPA (or KEDA's
// generated HPA) on turbine_requests_waiting with an AverageValue target per pod, where
// `target_utilisation` is that target and the values are each pod's waiting requests.
#pragma once
#include <deque>
#include <string>
#include <vector>

#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {

struct HpaConfig {
  int min_replicas = 1;
  int max_replicas = 10;
  double target_utilisation = 0.7;
  double tolerance = 0.1;
  Seconds scale_down_window{300};
  Seconds scale_up_period{15};
};

class HpaPolicy {
 public:
  explicit HpaPolicy(HpaConfig cfg) : cfg_(cfg) {}

  // `utilisation`: one value per ready pod (in [0, 1] for utilisation). Returns the desired replicas;
  // `reason` explains it.
  int decide(TimePoint now, int current, int starting, const std::vector<double>& utilisation,
             std::string& reason);

 private:
  HpaConfig cfg_;
  std::deque<std::pair<TimePoint, int>> recommendations_;
  std::deque<std::pair<TimePoint, int>> ups_;  // (time, replicas before)
};

}  // namespace turbine::autoscaler
