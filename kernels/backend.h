// The one seam between model code and hardware. The Llama forward pass is written once
// against this interface; kernels/cpu implements it for every x86-64 machine and
// kernels/cuda is its twin on NVIDIA GPUs. All pointers an op takes live in the backend's
// memory (host memory for the CPU backend, device memory for CUDA); Buffer and upload()
// are how the model puts data there.
//
// Shapes are row-major. A weight matrix W has `rows` output features and `cols` input
// features (GGUF's ne[1] and ne[0]); activations are [n_tokens][features] float32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/dtype.h"
#include "base/result.h"
#include "kernels/sample.h"

namespace turbine {

// A weight matrix in the backend's memory, in its GGUF storage type.
struct Matrix {
  DType type = DType::kF32;
  const void* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  size_t row_stride = 0;  // bytes between rows (== row_bytes(type, cols))
};

// Memory owned by a backend (freed with the Buffer).
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
};

// How the KV cache stores a value. kInt8 / kInt4 quantize each (token, KV head) row of
// head_dim values asymmetrically, as LMDeploy's online KV quantization does: codes
// q = round((x - m) / d) in 0..255 or 0..15 with an fp16 scale d = (max - m) / qmax and an
// fp16 offset m = min(row), both per row; x ~ d * q + m (rule and reference:
// kernels/kv_quant.h). Written after RoPE by kv_store, dequantized inside attention.
enum class KvType : uint8_t { kF32, kF16, kInt8, kInt4 };
int kv_group_size(KvType t, int head_dim);  // kernels/kv_quant.h
inline std::string_view kv_type_name(KvType t) {
  switch (t) {
    case KvType::kF32: return "f32";
    case KvType::kF16: return "f16";
    case KvType::kInt8: return "int8";
    case KvType::kInt4: return "int4";
  }
  return "?";
}
// Parses a kv_type_name ("f32", "f16", "int8", "int4").
inline bool parse_kv_type(std::string_view s, KvType* out) {
  for (KvType t : {KvType::kF32, KvType::kF16, KvType::kInt8, KvType::kInt4})
    if (s == kv_type_name(t)) return *out = t, true;
  return false;
}

// Where a batch's attention reads and writes K/V: a paged cache. A token at position p of a
// sequence lives in block block_table[p / block_size] at slot p % block_size, and each
// (slot, KV head) pair is one row of head_dim values: row = slot * n_kv_heads + kv_head.
// A layer's K and V pools are each [num_blocks * block_size * n_kv_heads] rows:
// - kF32 / kF16: [rows][head_dim] values.
// - kInt8 / kInt4: [rows][row_code_bytes()] codes (int4: byte i holds elements 2i in its low
//   and 2i+1 in its high nibble), then at param_offset() [rows][groups()] pairs {fp16 d,
//   fp16 m}, one per group of group_size() consecutive elements (int8: the whole row).
struct KvLayer {
  void* k = nullptr;
  void* v = nullptr;
};
struct KvGeometry {
  KvType kv_type = KvType::kF16;
  int block_size = 16;
  int num_blocks = 0;
  int n_kv_heads = 0;
  int head_dim = 0;

  bool quantized() const { return kv_type == KvType::kInt8 || kv_type == KvType::kInt4; }
  int64_t rows() const { return int64_t{num_blocks} * block_size * n_kv_heads; }
  // Bytes of one row's values (codes for the quantized types).
  size_t row_code_bytes() const {
    switch (kv_type) {
      case KvType::kF32: return size_t(head_dim) * 4;
      case KvType::kF16: return size_t(head_dim) * 2;
      case KvType::kInt8: return size_t(head_dim);
      case KvType::kInt4: return size_t(head_dim) / 2;
    }
    return 0;
  }
  // Elements sharing one {d, m} pair (kernels/kv_quant.h) and pairs per row.
  int group_size() const { return kv_group_size(kv_type, head_dim); }
  int groups() const { return quantized() ? head_dim / group_size() : 0; }
  // Bytes one row costs in the pool, its scales and offsets included.
  size_t row_total_bytes() const { return row_code_bytes() + size_t(4) * groups(); }
  size_t block_bytes() const { return size_t(block_size) * n_kv_heads * row_total_bytes(); }
  // Where the {d, m} pairs start in a quantized pool.
  size_t param_offset() const { return size_t(rows()) * row_code_bytes(); }
};

