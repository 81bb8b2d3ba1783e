#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace turbine {
namespace {

// max and log(sum(exp(x - max))) of a row: the log-softmax normaliser.
std::pair<float, double> log_norm(std::span<const float> x) {
  float mx = -std::numeric_limits<float>::infinity();
  for (float v : x) mx = std::max(mx, v);
  double sum = 0;
  for (float v : x) sum += std::exp(static_cast<double>(v - mx));
  return {mx, std::log(sum)};
}

}  // namespace

float log_softmax_at(std::span<const float> logits, int32_t id) {
  auto [mx, lse] = log_norm(logits);
  return static_cast<float>(logits[id] - mx - lse);
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int n) {
  n = std::min<int>(n, static_cast<int>(logits.size()));
  if (n <= 0) return {};
  auto [mx, lse] = log_norm(logits);
  std::vector<std::pair<float, int32_t>> c;
  c.reserve(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) c.emplace_back(logits[i], static_cast<int32_t>(i));
  // Ties break toward the lower id, as a stable argmax does.
  auto better = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::partial_sort(c.begin(), c.begin() + n, c.end(), better);
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i)
    out.emplace_back(c[i].second, static_cast<float>(c[i].first - mx - lse));
  return out;
}

Sampler::Sampler(SamplingParams params, uint64_t fallback_seed)
    : p_(std::move(params)), rng_(p_.seed ? *p_.seed : fallback_seed) {}

void Sampler::accept_prompt(std::span<const int32_t> prompt) {
  history_.insert(history_.end(), prompt.begin(), prompt.end());
}

bool Sampler::plain() const {
  return p_.logit_bias.empty() && p_.repetition_penalty == 1.0f && p_.presence_penalty == 0.0f &&
         p_.frequency_penalty == 0.0f;
}

SampleSpec Sampler::next_spec() {
  if (p_.greedy()) return make_sample_spec(0.0f, 0, 1.0f, 0.0f, 0.0);
  return make_sample_spec(p_.temperature, p_.top_k, p_.top_p, p_.min_p, rng_.uniform());
}

void Sampler::accept(int32_t token) {
  history_.push_back(token);
  ++output_counts_[token];
}

void Sampler::apply_penalties(std::vector<float>& l) const {
  const int n_vocab = static_cast<int>(l.size());
  if (p_.repetition_penalty != 1.0f && p_.penalty_last_n != 0) {
    size_t n = history_.size();
    size_t from = p_.penalty_last_n < 0 ? 0 : n - std::min<size_t>(n, p_.penalty_last_n);
    // Each distinct token is penalised once, however often it repeats (llama.cpp's rule).
    std::vector<int32_t> seen(history_.begin() + from, history_.end());
    std::sort(seen.begin(), seen.end());
    seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
    for (int32_t t : seen) {
      if (t < 0 || t >= n_vocab) continue;
      l[t] = l[t] > 0 ? l[t] / p_.repetition_penalty : l[t] * p_.repetition_penalty;
    }
  }
  if (p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f) {
    for (auto [t, c] : output_counts_) {
      if (t < 0 || t >= n_vocab) continue;
      l[t] -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(c);
    }
  }
}

bool Sampler::check_then_mask() const {
  return p_.greedy() || (p_.top_k <= 0 && p_.top_p >= 1.0f && p_.min_p <= 0.0f);
}

SampleResult Sampler::sample(std::span<const float> logits, int n_top, const uint64_t* allowed,
                             bool with_logprob) {
  const int n_vocab = static_cast<int>(logits.size());
  SampleResult r;
  if (n_top > 0) r.top = top_logprobs(logits, n_top);

  const bool processed = !plain() || allowed;
  std::span<const float> l = logits;
  if (processed) {
    work_.assign(logits.begin(), logits.end());
    for (auto [t, b] : p_.logit_bias)
      if (t >= 0 && t < n_vocab) work_[t] += b;
    apply_penalties(work_);
    if (allowed) {
      constexpr float kOff = -std::numeric_limits<float>::infinity();
      for (int i = 0; i < n_vocab; ++i)
        if (!((allowed[i >> 6] >> (i & 63)) & 1)) work_[i] = kOff;
    }
    l = work_;
  }

  // Greedy, or temperature, top-k, min-p, top-p and the draw: the rule every backend shares.
  r.token = sample_row(l.data(), n_vocab, next_spec());
  if (with_logprob) r.logprob = log_softmax_at(logits, r.token);
  return r;
}

}  // namespace turbine
