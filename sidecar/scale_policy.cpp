#include "sidecar/scale_policy.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace turbine::autoscaler {

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::kUp:
      return "up";
    case Direction::kDown:
      return "down";
    case Direction::kHold:
      return "hold";
  }
  return "hold";
}

std::string PolicyConfig::validate() const {
  if (min_replicas < 0) return "min-replicas must be >= 0";
  if (max_replicas < 1) return "max-replicas must be >= 1";
  if (min_replicas > max_replicas) return "min-replicas must not exceed max-replicas";
  if (!(target_waiting > 0)) return "target-waiting must be > 0";
  if (!(target_kv > 0 && target_kv <= 1)) return "target-kv must be in (0, 1]";
  if (!(tolerance >= 0 && tolerance < 1)) return "tolerance must be in [0, 1)";
  if (kv_free_floor_bytes < 0) return "kv-free-floor-bytes must be >= 0";
  if (scale_up_period.count() < 0) return "scale-up-period must be >= 0";
  if (scale_up_factor < 1) return "scale-up factor must be >= 1";
  if (scale_up_step < 0) return "scale-up step must be >= 0";
  if (scale_down_window.count() < 0) return "scale-down-window must be >= 0";
  if (scale_down_period.count() < 0) return "scale-down-period must be >= 0";
  if (!(scale_down_percent > 0 && scale_down_percent <= 100)) {
    return "scale-down-percent must be in (0, 100]";
  }
  if (!(max_data_age.count() > 0)) return "max-data-age must be > 0";
  return {};
}

int ScalePolicy::clamp(int n) const {
  return std::clamp(n, cfg_.min_replicas, cfg_.max_replicas);
}

void ScalePolicy::prune(TimePoint now) {
  while (!recommendations_.empty() &&
         Seconds(now - recommendations_.front().at) > cfg_.scale_down_window) {
    recommendations_.pop_front();
  }
  while (!ups_.empty() && Seconds(now - ups_.front().at) >= cfg_.scale_up_period) {
    ups_.pop_front();
  }
  while (!downs_.empty() && Seconds(now - downs_.front().at) >= cfg_.scale_down_period) {
    downs_.pop_front();
  }
}

