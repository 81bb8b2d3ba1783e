#include "engine/model/single_sequence.h"

#include <algorithm>

namespace turbine {

SingleSequence::SingleSequence(LlamaModel& model, int max_tokens, int batch, int block_size)
    : model_(model),
      max_tokens_(max_tokens),
      batch_(std::max(1, batch)),
      kv_(model.backend(), model.config().n_layers,
          model.kv_geometry((max_tokens + block_size - 1) / block_size, block_size)) {
  table_.resize(kv_.num_blocks());
  for (int i = 0; i < kv_.num_blocks(); ++i) table_[i] = i;
}

std::vector<float> SingleSequence::eval(std::span<const int32_t> tokens, bool all_logits) {
  TURBINE_CHECK(n_past_ + static_cast<int>(tokens.size()) <= max_tokens_);
  const int n_vocab = model_.config().n_vocab;
  std::vector<float> out;
  ForwardBatch b;
  b.n_seqs = 1;
  b.max_blocks_per_seq = static_cast<int>(table_.size());
  b.block_tables = table_;
  for (size_t start = 0; start < tokens.size(); start += batch_) {
    size_t n = std::min<size_t>(batch_, tokens.size() - start);
    b.tokens.assign(tokens.begin() + start, tokens.begin() + start + n);
    b.positions.resize(n);
    b.seq_of_token.assign(n, 0);
    for (size_t i = 0; i < n; ++i) b.positions[i] = n_past_ + static_cast<int>(i);
    b.logit_rows.clear();
    if (all_logits) {
      for (size_t i = 0; i < n; ++i) b.logit_rows.push_back(static_cast<int>(i));
    } else if (start + n == tokens.size()) {
      b.logit_rows.push_back(static_cast<int>(n - 1));
    }
    const std::vector<float>& logits = model_.forward(b, kv_);
    out.insert(out.end(), logits.begin(), logits.begin() + b.logit_rows.size() * size_t(n_vocab));
    n_past_ += static_cast<int>(n);
  }
  return out;
}

}  // namespace turbine
