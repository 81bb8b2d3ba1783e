// Stand-in for the CUDA runtime header in the emulated build (TURBINE_CUDA=EMU): the .cu
// sources of kernels/cuda compile as host C++ against it. It declares the part of the
// runtime API and of the device language turbine's kernels use; the implementation is
// kernels/cuda_emu (fibers per CUDA thread, host memory as device memory, streams that run
// at synchronization points). Not a general CUDA replacement.
#pragma once
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cuda_emu/device.h"

#define TURBINE_CUDA_EMU 1

// ---- qualifiers -----------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
// Plain `__shared__` is one static copy (correct while blocks run one at a time); kernels use
// TURBINE_SHARED (kernels/cuda/cuda_common.cuh), which gives each block fresh, exact-size,
// NaN-filled storage.
#define __shared__ static
#define __constant__ static

// ---- built-in variables -----------------------------------------------------------------------
using uint3 = ::turbine::cudaemu::uint3;
using dim3 = ::turbine::cudaemu::dim3;
#define threadIdx (::turbine::cudaemu::current().thread_idx)
#define blockIdx (::turbine::cudaemu::current().block_idx)
#define blockDim (::turbine::cudaemu::current().block_dim)
#define gridDim (::turbine::cudaemu::current().grid_dim)
constexpr int warpSize = 32;

// ---- vector types -----------------------------------------------------------------------------
struct alignas(8) int2 {
  int x, y;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
struct alignas(8) uint2 {
  unsigned x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct float3 {
  float x, y, z;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(4) short2 {
  short x, y;
};
struct alignas(4) char4 {
  signed char x, y, z, w;
};
inline float2 make_float2(float x, float y) {
  return {x, y};
}
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}
inline int2 make_int2(int x, int y) {
  return {x, y};
}
inline int4 make_int4(int x, int y, int z, int w) {
  return {x, y, z, w};
}
inline uint3 make_uint3(unsigned x, unsigned y, unsigned z) {
  return {x, y, z};
}

// ---- device functions -------------------------------------------------------------------------
inline void __syncthreads(std::source_location w = std::source_location::current()) {
  ::turbine::cudaemu::syncthreads(w);
}
inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location w = std::source_location::current()) {
  ::turbine::cudaemu::syncwarp(mask, w);
}
inline void __threadfence() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}
inline void __threadfence_block() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

namespace turbine::cudaemu {
template <typename T>
T exchange(Exchange kind, unsigned mask, T v, int arg, int width, std::source_location w) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffles move up to 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  bits = warp_exchange(kind, mask, bits, arg, width, w);
  T out;
  std::memcpy(&out, &bits, sizeof(T));
  return out;
}
}  // namespace turbine::cudaemu

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32,
                  std::source_location w = std::source_location::current()) {
  return ::turbine::cudaemu::exchange(::turbine::cudaemu::Exchange::kXor, mask, v, lane_mask, width,
                                      w);
}
template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32,
              std::source_location w = std::source_location::current()) {
  return ::turbine::cudaemu::exchange(::turbine::cudaemu::Exchange::kIndex, mask, v, src_lane,
                                      width, w);
}
template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32,
                   std::source_location w = std::source_location::current()) {
  return ::turbine::cudaemu::exchange(::turbine::cudaemu::Exchange::kDown, mask, v,
                                      static_cast<int>(delta), width, w);
}
template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32,
                 std::source_location w = std::source_location::current()) {
  return ::turbine::cudaemu::exchange(::turbine::cudaemu::Exchange::kUp, mask, v,
                                      static_cast<int>(delta), width, w);
}
inline unsigned __ballot_sync(unsigned mask, int pred,
                              std::source_location w = std::source_location::current()) {
  return static_cast<unsigned>(::turbine::cudaemu::warp_exchange(
      ::turbine::cudaemu::Exchange::kBallot, mask, pred != 0, 0, 32, w));
}
inline int __any_sync(unsigned mask, int pred,
                      std::source_location w = std::source_location::current()) {
  return static_cast<int>(::turbine::cudaemu::warp_exchange(::turbine::cudaemu::Exchange::kAny,
                                                            mask, pred != 0, 0, 32, w));
}
inline int __all_sync(unsigned mask, int pred,
                      std::source_location w = std::source_location::current()) {
  return static_cast<int>(::turbine::cudaemu::warp_exchange(::turbine::cudaemu::Exchange::kAll,
                                                            mask, pred != 0, 0, 32, w));
}

template <typename T>
inline T __ldg(const T* p) {
  return *p;
}

