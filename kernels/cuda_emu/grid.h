// Running one kernel launch: its blocks one after another, each block's threads as fibers
// scheduled in a fixed order (forward, or reversed), switching at every barrier, warp
// exchange and exit. The scheduler of device.h's rules.
#pragma once
#include <cstddef>
#include <functional>
#include <source_location>

#include "kernels/cuda_emu/device.h"

namespace turbine::cudaemu {

enum class Schedule { kForward, kReverse };

// TURBINE_CUDA_EMU_SCHEDULE=forward|reverse (default forward).
Schedule schedule_from_env();

struct GridLaunch {
  dim3 grid, block;
  size_t dynamic_smem = 0;
  size_t max_shared = 0;       // static + dynamic shared memory the device allows this launch
  std::function<void()> body;  // one thread's run of the kernel
  std::source_location where;  // the launch site, for messages
};

// Runs every block of the launch on the calling host thread.
void run_grid(const GridLaunch& g, Schedule s);

}  // namespace turbine::cudaemu
