#include "engine/model/llama_config.h"

#include <cmath>

namespace turbine {

namespace {

// Gemma 3's keys, read as llama.cpp's gemma3 loader reads them.
Status gemma3_extras(const GgufFile& f, LlamaConfig& c) {
  const std::string p = "gemma3.";
  c.embd_scale = std::sqrt(static_cast<float>(c.n_embd));
  // llama.cpp: 1/sqrt(head size), except the 62-layer 27B (1/sqrt(hidden / heads)).
  if (c.n_layers == 62) c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.n_embd / c.n_heads));
  if (auto w = f.get_int(p + "attention.sliding_window"); w && *w > 0) {
    if (*w > (int64_t{1} << 30))
      return Error{"model '" + f.path() + "': gemma3.attention.sliding_window is out of range"};
    c.sliding_window = static_cast<int>(*w);
    c.swa_pattern = 6;
    if (f.find(p + "attention.sliding_window_pattern")) {
      auto n = f.get_int(p + "attention.sliding_window_pattern");
      if (!n || *n < 0 || *n > 1024)
        return Error{"model '" + f.path() + "': gemma3.attention.sliding_window_pattern must be one "
                     "integer in [0, 1024] (per-layer arrays are not supported)"};
      c.swa_pattern = static_cast<int>(*n);
    }
    c.rope_theta_swa = static_cast<float>(f.get_float(p + "rope.freq_base_swa").value_or(10000.0));
  }
  if (auto cap = f.get_float(p + "final_logit_softcapping"); cap && *cap != 0.0)
    return Error{"model '" + f.path() + "': final logit soft-capping is not supported"};
  return {};
}

}  // namespace

