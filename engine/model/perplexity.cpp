#include "engine/model/perplexity.h"

#include <algorithm>
#include <cmath>

#include "engine/model/single_sequence.h"

namespace turbine {

double token_logprob(std::span<const float> logits, int32_t target) {
  float mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - mx);
  return static_cast<double>(logits[target]) - mx - std::log(sum);
}

Result<PerplexityResult> perplexity(LlamaModel& model, std::span<const int32_t> tokens,
                                    int n_ctx, int n_batch, std::optional<int32_t> bos,
                                    const std::function<void(int, int, double)>& progress) {
  if (n_ctx < 8) return Error{"perplexity: context size must be at least 8"};
  const int n_chunks = static_cast<int>(tokens.size() / n_ctx);
  if (n_chunks == 0)
    return Error{"perplexity: the text has " + std::to_string(tokens.size()) +
                 " tokens; it needs at least one full context of " + std::to_string(n_ctx)};
  const int n_vocab = model.config().n_vocab;
  const int first = n_ctx / 2;
  SingleSequence seq(model, n_ctx, std::min(n_batch, n_ctx));
  PerplexityResult r;
  double nll = 0, nll2 = 0;
  std::vector<int32_t> chunk(n_ctx);
  for (int c = 0; c < n_chunks; ++c) {
    std::copy_n(tokens.begin() + size_t(c) * n_ctx, n_ctx, chunk.begin());
    if (bos) chunk[0] = *bos;
    seq.reset();
    std::vector<float> logits = seq.eval(chunk, /*all_logits=*/true);
    // Logits at position p predict the token at p + 1 (from the original stream).
    for (int p = first; p < n_ctx - 1; ++p) {
      int32_t target = tokens[size_t(c) * n_ctx + p + 1];
      double lp = token_logprob({logits.data() + size_t(p) * n_vocab, size_t(n_vocab)}, target);
      nll -= lp;
      nll2 += lp * lp;
      ++r.scored_tokens;
    }
    r.running_ppl.push_back(std::exp(nll / r.scored_tokens));
    if (progress) progress(c + 1, n_chunks, r.running_ppl.back());
  }
  r.chunks = n_chunks;
  double mean = nll / r.scored_tokens;
  r.ppl = std::exp(mean);
  double var = nll2 / r.scored_tokens - mean * mean;
  r.nll_stderr = r.scored_tokens > 1 ? std::sqrt(std::max(0.0, var) / (r.scored_tokens - 1)) : 0;
  return r;
}

}  // namespace turbine
