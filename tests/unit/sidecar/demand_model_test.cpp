// The capacity model (sidecar/demand_model.h) and the ScalePolicy scenarios it was built
// for: a ramp met before it queues, a panic that scales to the need and not to the maximum,
// a prompt-heavy queue seen through prefill, and a peak remembered after it passes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "sidecar/demand_model.h"
#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {
namespace {

TimePoint at(double t) {
  return TimePoint{} + std::chrono::duration_cast<Clock::duration>(Seconds(1000 + t));
}

// ---- the model's arithmetic, one steady sample at a time ------------------------------------

struct ModelCase {
  const char* name;
  DemandConfig cfg;
  FleetLoad load;  // repeated at t = 0, 15, 30, ...: a steady state
  double want_replicas;
  double want_slots_per_pod;
};

DemandConfig model_config() {
  DemandConfig c;
  c.max_running = 32;
  c.target_kv = 0.8;
  c.headroom = 1.0;
  c.smoothing = Seconds(0);  // no averaging: each sample is the state
  return c;
}

FleetLoad steady(int pods, double running, double finished, double kv_sum) {
  FleetLoad f;
  f.pods = pods;
  f.running = running;
  f.finished_per_second = finished;
  f.kv_sum = kv_sum;
  return f;
}

std::vector<ModelCase> model_cases() {
  DemandConfig prefill = model_config();
  prefill.prefill_tokens_per_second = 4000;
  prefill.target_prefill = 0.5;
  FleetLoad long_prompts = steady(2, 40, 4, 0.2);
  long_prompts.prompt_tokens_per_second = 8000;  // 2000 tokens per request
  FleetLoad backlog = long_prompts;
  backlog.prefill_tokens_waiting = 30000;  // over drain_time 30 s: 1000 tokens/s more
  FleetLoad queued = steady(2, 40, 4, 0.2);
  queued.waiting = 30;  // W 10 s: each queued request needs 10/30 of a slot to drain in 30 s
  return {
      // Little: 4 req/s × 10 s = 40 slots; + sqrt(40) = 46.32; 32 per pod.
      {"LittlesLaw", model_config(), steady(2, 40, 4, 0.2), 46.3246 / 32, 32},
      // KV fills first: 0.8 × 40 running / 1.6 KV = 20 slots per pod.
      {"KvLimitsTheSlots", model_config(), steady(2, 40, 4, 1.6), 46.3246 / 20, 20},
      {"QueueAddsTheSlotsThatDrainIt", model_config(), queued, (50 + std::sqrt(50.0)) / 32, 32},
      // 8000 tokens/s over 4000 × 0.5 per pod.
      {"PromptHeavyNeedsPrefill", prefill, long_prompts, 4.0, 32},
      {"PrefillBacklogDrains", prefill, backlog, 4.5, 32},
      {"HeadroomZeroIsLittleAlone",
       [] {
         DemandConfig c = model_config();
         c.headroom = 0;
         return c;
       }(),
       steady(2, 40, 4, 0.2), 40.0 / 32, 32},
      {"IdleNeedsNothing", model_config(), steady(2, 0, 0, 0), 0, 32},
  };
}

class DemandModelCase : public testing::TestWithParam<ModelCase> {};

TEST_P(DemandModelCase, SteadyState) {
  const ModelCase& c = GetParam();
  DemandModel m(c.cfg);
  Need n;
  for (int i = 0; i < 4; ++i) {
    FleetLoad f = c.load;
    f.now = at(15.0 * i);
    n = m.update(f);
  }
  EXPECT_NEAR(n.replicas, c.want_replicas, 1e-3) << n.why;
  EXPECT_NEAR(n.slots_per_pod, c.want_slots_per_pod, 1e-9) << n.why;
  EXPECT_EQ(n.trend, 0) << "a steady load has no trend";
  EXPECT_FALSE(n.why.empty());
}

INSTANTIATE_TEST_SUITE_P(Cases, DemandModelCase, testing::ValuesIn(model_cases()),
                         [](const auto& info) { return std::string(info.param.name); });

// ---- ScalePolicy with rates: replay a load shape on a fake fleet ----------------------------

// A fleet that follows the policy's decisions, as a fluid: pods take `startup` seconds to
// become ready; requests arrive at rate(t), run `run_s` seconds in one of 32 slots per ready
// pod, and what the slots cannot hold queues. Requests in the system = arrivals − departures.
struct Replay {
  PolicyConfig cfg;
  std::function<double(double)> rate;
  double run_s = 8;
  double prompt_tokens = 500;
  double startup = 60;
  int initial = 1;

