// ScalePolicy scenarios as tables on a fake clock, in the manner of knative's autoscaler
// tests: each scenario is a sequence of ticks (what the controller would observe at time t)
// and the decision expected at each. The Deployment is assumed to follow the decisions, so
// each tick states the replica count the previous one produced.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sidecar/scale_policy.h"

namespace turbine::autoscaler {
namespace {

constexpr const char* kAny = "*";

struct Tick {
  double t;                  // seconds on the fake clock
  int current;               // the Deployment's spec.replicas
  int ready;                 // ready endpoints
  double waiting;            // per fresh pod
  double kv;                 // KV usage per fresh pod
  int want;                  // expected desired replicas
  const char* guard = kAny;  // expected guard ("" = none, "*" = any)
  int starting = 0;          // pods created, not ready
  int missing = 0;           // ready pods whose scrape failed
  int stale = 0;             // ready pods whose last sample is older than max_data_age
  int preempting = 0;        // fresh pods that preempted since the last scrape
  bool panic = false;
  const char* rollout = "";
};

struct Scenario {
  const char* name;
  PolicyConfig cfg;
  std::vector<Tick> ticks;
};

PolicyConfig base_config() {
  PolicyConfig c;
  c.min_replicas = 1;
  c.max_replicas = 10;
  c.target_waiting = 4;
  c.target_kv = 0.8;
  c.tolerance = 0.1;
  c.scale_up_period = Seconds(15);
  c.scale_up_factor = 2;
  c.scale_up_step = 4;
  c.scale_down_window = Seconds(300);
  c.scale_down_period = Seconds(60);
  c.scale_down_percent = 50;
  c.max_data_age = Seconds(60);
  return c;
}

PolicyConfig with(PolicyConfig c, void (*edit)(PolicyConfig&)) {
  edit(c);
  return c;
}

TimePoint at(double t) {
  return TimePoint{} + std::chrono::duration_cast<Clock::duration>(Seconds(1000 + t));
}

PolicyInput input_for(const Tick& k) {
  PolicyInput in;
  in.now = at(k.t);
  in.current_replicas = k.current;
  in.ready_replicas = k.ready;
  in.starting_replicas = k.starting;
  in.rollout = k.rollout;
  int fresh = k.ready - k.missing - k.stale;
  for (int i = 0; i < k.ready; ++i) {
    PodObservation o;
    o.pod = "pod-" + std::to_string(i);
    o.scraped = i < fresh + k.stale;
    o.observed_at = i < fresh ? in.now : at(k.t - 120);  // stale: two minutes old
    o.waiting = k.waiting;
    o.kv_usage = k.kv;
    o.preemptions_per_second = i < k.preempting ? 0.5 : 0.0;
    in.pods.push_back(o);
  }
  return in;
}

// clang-format off
std::vector<Scenario> scenarios() {
  PolicyConfig c = base_config();
  return {
      {"steady_load_holds",
       c,
       {
           {0, 3, 3, 4.0, 0.5, 3, "tolerance"},
           {15, 3, 3, 4.3, 0.5, 3, "tolerance"},
           {30, 3, 3, 3.7, 0.82, 3, "tolerance"},
           {45, 3, 3, 4.0, 0.85, 3, "tolerance"},
           {600, 3, 3, 4.1, 0.6, 3, "tolerance"},
       }},
      {"burst_scales_up_rate_limited_then_waits_then_panics",
       c,
       {
           // ratio 5 over 2 pods asks for 10; ×2 or +4 from 2 allows 6.
           {0, 2, 2, 20, 0.9, 6, "rate_limit"},
           // 4 pods starting, the queue grew 40 -> 44: their capacity is on its way.
           {15, 6, 2, 22, 0.9, 6, "pending_pods", /*starting=*/4},
           // The queue doubled (40 -> 90) while they start: panic, scale past them.
           {30, 6, 2, 45, 1.0, 10, kAny, /*starting=*/4, 0, 0, 0, /*panic=*/true},
           // All ready and below target: the window still holds the burst's 10.
           {45, 10, 10, 3, 0.5, 10, "stabilization"},
       }},
      {"slow_decline_follows_the_stabilization_window",
       c,
       {
           {0, 8, 8, 4.0, 0.5, 8, "tolerance"},
           {60, 8, 8, 3.0, 0.5, 8, "stabilization"},    // asks 6
           {120, 8, 8, 3.0, 0.5, 8, "stabilization"},   // asks 6
           {180, 8, 8, 2.5, 0.5, 8, "stabilization"},   // asks 5
           {240, 8, 8, 2.5, 0.5, 8, "stabilization"},   // asks 5
           {300, 8, 8, 2.0, 0.5, 8, "stabilization"},   // asks 4; t=0's 8 still in the window
           {360, 8, 8, 2.0, 0.5, 6, ""},                // the window's highest is now 6
           {420, 6, 6, 2.0, 0.5, 6, "stabilization"},   // asks 3; 6 from t=120 remains
           {480, 6, 6, 2.0, 0.5, 5, ""},                // the window's highest is 5
       }},
      {"flapping_input_does_not_flap_replicas",
       c,
       {
           // The same total load (24 then 4 waiting) alternating every tick.
           {0, 4, 4, 6.0, 0.5, 6, ""},
           {15, 6, 6, 0.67, 0.2, 6, "stabilization"},
           {30, 6, 6, 4.0, 0.5, 6, "tolerance"},
           {45, 6, 6, 0.67, 0.2, 6, "stabilization"},
           {60, 6, 6, 4.0, 0.5, 6, "tolerance"},
           {75, 6, 6, 0.67, 0.2, 6, "stabilization"},
           {300, 6, 6, 4.0, 0.5, 6, "tolerance"},
           {315, 6, 6, 0.67, 0.2, 6, "stabilization"},
       }},
      {"stale_or_missing_data_never_scales_down",
       c,
       {
           // Idle pods, but every sample is two minutes old: no data at all.
           {0, 4, 4, 0, 0, 4, "no_data", 0, 0, /*stale=*/4},
           // Two scrapes fail: the two idle answers are not evidence of idleness.
           {15, 4, 4, 0, 0, 4, "missing_data", 0, /*missing=*/2},
           // One stale pod is as good as a missing one.
           {30, 4, 4, 0, 0, 4, "missing_data", 0, 0, /*stale=*/1},
           // Complete again, but the blind ticks were remembered as "keep 4".
           {45, 4, 4, 0, 0, 4, "stabilization"},
           // A window after the last blind tick: down, by at most 50% (4 -> 2).
           {331, 4, 4, 0, 0, 2, "rate_limit"},
       }},
      {"partial_data_still_scales_up",
       c,
       {
           {0, 4, 4, 12, 0.5, 8, "rate_limit", 0, /*missing=*/2},
       }},
      {"no_ready_pods_holds",
       c,
       {
           {0, 2, 0, 0, 0, 2, "no_data"},
       }},
      {"pending_pods_hold_until_the_queue_doubles",
       c,
       {
           // 2 of 4 ready, 2 starting: ratio 3 asks for 6, but capacity is coming.
           {0, 4, 2, 12, 0.5, 4, "pending_pods", /*starting=*/2},
           {15, 4, 2, 20, 0.5, 4, "pending_pods", 2},
           // Queue 24 -> 50: panic. Asks 13 (clamped 10), ×2 of 4 allows 8.
           {30, 4, 2, 25, 0.5, 8, "rate_limit", 2, 0, 0, 0, /*panic=*/true},
           // The panic step resets the baseline to 50: 60 is not double.
           {45, 8, 2, 30, 0.5, 8, "pending_pods", 6},
           // Never down while pods start, even when the ready ones go idle.
           {60, 8, 2, 0, 0, 8, "starting", 6},
       }},
      {"min_max_clamps",
       with(c, [](PolicyConfig& p) { p.min_replicas = 2; p.max_replicas = 6; }),
       {
           // Below min: raised at once, whatever the (absent) data says.
           {0, 1, 1, 0, 0, 2, "clamp"},
           {15, 0, 0, 0, 0, 2, "clamp"},
           // Above max (someone scaled by hand): back to max even under load.
           {30, 9, 9, 12, 0.9, 6, "clamp"},
           // ... and even with missing data.
           {45, 8, 8, 0, 0, 6, "clamp", 0, /*missing=*/8},
           // Scale-up stops at max.
           {60, 5, 5, 40, 0.9, 6, ""},
           // Idle for a long time: never below min.
           {1000, 6, 6, 0, 0, 3, "rate_limit"},
           {1100, 3, 3, 0, 0, 2, ""},
           {1500, 2, 2, 0, 0, 2, kAny},
       }},
      {"tolerance_band",
       with(c, [](PolicyConfig& p) { p.max_replicas = 20; p.scale_down_window = Seconds(0); }),
       {
           {0, 10, 10, 4.36, 0.5, 10, "tolerance"},   // ratio 1.09
           {15, 10, 10, 3.64, 0.5, 10, "tolerance"},  // ratio 0.91
           {30, 10, 10, 4.44, 0.5, 12, ""},           // ratio 1.11 -> ceil(11.1)
           {45, 12, 12, 3.56, 0.5, 11, ""},           // ratio 0.89 -> ceil(10.68)
           // KV usage is the other half of the rule: 0.96 / 0.8 = 1.2.
           {60, 11, 11, 0, 0.96, 14, ""},
       }},
      {"scale_up_rate_limit",
       with(c, [](PolicyConfig& p) { p.max_replicas = 100; }),
       {
           {0, 2, 2, 40, 0.5, 6, "rate_limit"},      // +4 beats ×2 when small
           {5, 6, 6, 40, 0.5, 6, "rate_limit"},      // same period: still bounded by 2 -> 6
           {15, 6, 6, 40, 0.5, 12, "rate_limit"},    // a new period: ×2 of 6
           {30, 12, 12, 40, 0.5, 24, "rate_limit"},  // ×2 beats +4 when large
           {45, 24, 24, 5, 0.5, 30, ""},             // within the limit: the rule's answer
       }},
      {"scale_down_stabilization_and_rate_limit",
       c,
       {
           {0, 5, 5, 4, 0.5, 5, "tolerance"},
           {100, 5, 5, 0, 0, 5, "stabilization"},
           {299, 5, 5, 0, 0, 5, "stabilization"},
           // t=0 left the window: down to the window's highest (1), at most 50% a period.
           {301, 5, 5, 0, 0, 3, "rate_limit"},
           // Same period: 5 -> 3 already used the period's budget (floor(5 × 50%) = 2).
           {330, 3, 3, 0, 0, 3, "rate_limit"},
           {362, 3, 3, 0, 0, 2, "rate_limit"},
           {430, 2, 2, 0, 0, 1, ""},
       }},
      {"rollout_in_progress_holds",
       c,
       {
           {0, 4, 5, 20, 0.9, 4, "rollout", 0, 0, 0, 0, false, "rollout in progress: 2 of 4 updated"},
           {15, 4, 5, 0, 0, 4, "rollout", 0, 0, 0, 0, false, "rollout in progress: 3 of 4 updated"},
           // Done: idle, but the rollout's ticks were remembered as "keep 4".
           {30, 4, 4, 0, 0, 4, "stabilization"},
           // And a real burst right after is acted on at once.
           {45, 4, 4, 12, 0.9, 8, "rate_limit"},
       }},
      {"saturated_pods_ask_for_one_more_each",
       with(c, [](PolicyConfig& p) { p.scale_down_window = Seconds(0); }),
       {
           // Queues below target, but one pod preempts (KV ran out): 3 + 1.
           {0, 3, 3, 2, 0.5, 4, "", 0, 0, 0, /*preempting=*/1},
           // Its KV counts as full: mean kv (1 + 0.5 + 0.5 + 0.5) / 4 = 0.625, and 4 + 1.
           {15, 4, 4, 2, 0.5, 5, "", 0, 0, 0, 1},
       }},
  };
}
// clang-format on

class ScalePolicyScenario : public testing::TestWithParam<Scenario> {};

TEST_P(ScalePolicyScenario, Table) {
  const Scenario& s = GetParam();
  ASSERT_EQ(s.cfg.validate(), "");
  ScalePolicy policy(s.cfg);
  for (const Tick& k : s.ticks) {
    SCOPED_TRACE("t=" + std::to_string(k.t));
    Decision d = policy.decide(input_for(k));
    EXPECT_EQ(d.desired, k.want) << d.reason;
    if (std::string(k.guard) != kAny) {
      EXPECT_EQ(to_string(d.guard), k.guard) << d.reason;
    }
    EXPECT_EQ(d.panic, k.panic) << d.reason;
    EXPECT_FALSE(d.reason.empty());
    EXPECT_GE(d.desired, s.cfg.min_replicas);
    EXPECT_LE(d.desired, s.cfg.max_replicas);
    Direction dir = d.desired > k.current   ? Direction::kUp
                    : d.desired < k.current ? Direction::kDown
                                            : Direction::kHold;
    EXPECT_EQ(d.direction, dir);
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScalePolicyScenario, testing::ValuesIn(scenarios()),
                         [](const testing::TestParamInfo<Scenario>& i) { return i.param.name; });

TEST(ScalePolicy, FreeMemoryFloorMarksAPodSaturated) {
  PolicyConfig c = base_config();
  c.kv_free_floor_bytes = 1e9;
  ScalePolicy p(c);
  PolicyInput in = input_for({0, 2, 2, 4, 0.5, 0});
  in.pods[0].free_device_bytes = 0.5e9;  // below the floor
  in.pods[1].free_device_bytes = 4e9;
  Decision d = p.decide(in);
  EXPECT_EQ(d.saturated_pods, 1);
  EXPECT_EQ(d.desired, 3) << d.reason;
}

TEST(ScalePolicy, ANewLeaderWaitsAWindowBeforeScalingDown) {
  ScalePolicy p(base_config());
  p.remember(at(0), 6);  // what the controller does on becoming leader
  Decision d = p.decide(input_for({10, 6, 6, 0, 0, 0}));
  EXPECT_EQ(d.desired, 6);
  EXPECT_EQ(d.guard, Guard::kStabilization);
}

TEST(ScalePolicy, DecisionExplainsItsInputs) {
  ScalePolicy p(base_config());
  Decision d = p.decide(input_for({0, 2, 2, 12, 0.4, 0}));
  EXPECT_EQ(d.direction, Direction::kUp);
  EXPECT_DOUBLE_EQ(d.mean_waiting, 12);
  EXPECT_DOUBLE_EQ(d.mean_kv_usage, 0.4);
  EXPECT_DOUBLE_EQ(d.ratio, 3);
  EXPECT_EQ(d.recommendation, 6);
  EXPECT_NE(d.reason.find("ratio 3"), std::string::npos) << d.reason;
  EXPECT_EQ(to_string(d.direction), "up");
}

TEST(PolicyConfig, ValidateNamesTheBadKnob) {
  auto bad = [](void (*edit)(PolicyConfig&)) {
    PolicyConfig c = base_config();
    edit(c);
    return c.validate();
  };
  EXPECT_EQ(base_config().validate(), "");
  EXPECT_NE(bad([](PolicyConfig& c) {
              c.min_replicas = 5;
              c.max_replicas = 3;
            }).find("min-replicas"),
            std::string::npos);
  EXPECT_NE(bad([](PolicyConfig& c) { c.target_kv = 1.5; }).find("target-kv"), std::string::npos);
  EXPECT_NE(bad([](PolicyConfig& c) { c.tolerance = -0.1; }).find("tolerance"), std::string::npos);
  EXPECT_NE(bad([](PolicyConfig& c) { c.scale_down_percent = 0; }).find("scale-down-percent"),
            std::string::npos);
  EXPECT_NE(bad([](PolicyConfig& c) { c.target_waiting = 0; }).find("target-waiting"),
            std::string::npos);
}

}  // namespace
}  // namespace turbine::autoscaler
