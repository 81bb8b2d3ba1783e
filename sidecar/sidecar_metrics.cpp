#include "sidecar/sidecar_metrics.h"

namespace turbine::autoscaler {

// API operations known up front get their series at 0 from the first scrape, so the
// chart's rate() alerts see a counter start rather than appear.
static constexpr std::string_view kOps[] = {
    "get_lease", "create_lease", "update_lease", "get_deployment", "list_endpointslices",
    "list_pods", "get_scale",    "update_scale", "create_event"};

SidecarMetrics::SidecarMetrics(metrics::Registry& r)
    : desired_replicas(r.gauge("turbine_autoscaler_desired_replicas",
                               "Replicas the policy asked for at the last decision.")),
      current_replicas(r.gauge("turbine_autoscaler_current_replicas",
                               "The Deployment's spec.replicas at the last decision.")),
      ready_replicas(r.gauge("turbine_autoscaler_ready_replicas",
                             "Ready endpoints of the engine Service at the last decision.")),
      leader(r.gauge("turbine_autoscaler_leader",
                     "1 while this instance holds the leader-election Lease, else 0.")),
      rollout_in_progress(r.gauge("turbine_autoscaler_rollout_in_progress",
                                  "1 while the autoscaler holds because a rollout is running.")),
      input(r.gauge_family("turbine_autoscaler_input",
                           "Inputs of the last decision (mean_waiting, mean_kv_usage, ...).",
                           {"name"})),
      scrape_errors_total(r.counter("turbine_autoscaler_scrape_errors_total",
                                    "Engine /metrics scrapes that failed or lacked metrics.")),
      api_errors_total(r.counter_family("turbine_autoscaler_api_errors_total",
                                        "Kubernetes API calls that failed, by operation.", {"op"})),
      decisions_total(r.counter_family("turbine_autoscaler_decisions_total",
                                       "Scaling decisions taken while leader, by direction.",
                                       {"direction"})) {
  for (std::string_view d : {"up", "down", "hold"}) decisions_total.with({d});
  for (std::string_view op : kOps) api_errors_total.with({op});
}

}  // namespace turbine::autoscaler
