// Hyper-parameters of a Llama-family model, read from GGUF metadata. One forward pass
// (llama_model.cpp) serves every supported architecture; what tells them apart is here
// (docs/ARCHITECTURE.md, Model):
//   llama  Llama 1-3 / Mistral / SmolLM: pairwise RoPE, no biases;
// and, for any of them, RoPE scaling: linear (rope.scaling.factor) and Llama-3's per-pair
// frequency factors (the rope_freqs tensor);
//   qwen2  Qwen2 / Qwen2.5: Q/K/V biases, NeoX RoPE;
//   qwen3  Qwen3 (dense): RMSNorm over each Q and K head before RoPE, NeoX RoPE, a head size
//          that need not be hidden / heads;
//   gemma3 Gemma 3 (text): qwen3's Q/K norms, the embedding scaled by sqrt(hidden), RMSNorm
//          after attention and after the FFN too, GELU-gated FFN, and sliding-window layers
//          (all but every swa_pattern-th) with their own RoPE base.
#pragma once
#include <cstdint>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "kernels/backend.h"

namespace turbine {

struct LlamaConfig {
  std::string arch = "llama";
  std::string name;
  int n_layers = 0;
  int n_embd = 0;
  int n_ff = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int rope_dim = 0;
  RopeStyle rope_style = RopeStyle::kNormal;
  bool qkv_bias = false;  // blk.N.attn_{q,k,v}.bias
  bool qk_norm = false;   // blk.N.attn_{q,k}_norm.weight, [head_dim] each
  bool post_norms = false;  // blk.N.post_attention_norm / post_ffw_norm (gemma3)
  bool gelu_ffn = false;    // gelu(gate) * up instead of silu(gate) * up
  float embd_scale = 0.f;   // > 0: token embeddings times this (gemma3: sqrt(n_embd))
  float attn_scale = 0.f;   // the softmax scale, 1/sqrt(head_dim) unless the model says
  int sliding_window = 0;   // > 0: local layers see this many positions
  int swa_pattern = 0;      // layer l is local when l % swa_pattern < swa_pattern - 1
  float rope_theta_swa = 10000.f;  // the local layers' RoPE base (unscaled)
  float rope_theta = 10000.f;
  float rope_freq_scale = 1.f;  // linear RoPE scaling: 1 / rope.scaling.factor
  bool rope_factors = false;    // rope_freqs.weight, [rope_dim / 2] (Llama-3.1+ "llama3" scaling)
  float rms_eps = 1e-5f;
  int n_vocab = 0;
  int context_length = 0;
  bool tied_embeddings = false;

  // The architectures from_gguf accepts, as general.architecture names them.
  static const char* supported_architectures() { return "llama, qwen2, qwen3, gemma3"; }
  // Whether layer l attends through the sliding window.
  bool is_local_layer(int l) const {
    return sliding_window > 0 && (swa_pattern == 0 || l % swa_pattern < swa_pattern - 1);
  }
  // Reads and validates the config; errors name the missing or inconsistent key.
  static Result<LlamaConfig> from_gguf(const GgufFile& f);
  std::string describe() const;
};

}  // namespace turbine