  struct Step {
    double t;
    int current;
    int ready;
    double waiting;
    Decision d;
  };

  std::vector<Step> run(double until) const {
    ScalePolicy policy(cfg);
    std::vector<Step> out;
    std::vector<double> ready_at(initial, -1);
    double queue = 0;
    double in_system = rate(0) * run_s;  // at equilibrium
    double running = in_system;
    for (double t = 0; t <= until; t += 15) {
      int ready = 0;
      for (double r : ready_at) ready += r <= t ? 1 : 0;
      // Integrate the last 15 s in 1 s steps; `finished` is their mean departure rate.
      double finished = 0;
      for (int k = 0; k < 15; ++k) {
        const double out = running / run_s;
        finished += out / 15;
        in_system = std::max(0.0, in_system + rate(t - 15 + k) - out);
        running = std::min(in_system, 32.0 * ready);
      }
      queue = in_system - running;
      PolicyInput in;
      in.now = at(t);
      in.current_replicas = static_cast<int>(ready_at.size());
      in.ready_replicas = ready;
      in.starting_replicas = in.current_replicas - ready;
      for (int i = 0; i < ready; ++i) {
        PodObservation o;
        o.pod = "pod-" + std::to_string(i);
        o.scraped = true;
        o.observed_at = in.now;
        o.running = running / ready;
        o.waiting = queue / ready;
        o.kv_usage = 0.3 * o.running / 32;
        o.finished_per_second = finished / ready;
        o.prompt_tokens_per_second = finished / ready * prompt_tokens;
        o.prefill_tokens_waiting = o.waiting * prompt_tokens;
        in.pods.push_back(o);
      }
      Decision d = policy.decide(in);
      out.push_back({t, in.current_replicas, ready, queue, d});
      while (static_cast<int>(ready_at.size()) < d.desired) ready_at.push_back(t + startup);
      while (static_cast<int>(ready_at.size()) > d.desired) ready_at.pop_back();
    }
    return out;
  }
};

PolicyConfig policy_config() {
  PolicyConfig c;
  c.max_replicas = 20;
  c.demand.max_running = 32;
  return c;
}

// First time at which `pred` holds, or -1.
double first(const std::vector<Replay::Step>& steps,
             const std::function<bool(const Replay::Step&)>& pred) {
  for (const auto& s : steps) {
    if (pred(s)) return s.t;
  }
  return -1;
}

TEST(CapacityScenario, RampIsMetBeforeItQueues) {
  // 0.5 -> 8.5 req/s over 20 minutes at 8 s a request: up to 68 slots, 3 pods' worth.
  Replay r{policy_config(), [](double t) { return 0.5 + 8.0 * std::min(1.0, t / 1200); }};
  auto with = r.run(1500);
  Replay blind = r;
  blind.cfg.demand.forecast_horizon = Seconds(0);
  blind.cfg.demand.headroom = 0;
  auto without = blind.run(1500);
  // With the forecast no request ever queues; sized to the present alone, some do.
  for (const auto& s : with) EXPECT_EQ(s.waiting, 0) << "t=" << s.t << ": " << s.d.reason;
  EXPECT_GT(first(without, [](const auto& s) { return s.waiting > 0; }), 0);
  // Each step up comes before the blind policy's.
  for (int n = 2; n <= 3; ++n) {
    double a = first(with, [n](const auto& s) { return s.d.desired >= n; });
    double b = first(without, [n](const auto& s) { return s.d.desired >= n; });
    ASSERT_GT(a, 0);
    EXPECT_LT(a, b) << n << " replicas";
  }
  // And it does not overshoot: never more than the need at the ramp's top plus one.
  for (const auto& s : with) EXPECT_LE(s.d.desired, 5) << "t=" << s.t << ": " << s.d.reason;
}

TEST(CapacityScenario, PanicScalesToTheNeedNotTheMaximum) {
  // 2 -> 20 req/s at once: 160 slots, sqrt-staffed 173, 32 per pod: 6 replicas once the
  // backlog is gone. While the new pods start the queue behind two pods grows by ~180
  // requests a tick, and the need counts the slots that drain it within drain-time.
  PolicyConfig cfg = policy_config();
  cfg.peak_decay = Seconds(0);
  Replay r{cfg, [](double t) { return t < 60 ? 2.0 : 20.0; }};
  r.initial = 2;
  auto steps = r.run(900);
  int highest = 0;
  for (const auto& s : steps) {
    highest = std::max(highest, s.d.desired);
    // Every step up is to the computed need (or less, rate-limited), never past it.
    if (s.d.desired > s.current) {
      EXPECT_LE(s.d.desired, std::ceil(s.d.need.replicas - 1e-9)) << "t=" << s.t << ": " << s.d.reason;
      EXPECT_TRUE(s.d.panic || s.ready == s.current) << s.d.reason;
    }
  }
  double peak_need = 0;
  for (const auto& s : steps) peak_need = std::max(peak_need, s.d.need.replicas);
  EXPECT_GE(highest, 6);
  EXPECT_EQ(highest, static_cast<int>(std::ceil(peak_need - 1e-9))) << "scaled to the need";
  EXPECT_LT(highest, 20) << "the ratio rule's answer to that queue is the maximum, 20";
  // Backlog gone, the fleet comes back to the need of 20 req/s.
  EXPECT_GE(steps.back().d.desired, 6) << steps.back().d.reason;
  EXPECT_LE(steps.back().d.desired, 7) << steps.back().d.reason;
  // The ratio rule on the same queue would ask for the maximum.
  PolicyConfig ratio_only = policy_config();
  ScalePolicy ratio(ratio_only);
  PolicyInput in;
  in.now = at(0);
  in.current_replicas = 2;
  in.ready_replicas = 2;
  for (int i = 0; i < 2; ++i) {
    PodObservation o;
    o.scraped = true;
    o.observed_at = in.now;
    o.running = 32;
    o.waiting = 60;
    o.kv_usage = 0.3;
    in.pods.push_back(o);  // no rates: the ratio rule decides
  }
  Decision d = ratio.decide(in);
  EXPECT_FALSE(d.capacity_model);
  EXPECT_EQ(d.recommendation, 20);
  // The capacity model reports that it decided, and why.
  EXPECT_TRUE(steps.back().d.capacity_model);
  EXPECT_NE(steps.back().d.reason.find("req/s forecast"), std::string::npos);
}

TEST(CapacityScenario, PromptHeavyQueueIsSeenThroughPrefill) {
  // 3 req/s at 8 s a request is 24 slots: one pod holds it. With 3000-token prompts that is
  // 9000 prompt tokens/s, and a pod prefills 4000 (sized at half of that): 5 replicas.
  PolicyConfig cfg = policy_config();
  cfg.demand.prefill_tokens_per_second = 4000;
  Replay short_prompts{cfg, [](double) { return 3.0; }};
  Replay long_prompts = short_prompts;
  long_prompts.prompt_tokens = 3000;
  auto s = short_prompts.run(600);
  auto l = long_prompts.run(600);
  EXPECT_LE(s.back().d.desired, 2) << s.back().d.reason;
  EXPECT_EQ(l.back().d.desired, 5) << l.back().d.reason;
  EXPECT_NE(l.back().d.reason.find("prefill"), std::string::npos);
}

TEST(CapacityScenario, APeakIsRememberedAndDecays) {
  // 90 s at 15 req/s, then 1.5 req/s. The need of the peak decays with peak-decay (600 s):
  // capacity steps down over minutes, not at once, and never below the need.
  Replay r{policy_config(), [](double t) { return (t >= 60 && t < 150) ? 15.0 : 1.5; }};
  r.initial = 2;
  auto steps = r.run(1800);
  int peak = 0;
  for (const auto& s : steps) peak = std::max(peak, s.d.desired);
  const double after_5min = first(steps, [](const auto& s) { return s.t >= 450; });
  int at_5min = 0, at_end = steps.back().d.desired;
  for (const auto& s : steps) {
    if (s.t == after_5min) at_5min = s.d.desired;
  }
  EXPECT_GE(peak, 4);
  EXPECT_LT(at_5min, peak);
  EXPECT_GT(at_5min, at_end) << "five minutes after the peak, some of it is kept";
  EXPECT_LE(at_end, 2);
  // Without the memory the scale-down follows the need at once.
  Replay forget = r;
  forget.cfg.peak_decay = Seconds(0);
  auto f = forget.run(1800);
  for (const auto& s : f) {
    if (s.t == after_5min) EXPECT_LT(s.d.desired, at_5min);
  }
}

}  // namespace
}  // namespace turbine::autoscaler
