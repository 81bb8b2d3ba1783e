// Perplexity computed the way llama.cpp's llama-perplexity computes it, so the figures are
// comparable: the token stream is cut into chunks of n_ctx tokens (the remainder is
// dropped); each chunk is evaluated from an empty cache (its first token replaced by BOS
// when the vocabulary adds one); only the second half of each chunk is scored (each
// token from position n_ctx/2 + 1 on, predicted from everything before it in the chunk),
// so every scored token has at least n_ctx/2 tokens of context.
#pragma once
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "engine/model/llama_model.h"

namespace turbine {

struct PerplexityResult {
  double ppl = 0;
  double nll_stderr = 0;     // standard error of the mean negative log-likelihood
  int chunks = 0;
  int64_t scored_tokens = 0;
  std::vector<double> running_ppl;  // after each chunk, as llama-perplexity prints it
};

// Log-softmax of `logits` at `target`, in double precision.
double token_logprob(std::span<const float> logits, int32_t target);

Result<PerplexityResult> perplexity(LlamaModel& model, std::span<const int32_t> tokens,
                                    int n_ctx, int n_batch, std::optional<int32_t> bos,
                                    const std::function<void(int, int, double)>& progress = {});

}  // namespace turbine