inline float __int_as_float(int v) {
  return std::bit_cast<float>(v);
}
inline float __uint_as_float(unsigned v) {
  return std::bit_cast<float>(v);
}
inline int __float_as_int(float v) {
  return std::bit_cast<int>(v);
}
inline unsigned __float_as_uint(float v) {
  return std::bit_cast<unsigned>(v);
}
// Round to nearest, ties to even (the default rounding mode), as cvt.rni does.
inline int __float2int_rn(float v) {
  return static_cast<int>(std::nearbyint(v));
}
inline int __popc(unsigned v) {
  return __builtin_popcount(v);
}
inline int __ffs(int v) {
  return __builtin_ffs(v);
}
inline int __clz(int v) {
  return v == 0 ? 32 : __builtin_clz(static_cast<unsigned>(v));
}
// Four signed 8-bit products summed into c, wrapping as the hardware's 32-bit add does.
inline int __dp4a(int a, int b, int c) {
  uint32_t acc = static_cast<uint32_t>(c);
  for (int i = 0; i < 4; ++i) {
    const int8_t x = static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i));
    const int8_t y = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
    acc += static_cast<uint32_t>(int32_t{x} * int32_t{y});
  }
  return static_cast<int>(acc);
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  uint32_t acc = c;
  for (int i = 0; i < 4; ++i) acc += ((a >> (8 * i)) & 0xff) * ((b >> (8 * i)) & 0xff);
  return acc;
}

// CUDA's device-side min/max for integers and mixed arithmetic.
template <typename A, typename B>
constexpr std::common_type_t<A, B> min(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(a) : static_cast<C>(b);
}
template <typename A, typename B>
constexpr std::common_type_t<A, B> max(A a, B b) {
  using C = std::common_type_t<A, B>;
  return static_cast<C>(a) < static_cast<C>(b) ? static_cast<C>(b) : static_cast<C>(a);
}

// Atomics: a block runs on one host thread, but blocks of a grid may not (and streams on
// different host threads do not): real atomics.
template <typename T>
T atomicAdd(T* p, T v) {
  return std::atomic_ref<T>(*p).fetch_add(v);
}
inline int atomicMax(int* p, int v) {
  std::atomic_ref<int> a(*p);
  int old = a.load();
  while (old < v && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}
inline unsigned atomicMax(unsigned* p, unsigned v) {
  std::atomic_ref<unsigned> a(*p);
  unsigned old = a.load();
  while (old < v && !a.compare_exchange_weak(old, v)) {
  }
  return old;
}
template <typename T>
T atomicExch(T* p, T v) {
  return std::atomic_ref<T>(*p).exchange(v);
}
template <typename T>
T atomicCAS(T* p, T expected, T desired) {
  std::atomic_ref<T>(*p).compare_exchange_strong(expected, desired);
  return expected;
}

// ---- runtime API ------------------------------------------------------------------------------
enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorLaunchFailure = 719,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorIllegalState = 401,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaDeviceAttr {
  cudaDevAttrMaxThreadsPerBlock = 1,
  cudaDevAttrMaxSharedMemoryPerBlock = 8,
  cudaDevAttrWarpSize = 10,
  cudaDevAttrMultiProcessorCount = 16,
  cudaDevAttrComputeCapabilityMajor = 75,
  cudaDevAttrComputeCapabilityMinor = 76,
  cudaDevAttrMaxSharedMemoryPerBlockOptin = 97,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};
enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

constexpr unsigned cudaStreamDefault = 0x00;
constexpr unsigned cudaStreamNonBlocking = 0x01;

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;
using cudaGraph_t = CUgraph_st*;
using cudaGraphExec_t = CUgraphExec_st*;

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
  int memoryClockRate;
  int memoryBusWidth;
};

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaGetDevice(int* d);
cudaError_t cudaSetDevice(int d);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d);
cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d);
cudaError_t cudaDeviceSynchronize();
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);

cudaError_t cudaMalloc(void** p, size_t bytes);
template <typename T>
cudaError_t cudaMalloc(T** p, size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
template <typename T>
cudaError_t cudaMallocHost(T** p, size_t bytes) {
  return cudaMallocHost(reinterpret_cast<void**>(p), bytes);
}
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind,
                            cudaStream_t s = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t n);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaStreamQuery(cudaStream_t s);

cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g);
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s);
cudaError_t cudaGraphDestroy(cudaGraph_t g);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

namespace turbine::cudaemu {
cudaError_t set_func_max_dynamic_smem(const void* func, int bytes);
// True when [p, p + bytes) lies inside one cudaMalloc allocation.
bool is_device_memory(const void* p, size_t bytes);
// The thread and block order of the launches that run from now on (tests of the emulator
// itself; everything else takes TURBINE_CUDA_EMU_SCHEDULE).
void set_reverse_schedule(bool reverse);

struct LaunchConfig {
  const void* func;
  dim3 grid, block;
  size_t smem;
  cudaStream_t stream;
  std::source_location where;
};
// Checks the configuration (a failure is the launch's error, as cudaGetLastError reports it)
// and queues the grid on the stream: it runs when the stream is synchronized.
void launch(const LaunchConfig& cfg, std::function<void()> body);
}  // namespace turbine::cudaemu

template <typename F>
cudaError_t cudaFuncSetAttribute(F* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
  return ::turbine::cudaemu::set_func_max_dynamic_smem(reinterpret_cast<const void*>(func), value);
}
