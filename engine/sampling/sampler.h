// Per-sequence sampler: logit bias and penalties, then greedy or temperature + top-k +
// min-p + top-p (kernels/sample.h, the rule the device twin shares), and the
// log-probabilities the API reports. Holds the sequence's RNG and
// token counts, so one Sampler follows one sequence from its prompt to its last token.
//
// Reported logprobs are those of the model's raw distribution (log-softmax of the logits
// before any processing), as vLLM reports by default: they say what the model thought, not
// what the sampling knobs made of it.
#pragma once
#include <cstdint>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/sampling/rng.h"
#include "engine/sampling/sampling_params.h"
#include "kernels/sample.h"

namespace turbine {

struct SampleResult {
  int32_t token = -1;
  float logprob = 0.0f;                            // of `token`, raw distribution
  std::vector<std::pair<int32_t, float>> top;      // top_logprobs entries, best first
};

class Sampler {
 public:
  // `fallback_seed` is used when params.seed is empty (callers draw it from a random device).
  Sampler(SamplingParams params, uint64_t fallback_seed);

  // Feeds the prompt (for the repetition penalty window).
  void accept_prompt(std::span<const int32_t> prompt);
  // Picks the next token from `logits` (n_vocab floats; left unchanged). n_top: how many
  // top logprobs to report (0: none). `allowed`: a bit per token id (a grammar's mask);
  // the others are excluded before any sampling rule applies, so top-k / top-p / min-p
  // work on the allowed tokens alone. It must allow at least one token. `with_logprob`:
  // whether to compute the token's logprob (a pass over the vocabulary with an exp per
  // entry, as costly as the draw itself; off unless the request asked for logprobs).
  SampleResult sample(std::span<const float> logits, int n_top = 0, const uint64_t* allowed = nullptr,
                      bool with_logprob = true);
  // True when drawing from all tokens and keeping the draw if a grammar allows it, else
  // drawing again from the allowed ones, gives exactly the masked distribution: greedy,
  // or temperature sampling with no top-k / top-p / min-p cut (the cut of the whole
  // vocabulary and of the allowed part differ). The engine then masks only when the
  // first draw is refused.
  bool check_then_mask() const;
  // True when no bias or penalty applies, so the draw is kernels/sample.h's rule alone and
  // a backend may make it (Backend::sample).
  bool plain() const;
  // The spec for one draw by a backend, taking this step's uniform from the sequence's
  // generator as sample() would (none for greedy).
  SampleSpec next_spec();
  // Records a token that became part of the output (sample() does not, so callers decide).
  void accept(int32_t token);

  const SamplingParams& params() const { return p_; }

 private:
  void apply_penalties(std::vector<float>& logits) const;

  SamplingParams p_;
  SplitMix64 rng_;
  std::vector<int32_t> history_;                 // prompt + output, for the repeat window
  std::unordered_map<int32_t, int> output_counts_;  // output tokens, for OpenAI penalties
  std::vector<float> work_;
};

// log-softmax of `logits` at `ids` (and the n best when n > 0), in one pass over the vocab.
float log_softmax_at(std::span<const float> logits, int32_t id);
std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int n);

}  // namespace turbine
