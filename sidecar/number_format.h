// The sidecar's one way to print numbers in words meant for people (Event messages, log
// fields, the simulator's table): three significant digits, or a fixed count of decimals.
#pragma once
#include <string>

namespace turbine::autoscaler {

// 0.5 -> "0.5", 2.0/3 -> "0.667", 1234.5 -> "1.23e+03", 300 -> "300".
std::string format_number(double v);
// v with exactly `decimals` digits after the point: (0.25, 3) -> "0.250".
std::string format_fixed(double v, int decimals);

}  // namespace turbine::autoscaler
