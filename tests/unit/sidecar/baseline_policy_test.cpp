// The simulator's baselines, checked against the rules they stand for: llm-d's saturation
// analyzer (thresholds 0.8 KV / 5 queued, spare triggers 0.1 / 3, ±1 replica, no scale-up
// while a replica starts, 300 s scale-down stabilization) and the HPA algorithm on a per-pod
// value (ceil(current × mean / target), ±10% tolerance, max(×2, +4) per 15 s, 300 s
// scale-down stabilization). A baseline that is wrong makes every comparison wrong.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sidecar/hpa_policy.h"
#include "sidecar/saturation_policy.h"

namespace turbine::autoscaler {
namespace {

TimePoint at(double t) {
  return TimePoint{} + std::chrono::duration_cast<Clock::duration>(Seconds(1000 + t));
}

struct SatTick {
  double t;
  int current;
  int starting;
  std::vector<PodLoad> pods;
  int want;
};

struct SatScenario {
  const char* name;
  std::vector<SatTick> ticks;
};

std::vector<SatScenario> saturation_scenarios() {
  return {
      {"SpareQueueBelowTriggerAddsOne", {{0, 2, 0, {{2.5, 0.3}, {2.5, 0.3}}, 3}}},
      {"SpareKvBelowTriggerAddsOne", {{0, 2, 0, {{0, 0.75}, {0, 0.72}}, 3}}},
      {"EverySaturatedAddsOneNotMore", {{0, 3, 0, {{40, 1.0}, {40, 1.0}, {40, 1.0}}, 4}}},
      {"SaturatedPodsAreLeftOutOfTheAverage",
       // One saturated pod (queue 6) and one with plenty of spare: the spare one decides.
       {{0, 2, 0, {{6, 0.2}, {0, 0.2}}, 2}}},
      {"NoScaleUpWhileAReplicaStarts", {{0, 2, 1, {{9, 0.9}, {9, 0.9}}, 2}}},
      {"ScaleDownWaitsForTheWindow",
       // KV 0.5 each: one replica fewer would leave 0.05 spare, so 3 is needed ...
       {{0, 3, 0, {{1, 0.5}, {1, 0.5}, {1, 0.5}}, 3},
        // ... then idle: 2 would do, but 3 stays recommended within the window.
        {200, 3, 0, {{0, 0.1}, {0, 0.1}, {0, 0.1}}, 3},
        {301, 3, 0, {{0, 0.1}, {0, 0.1}, {0, 0.1}}, 2},
        {320, 2, 0, {{0, 0.1}, {0, 0.1}}, 2}}},
      {"NoScaleDownWhenOneFewerRunsLow",
       // Two pods at KV 0.4: one pod would carry 0.8, above 0.8 - 0.1.
       {{0, 2, 0, {{0, 0.4}, {0, 0.4}}, 2}, {400, 2, 0, {{0, 0.4}, {0, 0.4}}, 2}}},
      {"ClampedToMax", {{0, 10, 0, std::vector<PodLoad>(10, {9, 0.9}), 10}}},
  };
}

class SaturationScenario : public testing::TestWithParam<SatScenario> {};

TEST_P(SaturationScenario, Table) {
  SaturationConfig cfg;
  cfg.max_replicas = 10;
  SaturationPolicy policy(cfg);
  for (const SatTick& k : GetParam().ticks) {
    std::string reason;
    int got = policy.decide(at(k.t), k.current, k.starting, k.pods, reason);
    EXPECT_EQ(got, k.want) << "t=" << k.t << ": " << reason;
    EXPECT_FALSE(reason.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, SaturationScenario, testing::ValuesIn(saturation_scenarios()),
                         [](const auto& info) { return std::string(info.param.name); });

struct HpaTick {
  double t;
  int current;
  std::vector<double> values;  // per ready pod
  int want;
  int starting = 0;
};

struct HpaScenario {
  const char* name;
  double target;
  std::vector<HpaTick> ticks;
};

std::vector<HpaScenario> hpa_scenarios() {
  return {
      {"QueueTargetFiveScalesByTheMean", 5, {{0, 2, {10, 20}, 6}}},
      {"WithinTenPercentHolds", 5, {{0, 2, {5.4, 5.4}, 2}}},
      {"ScaleUpLimitedToDoubleOrPlusFour", 5, {{0, 2, {100, 100}, 6}, {5, 6, {100, 100}, 6}}},
      {"NextPeriodMayGrowAgain", 5, {{0, 2, {100, 100}, 6}, {16, 6, std::vector<double>(6, 100), 10}}},
      {"ScaleDownStabilizedOverFiveMinutes",
       5,
       {{0, 4, {5, 5, 5, 5}, 4}, {100, 4, {0, 0, 0, 0}, 4}, {301, 4, {0, 0, 0, 0}, 1}}},
      {"UtilisationTarget", 0.5, {{0, 2, {1.0, 1.0}, 4}}},
  };
}

class HpaScenarioTest : public testing::TestWithParam<HpaScenario> {};

TEST_P(HpaScenarioTest, Table) {
  HpaConfig cfg;
  cfg.max_replicas = 10;
  cfg.target_utilisation = GetParam().target;
  HpaPolicy policy(cfg);
  for (const HpaTick& k : GetParam().ticks) {
    std::string reason;
    int got = policy.decide(at(k.t), k.current, k.starting, k.values, reason);
    EXPECT_EQ(got, k.want) << "t=" << k.t << ": " << reason;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, HpaScenarioTest, testing::ValuesIn(hpa_scenarios()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace turbine::autoscaler