static std::string fmt(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

Decision ScalePolicy::decide(const PolicyInput& in) {
  prune(in.now);
  Decision d;
  d.current = in.current_replicas;
  d.ready = in.ready_replicas;
  d.starting = std::max(0, in.starting_replicas);

  // Fresh samples only; a ready pod without one is missing data.
  double sum_waiting = 0, sum_kv = 0;
  for (const auto& p : in.pods) {
    if (!p.scraped || Seconds(in.now - p.observed_at) > cfg_.max_data_age) continue;
    bool saturated =
        p.preemptions_per_second > 0 || (cfg_.kv_free_floor_bytes > 0 && p.free_device_bytes &&
                                         *p.free_device_bytes < cfg_.kv_free_floor_bytes);
    ++d.fresh_pods;
    d.saturated_pods += saturated ? 1 : 0;
    sum_waiting += p.waiting;
    sum_kv += saturated ? std::max(p.kv_usage, 1.0) : p.kv_usage;
    d.preemptions_per_second += p.preemptions_per_second;
  }
  int ready = std::max(in.ready_replicas, d.fresh_pods);
  d.ready = ready;
  d.missing_pods = std::max(0, ready - d.fresh_pods);
  bool complete = d.fresh_pods > 0 && d.missing_pods == 0;

  int rec;
  std::string why;
  if (d.fresh_pods == 0) {
    rec = in.current_replicas;
    d.guard = "no_data";
    why = ready > 0 ? "no fresh metrics from any of " + std::to_string(ready) + " ready pods"
                    : "no ready pods to measure";
  } else {
    d.mean_waiting = sum_waiting / d.fresh_pods;
    d.mean_kv_usage = sum_kv / d.fresh_pods;
    d.ratio = std::max(d.mean_waiting / cfg_.target_waiting, d.mean_kv_usage / cfg_.target_kv);
    if (std::abs(d.ratio - 1.0) <= cfg_.tolerance) {
      rec = in.current_replicas;
      d.guard = "tolerance";
      why = "load within tolerance of target (ratio " + fmt(d.ratio) + ")";
    } else {
      // The epsilon keeps 3 × (4/4) from becoming 4 through rounding noise.
      rec = static_cast<int>(std::ceil(ready * d.ratio - 1e-9));
      why = "ratio " + fmt(d.ratio) + " over " + std::to_string(ready) + " ready pods";
    }
    if (d.saturated_pods > 0 && rec < ready + d.saturated_pods) {
      rec = ready + d.saturated_pods;
      why += "; " + std::to_string(d.saturated_pods) + " pods saturated (preempting or low memory)";
    }
  }
  d.recommendation = clamp(rec);
  // With incomplete data the recommendation is not trusted downward: remember the current
  // size instead, so a later window cannot scale down on the strength of a blind tick.
  bool trusted = complete && in.rollout.empty();
  int remembered = trusted ? d.recommendation : std::max(d.recommendation, clamp(d.current));
  recommendations_.push_back({in.now, remembered});

  if (!in.rollout.empty()) {
    d.desired = in.current_replicas;
    d.guard = "rollout";
    d.reason = why + "; holding while " + in.rollout;
    return d;
  }

  int desired = in.current_replicas;
  if (d.recommendation > in.current_replicas) {
    if (d.starting == 0) starting_baseline_.reset();
    bool below_min = in.current_replicas < cfg_.min_replicas;
    if (d.starting > 0 && !below_min) {
      double queue = sum_waiting;
      if (!starting_baseline_) starting_baseline_ = queue;
      double baseline = std::max(*starting_baseline_, cfg_.target_waiting);
      if (queue >= 2 * baseline) {
        d.panic = true;
        why += "; panic: queue " + fmt(queue) + " doubled while " + std::to_string(d.starting) +
               " pods start";
      } else {
        d.desired = in.current_replicas;
        d.guard = "pending_pods";
        d.reason =
            why + "; holding scale-up: " + std::to_string(d.starting) + " pods still starting";
        return d;
      }
    }
    int base = in.current_replicas;
    for (const auto& c : ups_) base = std::min(base, c.from);
    int limit = std::max(static_cast<int>(std::ceil(base * cfg_.scale_up_factor)),
                         base + cfg_.scale_up_step);
    desired = d.recommendation;
    if (desired > limit && !below_min) {
      desired = limit;
      d.guard = "rate_limit";
      why += "; rate-limited to " + std::to_string(limit) + " (from " + std::to_string(base) +
             " within " + fmt(cfg_.scale_up_period.count()) + "s)";
    }
  } else if (d.recommendation < in.current_replicas) {
    if (in.current_replicas > cfg_.max_replicas) {
      desired = cfg_.max_replicas;
      d.guard = "clamp";
      why += "; above max-replicas";
    } else if (!complete) {
      d.desired = in.current_replicas;
      d.guard = "missing_data";
      d.reason = why + "; no scale-down on missing or stale metrics (" +
                 std::to_string(d.missing_pods) + " of " + std::to_string(ready) +
                 " ready pods without fresh data)";
      return d;
    } else if (d.starting > 0) {
      d.desired = in.current_replicas;
      d.guard = "starting";
      d.reason = why + "; no scale-down while " + std::to_string(d.starting) + " pods start";
      return d;
    } else {
      int highest = 0;
      for (const auto& r : recommendations_) highest = std::max(highest, r.replicas);
      desired = std::min(in.current_replicas, highest);
      if (desired == in.current_replicas) {
        d.desired = desired;
        d.guard = "stabilization";
        d.reason = why + "; scale-down stabilization: highest recommendation in the last " +
                   fmt(cfg_.scale_down_window.count()) + "s is " + std::to_string(highest);
        return d;
      }
      int base = in.current_replicas;
      for (const auto& c : downs_) base = std::max(base, c.from);
      int step = std::max(1, static_cast<int>(std::floor(base * cfg_.scale_down_percent / 100)));
      int floor = base - step;
      if (desired < floor) {
        desired = floor;
        d.guard = "rate_limit";
        why += "; scale-down rate-limited to " + std::to_string(floor);
      }
    }
  }
  desired = clamp(desired);
  d.desired = desired;
  if (desired > in.current_replicas) {
    d.direction = Direction::kUp;
    ups_.push_back({in.now, in.current_replicas, desired});
    starting_baseline_ = sum_waiting;
  } else if (desired < in.current_replicas) {
    d.direction = Direction::kDown;
    downs_.push_back({in.now, in.current_replicas, desired});
  }
  if (d.direction == Direction::kHold && why.empty()) why = "at target";
  if (in.current_replicas < cfg_.min_replicas && desired == cfg_.min_replicas) {
    d.guard = "clamp";
    why += "; raised to min-replicas";
  }
  d.reason = why;
  return d;
}

}  // namespace turbine::autoscaler
