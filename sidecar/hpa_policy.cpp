#include "sidecar/hpa_policy.h"

#include <algorithm>
#include <cmath>

namespace turbine::autoscaler {

int HpaPolicy::decide(TimePoint now, int current, int starting,
                      const std::vector<double>& utilisation, std::string& reason) {
  while (!recommendations_.empty() &&
         Seconds(now - recommendations_.front().first) > cfg_.scale_down_window) {
    recommendations_.pop_front();
  }
  while (!ups_.empty() && Seconds(now - ups_.front().first) >= cfg_.scale_up_period) {
    ups_.pop_front();
  }
  int rec = current;
  if (utilisation.empty()) {
    reason = "no ready pods";
  } else {
    double sum = 0;
    for (double u : utilisation) sum += u;
    int ready = static_cast<int>(utilisation.size());
    double ratio = sum / ready / cfg_.target_utilisation;
    if (std::abs(ratio - 1) <= cfg_.tolerance) {
      reason = "within tolerance";
    } else {
      rec = static_cast<int>(std::ceil(ready * ratio - 1e-9));
      if (ratio > 1 && starting > 0) {
        // Unready pods count as 0% on scale-up; recompute and drop a reversed answer.
        double r2 = sum / (ready + starting) / cfg_.target_utilisation;
        if (r2 <= 1 + cfg_.tolerance) {
          rec = current;
        } else {
          rec = static_cast<int>(std::ceil((ready + starting) * r2 - 1e-9));
        }
      }
      reason = "utilisation ratio " + std::to_string(ratio);
    }
  }
  rec = std::clamp(rec, cfg_.min_replicas, cfg_.max_replicas);
  recommendations_.push_back({now, rec});
  int desired = rec;
  if (rec > current) {
    int base = current;
    for (const auto& u : ups_) base = std::min(base, u.second);
    desired = std::min(rec, std::max(2 * base, base + 4));
  } else if (rec < current) {
    int highest = 0;
    for (const auto& r : recommendations_) highest = std::max(highest, r.second);
    desired = std::min(current, highest);
  }
  desired = std::clamp(desired, cfg_.min_replicas, cfg_.max_replicas);
  if (desired > current) ups_.push_back({now, current});
  return desired;
}

}  // namespace turbine::autoscaler
