// Internal to the CUDA backend: error checks, warp/block reductions and the GGUF block
// decoders shared by the kernels. Device code reads the GGUF layouts of base/dtype.h
// as they are on disk (weights are uploaded byte for byte).
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "base/dtype.h"

#define TURBINE_CUDA_CHECK(expr)                                                       \
  do {                                                                                 \
    cudaError_t err_ = (expr);                                                         \
    if (err_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s:%d: CUDA error: %s (%s)\n", __FILE__, __LINE__,        \
                   cudaGetErrorString(err_), #expr);                                   \
      std::abort();                                                                    \
    }                                                                                  \
  } while (0)

// After a launch: configuration errors show here, faults at the next synchronization.
#define TURBINE_CUDA_LAUNCHED() TURBINE_CUDA_CHECK(cudaGetLastError())

namespace turbine::cuda {

constexpr int kWarp = 32;

inline int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of up to 1024 threads (blockDim.x a multiple of 32); every thread gets
// the result. `red` holds 32 floats of shared memory.
__device__ __forceinline__ float block_sum(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int n_warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // `red` may still be read from a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < n_warps ? red[lane] : 0.f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int n_warps = blockDim.x / kWarp;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < n_warps ? red[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ float half_bits_to_float(uint16_t h) {
  return __half2float(__ushort_as_half(h));
}
__device__ __forceinline__ float bf16_bits_to_float(uint16_t h) {
  return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

// Unaligned little-endian 16-bit read (GGUF blocks of 18 and 34 bytes leave fields only
// 2-byte aligned, and rows of them start anywhere).
__device__ __forceinline__ uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

// Element j of a row of type t (any supported type; slow path for embedding rows).
__device__ __forceinline__ float row_element(DType t, const uint8_t* row, int64_t j) {
  switch (t) {
    case DType::kF32:
      return reinterpret_cast<const float*>(row)[j];
    case DType::kF16:
      return half_bits_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
    case DType::kBF16:
      return bf16_bits_to_float(reinterpret_cast<const uint16_t*>(row)[j]);
    case DType::kQ4_0: {
      const uint8_t* b = row + (j / kQK) * sizeof(BlockQ4_0);
      const int i = static_cast<int>(j % kQK);
      const uint8_t q = b[2 + (i & 15)];
      const int v = (i < 16 ? (q & 15) : (q >> 4)) - 8;
      return static_cast<float>(v) * half_bits_to_float(load_u16(b));
    }
    case DType::kQ4_1: {
      const uint8_t* b = row + (j / kQK) * sizeof(BlockQ4_1);
      const int i = static_cast<int>(j % kQK);
      const uint8_t q = b[4 + (i & 15)];
      const int v = i < 16 ? (q & 15) : (q >> 4);
      return static_cast<float>(v) * half_bits_to_float(load_u16(b)) +
             half_bits_to_float(load_u16(b + 2));
    }
    case DType::kQ8_0: {
      const uint8_t* b = row + (j / kQK) * sizeof(BlockQ8_0);
      const int i = static_cast<int>(j % kQK);
      return static_cast<float>(static_cast<int8_t>(b[2 + i])) * half_bits_to_float(load_u16(b));
    }
    default:
      return 0.f;  // rejected on the host (backend_supports)
  }
}

}  // namespace turbine::cuda
