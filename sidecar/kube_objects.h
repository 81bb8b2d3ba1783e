// The Kubernetes objects the controller reads and writes, as small structs parsed from
// the API's JSON, plus the calls that fetch or write them. Parsing is separate from I/O so
// the rules that matter (which endpoints are ready, when a rollout is in progress) are
// tested on literal JSON.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "sidecar/k8s_client.h"
#include "base/log.h"
#include "sidecar/sidecar_metrics.h"

namespace turbine::autoscaler {

struct DeploymentInfo {
  std::string uid;
  int spec_replicas = 0;
  int64_t generation = 0;
  int64_t observed_generation = 0;
  int status_replicas = 0;   // pods of all ReplicaSets
  int updated_replicas = 0;  // pods of the current template
  int ready_replicas = 0;
  int available_replicas = 0;
  int unavailable_replicas = 0;
  std::map<std::string, std::string> match_labels;
};

Result<DeploymentInfo> parse_deployment(const std::string& body);

// Empty when no rollout is in progress, else why we think one is. A scale change alone is
// not a rollout: its new pods carry the current template (they count as updated at once),
// and pods still starting after a scale-up are the pending-pod guard's business.
std::string rollout_reason(const DeploymentInfo& d);

struct ReadyEndpoint {
  std::string ip;
  std::string pod;  // targetRef name, or the IP when there is none
};

// Ready endpoints of all slices in an EndpointSliceList (conditions.ready absent counts as
// ready, as the API documents), deduplicated by address: during slice churn one pod may
// appear in two slices.
Result<std::vector<ReadyEndpoint>> parse_endpoint_slices(const std::string& body);

// The Deployment's pods as the pending-pod guard sees them (pods being deleted left out).
struct PodCounts {
  int total = 0;     // pods that exist
  int pending = 0;   // phase Pending (not yet scheduled or pulling images)
  int starting = 0;  // pending, or running but not Ready and younger than the startup budget
};
// A pod that stays unready past `startup_budget` is broken, not capacity on its way: it must
// not hold the autoscaler forever (a crash-looping pod would block every scale-down and
// every non-panic scale-up). `now` is Unix time in seconds.
Result<PodCounts> count_pods(const std::string& body, int64_t now, int64_t startup_budget_s);

// "k1=v1,k2=v2" in key order.
std::string label_selector(const std::map<std::string, std::string>& labels);

// The calls, with error counting and logging. Every method is safe to call concurrently.
class ClusterApi {
 public:
  ClusterApi(K8sClient& client, std::string namespace_name, std::string deployment,
             std::string service, SidecarMetrics* metrics, Logger& log);

  Result<DeploymentInfo> get_deployment();
  Result<std::vector<ReadyEndpoint>> ready_endpoints();
  // The Deployment's pods (count_pods with the wall clock).
  Result<PodCounts> pods(const DeploymentInfo& d, int64_t startup_budget_s);

  struct WritePolicy {
    int attempts = 5;
    std::chrono::milliseconds backoff{200};  // doubled after each failure
  };
  // GET deployments/NAME/scale, PUT spec.replicas with the read resourceVersion. A 409
  // (someone changed it in between) re-reads and retries; 5xx and transport errors retry
  // with backoff. `may_write` is asked before every PUT (a leader that lost its lease
  // must stop mid-retry). Returns the replicas written.
  Result<int> write_scale(int replicas, const std::function<bool()>& may_write, WritePolicy policy);
  Result<int> write_scale(int replicas, const std::function<bool()>& may_write) {
    return write_scale(replicas, may_write, WritePolicy{});
  }

  // A core/v1 Event about the Deployment; failures are counted and logged, never fatal.
  void record_event(const DeploymentInfo& d, const std::string& reason, const std::string& message,
                    const std::string& reporting_instance, bool warning = false);

 private:
  std::string fail(const std::string& op, const std::string& what);

  K8sClient& client_;
  std::string ns_, deployment_, service_;
  SidecarMetrics* metrics_;
  Logger& log_;
};

}  // namespace turbine::autoscaler
