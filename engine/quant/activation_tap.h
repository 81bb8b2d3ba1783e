// A Backend that runs every op on another (host-memory) backend and shows each matmul's
// input to a callback first: how calibration sees what every linear layer of a model is
// fed, with the forward pass left exactly as it is (engine/model/llama_model.cpp).
#pragma once
#include <functional>

#include "kernels/backend.h"

namespace turbine {

class ActivationTap : public Backend {
 public:
  // on_matmul(w, x, n_tokens): x is [n_tokens][w.cols] in host memory.
  using Tap = std::function<void(const Matrix& w, const float* x, int n_tokens)>;
  ActivationTap(Backend& inner, Tap on_matmul) : in_(inner), tap_(std::move(on_matmul)) {
    TURBINE_CHECK(inner.uses_host_memory());
  }

  std::string name() const override { return in_.name() + "+tap"; }
  std::unique_ptr<Buffer> alloc(size_t bytes) override { return in_.alloc(bytes); }
  void upload(void* dst, const void* src, size_t bytes) override { in_.upload(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override { in_.download(dst, src, bytes); }
  void synchronize() override { in_.synchronize(); }
  bool uses_host_memory() const override { return true; }
  void matmul(const Matrix& w, const float* x, int n_tokens, float* y) override {
    tap_(w, x, n_tokens);
    in_.matmul(w, x, n_tokens, y);
  }
  void get_rows(const Matrix& w, const int32_t* ids, int n, float* out) override {
    in_.get_rows(w, ids, n, out);
  }
  void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps, float* out) override {
    in_.rms_norm(x, weight, n_tokens, dim, eps, out);
  }
  void rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim, const int32_t* positions,
            float theta, RopeStyle style, const RopeScaling& scaling) override {
    in_.rope(x, n_tokens, n_heads, head_dim, rot_dim, positions, theta, style, scaling);
  }
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override { in_.swiglu(gate, up, n, out); }
  void add(float* x, const float* y, int64_t n) override { in_.add(x, y, n); }
  void add_bias(float* x, const float* bias, int n_rows, int dim) override {
    in_.add_bias(x, bias, n_rows, dim);
  }
  void scale(float* x, float s, int64_t n) override { in_.scale(x, s, n); }
  void geglu(const float* gate, const float* up, int64_t n, float* out) override { in_.geglu(gate, up, n, out); }
  void kv_store(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                const int32_t* slots, int n_tokens) override {
    in_.kv_store(g, layer, k, v, slots, n_tokens);
  }
  void attention(const KvGeometry& g, const KvLayer& layer, const AttentionBatch& b,
                 const AttentionParams& p, const float* q, float* out) override {
    in_.attention(g, layer, b, p, q, out);
  }
  void add_rms_norm(float* x, const float* y, const float* weight, int n_tokens, int dim, float eps,
                    float* out) override {
    in_.add_rms_norm(x, y, weight, n_tokens, dim, eps, out);
  }
  void argmax(const float* x, int n_rows, int n_cols, int32_t* ids) override { in_.argmax(x, n_rows, n_cols, ids); }
  void sample(const float* x, int n_rows, int n_cols, const SampleSpec* specs, int32_t* ids) override {
    in_.sample(x, n_rows, n_cols, specs, ids);
  }

 private:
  Backend& in_;
  Tap tap_;
};

}  // namespace turbine
