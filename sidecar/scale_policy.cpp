#include "sidecar/scale_policy.h"

#include <algorithm>
#include <cmath>

#include "sidecar/number_format.h"

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

std::string_view to_string(Guard g) {
  switch (g) {
    case Guard::kNone:
      return "";
    case Guard::kTolerance:
      return "tolerance";
    case Guard::kNoData:
      return "no_data";
    case Guard::kMissingData:
      return "missing_data";
    case Guard::kStarting:
      return "starting";
    case Guard::kPendingPods:
      return "pending_pods";
    case Guard::kStabilization:
      return "stabilization";
    case Guard::kRateLimit:
      return "rate_limit";
    case Guard::kClamp:
      return "clamp";
    case Guard::kRollout:
      return "rollout";
  }
  return "";
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
  if (peak_decay.count() < 0) return "peak-decay must be >= 0";
  if (demand.max_running < 1) return "max-running must be >= 1";
  if (!(demand.headroom >= 0)) return "headroom must be >= 0";
  if (demand.forecast_horizon.count() < 0) return "forecast-horizon must be >= 0";
  if (demand.trend_window.count() < 0) return "trend-window must be >= 0";
  if (!(demand.drain_time.count() > 0)) return "drain-time must be > 0";
  if (demand.smoothing.count() < 0) return "smoothing must be >= 0";
  if (!(demand.prefill_tokens_per_second >= 0)) return "prefill-tokens-per-second must be >= 0";
  if (!(demand.target_prefill > 0 && demand.target_prefill <= 1)) {
    return "target-prefill must be in (0, 1]";
  }
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

namespace {

// A hold: the size stays, `guard` says which rule held it.
void hold(const PolicyInput& in, Guard guard, std::string reason, Decision& d) {
  d.desired = in.current_replicas;
  d.guard = guard;
  d.reason = std::move(reason);
}

}  // namespace

ScalePolicy::Measurement ScalePolicy::measure(const PolicyInput& in) const {
  // Fresh samples only; a ready pod without one is missing data.
  Measurement m;
  for (const auto& p : in.pods) {
    if (!p.scraped || Seconds(in.now - p.observed_at) > cfg_.max_data_age) continue;
    const bool saturated =
        p.preemptions_per_second > 0 || (cfg_.kv_free_floor_bytes > 0 && p.free_device_bytes &&
                                         *p.free_device_bytes < cfg_.kv_free_floor_bytes);
    ++m.fresh;
    m.saturated += saturated ? 1 : 0;
    m.sum_waiting += p.waiting;
    m.sum_kv += saturated ? std::max(p.kv_usage, 1.0) : p.kv_usage;
    m.preemptions_per_second += p.preemptions_per_second;
    FleetLoad& f = m.fleet;
    ++f.pods;
    f.running += p.running;
    f.waiting += p.waiting;
    f.kv_sum += p.kv_usage;
    if (p.finished_per_second) ++m.with_rates;
    // A pod on its first scrape has no rates yet: it has just started and served little.
    f.finished_per_second += p.finished_per_second.value_or(0);
    f.prompt_tokens_per_second += p.prompt_tokens_per_second.value_or(0);
    f.prefill_tokens_waiting += p.prefill_tokens_waiting.value_or(0);
  }
  m.fleet.now = in.now;
  m.fleet.fewer_pods = m.fresh < last_fresh_;
  m.ready = std::max(in.ready_replicas, m.fresh);
  m.missing = std::max(0, m.ready - m.fresh);
  return m;
}

void ScalePolicy::recommend(const PolicyInput& in, const Measurement& m, Decision& d) {
  int rec = in.current_replicas;
  std::string why;
  if (m.fresh == 0) {
    d.guard = Guard::kNoData;
    why = m.ready > 0 ? "no fresh metrics from any of " + std::to_string(m.ready) + " ready pods"
                      : "no ready pods to measure";
  } else if (m.with_rates > 0 && m.complete()) {
    // The capacity model: the replicas the offered load needs, forecast over the start-up.
    d.capacity_model = true;
    d.mean_waiting = m.sum_waiting / m.fresh;
    d.mean_kv_usage = m.sum_kv / m.fresh;
    d.need = demand_.update(m.fleet);
    last_fresh_ = m.fresh;
    double want = d.need.replicas;
    if (cfg_.peak_decay.count() > 0) {
      const double dt = peak_at_ ? Seconds(in.now - *peak_at_).count() : 0;
      peak_need_ = std::max(want, peak_need_ * std::exp(-dt / cfg_.peak_decay.count()));
      peak_at_ = in.now;
      if (peak_need_ > want) {
        why += "; the peak need decays to " + format_fixed(peak_need_, 2);
        want = peak_need_;
      }
    }
    const int current = std::max(1, in.current_replicas);
    d.ratio = want / current;
    why = d.need.why;
    // The headroom is in the need already: within the band either way is noise, unless
    // requests queue (then the need is real and overdue).
    const bool queueing = m.sum_waiting > m.fresh;
    if (std::abs(want / current - 1) <= cfg_.tolerance && !(queueing && want > current)) {
      d.guard = Guard::kTolerance;
      why += "; within tolerance of " + std::to_string(in.current_replicas);
    } else {
      rec = static_cast<int>(std::ceil(want - 1e-9));
    }
    // KV ran out somewhere: the slots per pod measured above were already too many. One
    // more replica than ready (not one per pod: the need has sized the rest).
    if (m.saturated > 0 && rec < m.ready + 1) {
      rec = m.ready + 1;
      why += "; " + std::to_string(m.saturated) + " pods saturated (preempting or low memory)";
    }
  } else {
    d.mean_waiting = m.sum_waiting / m.fresh;
    d.mean_kv_usage = m.sum_kv / m.fresh;
    d.ratio = std::max(d.mean_waiting / cfg_.target_waiting, d.mean_kv_usage / cfg_.target_kv);
    if (std::abs(d.ratio - 1.0) <= cfg_.tolerance) {
      d.guard = Guard::kTolerance;
      why = "load within tolerance of target (ratio " + format_number(d.ratio) + ")";
    } else {
      // The epsilon keeps 3 × (4/4) from becoming 4 through rounding noise.
      rec = static_cast<int>(std::ceil(m.ready * d.ratio - 1e-9));
      why = "ratio " + format_number(d.ratio) + " over " + std::to_string(m.ready) + " ready pods";
    }
    if (m.saturated > 0 && rec < m.ready + m.saturated) {
      rec = m.ready + m.saturated;
      why += "; " + std::to_string(m.saturated) + " pods saturated (preempting or low memory)";
    }
  }
  d.recommendation = clamp(rec);
  d.reason = why;
  // With incomplete data the recommendation is not trusted downward: remember the current
  // size instead, so a later window cannot scale down on the strength of a blind tick.
  const bool trusted = m.complete() && in.rollout.empty();
  const int remembered = trusted ? d.recommendation : std::max(d.recommendation, clamp(d.current));
  recommendations_.push_back({in.now, remembered});
}

std::optional<int> ScalePolicy::guard_up(const PolicyInput& in, const Measurement& m, Decision& d) {
  if (d.starting == 0) starting_baseline_.reset();
  const bool below_min = in.current_replicas < cfg_.min_replicas;
  if (d.capacity_model) {
    // Starting pods are part of current_replicas: the need already counts them as capacity
    // on its way, so a need above them is real and is scaled to, not past.
    if (d.starting > 0) {
      d.panic = true;
      d.reason += "; more than the " + std::to_string(d.starting) + " pods starting";
    }
  } else if (d.starting > 0 && !below_min) {
    const double queue = m.sum_waiting;
    if (!starting_baseline_) starting_baseline_ = queue;
    const double baseline = std::max(*starting_baseline_, cfg_.target_waiting);
    if (queue < 2 * baseline) {
      hold(in, Guard::kPendingPods,
           d.reason + "; holding scale-up: " + std::to_string(d.starting) + " pods still starting",
           d);
      return std::nullopt;
    }
    d.panic = true;
    d.reason += "; panic: queue " + format_number(queue) + " doubled while " +
                std::to_string(d.starting) + " pods start";
  }
  int base = in.current_replicas;
  for (const auto& c : ups_) base = std::min(base, c.from);
  const int limit =
      std::max(static_cast<int>(std::ceil(base * cfg_.scale_up_factor)), base + cfg_.scale_up_step);
  if (d.recommendation > limit && !below_min) {
    d.guard = Guard::kRateLimit;
    d.reason += "; rate-limited to " + std::to_string(limit) + " (from " + std::to_string(base) +
                " within " + format_number(cfg_.scale_up_period.count()) + "s)";
    return limit;
  }
  return d.recommendation;
}

std::optional<int> ScalePolicy::guard_down(const PolicyInput& in, const Measurement& m,
                                           Decision& d) {
  if (in.current_replicas > cfg_.max_replicas) {
    d.guard = Guard::kClamp;
    d.reason += "; above max-replicas";
    return cfg_.max_replicas;
  }
  if (!m.complete()) {
    hold(in, Guard::kMissingData,
         d.reason + "; no scale-down on missing or stale metrics (" + std::to_string(m.missing) +
             " of " + std::to_string(m.ready) + " ready pods without fresh data)",
         d);
    return std::nullopt;
  }
  if (d.starting > 0) {
    hold(in, Guard::kStarting,
         d.reason + "; no scale-down while " + std::to_string(d.starting) + " pods start", d);
    return std::nullopt;
  }
  int highest = 0;
  for (const auto& r : recommendations_) highest = std::max(highest, r.replicas);
  const int desired = std::min(in.current_replicas, highest);
  if (desired == in.current_replicas) {
    hold(in, Guard::kStabilization,
         d.reason + "; scale-down stabilization: highest recommendation in the last " +
             format_number(cfg_.scale_down_window.count()) + "s is " + std::to_string(highest),
         d);
    return std::nullopt;
  }
  int base = in.current_replicas;
  for (const auto& c : downs_) base = std::max(base, c.from);
  const int step = std::max(1, static_cast<int>(std::floor(base * cfg_.scale_down_percent / 100)));
  const int floor = base - step;
  if (desired < floor) {
    d.guard = Guard::kRateLimit;
    d.reason += "; scale-down rate-limited to " + std::to_string(floor);
    return floor;
  }
  return desired;
}

void ScalePolicy::apply(const PolicyInput& in, const Measurement& m, int desired, Decision& d) {
  desired = clamp(desired);
  d.desired = desired;
  if (desired > in.current_replicas) {
    d.direction = Direction::kUp;
    ups_.push_back({in.now, in.current_replicas, desired});
    starting_baseline_ = m.sum_waiting;
  } else if (desired < in.current_replicas) {
    d.direction = Direction::kDown;
    downs_.push_back({in.now, in.current_replicas, desired});
  }
  if (d.direction == Direction::kHold && d.reason.empty()) d.reason = "at target";
  if (in.current_replicas < cfg_.min_replicas && desired == cfg_.min_replicas) {
    d.guard = Guard::kClamp;
    d.reason += "; raised to min-replicas";
  }
}

Decision ScalePolicy::decide(const PolicyInput& in) {
  prune(in.now);
  Decision d;
  d.current = in.current_replicas;
  d.starting = std::max(0, in.starting_replicas);

  const Measurement m = measure(in);
  d.ready = m.ready;
  d.fresh_pods = m.fresh;
  d.missing_pods = m.missing;
  d.saturated_pods = m.saturated;
  d.preemptions_per_second = m.preemptions_per_second;

  recommend(in, m, d);
  if (!in.rollout.empty()) {
    hold(in, Guard::kRollout, d.reason + "; holding while " + in.rollout, d);
    return d;
  }
  std::optional<int> desired = in.current_replicas;
  if (d.recommendation > in.current_replicas) {
    desired = guard_up(in, m, d);
  } else if (d.recommendation < in.current_replicas) {
    desired = guard_down(in, m, d);
  }
  if (desired) apply(in, m, *desired, d);
  return d;
}

}  // namespace turbine::autoscaler
