// `turbine-autoscaler run`: wires config, Kubernetes client, leader election, the status
// server and the decision loop together, and runs until `stop` turns true (SIGTERM).
#pragma once
#include <atomic>

#include "sidecar/config.h"

namespace turbine::autoscaler {

// Exit code: 0 after a clean stop, 2 for configuration the cluster side rejects at start
// (no credentials), 1 for other start-up failures.
int run_autoscaler(const RunConfig& config, const std::atomic<bool>& stop);

}  // namespace turbine::autoscaler