// One forward step's tokens: any mix of sequences, each contributing a run of consecutive
// positions (a prefill chunk, or a single decode token). Token t belongs to sequence
// seq_of_token[t] and sits at position positions[t]; it attends to positions 0..positions[t]
// of its sequence (causal), whose K/V for earlier positions are already in the cache.
struct AttentionBatch {
  int n_tokens = 0;
  int n_seqs = 0;
  const int32_t* positions = nullptr;      // [n_tokens]
  const int32_t* seq_of_token = nullptr;   // [n_tokens]
  const int32_t* block_tables = nullptr;   // [n_seqs][max_blocks_per_seq]
  int max_blocks_per_seq = 0;
};

struct AttentionParams {
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  float scale = 0.f;  // usually 1/sqrt(head_dim)
  // > 0: sliding-window attention; a query at position p sees positions p - window + 1 .. p
  // (Gemma-3's and Mistral's local layers, as llama.cpp masks them).
  int window = 0;
};

// The first position a query at `pos` attends to.
inline int32_t attention_first(const AttentionParams& p, int32_t pos) {
  return p.window > 0 && pos >= p.window ? pos - p.window + 1 : 0;
}

enum class RopeStyle { kNormal, kNeox };  // kNormal: pairs (2i, 2i+1), as GGUF llama lays out Q/K

// Context-extension of RoPE, as llama.cpp applies it: pair i turns by
// freq_scale * (pos * theta^(-2i/rot_dim) / freq_factors[i]).
struct RopeScaling {
  float freq_scale = 1.f;               // linear scaling: 1 / rope.scaling.factor
  const float* freq_factors = nullptr;  // [rot_dim / 2] in backend memory (Llama-3's rope_freqs)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory.
  virtual std::unique_ptr<Buffer> alloc(size_t bytes) = 0;
  virtual void upload(void* dst, const void* src, size_t bytes) = 0;    // host -> backend
  virtual void download(void* dst, const void* src, size_t bytes) = 0;  // backend -> host
  virtual void synchronize() {}
  // True when the backend computes on host memory, so weights can stay in the model file's
  // mapping (zero-copy, no load time) instead of being uploaded.
  virtual bool uses_host_memory() const { return false; }

  // y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tokens, r < W.rows. For quantized W the
  // activations are quantized to 8 bit first (per block of 32; the CPU uses blocks of 256
  // for K-quants, as llama.cpp does). W is read once for the whole batch.
  virtual void matmul(const Matrix& w, const float* x, int n_tokens, float* y) = 0;

  // ys[i] = ws[i] x for i < n: several matrices over the same input (a layer's Q, K and V;
  // gate and up). A backend may run them as one op (the CPU: one activation quantization
  // and one barrier for all of them in decode); the results are those of n matmul calls.
  virtual void matmul_multi(const Matrix* ws, int n, const float* x, int n_tokens, float* const* ys) {
    for (int i = 0; i < n; ++i) matmul(ws[i], x, n_tokens, ys[i]);
  }

  // out[t][:] = W[ids[t]][:] dequantized (embedding lookup).
  virtual void get_rows(const Matrix& w, const int32_t* ids, int n, float* out) = 0;

