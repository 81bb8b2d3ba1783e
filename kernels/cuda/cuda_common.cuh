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
#include <cstring>
#include <utility>
#if defined(TURBINE_CUDA_EMU)
#include <source_location>
#include <tuple>
#include <type_traits>
#endif

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

// Shared memory declarations. Under nvcc they are `__shared__` arrays; in the CUDA emulator
// (TURBINE_CUDA=EMU) each block gets fresh storage of exactly that size, filled with NaN,
// so AddressSanitizer sees an overrun and a read before any write shows.
//   TURBINE_SHARED(float, red, [32]);        // __shared__ float red[32];
//   TURBINE_DYNAMIC_SHARED(float, smem);     // extern __shared__ float smem[];
#if defined(TURBINE_CUDA_EMU)
#define TURBINE_SHARED(T, name, dims)                                                    \
  static const char name##_shared_tag = 0;                                               \
  T(&name) dims = *static_cast<T(*) dims>(                                               \
      ::turbine::cudaemu::block_shared(&name##_shared_tag, sizeof(T dims), alignof(T)))
#define TURBINE_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::turbine::cudaemu::dynamic_shared())
#else
#define TURBINE_SHARED(T, name, dims) __shared__ T name dims
#define TURBINE_DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

namespace turbine::cuda {

constexpr int kWarp = 32;

// A kernel launch: `launch(kernel, grid, block, smem, stream)(args...)`, the `<<<>>>` of
// nvcc; in the emulator the same call queues the grid on the emulated stream (and records
// the launch site for its messages).
#if defined(TURBINE_CUDA_EMU)
template <typename... Params>
struct Launch {
  void (*kernel)(Params...);
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  std::source_location where;
  template <typename... Args>
  void operator()(Args&&... args) const {
    std::tuple<std::decay_t<Params>...> params(std::forward<Args>(args)...);
    auto* k = kernel;
    // Each thread gets its own copy of the parameters, as each CUDA thread may modify its own.
    ::turbine::cudaemu::launch({reinterpret_cast<const void*>(k), grid, block, smem, stream, where},
                               [k, params] {
                                 auto p = params;
                                 std::apply(k, p);
                               });
  }
};
template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem = 0,
                         cudaStream_t stream = nullptr,
                         std::source_location where = std::source_location::current()) {
  return {kernel, grid, block, smem, stream, where};
}
#else
template <typename... Params>
struct Launch {
  void (*kernel)(Params...);
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  template <typename... Args>
  void operator()(Args&&... args) const {
    kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
  }
};
template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem = 0,
                         cudaStream_t stream = nullptr) {
  return {kernel, grid, block, smem, stream};
}
#endif

// The bytes of `from` as a `To` (memcpy: defined behaviour under both compilers, where a
// pointer cast between unrelated types is not).
template <typename To, typename From>
__device__ __forceinline__ To bit_copy(const From& from) {
  static_assert(sizeof(To) == sizeof(From), "bit_copy needs equal sizes");
  To to;
  memcpy(&to, &from, sizeof(To));
  return to;
}

inline int ceil_div(int64_t a, int64_t b) { return static_cast<int>((a + b - 1) / b); }

// Sum over the warp, the same bits in every lane (a butterfly); T: float, double, int, ...
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
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
// the same bits. `red` holds 32 values of shared memory.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int n_warps = blockDim.x / kWarp;
  v = warp_sum(v);
  __syncthreads();  // `red` may still be read from a previous call
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < n_warps ? red[lane] : T(0);
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
// Two 16-bit halves at a 2-byte boundary (what GGUF's 18- and 34-byte blocks promise).
__device__ __forceinline__ int load_i32_a2(const uint8_t* p) {
  uint16_t lo, hi;
  memcpy(&lo, p, 2);
  memcpy(&hi, p + 2, 2);
  return static_cast<int>(uint32_t(lo) | (uint32_t(hi) << 16));
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
    case DType::kW4G128: {
      const uint8_t* b = row + (j / kW4Group) * sizeof(BlockW4G128);
      const int i = static_cast<int>(j % kW4Group);
      const uint8_t q = b[4 + 16 * (i / 32) + (i & 15)];
      const int v = i % 32 < 16 ? (q & 15) : (q >> 4);
      return static_cast<float>(v) * half_bits_to_float(load_u16(b)) +
             half_bits_to_float(load_u16(b + 2));
    }
    case DType::kQ8_0: {
      const uint8_t* b = row + (j / kQK) * sizeof(BlockQ8_0);
      const int i = static_cast<int>(j % kQK);
      return static_cast<float>(static_cast<int8_t>(b[2 + i])) * half_bits_to_float(load_u16(b));
    }
    case DType::kQ4_K: {
      const uint8_t* b = row + (j / kQKK) * sizeof(BlockQ4_K);
      const int i = static_cast<int>(j % kQKK), sub = i / 32, l = i % 32;
      const uint8_t* q = b + 4;  // packed 6-bit scales and mins (base/dtype.h)
      int sc, mn;
      if (sub < 4) {
        sc = q[sub] & 63, mn = q[sub + 4] & 63;
      } else {
        sc = (q[sub + 4] & 0xF) | ((q[sub - 4] >> 6) << 4);
        mn = (q[sub + 4] >> 4) | ((q[sub] >> 6) << 4);
      }
      const uint8_t byte = b[16 + 32 * (sub / 2) + l];
      const int v = sub % 2 ? byte >> 4 : byte & 15;
      return half_bits_to_float(load_u16(b)) * static_cast<float>(sc) * static_cast<float>(v) -
             half_bits_to_float(load_u16(b + 2)) * static_cast<float>(mn);
    }
    case DType::kQ6_K: {
      const uint8_t* b = row + (j / kQKK) * sizeof(BlockQ6_K);
      const int i = static_cast<int>(j % kQKK), half = i / 128, r = (i % 128) / 32, l = i % 32;
      const uint8_t lo = b[64 * half + 32 * (r & 1) + l];
      const uint8_t hi = b[128 + 32 * half + l];
      const int v = (((r < 2) ? (lo & 15) : (lo >> 4)) | (((hi >> (2 * r)) & 3) << 4)) - 32;
      const int8_t sc = static_cast<int8_t>(b[192 + 8 * half + 2 * r + l / 16]);
      return half_bits_to_float(load_u16(b + 208)) * static_cast<float>(sc) * static_cast<float>(v);
    }
    default:
      return 0.f;  // rejected on the host (backend_supports)
  }
}

}  // namespace turbine::cuda
