// Kernels with injected bugs, beside their correct twins: the emulator must make each bug
// visible (a wrong result under one of its two schedules, or a sanitizer report).
#pragma once
#include <cstdint>

namespace turbine::canary {

// Lane 0 of one warp stores a value in shared memory; every lane reads it back into out[32].
void broadcast(bool with_syncwarp, int32_t* out);
// One block of 128 threads sums in[i] = i + 1 into *out with a shared-memory reduction.
void block_sum(bool with_barriers, const float* in, float* out);
// 64 threads each store one float in dynamic shared memory of `bytes` bytes and copy it out.
void dynamic_smem_roundtrip(int bytes, float* out);
// Threads 0..n-1 of a block; `diverge`: odd threads take another __syncthreads.
void divergent_barrier(bool diverge, float* out);
// Half of the block returns before a __syncthreads the other half reaches.
void early_exit_barrier(float* out);
// A full-warp shuffle after lane 31 returned.
void shuffle_after_exit(float* out);
// A launch of `threads` threads per block (1024 is the limit).
void launch_threads(int threads, float* out);
// A launch with `bytes` of dynamic shared memory and no opt-in.
void launch_dynamic_smem(int bytes, float* out);
// out[i] = i for n elements (for the stream tests).
void iota(float* out, int n, void* stream);

}  // namespace turbine::canary
