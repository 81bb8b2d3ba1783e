// `turbine-autoscaler simulate --trace FILE`: replays a trace through the simulator twice,
// once with turbine's ScalePolicy and once with the HPA-style CPU-utilisation baseline, and
// prints one row per policy. The output is deterministic (fake clock, no randomness), so
// tests and the README can quote it.
#pragma once
#include <string>
#include <vector>

#include "sidecar/simulator.h"

namespace turbine::autoscaler {

// `args` are the arguments after `simulate`. Writes the report to stdout (errors to
// stderr) and returns the exit code: 0, 1 for an unreadable trace, 2 for bad flags.
int simulate_main(const std::vector<std::string>& args);

// The report: a fixed-width table, or (json) one JSON object with a row per policy.
std::string format_simulation(const std::string& trace_name, const SimConfig& cfg,
                              const std::vector<SimResult>& results, bool json, bool show_events);

}  // namespace turbine::autoscaler
