// Synthetic Llama-shaped models: seeded random weights of any shape and tensor type plus a
// small byte-level BPE tokenizer with SmolLM2's special tokens and ChatML template. Unit
// tests run on tiny ones without downloads; benchmarks make a 7B-shaped one anywhere.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "engine/gguf/gguf_writer.h"

namespace turbine {

struct SynthOptions {
  // general.architecture: llama, qwen2 (adds Q/K/V biases), qwen3 (adds per-head Q/K norms)
  // or gemma3 (Q/K norms, post-attention and post-FFN norms, sliding_window local layers).
  std::string arch = "llama";
  int sliding_window = 8;   // gemma3: attention.sliding_window (every 6th layer is global)
  int n_layers = 2;
  int n_embd = 64;
  int n_ff = 128;
  int n_heads = 4;
  int n_kv_heads = 2;
  int head_dim = 0;  // 0: n_embd / n_heads; else written as attention.key_length (Qwen3 style)
  int n_vocab = 512;  // at least 259 (3 specials + 256 byte tokens)
  int context_length = 2048;
  float rope_theta = 10000.f;
  // RoPE scaling: "none", "linear" (rope.scaling.factor = rope_factor) or "llama3" (a
  // rope_freqs tensor from Llama-3.1's formula, factor rope_factor, low/high frequency
  // factors 1 and 4, original context context_length).
  std::string rope_scaling = "none";
  float rope_factor = 8.f;
  DType weight_type = DType::kQ8_0;  // for the 2-D matrices; norms stay F32
  DType embd_type = DType::kQ8_0;
  bool tied_embeddings = true;
  uint64_t seed = 1;
  std::string name = "synthetic";
  std::function<void(size_t done, size_t total)> progress;  // tensors written
};

Status validate(const SynthOptions& o);
// Builds the model in memory (tests use it directly through GgufFile::parse).
Result<GgufWriter> synth_model(const SynthOptions& o);
Status synth_model_file(const SynthOptions& o, const std::string& path);

}  // namespace turbine
