// ScalePolicy: how many engine replicas the Deployment should have. Pure: no I/O and no
// clock of its own (every input carries `now`), so scenario tests drive it on a fake clock
// and the simulator replays hours of traffic in milliseconds.
//
// The rule (docs/ARCHITECTURE.md, "Autoscaler policy"):
//   ratio   = max(mean waiting / target_waiting, mean kv_usage / target_kv) over ready pods
//   desired = ceil(ready × ratio)
// Memory pressure shows as KV usage, not raw device memory (the KV pool is preallocated),
// so a pod that preempts (KV ran out) or whose free device memory is below a floor is
// "saturated": it counts as full (kv 1.0) and asks for one more replica of its own.
// Around that rule sit the guards that keep it from hurting the service:
//   - tolerance band: |ratio − 1| ≤ tolerance holds (no churn on noise);
//   - scale-up rate limit: at most max(×factor, +step) relative to the replica count at
//     the start of the scale-up period (pods cost minutes to start; do not overshoot);
//   - pending-pod guard: no scale-up while pods from an earlier scale-up are still
//     starting — their capacity is on its way — unless the total queue has doubled since
//     (panic mode: the earlier step was too small);
//   - scale-down stabilization: the highest recommendation of the window wins, and a
//     scale-down rate limit (percent per period) bounds each step;
//   - no scale-down on missing or stale data, nor while pods are starting: the absence of
//     numbers is not evidence of idleness;
//   - no change at all while the Deployment rolls out (its surge pods and old ReplicaSet
//     make the counts meaningless, and a resize mid-rollout fights the operator);
//   - min/max clamps apply last and always win.
#pragma once
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/demand_model.h"

namespace turbine::autoscaler {

struct PolicyConfig {
  int min_replicas = 1;
  int max_replicas = 10;
  double target_waiting = 4.0;  // waiting requests per pod
  double target_kv = 0.8;       // KV-cache usage ratio per pod
  double tolerance = 0.1;
  double kv_free_floor_bytes = 0;  // 0: the device-memory floor is off
  Seconds scale_up_period{15};
  double scale_up_factor = 2.0;  // ×2 ...
  int scale_up_step = 4;         // ... or +4, whichever is larger
  Seconds scale_down_window{120};
  Seconds scale_down_period{60};
  double scale_down_percent = 50;  // at most this share of replicas removed per period
  Seconds max_data_age{60};        // older pod samples count as missing
  // The capacity model (sidecar/demand_model.h); its target_kv is target_kv above.
  DemandConfig demand;
  // Capacity model only: the need remembered for scale-down decays with this time constant
  // from its peak. A need that falls slower than that is followed at once; after a sharp
  // peak the capacity comes down gradually, ready for the next one (0: off).
  Seconds peak_decay{600};

