// A naive float Llama forward pass over dequantized weights: the ground truth the backend
// forward is tested against. Written for clarity, not speed. It covers the architectures
// of engine/model/llama_config.h: Q/K/V biases (qwen2), per-head Q/K RMSNorm (qwen3), both
// RoPE layouts, and a head size of its own.
#pragma once
#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/llama_config.h"
#include "kernels/quantize.h"

namespace turbine::testing {

inline std::vector<float> dequant(const GgufFile& f, const std::string& name) {
  const GgufTensor* t = f.find_tensor(name);
  TURBINE_CHECK(t != nullptr);
  std::vector<float> out(t->n_elements());
  int64_t cols = t->dims[0], rows = t->n_elements() / cols;
  size_t rb = row_bytes(t->type, cols);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t->type, t->data + r * rb, out.data() + r * cols, cols);
  return out;
}

// Returns logits [tokens.size()][n_vocab] for every position, under the file's config or
// `override` (tests use it to show that an architecture's extras change the result).
inline std::vector<float> reference_logits(const GgufFile& f, const std::vector<int32_t>& tokens,
                                           const LlamaConfig* override = nullptr) {
  auto cfg = LlamaConfig::from_gguf(f);
  TURBINE_CHECK(cfg.ok());
  const LlamaConfig& c = override ? *override : *cfg;
  const int d = c.n_embd, hd = c.head_dim, nh = c.n_heads, nkv = c.n_kv_heads, T = tokens.size();
  auto matvec = [](const std::vector<float>& W, const std::vector<float>& x, int rows, int cols) {
    std::vector<float> y(rows);
    for (int r = 0; r < rows; ++r) {
      double s = 0;
      for (int k = 0; k < cols; ++k) s += double(W[size_t(r) * cols + k]) * x[k];
      y[r] = float(s);
    }
    return y;
  };
  auto rmsnorm = [&](std::span<const float> x, const std::vector<float>& w) {
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    float s = 1.0f / std::sqrt(float(ss / x.size()) + c.rms_eps);
    std::vector<float> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] * s * w[i];
    return y;
  };
  const bool neox = c.rope_style == RopeStyle::kNeox;
  const std::vector<float> rope_ff = c.rope_factors ? dequant(f, "rope_freqs.weight") : std::vector<float>();
  // Local (sliding-window) layers: their own base, no scaling.
  auto rope = [&](std::vector<float>& v, int heads, int pos, bool local) {
    const double theta = local ? c.rope_theta_swa : c.rope_theta;
    const int half = c.rope_dim / 2;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < half; ++i) {
        double freq = std::pow(theta, -2.0 * i / c.rope_dim);
        double a = local ? pos * freq : pos * freq / (rope_ff.empty() ? 1.0 : rope_ff[i]) * c.rope_freq_scale;
        // Pairs (2i, 2i+1) in the GGUF llama layout; (i, i + half) in NeoX's.
        float& x0 = v[h * hd + (neox ? i : 2 * i)];
        float& x1 = v[h * hd + (neox ? i + half : 2 * i + 1)];
        const float a0 = x0, a1 = x1;
        x0 = float(a0 * std::cos(a) - a1 * std::sin(a));
        x1 = float(a0 * std::sin(a) + a1 * std::cos(a));
      }
  };
  auto add = [](std::vector<float>& v, const std::vector<float>& b) {
    for (size_t i = 0; i < v.size(); ++i) v[i] += b[i];
  };
  auto head_norm = [&](std::vector<float>& v, int heads, const std::vector<float>& w) {
    for (int h = 0; h < heads; ++h) {
      auto y = rmsnorm(std::span<const float>(v.data() + h * hd, hd), w);
      std::copy(y.begin(), y.end(), v.begin() + h * hd);
    }
  };
  std::vector<float> emb = dequant(f, "token_embd.weight");
  std::vector<std::vector<float>> x(T);
  for (int t = 0; t < T; ++t) {
    x[t].assign(emb.begin() + size_t(tokens[t]) * d, emb.begin() + size_t(tokens[t] + 1) * d);
    if (c.embd_scale > 0) for (float& e : x[t]) e *= c.embd_scale;
  }
  for (int l = 0; l < c.n_layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    const bool local = c.is_local_layer(l);
    std::vector<float> pan, pfn;
    if (c.post_norms) pan = dequant(f, p + "post_attention_norm.weight"), pfn = dequant(f, p + "post_ffw_norm.weight");
    auto an = dequant(f, p + "attn_norm.weight"), fn = dequant(f, p + "ffn_norm.weight");
    auto wq = dequant(f, p + "attn_q.weight"), wk = dequant(f, p + "attn_k.weight"),
         wv = dequant(f, p + "attn_v.weight"), wo = dequant(f, p + "attn_output.weight"),
         wg = dequant(f, p + "ffn_gate.weight"), wu = dequant(f, p + "ffn_up.weight"),
         wd = dequant(f, p + "ffn_down.weight");
    std::vector<float> bq, bk, bv, qn, kn;
    if (c.qkv_bias)
      bq = dequant(f, p + "attn_q.bias"), bk = dequant(f, p + "attn_k.bias"), bv = dequant(f, p + "attn_v.bias");
    if (c.qk_norm) qn = dequant(f, p + "attn_q_norm.weight"), kn = dequant(f, p + "attn_k_norm.weight");
    std::vector<std::vector<float>> K(T), V(T), Q(T);
    for (int t = 0; t < T; ++t) {
      auto h = rmsnorm(x[t], an);
      Q[t] = matvec(wq, h, nh * hd, d);
      K[t] = matvec(wk, h, nkv * hd, d);
      V[t] = matvec(wv, h, nkv * hd, d);
      if (c.qkv_bias) add(Q[t], bq), add(K[t], bk), add(V[t], bv);
      if (c.qk_norm) head_norm(Q[t], nh, qn), head_norm(K[t], nkv, kn);
      rope(Q[t], nh, t, local);
      rope(K[t], nkv, t, local);
    }
    for (int t = 0; t < T; ++t) {
      std::vector<float> att(nh * hd, 0.f);
      for (int h = 0; h < nh; ++h) {
        int kvh = h / (nh / nkv);
        // A local layer's query at t sees t - window + 1 .. t.
        const int j0 = local && t >= c.sliding_window ? t - c.sliding_window + 1 : 0;
        std::vector<double> s(t + 1, 0.0);
        double mx = -1e300;
        for (int j = j0; j <= t; ++j) {
          double dot = 0;
          for (int i = 0; i < hd; ++i) dot += double(Q[t][h * hd + i]) * K[j][kvh * hd + i];
          s[j] = dot * c.attn_scale;
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (int j = j0; j <= t; ++j) sum += (s[j] = std::exp(s[j] - mx));
        for (int j = j0; j <= t; ++j)
          for (int i = 0; i < hd; ++i) att[h * hd + i] += float(s[j] / sum * V[j][kvh * hd + i]);
      }
      auto o = matvec(wo, att, d, nh * hd);
      if (c.post_norms) o = rmsnorm(o, pan);
      for (int i = 0; i < d; ++i) x[t][i] += o[i];
      auto h = rmsnorm(x[t], fn);
      auto g = matvec(wg, h, c.n_ff, d), u = matvec(wu, h, c.n_ff, d);
      for (int i = 0; i < c.n_ff; ++i) {
        const double z = g[i];
        const double act = c.gelu_ffn ? 0.5 * z * (1 + std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)))
                                      : z / (1 + std::exp(-z));
        g[i] = float(act * u[i]);
      }
      auto dn = matvec(wd, g, d, c.n_ff);
      if (c.post_norms) dn = rmsnorm(dn, pfn);
      for (int i = 0; i < d; ++i) x[t][i] += dn[i];
    }
  }
  auto on = dequant(f, "output_norm.weight");
  std::vector<float> out_w = f.find_tensor("output.weight") ? dequant(f, "output.weight") : emb;
  std::vector<float> logits;
  for (int t = 0; t < T; ++t) {
    auto y = matvec(out_w, rmsnorm(x[t], on), c.n_vocab, d);
    logits.insert(logits.end(), y.begin(), y.end());
  }
  return logits;
}

}  // namespace turbine::testing
