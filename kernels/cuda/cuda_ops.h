// Internal to the CUDA backend: the host-side launchers of each kernel file, so the backend
// class (cuda_backend.cu) stays a thin dispatcher and each .cu file compiles on its own.
// Every launcher enqueues on `s` and returns without synchronizing.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kernels/backend.h"
#include "kernels/sample.h"

namespace turbine::cuda {

// elementwise.cu
void get_rows(cudaStream_t s, const Matrix& w, const int32_t* ids, int n, float* out);
// out = rms_norm(x) * weight; with y != nullptr, first x += y (x written back), one pass.
void rms_norm(cudaStream_t s, float* x, const float* y, const float* weight, int n_tokens,
              int dim, float eps, float* out);
void rope(cudaStream_t s, float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
          const int32_t* positions, float theta, RopeStyle style, const RopeScaling& scaling);
void swiglu(cudaStream_t s, const float* gate, const float* up, int64_t n, float* out);
void add(cudaStream_t s, float* x, const float* y, int64_t n);
void add_bias(cudaStream_t s, float* x, const float* bias, int n_rows, int dim);
void scale(cudaStream_t s, float* x, float v, int64_t n);
void geglu(cudaStream_t s, const float* gate, const float* up, int64_t n, float* out);
void kv_store(cudaStream_t s, const KvGeometry& g, const KvLayer& layer, const float* k,
              const float* v, const int32_t* slots, int n_tokens);
void argmax(cudaStream_t s, const float* x, int n_rows, int n_cols, int32_t* ids);
void softmax(cudaStream_t s, const float* x, int n_rows, int n_cols, float temperature,
             float* out);
// float -> F16 (bf16 = false) or BF16 bits, for the GEMM's activations.
void to_half(cudaStream_t s, const float* x, int64_t n, uint16_t* out, bool bf16);

// matmul.cu
// The decode path reads float weights once per (up to) 8 tokens; beyond that cuBLAS reads
// them as they are, on tensor cores.
constexpr int kGemvMaxTokens = 8;
// Quantized weights up to this many tokens run the GEMV, which reads them once for all the
// tokens, instead of dequantizing to F16 for the GEMM: the F16 copy costs a read of the
// weights plus a write and a read of 3.5x (Q4) their size.
constexpr int kQuantGemvMaxTokens = 64;
bool is_quantized(DType t);
// Activations for the quantized GEMV: per token and block of 32, int8 values and
// (d, d * sum) as float2 (the CPU backend's Q8_1 numbers, in a layout for 128-bit loads).
size_t act_q8_bytes(int n_tokens, int64_t cols);
void quantize_act_q8(cudaStream_t s, const float* x, int n_tokens, int64_t cols, void* act);
// y[t][r] = W[r] . x[t] for n_tokens <= kGemvMaxTokens (float W) or kQuantGemvMaxTokens
// (quantized W; act: quantize_act_q8's output, unused otherwise).
void gemv(cudaStream_t s, const Matrix& w, const float* x, const void* act, int n_tokens,
          float* y);
// W dequantized to F16 (BF16 weights are not converted: the GEMM reads them as they are).
void dequantize_f16(cudaStream_t s, const Matrix& w, uint16_t* out);

// sample.cu
// ids[r] (device memory) = the token kernels/sample.h draws from row r under specs[r]
// (device memory); temperature <= 0: the argmax, lowest id on ties.
void sample(cudaStream_t s, const float* x, int n_rows, int n_cols, const SampleSpec* specs,
            int32_t* ids);

// attention.cu
size_t attention_workspace_floats(int n_tokens, const AttentionParams& p, int n_splits);
int attention_splits(int num_sms, const AttentionBatch& b, const AttentionParams& p,
                     int block_size);
void attention(cudaStream_t s, int n_splits, const KvGeometry& g, const KvLayer& layer,
               const AttentionBatch& b, const AttentionParams& p, const float* q, float* out,
               float* workspace);

}  // namespace turbine::cuda
