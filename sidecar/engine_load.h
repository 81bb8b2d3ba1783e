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
  std::optional<double> finished_total;     // turbine_requests_total, all finish reasons
  std::optional<double> prompt_tokens_total;     // turbine_prompt_tokens_total
  std::optional<double> prefill_tokens_waiting;  // turbine_prefill_tokens_waiting
  // Smallest free device memory over the pod's devices (total - used), when exported.
  std::optional<double> free_device_bytes;
};

// Fails when the page lacks the two gauges the rule is built on (waiting, kv usage): a pod
// that does not export them is "missing data", never "idle".
Result<EngineLoad> engine_load_from(const PromText& text);

// Per-second rates of one pod's counters from successive readings. A counter seen for the
// first time, or one that went down (the engine restarted), has no rate until the next
// scrape: a rate needs two points of the same process.
class CounterRates {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  std::optional<double> update(const std::string& pod, const std::string& counter, TimePoint now,
                               std::optional<double> total);
  // Drops pods not updated since `before` (scaled-down pods must not pin memory).
  void forget_older_than(TimePoint before);

 private:
  struct Last {
    TimePoint at;
    double total;
  };
  std::map<std::pair<std::string, std::string>, Last> last_;  // (pod, counter)
};

}  // namespace turbine::autoscaler