Result<LlamaConfig> LlamaConfig::from_gguf(const GgufFile& f) {
  LlamaConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) return Error{"model '" + f.path() + "' has no general.architecture"};
  // Mistral GGUFs use the llama architecture name.
  if (*arch == "qwen2") {
    c.qkv_bias = true;
    c.rope_style = RopeStyle::kNeox;
  } else if (*arch == "qwen3") {
    c.qk_norm = true;
    c.rope_style = RopeStyle::kNeox;
  } else if (*arch == "gemma3") {
    c.qk_norm = c.post_norms = c.gelu_ffn = true;
    c.rope_style = RopeStyle::kNeox;
  } else if (*arch != "llama") {
    return Error{"model '" + f.path() + "' has architecture '" + *arch +
                 "', which turbine does not support (supported: " + supported_architectures() + ")"};
  }
  c.arch = *arch;
  c.name = f.get_string("general.name").value_or("");
  const std::string p = c.arch + ".";
  auto need = [&](const char* key, int& out, int64_t lo, int64_t hi) -> Status {
    auto v = f.get_int(p + key);
    if (!v) return Error{"model '" + f.path() + "' has no integer metadata '" + p + key + "'"};
    if (*v < lo || *v > hi)
      return Error{"model '" + f.path() + "': " + p + key + " = " + std::to_string(*v) +
                   " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]"};
    out = static_cast<int>(*v);
    return {};
  };
  for (Status s : {need("block_count", c.n_layers, 1, 1024),
                   need("embedding_length", c.n_embd, 1, 1 << 17),
                   need("feed_forward_length", c.n_ff, 1, 1 << 19),
                   need("attention.head_count", c.n_heads, 1, 4096)})
    if (!s) return Error{s.error()};
  c.n_kv_heads = c.n_heads;
  if (f.find(p + "attention.head_count_kv")) {
    Status s = need("attention.head_count_kv", c.n_kv_heads, 1, c.n_heads);
    if (!s) return Error{s.error()};
  }
  if (c.n_heads % c.n_kv_heads != 0)
    return Error{"model '" + f.path() + "': head_count " + std::to_string(c.n_heads) +
                 " is not a multiple of head_count_kv " + std::to_string(c.n_kv_heads)};
  if (c.n_embd % c.n_heads != 0 && !f.find(p + "attention.key_length"))
    return Error{"model '" + f.path() + "': embedding_length is not a multiple of head_count"};
  c.head_dim = c.n_embd / c.n_heads;
  // Qwen3 and others name a head size of their own (Qwen3-0.6B: 16 heads of 128 over 1024).
  if (f.find(p + "attention.key_length")) {
    Status s = need("attention.key_length", c.head_dim, 2, 1024);
    if (!s) return Error{s.error()};
  }
  if (c.head_dim % 2)
    return Error{"model '" + f.path() + "': head size " + std::to_string(c.head_dim) + " is odd"};
  if (auto vl = f.get_int(p + "attention.value_length"); vl && *vl != c.head_dim)
    return Error{"model '" + f.path() + "': attention.value_length " + std::to_string(*vl) +
                 " differs from attention.key_length " + std::to_string(c.head_dim) +
                 ", which turbine does not support"};
  c.rope_dim = static_cast<int>(f.get_int(p + "rope.dimension_count").value_or(c.head_dim));
  if (c.rope_dim <= 0 || c.rope_dim > c.head_dim || c.rope_dim % 2)
    return Error{"model '" + f.path() + "': rope.dimension_count " + std::to_string(c.rope_dim) + " is invalid"};
  c.rope_theta = static_cast<float>(f.get_float(p + "rope.freq_base").value_or(10000.0));
  c.rms_eps = static_cast<float>(f.get_float(p + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.context_length = static_cast<int>(f.get_int(p + "context_length").value_or(2048));
  // RoPE scaling as llama.cpp reads it: no type means linear, and linear applies the factor
  // when there is one; "none" never scales.
  const std::string scaling = f.get_string(p + "rope.scaling.type").value_or("linear");
  if (scaling != "none" && scaling != "linear")
    return Error{"model '" + f.path() + "' uses RoPE scaling '" + scaling +
                 "', which turbine does not support (supported: none, linear, and llama3's rope_freqs)"};
  auto factor = f.get_float(p + "rope.scaling.factor");
  if (!factor) factor = f.get_float(p + "rope.scale_linear");
  if (scaling == "linear" && factor && *factor != 0.0) {
    if (!(*factor > 0.0) || !std::isfinite(*factor))
      return Error{"model '" + f.path() + "': rope.scaling.factor " + std::to_string(*factor) +
                   " is not a positive number"};
    c.rope_freq_scale = static_cast<float>(1.0 / *factor);
  }
  if (const GgufTensor* ff = f.find_tensor("rope_freqs.weight")) {
    if (ff->dims.size() != 1 || ff->dims[0] != c.rope_dim / 2 || ff->type != DType::kF32)
      return Error{"model '" + f.path() + "': rope_freqs.weight must be F32 of shape [" +
                   std::to_string(c.rope_dim / 2) + "] (rope.dimension_count / 2)"};
    c.rope_factors = true;
  }
  c.attn_scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch == "gemma3") {
    if (Status s = gemma3_extras(f, c); !s) return Error{s.error()};
  }
  const GgufTensor* emb = f.find_tensor("token_embd.weight");
  if (!emb || emb->dims.size() != 2 || emb->dims[0] != c.n_embd)
    return Error{"model '" + f.path() + "' has no token_embd.weight of shape [" +
                 std::to_string(c.n_embd) + ", n_vocab]"};
  c.n_vocab = static_cast<int>(emb->dims[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  return c;
}

std::string LlamaConfig::describe() const {
  return arch + " layers=" + std::to_string(n_layers) + " hidden=" + std::to_string(n_embd) +
         " ffn=" + std::to_string(n_ff) + " heads=" + std::to_string(n_heads) + "/" +
         std::to_string(n_kv_heads) + " head_dim=" + std::to_string(head_dim) +
         " vocab=" + std::to_string(n_vocab) + (qkv_bias ? " qkv_bias" : "") +
         (qk_norm ? " qk_norm" : "") + (rope_style == RopeStyle::kNeox ? " rope=neox" : "") +
         (rope_freq_scale != 1.f ? " rope_scale=" + std::to_string(1.f / rope_freq_scale) : "") +
         (rope_factors ? " rope_freqs" : "") +
         (sliding_window > 0 ? " swa=" + std::to_string(sliding_window) + "/" + std::to_string(swa_pattern) : "") + " rope_theta=" + std::to_string(rope_theta) +
         (tied_embeddings ? " tied" : "");
}

}  // namespace turbine