  // out[t] = x[t] / rms(x[t]) * weight, over rows of `dim`. out may alias x.
  virtual void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps,
                        float* out) = 0;

  // Rotates x in place: [n_tokens][n_heads][head_dim], pair rotation over the first rot_dim
  // dims with angle pos * theta^(-2i/rot_dim), scaled as RopeScaling says.
  virtual void rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
                    const int32_t* positions, float theta, RopeStyle style,
                    const RopeScaling& scaling = {}) = 0;

  // out[i] = silu(gate[i]) * up[i]. out may alias gate.
  virtual void swiglu(const float* gate, const float* up, int64_t n, float* out) = 0;

  // x[i] += y[i].
  virtual void add(float* x, const float* y, int64_t n) = 0;

  // x[t][i] += bias[i] over n_rows rows of dim (Qwen2's Q/K/V biases).
  virtual void add_bias(float* x, const float* bias, int n_rows, int dim) = 0;

  // x[i] *= s (Gemma's embedding scale).
  virtual void scale(float* x, float s, int64_t n) = 0;

  // out[i] = gelu(gate[i]) * up[i], GELU in its tanh form evaluated as ggml's CPU does it:
  // on gate rounded to F16, the result rounded to F16 (its lookup table), exact past |10|.
  // out may alias gate. (Gemma's feed-forward.)
  virtual void geglu(const float* gate, const float* up, int64_t n, float* out) = 0;

  // Writes k and v ([n_tokens][n_kv_heads][head_dim]) of a batch into the cache slots
  // slots[t] (block * block_size + offset).
  virtual void kv_store(const KvGeometry& g, const KvLayer& layer, const float* k,
                        const float* v, const int32_t* slots, int n_tokens) = 0;

  // out[t][h][:] = softmax(q[t][h] . K^T * scale) V over the sequence's cached positions
  // 0..positions[t], with grouped-query attention (head h reads kv head h / (n_heads /
  // n_kv_heads)). q and out: [n_tokens][n_heads][head_dim].
  virtual void attention(const KvGeometry& g, const KvLayer& layer, const AttentionBatch& b,
                         const AttentionParams& p, const float* q, float* out) = 0;

  // x += y, then out = rms_norm(x): the residual add and the next norm in one pass over x
  // where a backend fuses them (the default runs the two ops). out may alias y.
  virtual void add_rms_norm(float* x, const float* y, const float* weight, int n_tokens,
                            int dim, float eps, float* out) {
    add(x, y, int64_t{n_tokens} * dim);
    rms_norm(x, weight, n_tokens, dim, eps, out);
  }

  // ids[r] (host memory) = index of the largest of x[r][0..n_cols) in backend memory, the
  // first one on ties. A device backend computes it there so only ids cross the bus.
  virtual void argmax(const float* x, int n_rows, int n_cols, int32_t* ids) {
    std::vector<float> row(static_cast<size_t>(n_cols));
    for (int r = 0; r < n_rows; ++r) {
      download(row.data(), x + int64_t{r} * n_cols, row.size() * sizeof(float));
      int best = 0;
      for (int j = 1; j < n_cols; ++j)
        if (row[j] > row[best]) best = j;
      ids[r] = best;
    }
  }

  // ids[r] (host memory) = the token drawn from row r of x (backend memory) under specs[r]
  // (kernels/sample.h: temperature, top-k, min-p, top-p, the caller's uniform draw). A
  // device backend draws there so only ids cross the bus; the default downloads each row
  // and runs the host reference.
  virtual void sample(const float* x, int n_rows, int n_cols, const SampleSpec* specs, int32_t* ids) {
    std::vector<float> row(static_cast<size_t>(n_cols));
    for (int r = 0; r < n_rows; ++r) {
      download(row.data(), x + int64_t{r} * n_cols, row.size() * sizeof(float));
      ids[r] = sample_row(row.data(), n_cols, specs[r]);
    }
  }

  // Runs `ops`, a step's sequence of op calls, or on a backend that can record such a
  // sequence (CUDA graphs) replays what an earlier call with the same key recorded, saving
  // the per-op launch cost. The key must stand for everything the ops' arguments are made
  // of (shapes, pointers); what they read from backend memory may change between calls.
  // The default runs the ops.
  virtual void run_graph(uint64_t key, const std::function<void()>& ops) { ops(); }
  // Forgets every recording: the caller moved or freed memory that recorded ops use.
  virtual void drop_graphs() {}

  // Device memory: free and total on the device, and what this backend has allocated.
  // False for backends that compute in host memory.
  struct MemoryInfo {
    size_t free = 0, total = 0, allocated = 0;
  };
  virtual bool memory_info(MemoryInfo* info) { return false; }
};

// The CPU backend with n_threads workers (0 = number of physical cores).
std::unique_ptr<Backend> make_cpu_backend(int n_threads = 0);

enum class BackendKind { kCpu, kCuda };

// The weight types each backend's matmul and embedding lookup take: both take the dense
// types, Q4_0 / Q4_1 / Q8_0, Q4_K, Q6_K and W4G128; Q5_0 / Q5_1 / Q2_K / Q3_K / Q5_K are CPU
// only for now;
// the activation layouts (Q8_1, Q8_K) are never weights.
constexpr bool backend_supports(BackendKind kind, DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ8_0:
    case DType::kQ4_K:
    case DType::kQ6_K:
    case DType::kW4G128:
      return true;
    // The CPU reads the rest of the common GGUF mixes; their CUDA kernels are to come.
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ5_K:
      return kind == BackendKind::kCpu;
    default:
      return false;
  }
}

struct WeightTensor {
  std::string_view name;
  DType type;
};

struct BackendChoice {
  std::unique_ptr<Backend> backend;
  // With device "auto" on the CPU: why CUDA was not used (for the log), else empty.
  std::string fallback_reason;
};

// The backend for `device` ("cpu", "cuda" or "auto") and a model with these weights.
// "cuda" fails with a reason when this build has no CUDA backend, no usable device is
// present or a weight type is one CUDA does not take; "auto" falls back to the CPU then.
Result<BackendChoice> make_backend(std::string_view device, const std::vector<WeightTensor>& weights,
                                   int cpu_threads = 0);

// Which CPU kernel family runs here ("avx512vnni", "avx2", "scalar"); TURBINE_CPU_KERNELS
// in the environment forces one (for tests and benchmarks).
std::string cpu_kernel_family();

}  // namespace turbine
