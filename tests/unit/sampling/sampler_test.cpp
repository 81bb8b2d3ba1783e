#include "engine/sampling/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

using namespace turbine;

namespace {

std::vector<float> logits_of(std::initializer_list<float> v) { return std::vector<float>(v); }

std::map<int32_t, int> histogram(SamplingParams p, const std::vector<float>& l, int n,
                                 uint64_t seed = 1) {
  p.seed = seed;
  Sampler s(p, 0);
  std::map<int32_t, int> h;
  for (int i = 0; i < n; ++i) ++h[s.sample(l).token];
  return h;
}

}  // namespace

TEST(Sampler, GreedyPicksArgmaxAndLowestIdOnTies) {
  SamplingParams p;
  p.temperature = 0;
  Sampler s(p, 7);
  EXPECT_EQ(s.sample(logits_of({0.1f, 3.f, -1.f, 2.9f})).token, 1);
  EXPECT_EQ(s.sample(logits_of({5.f, 1.f, 5.f})).token, 0);
}

TEST(Sampler, LogprobsAreRawLogSoftmax) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;  // processing does not change the reported logprobs
  Sampler s(p, 0);
  s.accept_prompt(std::vector<int32_t>{0});
  auto l = logits_of({1.f, 2.f, 3.f});
  auto r = s.sample(l, 2);
  double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_EQ(r.token, 2);
  EXPECT_NEAR(r.logprob, 3.0 - std::log(z), 1e-5);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0].first, 2);
  EXPECT_EQ(r.top[1].first, 1);
  EXPECT_NEAR(r.top[1].second, 2.0 - std::log(z), 1e-5);
}

TEST(Sampler, SameSeedSameStreamDifferentSeedDifferentStream) {
  SamplingParams p;
  p.temperature = 1.0f;
  std::vector<float> l(100);
  for (int i = 0; i < 100; ++i) l[i] = std::sin(i * 0.37f);
  auto run = [&](uint64_t seed) {
    SamplingParams q = p;
    q.seed = seed;
    Sampler s(q, 0);
    std::vector<int32_t> out;
    for (int i = 0; i < 50; ++i) out.push_back(s.sample(l).token);
    return out;
  };
  EXPECT_EQ(run(42), run(42));
  EXPECT_NE(run(42), run(43));
}

TEST(Sampler, TemperatureSamplingFollowsTheDistribution) {
  // p = softmax([0, ln 3]) = [0.25, 0.75]
  SamplingParams p;
  p.temperature = 1.0f;
  auto h = histogram(p, logits_of({0.f, std::log(3.f)}), 20000);
  EXPECT_NEAR(h[1] / 20000.0, 0.75, 0.02);
}

struct FilterCase {
  const char* name;
  SamplingParams params;
  std::vector<float> logits;
  std::set<int32_t> allowed;  // tokens that may appear
  std::set<int32_t> must;     // tokens that must appear in 2000 draws
};

class SamplerFilters : public ::testing::TestWithParam<FilterCase> {};

TEST_P(SamplerFilters, OnlyAllowedTokensAppear) {
  const auto& c = GetParam();
  auto h = histogram(c.params, c.logits, 2000);
  for (auto [tok, n] : h) EXPECT_TRUE(c.allowed.count(tok)) << c.name << ": token " << tok;
  for (int32_t t : c.must) EXPECT_GT(h[t], 0) << c.name << ": token " << t << " never drawn";
}

SamplingParams with(float temp, int top_k, float top_p, float min_p) {
  SamplingParams p;
  p.temperature = temp;
  p.top_k = top_k;
  p.top_p = top_p;
  p.min_p = min_p;
  return p;
}

// Probabilities for logits {ln .5, ln .3, ln .15, ln .05}: .5 .3 .15 .05
const std::vector<float> kFour = {std::log(.5f), std::log(.3f), std::log(.15f), std::log(.05f)};

