// DemandModel: how many replicas the offered load needs, from what the engines export
// (docs/ARCHITECTURE.md, "Autoscaler policy"). Pure: every sample carries its time.
//
// A continuous-batching engine is a pool of sequence slots: a request holds one from
// admission to its last token, and it waits (and misses its TTFT target) only when every
// slot is taken, or when prompts ahead of it still have to be prefilled. So the model sizes
// two things, each from the fleet's own metrics:
//   - slots: by Little's law the load holds D = λ × W slots, where λ is the arrival rate
//     (finished requests per second plus the growth of the requests in the system) and W
//     the time a request runs (running / finished per second). λ is forecast over the
//     horizon a new pod needs to start, from the trend of the last few minutes, so a ramp is
//     met before it hurts; a queue adds the slots that drain it within drain_time. Slots
//     become replicas by square-root staffing, D + β√D slots (a fleet of a few pods needs
//     relatively more spare than a large one for the same queueing delay), at a pod's
//     slot capacity: max_running, or fewer when KV-cache space runs out first
//     (target_kv × running / KV usage).
//   - prefill: prompt tokens per second (λ × prompt tokens per request, both measured, plus
//     the prefill backlog over drain_time) over what one pod prefills per second (a knob:
//     the admission rate only shows it while prefill is the bottleneck, which slots hide),
//     at target_prefill utilisation: long prompts fill the queue time, not the batch.
// The need is the larger of the two, as a real number of replicas.
#pragma once
#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <utility>

namespace turbine::autoscaler {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Seconds = std::chrono::duration<double>;

struct DemandConfig {
  int max_running = 64;            // sequences a pod runs at once (the engine's --max-running)
  double target_kv = 0.8;          // KV-cache usage a pod is sized to
  double headroom = 1.0;           // β of square-root staffing
  Seconds forecast_horizon{90};    // arrival trend projected this far (pod start-up + a period)
  Seconds trend_window{180};       // the trend is fitted over this much history
  Seconds drain_time{30};          // a backlog (queue, prefill) should be gone within this
  Seconds smoothing{30};           // time constant of the rate averages
  // What one pod prefills per second at a full batch (bench/serving measures it); 0 leaves
  // the prefill dimension out.
  double prefill_tokens_per_second = 0;
  double target_prefill = 0.5;           // prefill utilisation a pod is sized to
};

// Sums over the pods with fresh samples.
struct FleetLoad {
  TimePoint now{};
  int pods = 0;
  double running = 0;
  double waiting = 0;
  double kv_sum = 0;  // sum of per-pod KV usage ratios
  double finished_per_second = 0;
  double prompt_tokens_per_second = 0;
  double prefill_tokens_waiting = 0;
  bool fewer_pods = false;  // pods left since the last sample (their requests left with them)
};

struct Need {
  double replicas = 0;  // the larger of the two below
  double slot_replicas = 0;
  double prefill_replicas = 0;
  double arrival_rate = 0;   // requests per second, smoothed
  double forecast_rate = 0;  // at the end of the horizon
  double trend = 0;          // requests per second per second
  double run_seconds = 0;    // W
  double slots = 0;          // D, before headroom
  double slots_per_pod = 0;
  double prefill_capacity = 0;  // tokens per second per pod (0: not known yet)
  std::string why;
};

class DemandModel {
 public:
  explicit DemandModel(DemandConfig cfg) : cfg_(cfg) {}

  Need update(const FleetLoad& f);

  const DemandConfig& config() const { return cfg_; }

 private:
  double smooth(double prev, double x, double dt) const;
  double observe(const FleetLoad& f);
  void size_slots(const FleetLoad& f, Need& n) const;
  void size_prefill(const FleetLoad& f, Need& n) const;
  double trend(TimePoint now) const;

  DemandConfig cfg_;
  std::optional<TimePoint> last_at_;
  double last_in_system_ = 0;
  double arrival_ = 0, running_ = 0, finished_ = 0, prompt_ = 0;
  double run_seconds_ = 0;  // last known W
  std::deque<std::pair<double, double>> arrivals_;  // (seconds, instantaneous λ)
};

}  // namespace turbine::autoscaler
