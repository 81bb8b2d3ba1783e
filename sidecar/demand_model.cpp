#include "sidecar/demand_model.h"

#include <algorithm>
#include <cmath>

#include "sidecar/number_format.h"

namespace turbine::autoscaler {

namespace {

double seconds_of(TimePoint t) { return Seconds(t.time_since_epoch()).count(); }

}  // namespace

double DemandModel::smooth(double prev, double x, double dt) const {
  const double tau = cfg_.smoothing.count();
  if (tau <= 0) return x;
  const double a = 1 - std::exp(-dt / tau);
  return prev + a * (x - prev);
}

// Least-squares slope of the instantaneous arrival rates over the trend window.
double DemandModel::trend(TimePoint now) const {
  if (arrivals_.size() < 4) return 0;
  const double span = arrivals_.back().first - arrivals_.front().first;
  if (span < cfg_.trend_window.count() / 3) return 0;  // too short a history to trust
  double mt = 0, mx = 0;
  for (const auto& [t, x] : arrivals_) {
    mt += t;
    mx += x;
  }
  mt /= arrivals_.size();
  mx /= arrivals_.size();
  double sxy = 0, sxx = 0;
  for (const auto& [t, x] : arrivals_) {
    sxy += (t - mt) * (x - mx);
    sxx += (t - mt) * (t - mt);
  }
  (void)now;
  return sxx > 0 ? sxy / sxx : 0;
}

// Arrivals = departures + growth of what is in the system. When pods left, their requests
// left the measurement with them: that drop is not a fall in demand. Returns this sample's
// instantaneous arrival rate and advances the averages.
double DemandModel::observe(const FleetLoad& f) {
  const double now_s = seconds_of(f.now);
  const double in_system = f.running + f.waiting;
  const bool first = !last_at_;
  const double dt = first ? 0 : std::max(1e-3, Seconds(f.now - *last_at_).count());
  double lambda = f.finished_per_second;
  if (!first && !f.fewer_pods) lambda += (in_system - last_in_system_) / dt;
  lambda = std::max(0.0, lambda);
  if (first) {
    arrival_ = lambda;
    running_ = f.running;
    finished_ = f.finished_per_second;
    prompt_ = f.prompt_tokens_per_second;
  } else {
    arrival_ = smooth(arrival_, lambda, dt);
    running_ = smooth(running_, f.running, dt);
    finished_ = smooth(finished_, f.finished_per_second, dt);
    prompt_ = smooth(prompt_, f.prompt_tokens_per_second, dt);
  }
  last_at_ = f.now;
  last_in_system_ = in_system;
  arrivals_.push_back({now_s, lambda});
  while (!arrivals_.empty() && now_s - arrivals_.front().first > cfg_.trend_window.count()) {
    arrivals_.pop_front();
  }
  // W: how long a request runs, by Little's law on the running stage; the last known value
  // while too few requests finish to measure it. Measured while the pods keep up: an
  // overloaded pod runs every sequence slower (larger batches), which more pods would undo,
  // so that W is not the one to size them by.
  const bool keeping_up = f.waiting <= f.pods;
  if (finished_ > 1e-3 && running_ > 0 && (keeping_up || run_seconds_ == 0)) {
    run_seconds_ = running_ / finished_;
  }
  return lambda;
}

// Slots, and what one pod holds: max_running, or fewer when the KV cache fills first.
void DemandModel::size_slots(const FleetLoad& f, Need& n) const {
  const double drain = std::max(1.0, cfg_.drain_time.count());
  double slots = n.forecast_rate * n.run_seconds + f.waiting * std::min(1.0, n.run_seconds / drain);
  slots = std::max(slots, f.running);  // what runs now is needed now
  n.slots = slots;
  double per_pod = cfg_.max_running;
  if (f.pods > 0 && f.running >= 1 && f.kv_sum > 0.02 * f.pods) {
    per_pod = std::min(per_pod, cfg_.target_kv * f.running / f.kv_sum);
  }
  n.slots_per_pod = std::max(1.0, per_pod);
  const double staffed = slots > 0 ? slots + cfg_.headroom * std::sqrt(slots) : 0;
  n.slot_replicas = staffed / n.slots_per_pod;
}

// Prefill: tokens per second in, over what a pod prefills per second.
void DemandModel::size_prefill(const FleetLoad& f, Need& n) const {
  const double capacity = cfg_.prefill_tokens_per_second;
  n.prefill_capacity = capacity;
  if (capacity > 0 && finished_ > 1e-3) {
    const double drain = std::max(1.0, cfg_.drain_time.count());
    const double per_request = prompt_ / finished_;
    const double tokens = n.forecast_rate * per_request + f.prefill_tokens_waiting / drain;
    n.prefill_replicas = tokens / (capacity * cfg_.target_prefill);
  }
}

Need DemandModel::update(const FleetLoad& f) {
  Need n;
  const double lambda = observe(f);
  // Forecast: the pods asked for now serve the load of one horizon later. Only growth is
  // projected: a falling trend is left to the scale-down window, never anticipated. A step
  // up shows in the last sample before the average: take whichever is higher (a scale-up
  // too early costs a pod-minute, one too late costs the SLO). A step is not a ramp, so the
  // trend's projection is capped at half the level. (Projecting only while the pods keep up
  // was tried: 20% more TTFT misses over tests/traces, burst and spikes most.)
  n.trend = trend(f.now);
  n.arrival_rate = std::max(arrival_, lambda);
  const double ahead = cfg_.forecast_horizon.count();
  n.forecast_rate =
      n.arrival_rate + std::min(0.5 * n.arrival_rate, std::max(0.0, n.trend) * ahead);
  n.run_seconds = run_seconds_;
  size_slots(f, n);
  size_prefill(f, n);
  n.replicas = std::max(n.slot_replicas, n.prefill_replicas);
  n.why = "need " + format_fixed(n.replicas, 2) + " replicas: " + format_fixed(n.forecast_rate, 2) +
          " req/s forecast (now " + format_fixed(n.arrival_rate, 2) + ", trend " +
          format_fixed(n.trend * 60, 2) + "/min) x " + format_fixed(n.run_seconds, 1) + " s = " +
          format_fixed(n.slots, 1) + " slots at " + format_fixed(n.slots_per_pod, 1) + " per pod";
  if (n.prefill_replicas > 0) {
    n.why += "; prefill " + format_fixed(n.prefill_replicas, 2) + " replicas at " +
             format_fixed(n.prefill_capacity, 0) + " tokens/s per pod";
  }
  return n;
}

}  // namespace turbine::autoscaler
