// Scrapes every ready engine pod's /metrics in parallel: one thread per pod, each with the
// scrape timeout, so one hung pod delays a decision by at most the timeout and never
// hides the others.
#pragma once
#include <string>
#include <vector>

#include "base/result.h"
#include "sidecar/engine_load.h"
#include "sidecar/kube_objects.h"
#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {

struct ScrapeResult {
  ReadyEndpoint endpoint;
  bool ok = false;
  std::string error;  // when !ok
  EngineLoad load;    // when ok
  TimePoint at{};     // when the response arrived
};

Result<EngineLoad> scrape_pod(const std::string& ip, int port, Seconds timeout);

std::vector<ScrapeResult> scrape_all(const std::vector<ReadyEndpoint>& endpoints, int port,
                                     Seconds timeout);

}  // namespace turbine::autoscaler
