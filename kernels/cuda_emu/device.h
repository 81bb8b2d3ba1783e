// What emulated device code calls: the built-in indices, barriers, warp exchanges, shared
// memory and atomics, for the stand-in CUDA headers (include/). One emulated CUDA thread is
// one fiber; a block's threads run on one host thread, switching only at synchronization
// points, in a forward or reversed order (TURBINE_CUDA_EMU_SCHEDULE), so a race that the
// hardware might hide shows up under one of the two.
//
// Stricter than the hardware, on purpose: every lane named in a warp operation's mask must
// reach the same operation at the same source line with the same mask; __syncthreads must be
// reached by every thread of the block (none may have exited) at one source line. A
// violation, or a deadlock, aborts with the block, the threads and the lines involved.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <source_location>

namespace turbine::cudaemu {

struct uint3 {
  unsigned x, y, z;
};
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};

// The running emulated thread's built-ins.
struct ThreadCtx {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};
ThreadCtx& current();

using Where = std::source_location;

void syncthreads(Where where);
void syncwarp(unsigned mask, Where where);

enum class Exchange { kXor, kIndex, kDown, kUp, kBallot, kAny, kAll };
// One warp exchange of an up-to-8-byte value (a shuffle or a vote); returns this lane's
// result bits.
uint64_t warp_exchange(Exchange kind, unsigned mask, uint64_t bits, int arg, int width,
                       Where where);

// Per-block storage for a `__shared__` array (TURBINE_SHARED): the same bytes for every
// thread of the block, fresh per block, exactly `bytes` long (so AddressSanitizer sees an
// overrun) and filled with 0xFF (NaN as floats) so a read before any write shows.
void* block_shared(const void* tag, size_t bytes, size_t align);
// The block's dynamic shared memory (the launch's size, filled the same way).
void* dynamic_shared();

// An emulator error in device code: prints it with the current block and thread, aborts.
[[noreturn]] void device_error(const char* what, Where where);

}  // namespace turbine::cudaemu
