// Drawing a token from a row of logits: temperature, top-k, min-p and top-p, then one
// uniform draw. One definition for every backend: the host reference below (what the
// engine's Sampler uses after its penalties and biases) and the CUDA twin
// (kernels/cuda/sample.cu), so a seeded request draws the same token whichever runs it,
// up to the rounding of the sums (a draw within ~1e-6 of a boundary between two tokens).
//
// The rule, in this order:
//  1. candidates: tokens with a finite logit, at x = logit * (1 / temperature);
//  2. top_k > 0: the k largest x (ties: the lower id first);
//  3. min_p > 0: x >= max_x + log_min_p (the best token is always kept);
//  4. weights w = exp(x - max_x); top_p < 1: the fewest best tokens (ties: lower id first)
//     whose weight reaches top_p * the weight of what is left;
//  5. the token at which u * (kept weight) falls, walking the kept tokens in id order (the
//     last kept token when rounding leaves the walk short). u is in [0, 1), drawn by the
//     caller from the sequence's generator, one per step.
#pragma once
#include <cstdint>

namespace turbine {

struct SampleSpec {
  float temperature = 1.0f;  // <= 0: greedy (the largest logit, never NaN; lowest id on ties)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float log_min_p = 0.0f;    // log(min_p); 0 (min_p = 1 or off): see min_p_on
  bool min_p_on = false;
  double u = 0.0;  // in [0, 1)
};

// The spec for these knobs (min_p 0 = off), with the caller's uniform draw.
SampleSpec make_sample_spec(float temperature, int top_k, float top_p, float min_p, double u);

// The host reference: the token drawn from logits[0..n_vocab) under `spec` (0 when no
// logit is finite).
int32_t sample_row(const float* logits, int n_vocab, const SampleSpec& spec);

}  // namespace turbine
