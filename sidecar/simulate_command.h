// `turbine-autoscaler simulate --trace FILE [--replica MODEL.json]`: replays a trace through
// the simulator with turbine's ScalePolicy and with each baseline (HPA on occupancy per
// --hpa-target, HPA/KEDA on the queue, llm-d's saturation rule), and prints one row per
// policy. The output is deterministic (fake clock, no randomness), so
// tests and the README can quote it.
#pragma once
#include <string>
#include <vector>

#include "sidecar/simulator.h"

namespace turbine::autoscaler {

// `args` are the arguments after `simulate`. Writes the report to stdout (errors to
// stderr) and returns the exit code: 0, 1 for an unreadable trace or replica model, 2 for
// bad flags.
int simulate_main(const std::vector<std::string>& args);

// The trace with `factor` times its arrival rate: each request repeated or dropped
// deterministically, copies spread evenly up to the next arrival.
std::vector<TraceRequest> scale_rate(const std::vector<TraceRequest>& trace, double factor);

// The report: a fixed-width table, or (json) one JSON object with a row per policy.
std::string format_simulation(const std::string& trace_name, const std::string& model_name,
                              const SimConfig& cfg, const std::vector<SimResult>& results,
                              bool json, bool show_events);

}  // namespace turbine::autoscaler
