// Trace CSV parsing for `simulate`: the shipped traces load, bad rows say where and what.
#include <gtest/gtest.h>

#include <string>

#include "sidecar/simulate_command.h"
#include "sidecar/trace.h"

namespace turbine::autoscaler {
namespace {

TEST(Trace, ParsesSortsAndSkipsComments) {
  auto t = parse_trace(
      "# a comment\n"
      "time_s,prompt_tokens,output_tokens\r\n"
      "1.5,100,20\r\n"
      "\n"
      "0.25, 7 ,3\n"
      "# another\n"
      "1.5,9,9");
  ASSERT_TRUE(t.ok()) << t.error();
  ASSERT_EQ(t->size(), 3u);
  EXPECT_DOUBLE_EQ((*t)[0].time_s, 0.25);
  EXPECT_EQ((*t)[0].prompt_tokens, 7);
  EXPECT_EQ((*t)[0].output_tokens, 3);
  EXPECT_EQ((*t)[1].prompt_tokens, 100);  // stable among equal times
  EXPECT_EQ((*t)[2].prompt_tokens, 9);
}

TEST(Trace, HeaderOnlyIsAnEmptyTrace) {
  auto t = parse_trace("time_s,prompt_tokens,output_tokens\n");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->empty());
}

TEST(Trace, BadRowsGiveClearErrors) {
  const std::string h = "time_s,prompt_tokens,output_tokens\n";
  struct Case {
    std::string csv;
    const char* message;
  } cases[] = {
      {"", "no header"},
      {"# only comments\n", "no header"},
      {"time,prompt,output\n1,2,3\n", "line 1: expected header time_s,prompt_tokens,output_tokens"},
      {h + "1,2\n", "line 2: expected 3 fields (time_s,prompt_tokens,output_tokens), got 2"},
      {h + "1,2,3\n4\n", "line 3: expected 3 fields"},
      {h + "1,2,3,4\n", "line 2: expected 3 fields (time_s,prompt_tokens,output_tokens), got 4"},
      {h + "x,2,3\n", "line 2: bad time_s"},
      {h + "-1,2,3\n", "line 2: bad time_s"},
      {h + "nan,2,3\n", "line 2: bad time_s"},
      {h + "1,0,3\n", "line 2: bad prompt_tokens"},
      {h + "1,2.5,3\n", "line 2: bad prompt_tokens '2.5' (expected an integer >= 1)"},
      {h + "1,2,-3\n", "line 2: bad output_tokens"},
      {h + "1,2,\n", "line 2: bad output_tokens"},
      {h + "1,99999999999,3\n", "line 2: bad prompt_tokens"},
  };
  for (const auto& c : cases) {
    auto t = parse_trace(c.csv);
    ASSERT_FALSE(t.ok()) << c.csv;
    EXPECT_NE(t.error().find(c.message), std::string::npos) << c.csv << " -> " << t.error();
  }
}

TEST(Trace, LoadNamesTheFile) {
  auto missing = load_trace("/nonexistent/trace.csv");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("/nonexistent/trace.csv"), std::string::npos);
}

TEST(Trace, ShippedTracesLoad) {
  for (const char* name : {"steady", "diurnal", "burst"}) {
    auto t = load_trace(std::string(TURBINE_SOURCE_DIR) + "/tests/traces/" + name + ".csv");
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_GT(t->size(), 1000u) << name;
    EXPECT_GE(t->front().time_s, 0);
  }
}

}  // namespace
}  // namespace turbine::autoscaler

namespace turbine::autoscaler {
namespace {

TEST(ScaleRate, MultipliesTheRateKeepingShapeAndDuration) {
  std::vector<TraceRequest> t;
  for (int i = 0; i < 100; ++i) t.push_back({static_cast<double>(i), 10 + i, 5});
  EXPECT_EQ(scale_rate(t, 1).size(), 100u);
  auto twice = scale_rate(t, 2);
  ASSERT_EQ(twice.size(), 200u);
  EXPECT_DOUBLE_EQ(twice[0].time_s, 0);
  EXPECT_DOUBLE_EQ(twice[1].time_s, 0.5);  // halfway to the next arrival
  EXPECT_EQ(twice[1].prompt_tokens, 10);   // a copy of the same request
  for (size_t i = 1; i < twice.size(); ++i) EXPECT_GE(twice[i].time_s, twice[i - 1].time_s);
  EXPECT_EQ(scale_rate(t, 0.5).size(), 50u);
  EXPECT_EQ(scale_rate(t, 2.5).size(), 250u);
  EXPECT_DOUBLE_EQ(scale_rate(t, 3).back().time_s, 99);  // the last arrival stays last
}

}  // namespace
}  // namespace turbine::autoscaler
