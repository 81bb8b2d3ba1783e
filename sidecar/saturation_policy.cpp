#include "sidecar/saturation_policy.h"

#include <algorithm>

namespace turbine::autoscaler {

int SaturationPolicy::decide(TimePoint now, int current, int starting,
                             const std::vector<PodLoad>& pods, std::string& reason) {
  while (!recommendations_.empty() &&
         Seconds(now - recommendations_.front().first) > cfg_.scale_down_window) {
    recommendations_.pop_front();
  }
  int rec = current;
  int non_sat = 0;
  double spare_kv = 0, spare_q = 0, load_kv = 0, load_q = 0;
  for (const PodLoad& p : pods) {
    if (p.kv_usage >= cfg_.kv_threshold || p.waiting >= cfg_.queue_threshold) continue;
    ++non_sat;
    spare_kv += cfg_.kv_threshold - p.kv_usage;
    spare_q += cfg_.queue_threshold - p.waiting;
    load_kv += p.kv_usage;
    load_q += p.waiting;
  }
  const int saturated = static_cast<int>(pods.size()) - non_sat;
  if (pods.empty()) {
    reason = "no ready pods";
  } else if (non_sat == 0 || spare_kv / non_sat < cfg_.kv_spare_trigger ||
             spare_q / non_sat < cfg_.queue_spare_trigger) {
    if (starting > 0) {
      reason = "spare capacity low; a replica is starting";
    } else {
      rec = current + 1;
      reason = non_sat == 0 ? "every replica saturated" : "spare capacity below the trigger";
    }
  } else if (saturated == 0 && non_sat >= 2 && starting == 0) {
    const int left = non_sat - 1;
    const double kv_after = cfg_.kv_threshold - load_kv / left;
    const double q_after = cfg_.queue_threshold - load_q / left;
    if (kv_after >= cfg_.kv_spare_trigger && q_after >= cfg_.queue_spare_trigger) {
      rec = current - 1;
      reason = "one replica fewer keeps spare capacity";
    } else {
      reason = "spare capacity needed";
    }
  } else {
    reason = "spare capacity sufficient";
  }
  rec = std::clamp(rec, cfg_.min_replicas, cfg_.max_replicas);
  recommendations_.push_back({now, rec});
  int desired = rec;
  if (rec < current) {
    int highest = 0;
    for (const auto& r : recommendations_) highest = std::max(highest, r.second);
    desired = std::min(current, highest);
  }
  return std::clamp(desired, cfg_.min_replicas, cfg_.max_replicas);
}

}  // namespace turbine::autoscaler
