#include "sidecar/number_format.h"

#include <cstdio>

namespace turbine::autoscaler {

std::string format_number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

std::string format_fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace turbine::autoscaler
