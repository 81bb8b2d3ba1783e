// kernels/sample.h's rule on small rows where the answer can be worked out by hand: which
// tokens each filter keeps (ties to the lower id), and where a draw lands walking the kept
// tokens in id order.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kernels/sample.h"

namespace turbine {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

struct Case {
  const char* what;
  std::vector<float> logits;
  float temperature;
  int top_k;
  float top_p, min_p;
  double u;
  int32_t want;
};

class SampleRow : public ::testing::TestWithParam<Case> {};

TEST_P(SampleRow, DrawsTheWorkedOutToken) {
  const Case& c = GetParam();
  EXPECT_EQ(sample_row(c.logits.data(), static_cast<int>(c.logits.size()),
                       make_sample_spec(c.temperature, c.top_k, c.top_p, c.min_p, c.u)),
            c.want)
      << c.what;
}

const float l2 = std::log(2.0f);
INSTANTIATE_TEST_SUITE_P(
    Table, SampleRow,
    ::testing::Values(
        // Equal weights: u * 4 walks ids 0, 1, 2, 3.
        Case{"uniform, u=0.1", {0, 0, 0, 0}, 1, 0, 1, 0, 0.10, 0},
        Case{"uniform, u=0.6", {0, 0, 0, 0}, 1, 0, 1, 0, 0.60, 2},
        Case{"uniform, u=0.99", {0, 0, 0, 0}, 1, 0, 1, 0, 0.99, 3},
        // Weights 1, 2, 1 (log 2 on id 1): target u * 4.
        Case{"weights 1:2:1, u=0.2", {0, l2, 0}, 1, 0, 1, 0, 0.20, 0},
        Case{"weights 1:2:1, u=0.5", {0, l2, 0}, 1, 0, 1, 0, 0.50, 1},
        Case{"weights 1:2:1, u=0.8", {0, l2, 0}, 1, 0, 1, 0, 0.80, 2},
        // top-k 2 of {1, 3, 2, 0}: ids 1 and 2 kept, walked in id order.
        Case{"top-k 2, u=0.05", {1, 3, 2, 0}, 1, 2, 1, 0, 0.05, 1},
        Case{"top-k 2, u=0.99", {1, 3, 2, 0}, 1, 2, 1, 0, 0.99, 2},
        // top-k 2 with a three-way tie for first: the two lowest ids.
        Case{"top-k 2 of a tie, u=0.99", {0, 5, 5, 5}, 1, 2, 1, 0, 0.99, 2},
        Case{"top-k 1 is greedy", {0, 5, 7, 5}, 1, 1, 1, 0, 0.99, 2},
        // min-p 0.5: keeps tokens with weight >= half the best (ids 1 and 2, not 0).
        Case{"min-p, u=0.01", {-5, 0, -l2 * 0.99f}, 1, 0, 1, 0.5f, 0.01, 1},
        Case{"min-p, u=0.99", {-5, 0, -l2 * 0.99f}, 1, 0, 1, 0.5f, 0.99, 2},
        // top-p 0.5 over weights 1:2:1: the best alone holds half.
        Case{"top-p 0.5, u=0.99", {0, l2, 0}, 1, 0, 0.5f, 0, 0.99, 1},
        // top-p 0.6 needs a second token: of the tie (ids 0 and 2) the lower id.
        Case{"top-p 0.6, u=0.99", {0, l2, 0}, 1, 0, 0.6f, 0, 0.99, 1},
        Case{"top-p 0.6, u=0.01", {0, l2, 0}, 1, 0, 0.6f, 0, 0.01, 0},
        // Temperature scales x: at T = 0.5 weights become 1:4:1.
        Case{"temperature 0.5, u=0.2", {0, l2, 0}, 0.5f, 0, 1, 0, 0.20, 1},
        Case{"temperature 0.5, u=0.1", {0, l2, 0}, 0.5f, 0, 1, 0, 0.10, 0},
        // Non-finite logits are never candidates; no finite logit at all draws id 0.
        Case{"non-finite skipped", {kInf, 0, NAN, -kInf}, 1, 0, 1, 0, 0.99, 1},
        Case{"none finite", {NAN, kInf}, 1, 0, 1, 0, 0.5, 0},
        // Greedy: the largest, the lowest id on ties, NaN never.
        Case{"greedy", {1, 4, 4, 2}, 0, 0, 1, 0, 0.5, 1},
        Case{"greedy past a leading NaN", {NAN, 1, 3}, 0, 0, 1, 0, 0.5, 2}),
    [](const auto& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace turbine
