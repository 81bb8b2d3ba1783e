// The trace-driven simulator behind `turbine-autoscaler simulate`: replays a request trace
// through N modelled replicas on a fake clock, lets a policy (the real ScalePolicy, or the
// HPA-style baseline) resize the fleet every decision period with a pod start-up delay,
// and reports what a user and a bill would see: TTFT SLO misses and replica-seconds.
#pragma once
#include <string>
#include <vector>

#include "sidecar/hpa_policy.h"
#include "sidecar/scale_policy.h"
#include "sidecar/sim_replica.h"
#include "sidecar/trace.h"

namespace turbine::autoscaler {

enum class SimPolicyKind { kTurbine, kHpa };
std::string_view to_string(SimPolicyKind k);

struct SimConfig {
  ReplicaModel replica;
  double interval_s = 15;
  double slo_ttft_s = 2.0;
  double step_s = 0.05;  // routing granularity of the fake clock
  double tail_s = 300;   // keep running this long after the last arrival
  int initial_replicas = 1;
  PolicyConfig turbine;  // min/max replicas apply to both policies
  HpaConfig hpa;
};

struct SimEvent {
  double time_s = 0;
  int from = 0;
  int to = 0;
  std::string reason;
};

struct SimResult {
  std::string policy;
  long requests = 0;
  long completed = 0;
  long slo_misses = 0;  // TTFT over the target, or no first token by the end
  double ttft_p50_s = 0;
  double ttft_p99_s = 0;
  double replica_seconds = 0;
  int scale_events = 0;
  int max_replicas = 0;
  long preemptions = 0;
  double duration_s = 0;
  std::vector<SimEvent> events;
};

SimResult simulate(const std::vector<TraceRequest>& trace, const SimConfig& cfg,
                   SimPolicyKind kind);

}  // namespace turbine::autoscaler
