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

SampleResult Sampler::sample(std::span<const float> logits, int n_top) {
  const int n_vocab = static_cast<int>(logits.size());
  SampleResult r;
  if (n_top > 0) r.top = top_logprobs(logits, n_top);

  const bool processed = !p_.logit_bias.empty() || p_.repetition_penalty != 1.0f ||
                         p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f;
  std::span<const float> l = logits;
  if (processed) {
    work_.assign(logits.begin(), logits.end());
    for (auto [t, b] : p_.logit_bias)
      if (t >= 0 && t < n_vocab) work_[t] += b;
    apply_penalties(work_);
    l = work_;
  }

  if (p_.greedy()) {
    int best = 0;
    for (int i = 1; i < n_vocab; ++i)
      if (l[i] > l[best]) best = i;
    r.token = best;
  } else {
    // Candidates as (logit / T, id); the filters below shrink the set, best first.
    const float inv_t = 1.0f / p_.temperature;
    cand_.clear();
    cand_.reserve(n_vocab);
    for (int i = 0; i < n_vocab; ++i)
      if (std::isfinite(l[i])) cand_.emplace_back(l[i] * inv_t, i);
    if (cand_.empty()) cand_.emplace_back(0.0f, 0);
    auto better = [](const auto& a, const auto& b) {
      return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    size_t n = cand_.size();
    if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < n) {
      std::nth_element(cand_.begin(), cand_.begin() + p_.top_k, cand_.end(), better);
      n = p_.top_k;
    }
    float mx = -std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < n; ++i) mx = std::max(mx, cand_[i].first);
    // min-p: a linear cut relative to the best token's probability, before any sort.
    if (p_.min_p > 0.0f) {
      const float cut = mx + std::log(p_.min_p);
      size_t w = 0;
      for (size_t i = 0; i < n; ++i)
        if (cand_[i].first >= cut) cand_[w++] = cand_[i];
      n = w;
    }
    // Probabilities (unnormalised exp(x - max)).
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      cand_[i].first = std::exp(cand_[i].first - mx);
      total += cand_[i].first;
    }
    if (p_.top_p < 1.0f) {
      // Sort only as far as needed: the nucleus is usually a few dozen tokens, so grow a
      // sorted head (64, 256, ...) until it holds top_p of the mass.
      const double want = p_.top_p * total;
      size_t head = std::min<size_t>(64, n);
      for (;;) {
        std::partial_sort(cand_.begin(), cand_.begin() + head, cand_.begin() + n, better);
        double acc = 0;
        size_t keep = 0;
        while (keep < head && acc < want) acc += cand_[keep++].first;
        if (acc >= want || head == n) {
          n = std::max<size_t>(keep, 1);
          total = 0;
          for (size_t i = 0; i < n; ++i) total += cand_[i].first;
          break;
        }
        head = std::min(n, head * 4);
      }
    }
    double u = rng_.uniform() * total;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      u -= cand_[i].first;
      if (u < 0) {
        pick = i;
        break;
      }
    }
    r.token = cand_[pick].second;
  }
  r.logprob = log_softmax_at(logits, r.token);
  return r;
}

}  // namespace turbine
