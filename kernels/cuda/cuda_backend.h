// The CUDA twin of the CPU backend (kernels/cpu). Plain C++ header: the engine includes it
// without the CUDA toolkit's headers. Everything here exists only when the build has the
// CUDA backend (TURBINE_WITH_CUDA).
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "kernels/backend.h"

namespace turbine {

// True when a CUDA device can be used; otherwise `why` (when given) says why not, in words
// a user can act on ("no CUDA device", "driver too old", ...).
bool cuda_available(std::string* why = nullptr);

// The CUDA backend on device `device` (aborts when it cannot start; call cuda_available()
// first).
std::unique_ptr<Backend> make_cuda_backend(int device = 0);

// "NVIDIA H200 (sm_90, 139 GiB)" for the log and the benchmark tables.
std::string cuda_device_description(int device = 0);

// Device-to-device copy bandwidth in bytes/s (read + write counted once each, as
// bandwidthTest does): the memory roofline a decode step is measured against.
double cuda_measure_copy_bandwidth(int device = 0);

// out[r][:] = softmax(x[r][:] / temperature) on the device (x, out in the backend's memory).
// `be` must be a CUDA backend.
void cuda_softmax(Backend& be, const float* x, int n_rows, int n_cols, float temperature,
                  float* out);

// How often `be` (a CUDA backend) recorded a step as a CUDA graph and replayed one.
struct CudaGraphStats {
  int64_t captures = 0, replays = 0;
};
CudaGraphStats cuda_graph_stats(Backend& be);

}  // namespace turbine
