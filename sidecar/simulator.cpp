#include "sidecar/simulator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace turbine::autoscaler {

std::string SimPolicy::name() const {
  auto num = [](double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  };
  switch (kind) {
    case SimPolicyKind::kTurbine: return "turbine";
    case SimPolicyKind::kHpa: return "hpa-" + num(target);
    case SimPolicyKind::kQueue: return "queue-" + num(target);
    case SimPolicyKind::kSaturation: return "llm-d";
  }
  return "?";
}

namespace {

struct Slot {
  std::unique_ptr<SimReplica> replica;
  double created_at = 0;
  double ready_at = 0;
  double mark_t = 0;     // start of the current decision period's measurement
  double mark_busy = 0;  // occupied_seconds() at mark_t
  long mark_preemptions = 0;
  bool scraped = false;  // counter rates need two scrapes, as the real scraper's do
  long mark_finished = 0;
  long mark_prompt = 0;
};

class Fleet {
 public:
  explicit Fleet(const SimConfig& cfg) : cfg_(cfg) {}

  void add(double t, double startup) {
    Slot s;
    s.replica = std::make_unique<SimReplica>(cfg_.replica, t - (cfg_.replica.startup_s - startup));
    s.created_at = t;
    s.ready_at = t + startup;
    s.mark_t = s.ready_at;
    slots_.push_back(std::move(s));
  }

  // Least-loaded ready replica, or nullptr.
  SimReplica* pick(double t) {
    SimReplica* best = nullptr;
    int best_load = std::numeric_limits<int>::max();
    for (auto& s : slots_) {
      if (!s.replica->ready(t)) continue;
      int load = s.replica->waiting() + s.replica->running();
      if (load < best_load) {
        best = s.replica.get();
        best_load = load;
      }
    }
    return best;
  }

  int active() const {
    int n = 0;
    for (const auto& s : slots_) n += s.replica->draining() ? 0 : 1;
    return n;
  }

  // Scale down by `n`: starting pods first (newest first: least sunk cost), then the
  // least-loaded ready ones, whose queues go back to the router.
  std::vector<SimRequest*> remove(double t, int n) {
    std::vector<SimRequest*> requeue;
    for (int k = 0; k < n; ++k) {
      Slot* victim = nullptr;
      for (auto& s : slots_) {
        if (s.replica->draining()) continue;
        if (s.replica->starting(t)) {
          if (!victim || !victim->replica->starting(t) || s.created_at > victim->created_at) {
            victim = &s;
          }
        } else if (!victim || (!victim->replica->starting(t) &&
                               s.replica->waiting() + s.replica->running() <
                                   victim->replica->waiting() + victim->replica->running())) {
          victim = &s;
        }
      }
      if (!victim) break;
      victim->replica->drain();
      for (SimRequest* r : victim->replica->take_waiting()) requeue.push_back(r);
    }
    return requeue;
  }

  void advance(double t) {
    for (auto& s : slots_) s.replica->advance_to(t);
  }

  // Replica-seconds of one step (pods bill from creation until gone) and cleanup.
  double account(double dt) {
    double cost = static_cast<double>(slots_.size()) * dt;
    std::erase_if(slots_, [](const Slot& s) { return s.replica->gone(); });
    return cost;
  }

  std::vector<Slot>& slots() { return slots_; }
  long preemptions() const {
    long n = 0;
    for (const auto& s : slots_) n += s.replica->preemptions();
    return n + retired_preemptions_;
  }
  void retire_count(long n) { retired_preemptions_ += n; }

