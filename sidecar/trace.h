// Request traces for the simulator: CSV with the header `time_s,prompt_tokens,output_tokens`
// (arrival time in seconds from the start, sorted or not; '#' lines are comments).
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace turbine::autoscaler {

struct TraceRequest {
  double time_s = 0;
  int prompt_tokens = 0;
  int output_tokens = 0;
};

// Sorted by time. Errors name the line.
Result<std::vector<TraceRequest>> parse_trace(std::string_view csv);
Result<std::vector<TraceRequest>> load_trace(const std::string& path);

}  // namespace turbine::autoscaler
