// One sequence over a private KV pool, for the CLI (run, chat, bench, perplexity) and tests:
// the batch is always one sequence whose block table is simply 0, 1, 2, ...
#pragma once
#include <span>
#include <vector>

#include "engine/model/llama_model.h"

namespace turbine {

class SingleSequence {
 public:
  // max_tokens: the longest context this sequence can hold; batch: tokens per forward call
  // during prefill.
  SingleSequence(LlamaModel& model, int max_tokens, int batch = 512, int block_size = 32);

  int length() const { return n_past_; }
  int capacity() const { return max_tokens_; }
  void reset() { n_past_ = 0; }
  // Appends tokens (chunked by the batch size) and returns the logits of the last one.
  // With all_logits, returns [tokens.size()][n_vocab] instead.
  std::vector<float> eval(std::span<const int32_t> tokens, bool all_logits = false);

 private:
  LlamaModel& model_;
  int max_tokens_, batch_;
  KvPool kv_;
  std::vector<int32_t> table_;
  int n_past_ = 0;
};

}  // namespace turbine
