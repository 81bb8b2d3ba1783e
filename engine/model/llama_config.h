// Hyper-parameters of a Llama-family model, read from GGUF metadata.
#pragma once
#include <cstdint>
#include <string>

#include "engine/gguf/gguf_file.h"

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
  float rope_theta = 10000.f;
  float rms_eps = 1e-5f;
  int n_vocab = 0;
  int context_length = 0;
  bool tied_embeddings = false;

  // Reads and validates the config; errors name the missing or inconsistent key.
  static Result<LlamaConfig> from_gguf(const GgufFile& f);
  std::string describe() const;
};

}  // namespace turbine
