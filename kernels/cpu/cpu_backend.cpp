// The CPU implementation of Backend: host memory, a persistent pool, and the kernel family
// chosen once at construction. Small element-wise ops run on the calling thread: for a
// decode step they are a few microseconds, less than waking the pool.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "base/result.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/quantize.h"

namespace turbine {

namespace {

// Below this many elements an element-wise op is not worth a pool hand-out.
constexpr int64_t kParallelElems = 1 << 14;

// GELU (tanh form) of every F16 value, rounded to F16: ggml's CPU table, so a Gemma FFN
// rounds as the reference does.
const uint16_t* gelu_f16_table() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(1 << 16);
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float x = fp16_to_fp32(static_cast<uint16_t>(i));
      t[i] = fp32_to_fp16(0.5f * x * (1.0f + std::tanh(0.79788456080286535587989211986876f * x *
                                                       (1.0f + 0.044715f * x * x))));
    }
    return t;
  }();
  return table.data();
}

class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(size_t bytes) : size_(bytes) {
    // 64-byte alignment: cache-line aligned rows and aligned SIMD loads of any width.
    size_t rounded = (bytes + 63) & ~size_t{63};
    data_ =
        static_cast<uint8_t*>(::operator new (rounded == 0 ? 64 : rounded, std::align_val_t{64}));
  }
  ~HostBuffer() override { ::operator delete (data_, std::align_val_t{64}); }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  uint8_t* data_;
  size_t size_;
};

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int n_threads)
      : pool_(n_threads > 0 ? n_threads : physical_core_count()), k_(cpu::select_kernels()) {}

  std::string name() const override { return "cpu"; }
  bool uses_host_memory() const override { return true; }

  std::unique_ptr<Buffer> alloc(size_t bytes) override {
    return std::make_unique<HostBuffer>(bytes);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  void download(void* dst, const void* src, size_t bytes) override {
    if (bytes) std::memcpy(dst, src, bytes);
  }

  void matmul(const Matrix& w, const float* x, int n_tokens, float* y) override {
    cpu::matmul(pool_, k_, act_scratch_, w, x, n_tokens, y);
  }
  void matmul_multi(const Matrix* ws, int n, const float* x, int n_tokens, float* const* ys) override {
    cpu::matmul_multi(pool_, k_, act_scratch_, ws, n, x, n_tokens, ys);
  }

  void get_rows(const Matrix& w, const int32_t* ids, int n, float* out) override {
    for (int t = 0; t < n; ++t) {
      TURBINE_CHECK(ids[t] >= 0 && ids[t] < w.rows);
      const void* row = static_cast<const uint8_t*>(w.data) + size_t(ids[t]) * w.row_stride;
      if (w.type == DType::kF16) {
        k_.fp16_to_fp32_row(static_cast<const uint16_t*>(row), out + int64_t{t} * w.cols, w.cols);
      } else {
        dequantize_row(w.type, row, out + int64_t{t} * w.cols, w.cols);
      }
    }
  }

  void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps,
                float* out) override {
    auto one = [&](int64_t t) {
      const float* xt = x + t * dim;
      float* ot = out + t * dim;
      // The sum of squares in double, the mean rounded to float: llama.cpp's sequence, so
      // the normalized rows (which are then quantized to 8 bits) match it to the last bit.
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += static_cast<double>(xt[i] * xt[i]);
      const float mean = static_cast<float>(ss / dim);
      const float scale = 1.f / std::sqrt(mean + eps);
      for (int d = 0; d < dim; ++d) ot[d] = xt[d] * scale * weight[d];
    };
    for_rows(n_tokens, dim, one);
  }

  void rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
            const int32_t* positions, float theta, RopeStyle style,
            const RopeScaling& scaling) override {
    TURBINE_CHECK(rot_dim % 2 == 0 && rot_dim <= head_dim);
    const int half = rot_dim / 2;
    // Angles as llama.cpp's CPU code forms them (float, each frequency the previous one
    // times base^(-2/d)), so rotated Q/K match the reference to the last bit; see the note
    // on rounding sequences in attention.cpp.
    const float theta_scale = std::pow(theta, -2.0f / static_cast<float>(rot_dim));
    auto one = [&](int64_t t) {
      float cs[256], sn[256];
      TURBINE_CHECK(half <= 256);
      float a = static_cast<float>(positions[t]);
      for (int i = 0; i < half; ++i) {
        // ggml's order: freq_scale * (theta / factor); both are exact no-ops when unscaled.
        float ai = scaling.freq_factors ? a / scaling.freq_factors[i] : a;
        ai = scaling.freq_scale * ai;
        cs[i] = std::cos(ai);
        sn[i] = std::sin(ai);
        a *= theta_scale;
      }
      for (int h = 0; h < n_heads; ++h) {
        float* v = x + (t * n_heads + h) * int64_t{head_dim};
        for (int i = 0; i < half; ++i) {
          int ia = style == RopeStyle::kNormal ? 2 * i : i;
          int ib = style == RopeStyle::kNormal ? 2 * i + 1 : i + half;
          float x0 = v[ia], x1 = v[ib];
          // The reference's compiler fuses the first product of each line into an FMA.
          v[ia] = std::fma(x0, cs[i], -(x1 * sn[i]));
          v[ib] = std::fma(x0, sn[i], x1 * cs[i]);
        }
      }
    };
    for_rows(n_tokens, int64_t{n_heads} * head_dim, one);
  }

  void swiglu(const float* gate, const float* up, int64_t n, float* out) override {
    // ggml's vectorised exp, not libm's expf: see kernels/cpu/vexp.h.
    for_chunks(n, [&](int64_t i0, int64_t i1) { k_.swiglu(gate + i0, up + i0, i1 - i0, out + i0); });
  }

  void add(float* x, const float* y, int64_t n) override {
    for_chunks(n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) x[i] += y[i];
    });
  }

  void add_bias(float* x, const float* bias, int n_rows, int dim) override {
    auto one = [&](int64_t t) {
      float* xt = x + t * dim;
      for (int i = 0; i < dim; ++i) xt[i] += bias[i];
    };
    for_rows(n_rows, dim, one);
  }

  void scale(float* x, float s, int64_t n) override {
    for_chunks(n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) x[i] *= s;
    });
  }

  void geglu(const float* gate, const float* up, int64_t n, float* out) override {
    const uint16_t* table = gelu_f16_table();
    for_chunks(n, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const float g = gate[i];
        const float gl = g <= -10.f ? 0.f : g >= 10.f ? g : fp16_to_fp32(table[fp32_to_fp16(g)]);
        out[i] = gl * up[i];
      }
    });
  }

  void kv_store(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                const int32_t* slots, int n_tokens) override {
    cpu::kv_store(k_, g, layer, k, v, slots, n_tokens);
  }

  void attention(const KvGeometry& g, const KvLayer& layer, const AttentionBatch& b,
                 const AttentionParams& p, const float* q, float* out) override {
    cpu::attention(pool_, k_, g, layer, b, p, q, out);
  }

 private:
  template <typename Fn>
  void for_rows(int64_t n_rows, int64_t row_elems, Fn& fn) {
    if (n_rows * row_elems < kParallelElems || n_rows == 1) {
      for (int64_t t = 0; t < n_rows; ++t) fn(t);
    } else {
      pool_.parallel_for(n_rows, fn);
    }
  }

  template <typename Fn>
  void for_chunks(int64_t n, Fn&& fn) {
    if (n < kParallelElems) {
      fn(0, n);
      return;
    }
    int64_t chunk = (n + pool_.size() - 1) / pool_.size();
    chunk = (chunk + 63) & ~int64_t{63};
    pool_.parallel_for((n + chunk - 1) / chunk,
                       [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
  }

  ThreadPool pool_;
  const cpu::KernelTable& k_;
  std::vector<uint8_t> act_scratch_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
  return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace turbine