INSTANTIATE_TEST_SUITE_P(
    Table, SamplerFilters,
    ::testing::Values(
        FilterCase{"top_k=1", with(1, 1, 1, 0), kFour, {0}, {0}},
        FilterCase{"top_k=2", with(1, 2, 1, 0), kFour, {0, 1}, {0, 1}},
        FilterCase{"top_p=0.7", with(1, 0, 0.7f, 0), kFour, {0, 1}, {0, 1}},
        FilterCase{"top_p=0.5 keeps one", with(1, 0, 0.5f, 0), kFour, {0}, {0}},
        FilterCase{"top_p=0.9", with(1, 0, 0.9f, 0), kFour, {0, 1, 2}, {0, 1, 2}},
        FilterCase{"min_p=0.5", with(1, 0, 1, 0.5f), kFour, {0, 1}, {0, 1}},
        FilterCase{"min_p=0.2", with(1, 0, 1, 0.2f), kFour, {0, 1, 2}, {0, 1, 2}},
        FilterCase{"no filter", with(1, 0, 1, 0), kFour, {0, 1, 2, 3}, {0, 1, 2, 3}},
        FilterCase{"-inf excluded", with(1, 0, 1, 0),
                   {0.f, -std::numeric_limits<float>::infinity(), 0.f}, {0, 2}, {0, 2}}),
    [](const auto& info) {
      std::string n = info.param.name;
      for (auto& ch : n)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return n;
    });

TEST(Sampler, TopPOverLargeVocabGrowsTheSortedHead) {
  // A flat distribution over 1000 tokens: top_p 0.9 must keep ~900 of them, beyond the
  // first 64/256-element sorted heads.
  std::vector<float> l(1000, 0.f);
  auto h = histogram(with(1, 0, 0.9f, 0), l, 20000);
  EXPECT_GT(h.size(), 800u);
  EXPECT_LE(h.size(), 901u);
}

TEST(Sampler, LogitBiasCanForceOrBanATokens) {
  SamplingParams p;
  p.temperature = 0;
  p.logit_bias[2] = 100.f;
  Sampler s(p, 0);
  EXPECT_EQ(s.sample(logits_of({5.f, 4.f, 0.f})).token, 2);
  SamplingParams q;
  q.temperature = 0;
  q.logit_bias[0] = -100.f;
  Sampler s2(q, 0);
  EXPECT_EQ(s2.sample(logits_of({5.f, 4.f, 0.f})).token, 1);
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 2.0f;
  Sampler s(p, 0);
  s.accept_prompt(std::vector<int32_t>{0});
  // token 0: 3.0 / 2 = 1.5 < token 1's 2.0
  EXPECT_EQ(s.sample(logits_of({3.f, 2.f})).token, 1);
  Sampler s2(p, 0);
  s2.accept_prompt(std::vector<int32_t>{1});
  // token 1: -0.5 * 2 = -1 < token 0's -0.8
  EXPECT_EQ(s2.sample(logits_of({-0.8f, -0.5f})).token, 0);
}

TEST(Sampler, RepetitionPenaltyWindowForgetsOldTokens) {
  SamplingParams p;
  p.temperature = 0;
  p.repetition_penalty = 10.0f;
  p.penalty_last_n = 2;
  Sampler s(p, 0);
  s.accept_prompt(std::vector<int32_t>{0, 2, 2});  // token 0 is outside the last 2
  EXPECT_EQ(s.sample(logits_of({3.f, 2.f, 1.f})).token, 0);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountOnlyOutput) {
  SamplingParams p;
  p.temperature = 0;
  p.frequency_penalty = 1.0f;
  Sampler s(p, 0);
  s.accept_prompt(std::vector<int32_t>{0, 0, 0});  // the prompt does not count
  EXPECT_EQ(s.sample(logits_of({3.f, 2.5f})).token, 0);
  s.accept(0);  // 3 - 1 = 2 < 2.5
  EXPECT_EQ(s.sample(logits_of({3.f, 2.5f})).token, 1);

  SamplingParams q;
  q.temperature = 0;
  q.presence_penalty = 0.4f;
  Sampler s2(q, 0);
  s2.accept(0);
  s2.accept(0);  // presence counts once: 3 - 0.4 = 2.6 > 2.5
  EXPECT_EQ(s2.sample(logits_of({3.f, 2.5f})).token, 0);
}
