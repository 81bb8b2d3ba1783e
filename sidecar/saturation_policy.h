// A baseline the simulator compares against: llm-d's saturation rule (the workload-variant
// autoscaler's saturation analyzer, with its defaults). A replica is saturated when its KV
// usage is >= 0.8 or its queue >= 5. Over the non-saturated replicas, spare KV = 0.8 - kv
// and spare queue = 5 - waiting, averaged; scale up by one replica when the average spare
// KV < 0.1 or the average spare queue < 3 (or when every replica is saturated), unless a
// replica is still starting (pending replicas count as capacity on its way). Scale down by
// one when the non-saturated replicas' load spread over one replica fewer still leaves both
// spares above their triggers and none is saturated. Its recommendations then pass an HPA
// with default behaviour, as in llm-d's deployment: scale-down stabilized over 300 s.
#pragma once
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {

struct SaturationConfig {
  int min_replicas = 1;
  int max_replicas = 10;
  double kv_threshold = 0.8;
  double queue_threshold = 5;
  double kv_spare_trigger = 0.1;
  double queue_spare_trigger = 3;
  Seconds scale_down_window{300};
};

struct PodLoad {
  double waiting = 0;
  double kv_usage = 0;
};

class SaturationPolicy {
 public:
  explicit SaturationPolicy(SaturationConfig cfg) : cfg_(cfg) {}

  // `pods`: one per ready pod. Returns the desired replicas; `reason` explains it.
  int decide(TimePoint now, int current, int starting, const std::vector<PodLoad>& pods,
             std::string& reason);

 private:
  SaturationConfig cfg_;
  std::deque<std::pair<TimePoint, int>> recommendations_;
};

}  // namespace turbine::autoscaler
