// The canaries' kernels, in CUDA C++ as kernels/cuda writes it.
#include "tests/unit/cuda_emu/canary_kernels.h"

#include "kernels/cuda/cuda_common.cuh"

namespace turbine::canary {

using cuda::launch;

namespace {

__global__ void broadcast_kernel(bool sync, int32_t* out) {
  TURBINE_SHARED(int32_t, s, [1]);
  if (threadIdx.x == 0) s[0] = 42;
  if (sync) __syncwarp();
  out[threadIdx.x] = s[0];
}

__global__ void block_sum_kernel(bool barriers, const float* in, float* out) {
  TURBINE_SHARED(float, red, [32]);
  float v = in[threadIdx.x];
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) red[warp] = v;
  if (barriers) __syncthreads();  // the canary leaves this one out
  v = lane < 4 ? red[lane] : 0.f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x == 0) *out = v;
}

__global__ void smem_kernel(float* out) {
  TURBINE_DYNAMIC_SHARED(float, s);
  s[threadIdx.x] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = s[63 - threadIdx.x];
}

__global__ void divergent_kernel(bool diverge, float* out) {
  if (diverge && (threadIdx.x & 1)) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.f;
}

__global__ void early_exit_kernel(float* out) {
  if (threadIdx.x >= 32) return;
  __syncthreads();
  out[threadIdx.x] = 1.f;
}

__global__ void shuffle_exit_kernel(float* out) {
  if (threadIdx.x == 31) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, 1.f, 1);
}

__global__ void plain_kernel(float* out) {
  out[0] = 1.f;
}

__global__ void iota_kernel(float* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = static_cast<float>(i);
}

}  // namespace

void broadcast(bool with_syncwarp, int32_t* out) {
  launch(broadcast_kernel, 1, 32)(with_syncwarp, out);
}
void block_sum(bool with_barriers, const float* in, float* out) {
  launch(block_sum_kernel, 1, 128)(with_barriers, in, out);
}
void dynamic_smem_roundtrip(int bytes, float* out) {
  launch(smem_kernel, 1, 64, bytes)(out);
}
void divergent_barrier(bool diverge, float* out) {
  launch(divergent_kernel, 1, 64)(diverge, out);
}
void early_exit_barrier(float* out) {
  launch(early_exit_kernel, 1, 64)(out);
}
void shuffle_after_exit(float* out) {
  launch(shuffle_exit_kernel, 1, 32)(out);
}
void launch_threads(int threads, float* out) {
  launch(plain_kernel, 1, threads)(out);
}
void launch_dynamic_smem(int bytes, float* out) {
  launch(plain_kernel, 1, 32, bytes)(out);
}
void iota(float* out, int n, void* stream) {
  launch(iota_kernel, (n + 63) / 64, 64, 0, static_cast<cudaStream_t>(stream))(out, n);
}

}  // namespace turbine::canary
