// The Llama-family forward pass, written once against kernels/backend.h (read it top to
// bottom in llama_model.cpp: embedding, then per layer RMSNorm -> QKV (+ bias, or per-head
// RMSNorm, where the architecture has them) -> RoPE -> paged attention -> output projection
// -> residual, RMSNorm -> SwiGLU FFN -> residual; then the final norm and the LM head for
// the tokens whose logits are wanted). The architectures are listed in llama_config.h.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/kv_pool.h"
#include "engine/model/llama_config.h"
#include "engine/tokenizer/vocab.h"
#include "kernels/backend.h"

namespace turbine {

// One step's tokens for any number of sequences (see AttentionBatch in backend.h).
struct ForwardBatch {
  std::vector<int32_t> tokens;        // [n_tokens]
  std::vector<int32_t> positions;     // [n_tokens]
  std::vector<int32_t> seq_of_token;  // [n_tokens], indexes block_tables' rows
  std::vector<int32_t> block_tables;  // [n_seqs][max_blocks_per_seq]
  int n_seqs = 0;
  int max_blocks_per_seq = 0;
  std::vector<int32_t> logit_rows;    // which tokens' logits to return, in this order

  int n_tokens() const { return static_cast<int>(tokens.size()); }
};

struct LoadOptions {
  // Called with (bytes done, bytes total) while weights are bound/uploaded.
  std::function<void(size_t, size_t)> progress;
  // How every KV pool made from kv_geometry() stores K and V (--kv-cache-dtype).
  KvType kv_type = KvType::kF16;
};

class LlamaModel {
 public:
  static Result<std::unique_ptr<LlamaModel>> load(std::shared_ptr<GgufFile> file,
                                                  Backend& backend, const LoadOptions& opt = {});

  ~LlamaModel();
  // Decode steps of at most this many sequences run as one backend graph (Backend::run_graph).
  static constexpr int kGraphMaxTokens = 64;

  const LlamaConfig& config() const { return cfg_; }
  const GgufFile& file() const { return *file_; }
  Backend& backend() { return backend_; }
  // Bytes of weights read by one decode step (every matrix once, plus norms).
  size_t weight_bytes_per_token() const { return weight_bytes_; }

  // KV geometry for a pool of num_blocks blocks of block_size tokens, in the load's kv_type.
  KvGeometry kv_geometry(int num_blocks, int block_size) const;
  KvType kv_type() const { return kv_type_; }

  // Runs the batch, writing its K/V into the pool, and returns logits for batch.logit_rows
  // as [logit_rows.size()][n_vocab] (host memory).
  const std::vector<float>& forward(const ForwardBatch& batch, KvPool& kv);
  // The same step for greedy decoding: the index of the largest logit of each row of
  // batch.logit_rows, computed by the backend (on a GPU only the ids cross the bus).
  const std::vector<int32_t>& forward_argmax(const ForwardBatch& batch, KvPool& kv);
  // The same step drawing a token per row of batch.logit_rows under specs[row]
  // (kernels/sample.h), by the backend: on a GPU sampled steps move only ids too.
  const std::vector<int32_t>& forward_sample(const ForwardBatch& batch, KvPool& kv,
                                             const std::vector<SampleSpec>& specs);

 private:
  struct Layer {
    const float* attn_norm;
    const float* ffn_norm;
    const float* bq = nullptr;  // qwen2
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* q_norm = nullptr;  // qwen3, gemma3
    const float* k_norm = nullptr;
    const float* post_attn_norm = nullptr;  // gemma3
    const float* post_ffn_norm = nullptr;
    Matrix wq, wk, wv, wo, w_gate, w_up, w_down;
  };
  LlamaModel(std::shared_ptr<GgufFile> f, Backend& b, LlamaConfig cfg)
      : file_(std::move(f)), backend_(b), cfg_(std::move(cfg)) {}
  Result<Matrix> bind(const std::string& name, int64_t rows, int64_t cols);
  Result<const float*> bind_vector(const std::string& name, int64_t n);
  void ensure_scratch(int n_tokens, int n_logits);
  // The forward pass proper; returns the logits in backend memory (nullptr when none wanted).
  const float* run(const ForwardBatch& batch, KvPool& kv);

  std::shared_ptr<GgufFile> file_;
  Backend& backend_;
  LlamaConfig cfg_;
  Matrix tok_embd_, output_;
  const float* output_norm_ = nullptr;
  const float* rope_freqs_ = nullptr;  // Llama-3's per-pair RoPE frequency divisors, if any
  std::vector<Layer> layers_;
  std::vector<std::unique_ptr<Buffer>> weight_buffers_;
  size_t weight_bytes_ = 0;
  KvType kv_type_ = KvType::kF16;
  const LoadOptions* load_opt_ = nullptr;
  size_t loaded_bytes_ = 0;

  // Scratch activations in backend memory, grown on demand.
  int scratch_tokens_ = 0, scratch_logits_ = 0;
  std::unique_ptr<Buffer> x_, h_, q_, k_, v_, att_, gate_, up_, sel_, logits_dev_, meta_;
  std::vector<float> logits_;
  std::vector<int32_t> ids_;
};

// The tokenizer's vocabulary from GGUF metadata (tokenizer.ggml.*).
Result<VocabData> vocab_from_gguf(const GgufFile& f);

}  // namespace turbine
