// Number formatting, escaping and name rules of the text exposition format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "base/metrics/histogram.h"
#include "base/metrics/text_format.h"

namespace turbine::metrics {
namespace {

TEST(FormatValue, Table) {
  struct Case {
    double v;
    const char* want;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {1, "1"},
      {-2, "-2"},
      {100000, "100000"},
      {123456789, "123456789"},
      {0.5, "0.5"},
      {0.1, "0.1"},
      {0.025, "0.025"},
      {2.5, "2.5"},
      {1.0 / 3, "0.3333333333333333"},
      {1e-05, "1e-05"},
      {1e20, "1e+20"},
      {inf, "+Inf"},
      {-inf, "-Inf"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) EXPECT_EQ(format_value(c.v), c.want) << c.v;
}

TEST(FormatValue, RoundTrips) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    // Random bit patterns cover subnormals and the extremes, not just "nice" numbers.
    const uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (!std::isfinite(v)) continue;
    const std::string s = format_value(v);
    EXPECT_EQ(std::strtod(s.c_str(), nullptr), v) << s;
  }
  // Integers near the switch to exponent form keep every digit.
  for (double v : {999999999999999.0, 1e15, 9007199254740992.0, 0.1 + 0.2}) {
    EXPECT_EQ(std::strtod(format_value(v).c_str(), nullptr), v) << format_value(v);
  }
}

TEST(Escaping, LabelValue) {
  std::string out;
  append_label_value(out, "a\\b\"c\nd é");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd é");
}

TEST(Escaping, HelpKeepsQuotes) {
  std::string out;
  append_help(out, "say \"hi\"\\\nbye");
  EXPECT_EQ(out, "say \"hi\"\\\\\\nbye");
}

TEST(Escaping, LabelsWithExtra) {
  std::string out;
  append_labels(out, {"a", "b"}, {"x\"", "y"}, "le", "0.5");
  EXPECT_EQ(out, "{a=\"x\\\"\",b=\"y\",le=\"0.5\"}");
  out.clear();
  append_labels(out, {}, {});
  EXPECT_EQ(out, "");
  append_labels(out, {}, {}, "le", "+Inf");
  EXPECT_EQ(out, "{le=\"+Inf\"}");
}

TEST(Names, MetricAndLabelGrammar) {
  struct Case {
    const char* name;
    bool metric_ok;
    bool label_ok;
  };
  const Case cases[] = {
      {"turbine_requests_total", true, true},
      {"_x", true, true},
      {"a:b", true, false},
      {":a", true, false},
      {"9a", false, false},
      {"", false, false},
      {"a-b", false, false},
      {"__name__", true, false},
      {"a b", false, false},
      {"A1_", true, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(valid_metric_name(c.name), c.metric_ok) << c.name;
    EXPECT_EQ(valid_label_name(c.name), c.label_ok) << c.name;
  }
}

TEST(Buckets, Exponential) {
  EXPECT_EQ(exponential_buckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(Buckets, LogSpacedAreShortIncreasingAndHitTheEnds) {
  const std::vector<double> b = log_spaced_buckets(0.01, 60, 16);
  ASSERT_EQ(b.size(), 16u);
  EXPECT_EQ(b.front(), 0.01);
  EXPECT_EQ(b.back(), 60);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b[i], b[i - 1]);
    // Roughly constant ratio: (60/0.01)^(1/15) ~ 1.79; rounding to two digits moves it a bit.
    EXPECT_NEAR(b[i] / b[i - 1], 1.79, 0.15) << b[i];
  }
  for (double v : b) EXPECT_LE(format_value(v).size(), 5u) << format_value(v);
  EXPECT_EQ(format_value(b[1]), "0.018");
}

}  // namespace
}  // namespace turbine::metrics
