#include "engine/sampling/stop_matcher.h"

#include <gtest/gtest.h>

using namespace turbine;

struct StopCase {
  const char* name;
  std::vector<std::string> stops;
  std::vector<std::string> pieces;
  std::string expected;  // all text released (push + flush)
  bool stopped;
};

class StopMatcherTable : public ::testing::TestWithParam<StopCase> {};

TEST_P(StopMatcherTable, ReleasesTextBeforeTheFirstStop) {
  const auto& c = GetParam();
  StopMatcher m(c.stops);
  std::string out;
  for (const auto& p : c.pieces) out += m.push(p);
  out += m.flush();
  EXPECT_EQ(out, c.expected) << c.name;
  EXPECT_EQ(m.stopped(), c.stopped) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, StopMatcherTable,
    ::testing::Values(
        StopCase{"no stops", {}, {"a", "b"}, "ab", false},
        StopCase{"in one piece", {"END"}, {"abcENDxyz"}, "abc", true},
        StopCase{"split over pieces", {"END"}, {"abcE", "N", "Dxyz"}, "abc", true},
        StopCase{"false start released", {"END"}, {"abE", "Nx", "yz"}, "abENxyz", false},
        StopCase{"earliest of several", {"xyz", "b"}, {"axyzb"}, "a", true},
        StopCase{"stop at the very start", {"\n"}, {"\nhello"}, "", true},
        StopCase{"tail kept until flush", {"</s>"}, {"hi </"}, "hi </", false},
        StopCase{"utf8 stop", {"é!"}, {"café", "!"}, "caf", true},
        StopCase{"nothing after stop", {"x"}, {"ax", "bbb"}, "a", true}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(StopMatcher, HoldsBackOnlyAPossiblePrefix) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.push("hello S"), "hello ");
  EXPECT_EQ(m.push("T"), "");
  EXPECT_EQ(m.push("x"), "STx");
  EXPECT_FALSE(m.stopped());
}
