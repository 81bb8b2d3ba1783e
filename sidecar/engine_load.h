// What the policy needs from one engine pod's /metrics page, and the per-pod counter
// bookkeeping that turns turbine_preemptions_total into a rate between two scrapes.
#pragma once
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "base/result.h"
#include "sidecar/prom_parser.h"

namespace turbine::autoscaler {

struct EngineLoad {
  double waiting = 0.0;                     // turbine_requests_waiting
  double running = 0.0;                     // turbine_requests_running
  double kv_usage = 0.0;                    // turbine_kv_cache_usage_ratio, 0..1
  std::optional<double> preemptions_total;  // turbine_preemptions_total (counter)
  // Smallest free device memory over the pod's devices (total - used), when exported.
  std::optional<double> free_device_bytes;
};

// Fails when the page lacks the two gauges the rule is built on (waiting, kv usage): a pod
// that does not export them is "missing data", never "idle".
Result<EngineLoad> engine_load_from(const PromText& text);

// Preemptions per second per pod from successive counter readings. A pod seen for the
// first time, or whose counter went down (the engine restarted), reports 0 until the next
// scrape: a rate needs two points of the same process.
class PreemptionRates {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  double update(const std::string& pod, TimePoint now, std::optional<double> total);
  // Drops pods not updated since `before` (scaled-down pods must not pin memory).
  void forget_older_than(TimePoint before);

 private:
  struct Last {
    TimePoint at;
    double total;
  };
  std::map<std::string, Last> last_;
};

}  // namespace turbine::autoscaler
