// The trace-driven simulator behind `turbine-autoscaler simulate`: replays a request trace
// through N modelled replicas on a fake clock, lets a policy resize the fleet every decision
// period with a pod start-up delay, and reports what a user and a bill would see: TTFT SLO
// misses and replica-seconds. The policies: the real ScalePolicy, and the baselines users
// run today: an HPA on utilisation (batch occupancy) at a target, an HPA/KEDA on the queue
// (turbine_requests_waiting, AverageValue target per pod) with HPA's default behaviour, and
// llm-d's saturation rule.
#pragma once
#include <string>
#include <vector>

#include "sidecar/hpa_policy.h"
#include "sidecar/saturation_policy.h"
#include "sidecar/scale_policy.h"
#include "sidecar/sim_replica.h"
#include "sidecar/trace.h"

namespace turbine::autoscaler {

enum class SimPolicyKind { kTurbine, kHpa, kQueue, kSaturation };

// One policy to replay: kHpa's target is the utilisation (0..1], kQueue's the waiting
// requests per pod; the others take theirs from SimConfig.
struct SimPolicy {
  SimPolicyKind kind = SimPolicyKind::kTurbine;
  double target = 0;
  // "turbine", "hpa-0.5", "queue-5", "llm-d" (table rows and JSON).
  std::string name() const;
};

struct SimConfig {
  ReplicaModel replica;
  double interval_s = 15;
  double slo_ttft_s = 2.0;
  double step_s = 0.05;  // routing granularity of the fake clock
  double tail_s = 300;   // keep running this long after the last arrival
  int initial_replicas = 1;
  PolicyConfig turbine;  // min/max replicas apply to every policy
  HpaConfig hpa;         // the HPA behaviour of both HPA baselines (target per SimPolicy)
  SaturationConfig saturation;
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
                   const SimPolicy& policy);

}  // namespace turbine::autoscaler