  // Empty when valid, else what is wrong (for exit-2 config errors).
  std::string validate() const;
};

// One ready pod as the scraper saw it.
struct PodObservation {
  std::string pod;
  bool scraped = false;  // false: the scrape failed or the page lacked the metrics
  TimePoint observed_at{};
  double waiting = 0;
  double running = 0;
  double kv_usage = 0;
  double preemptions_per_second = 0;
  std::optional<double> free_device_bytes;
  // Rates of turbine_requests_total and turbine_prompt_tokens_total since the last scrape
  // (unknown on a pod's first scrape), and turbine_prefill_tokens_waiting.
  std::optional<double> finished_per_second;
  std::optional<double> prompt_tokens_per_second;
  std::optional<double> prefill_tokens_waiting;
};

struct PolicyInput {
  TimePoint now{};
  int current_replicas = 0;          // the Deployment's spec.replicas
  int ready_replicas = 0;            // ready endpoints of the Service
  int starting_replicas = 0;         // pods created but not ready yet (Pending or not ready)
  std::vector<PodObservation> pods;  // one per ready endpoint
  // Non-empty while the Deployment rolls out (why): hold, do not fight the rollout.
  std::string rollout;
};

enum class Direction { kHold, kUp, kDown };
std::string_view to_string(Direction d);

// The rule that decided a hold or limited a change (none: the recommendation went through).
enum class Guard {
  kNone,
  kTolerance,      // load within the tolerance band of the target
  kNoData,         // no fresh metrics from any ready pod
  kMissingData,    // some ready pods without fresh metrics: no scale-down
  kStarting,       // pods still starting: no scale-down
  kPendingPods,    // pods from an earlier scale-up still starting: no scale-up (unless panic)
  kStabilization,  // a higher recommendation within the scale-down window
  kRateLimit,      // the change was cut to the scale-up or scale-down rate limit
  kClamp,          // min/max replicas
  kRollout,        // the Deployment is rolling out
};
// "", "tolerance", "no_data", "missing_data", "starting", "pending_pods", "stabilization",
// "rate_limit", "clamp", "rollout" (log fields and Event text).
std::string_view to_string(Guard g);

struct Decision {
  Direction direction = Direction::kHold;
  int current = 0;
  int desired = 0;
  int recommendation = 0;  // the rule's answer before guards and limits (clamped)
  double ratio = 0;
  double mean_waiting = 0;
  double mean_kv_usage = 0;
  double preemptions_per_second = 0;  // sum over pods
  int ready = 0;
  int fresh_pods = 0;
  int missing_pods = 0;
  int saturated_pods = 0;
  int starting = 0;
  bool panic = false;
  // The capacity model decided (the pods export rates), or the ratio rule (they do not yet).
  bool capacity_model = false;
  Need need;
  Guard guard = Guard::kNone;
  std::string reason;  // one sentence a person reading an Event understands
};

class ScalePolicy {
 public:
  explicit ScalePolicy(PolicyConfig config)
      : cfg_(std::move(config)), demand_(with_target_kv(cfg_)) {}

  // Decides and remembers the decision as applied (rate limits and stabilization are
  // relative to what this policy asked for; if the write fails, the next input's
  // current_replicas tells the truth again). In four steps: measure the pods, recommend a
  // size by the rule, then let the guards of the direction it points in hold or limit it.
  Decision decide(const PolicyInput& in);

  const PolicyConfig& config() const { return cfg_; }

  // Seeds the stabilization window, e.g. with the current size when this instance just
  // became leader: a new leader has no history and must not read that as "idle since".
  void remember(TimePoint at, int replicas) { recommendations_.push_back({at, replicas}); }

 private:
  struct Recommendation {
    TimePoint at;
    int replicas;
  };
  struct Change {
    TimePoint at;
    int from;
    int to;
  };

  // What the fresh pod samples say.
  struct Measurement {
    int fresh = 0, saturated = 0, ready = 0, missing = 0;
    double sum_waiting = 0, sum_kv = 0, preemptions_per_second = 0;
    FleetLoad fleet;    // the capacity model's input
    int with_rates = 0;  // fresh pods that export the counters it needs
    bool complete() const { return fresh > 0 && missing == 0; }
  };

  Measurement measure(const PolicyInput& in) const;
  // The rule's answer (d.recommendation, clamped) and why; remembered for stabilization.
  void recommend(const PolicyInput& in, const Measurement& m, Decision& d);
  // Holds or limits a scale-up; returns the size to apply, or nullopt when d is a hold.
  std::optional<int> guard_up(const PolicyInput& in, const Measurement& m, Decision& d);
  std::optional<int> guard_down(const PolicyInput& in, const Measurement& m, Decision& d);
  // Clamps `desired`, records the change for the rate limits, sets the direction.
  void apply(const PolicyInput& in, const Measurement& m, int desired, Decision& d);

  static DemandConfig with_target_kv(const PolicyConfig& c) {
    DemandConfig d = c.demand;
    d.target_kv = c.target_kv;
    return d;
  }
  int clamp(int n) const;
  void prune(TimePoint now);

  PolicyConfig cfg_;
  std::deque<Recommendation> recommendations_;  // for scale-down stabilization
  std::deque<Change> ups_;                      // for the scale-up rate limit
  std::deque<Change> downs_;                    // for the scale-down rate limit
  // Total waiting requests when the current starting episode began (the last scale-up, or
  // the first tick that found pods starting): the panic-mode baseline.
  std::optional<double> starting_baseline_;
  DemandModel demand_;
  int last_fresh_ = 0;
  double peak_need_ = 0;  // decayed (peak_decay)
  std::optional<TimePoint> peak_at_;
};

}  // namespace turbine::autoscaler