 private:
  const SimConfig& cfg_;
  std::vector<Slot> slots_;
  long retired_preemptions_ = 0;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(q * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

std::vector<SimRequest> requests_of(const std::vector<TraceRequest>& trace) {
  std::vector<SimRequest> reqs(trace.size());
  for (size_t i = 0; i < trace.size(); ++i) {
    reqs[i].arrival = trace[i].time_s;
    reqs[i].prompt = trace[i].prompt_tokens;
    reqs[i].output = trace[i].output_tokens;
  }
  return reqs;
}

// One decision period: what a scrape of every ready pod would show at `t`, and each ready
// pod's busy fraction since the last scrape (the HPA baseline's utilisation).
PolicyInput scrape(Fleet& fleet, double t, std::vector<double>& util) {
  PolicyInput in;
  in.now = TimePoint{} + std::chrono::duration_cast<Clock::duration>(Seconds(t));
  in.current_replicas = fleet.active();
  util.clear();
  for (auto& s : fleet.slots()) {
    SimReplica& r = *s.replica;
    if (r.starting(t)) ++in.starting_replicas;
    if (!r.ready(t)) continue;
    const double span = std::max(1e-9, t - std::max(s.mark_t, s.ready_at));
    PodObservation o;
    o.scraped = true;
    o.observed_at = in.now;
    o.waiting = r.waiting();
    o.running = r.running();
    o.kv_usage = std::min(1.0, r.kv_usage());
    if (s.scraped) {
      o.preemptions_per_second = (r.preemptions() - s.mark_preemptions) / span;
      o.finished_per_second = (r.finished() - s.mark_finished) / span;
      o.prompt_tokens_per_second = (r.prompt_tokens() - s.mark_prompt) / span;
    }
    s.scraped = true;
    o.prefill_tokens_waiting = static_cast<double>(r.prompt_tokens_waiting());
    in.pods.push_back(o);
    util.push_back(std::clamp((r.occupied_seconds() - s.mark_busy) / span, 0.0, 1.0));
    s.mark_t = t;
    s.mark_busy = r.occupied_seconds();
    s.mark_preemptions = r.preemptions();
    s.mark_finished = r.finished();
    s.mark_prompt = r.prompt_tokens();
  }
  in.ready_replicas = static_cast<int>(in.pods.size());
  return in;
}

// TTFT percentiles and SLO misses over every request (one never answered counts as an
// infinite TTFT).
void summarize(const std::vector<SimRequest>& reqs, const SimConfig& cfg, SimResult& res) {
  std::vector<double> ttft;
  ttft.reserve(reqs.size());
  for (const auto& r : reqs) {
    if (r.done >= 0) ++res.completed;
    const double v =
        r.first_token >= 0 ? r.first_token - r.arrival : std::numeric_limits<double>::infinity();
    if (v > cfg.slo_ttft_s) ++res.slo_misses;
    ttft.push_back(v);
  }
  res.ttft_p50_s = percentile(ttft, 0.50);
  res.ttft_p99_s = percentile(ttft, 0.99);
  res.scale_events = static_cast<int>(res.events.size());
}

// The policy under test, behind one call: each baseline sees only its own inputs.
class PolicyRunner {
 public:
  PolicyRunner(const SimConfig& cfg, const SimPolicy& policy)
      : kind_(policy.kind),
        turbine_(cfg.turbine),
        hpa_(hpa_config(cfg, policy)),
        saturation_(saturation_config(cfg)) {}

  int decide(const PolicyInput& in, const std::vector<double>& util, std::string& reason) {
    switch (kind_) {
      case SimPolicyKind::kTurbine: {
        Decision d = turbine_.decide(in);
        reason = d.reason;
        return d.desired;
      }
      case SimPolicyKind::kHpa:
        return hpa_.decide(in.now, in.current_replicas, in.starting_replicas, util, reason);
      case SimPolicyKind::kQueue: {
        std::vector<double> waiting;
        for (const auto& o : in.pods) waiting.push_back(o.waiting);
        return hpa_.decide(in.now, in.current_replicas, in.starting_replicas, waiting, reason);
      }
      case SimPolicyKind::kSaturation: {
        std::vector<PodLoad> loads;
        for (const auto& o : in.pods) loads.push_back({o.waiting, o.kv_usage});
        return saturation_.decide(in.now, in.current_replicas, in.starting_replicas, loads,
                                  reason);
      }
    }
    return in.current_replicas;
  }

 private:
  static HpaConfig hpa_config(const SimConfig& cfg, const SimPolicy& policy) {
    HpaConfig h = cfg.hpa;
    h.min_replicas = cfg.turbine.min_replicas;
    h.max_replicas = cfg.turbine.max_replicas;
    if (policy.kind == SimPolicyKind::kHpa || policy.kind == SimPolicyKind::kQueue) {
      h.target_utilisation = policy.target;
    }
    return h;
  }
  static SaturationConfig saturation_config(const SimConfig& cfg) {
    SaturationConfig s = cfg.saturation;
    s.min_replicas = cfg.turbine.min_replicas;
    s.max_replicas = cfg.turbine.max_replicas;
    return s;
  }

  SimPolicyKind kind_;
  ScalePolicy turbine_;
  HpaPolicy hpa_;
  SaturationPolicy saturation_;
};

}  // namespace

SimResult simulate(const std::vector<TraceRequest>& trace, const SimConfig& cfg,
                   const SimPolicy& policy) {
  SimResult res;
  res.policy = policy.name();
  std::vector<SimRequest> reqs = requests_of(trace);
  res.requests = static_cast<long>(reqs.size());
  const double end = (trace.empty() ? 0 : trace.back().time_s) + cfg.tail_s;
  res.duration_s = end;

  PolicyRunner runner(cfg, policy);

  Fleet fleet(cfg);
  const int initial =
      std::clamp(cfg.initial_replicas, cfg.turbine.min_replicas, cfg.turbine.max_replicas);
  for (int i = 0; i < initial; ++i) fleet.add(0, 0);  // warm at t=0
  res.max_replicas = initial;

  std::deque<SimRequest*> unrouted;
  size_t next = 0;
  double t = 0;
  double next_tick = cfg.interval_s;
  auto route = [&](SimRequest* r) {
    if (SimReplica* rep = fleet.pick(t)) {
      rep->enqueue(r);
    } else {
      unrouted.push_back(r);
    }
  };
  std::vector<double> util;
  while (t < end) {
    t += cfg.step_s;
    while (!unrouted.empty() && fleet.pick(t)) {
      SimRequest* r = unrouted.front();
      unrouted.pop_front();
      route(r);
    }
    while (next < reqs.size() && reqs[next].arrival <= t) route(&reqs[next++]);
    fleet.advance(t);
    for (auto& s : fleet.slots()) {
      if (s.replica->gone()) fleet.retire_count(s.replica->preemptions());
    }
    res.replica_seconds += fleet.account(cfg.step_s);

    if (t + 1e-9 < next_tick) continue;
    next_tick += cfg.interval_s;
    const PolicyInput in = scrape(fleet, t, util);
    std::string reason;
    const int desired = runner.decide(in, util, reason);
    const int current = in.current_replicas;
    if (desired == current) continue;
    if (desired > current) {
      for (int i = current; i < desired; ++i) fleet.add(t, cfg.replica.startup_s);
    } else {
      for (SimRequest* r : fleet.remove(t, current - desired)) route(r);
    }
    res.events.push_back({t, current, desired, reason});
    res.max_replicas = std::max(res.max_replicas, desired);
  }
  summarize(reqs, cfg, res);
  res.preemptions = fleet.preemptions();
  return res;
}

}  // namespace turbine::autoscaler
