// The sidecar's own metrics (names fixed by the chart's dashboard and alert rules), on a
// registry of the engine's metrics library so the exposition format is the same code.
#pragma once
#include <string>
#include <string_view>

#include "base/metrics/registry.h"

namespace turbine::autoscaler {

class SidecarMetrics {
 public:
  explicit SidecarMetrics(metrics::Registry& registry);

  metrics::Gauge& desired_replicas;
  metrics::Gauge& current_replicas;
  metrics::Gauge& ready_replicas;
  metrics::Gauge& leader;                  // 1 while this instance holds the Lease
  metrics::Gauge& rollout_in_progress;     // 1 while holding for a Deployment rollout
  metrics::Family<metrics::Gauge>& input;  // {name}: the policy's inputs
  metrics::Counter& scrape_errors_total;
  metrics::Family<metrics::Counter>& api_errors_total;  // {op}
  metrics::Family<metrics::Counter>& decisions_total;   // {direction="up|down|hold"}

  void api_error(std::string_view op) { api_errors_total.with({op}).inc(); }
  void set_input(std::string_view name, double v) { input.with({name}).set(v); }
};

}  // namespace turbine::autoscaler
