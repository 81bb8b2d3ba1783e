// The host reference of kernels/sample.h.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "kernels/sample.h"

namespace turbine {

SampleSpec make_sample_spec(float temperature, int top_k, float top_p, float min_p, double u) {
  SampleSpec s;
  s.temperature = temperature;
  s.top_k = top_k;
  s.top_p = top_p;
  s.min_p_on = min_p > 0.0f;
  s.log_min_p = s.min_p_on ? std::log(min_p) : 0.0f;
  s.u = u;
  return s;
}

int32_t sample_row(const float* logits, int n_vocab, const SampleSpec& spec) {
  if (!(spec.temperature > 0.0f)) {
    int best = 0;
    for (int i = 1; i < n_vocab; ++i)
      if (logits[i] > logits[best] || (logits[best] != logits[best] && logits[i] == logits[i]))
        best = i;
    return best;
  }
  // Candidates as (x, id); each filter keeps a prefix of the best, so the set shrinks from
  // the end once partially sorted.
  thread_local std::vector<std::pair<float, int32_t>> cand;
  const float inv_t = 1.0f / spec.temperature;
  cand.clear();
  cand.reserve(n_vocab);
  for (int i = 0; i < n_vocab; ++i)
    if (std::isfinite(logits[i])) cand.emplace_back(logits[i] * inv_t, i);
  if (cand.empty()) return 0;
  auto better = [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  bool reordered = false;
  size_t n = cand.size();
  if (spec.top_k > 0 && static_cast<size_t>(spec.top_k) < n) {
    std::nth_element(cand.begin(), cand.begin() + spec.top_k, cand.end(), better);
    n = spec.top_k;
    reordered = true;
  }
  float mx = -std::numeric_limits<float>::infinity();
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, cand[i].first);
  if (spec.min_p_on) {
    const float cut = mx + spec.log_min_p;
    size_t w = 0;
    for (size_t i = 0; i < n; ++i)
      if (cand[i].first >= cut) cand[w++] = cand[i];
    n = w;
  }
  // Weights exp(x - max): kept as floats, summed in double.
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    cand[i].first = std::exp(cand[i].first - mx);
    total += cand[i].first;
  }
  if (spec.top_p < 1.0f) {
    // Sort only as far as needed: the nucleus is usually a few dozen tokens, so grow a
    // sorted head (64, 256, ...) until it holds top_p of the weight.
    const double want = spec.top_p * total;
    size_t head = std::min<size_t>(64, n);
    for (;;) {
      std::partial_sort(cand.begin(), cand.begin() + head, cand.begin() + n, better);
      double acc = 0;
      size_t keep = 0;
      while (keep < head && acc < want) acc += cand[keep++].first;
      if (acc >= want || head == n) {
        n = std::max<size_t>(keep, 1);
        total = 0;
        for (size_t i = 0; i < n; ++i) total += cand[i].first;
        break;
      }
      head = std::min(n, head * 4);
    }
    reordered = true;
  }
  if (reordered)
    std::sort(cand.begin(), cand.begin() + n,
              [](const auto& a, const auto& b) { return a.second < b.second; });
  double u = spec.u * total;
  for (size_t i = 0; i < n; ++i) {
    u -= cand[i].first;
    if (u < 0) return cand[i].second;
  }
  return cand[n - 1].second;
}

}  // namespace turbine
