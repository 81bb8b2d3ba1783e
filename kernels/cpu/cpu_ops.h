// Internal to the CPU backend: the ops that have more than a few lines, as free functions
// over a pool and a kernel table so they can be tested and benchmarked directly.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/thread_pool.h"

namespace turbine::cpu {

// y[t][r] = W[r] . x[t]. `scratch` holds the quantized activations between calls (grown
// as needed, never shrunk) so a decode step allocates nothing.
void matmul(ThreadPool& pool, const KernelTable& k, std::vector<uint8_t>& scratch, const Matrix& w,
            const float* x, int n_tokens, float* y);
// Several matrices over the same x (Backend::matmul_multi): in decode (no token tile), one
// activation quantization and one parallel pass over all their rows; otherwise n matmuls.
void matmul_multi(ThreadPool& pool, const KernelTable& k, std::vector<uint8_t>& scratch,
                  const Matrix* ws, int n, const float* x, int n_tokens, float* const* ys);

void kv_store(const KernelTable& kt, const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
              const int32_t* slots, int n_tokens);

// The int8/int4 cache's halves of the two (kernels/cpu/attention_kvq.cpp).
void kv_store_quantized(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                        const int32_t* slots, int n_tokens);
void attention_quantized(ThreadPool& pool, const KernelTable& k, const KvGeometry& g,
                         const KvLayer& layer, const AttentionBatch& b, const AttentionParams& p,
                         const float* q, float* out);

void attention(ThreadPool& pool, const KernelTable& k, const KvGeometry& g, const KvLayer& layer,
               const AttentionBatch& b, const AttentionParams& p, const float* q, float* out);

}  // namespace turbine::cpu
