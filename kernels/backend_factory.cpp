// make_backend: which backend runs a model, decided in one place (kernels/backend.h).
#include <string>

#include "kernels/backend.h"
#if defined(TURBINE_WITH_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

namespace turbine {

namespace {

// Empty when CUDA can run these weights here, else why not.
std::string cuda_unusable(const std::vector<WeightTensor>& weights) {
#if defined(TURBINE_WITH_CUDA)
  std::string why;
  if (!cuda_available(&why)) return why;
  for (const WeightTensor& w : weights)
    if (!backend_supports(BackendKind::kCuda, w.type))
      return "tensor '" + std::string(w.name) + "' is " + std::string(dtype_name(w.type)) +
             ", which the CUDA backend does not support (it takes F32, F16, BF16, Q8_0, Q4_0, "
             "Q4_1, Q4_K, Q6_K, W4G128)";
  return {};
#else
  (void)weights;
  return "this build has no CUDA backend (build with TURBINE_CUDA=ON)";
#endif
}

}  // namespace

Result<BackendChoice> make_backend(std::string_view device,
                                   const std::vector<WeightTensor>& weights, int cpu_threads) {
  if (device != "cpu" && device != "cuda" && device != "auto")
    return Error{"--device must be cpu, cuda or auto (got '" + std::string(device) + "')"};
  BackendChoice c;
  if (device != "cpu") {
    const std::string why = cuda_unusable(weights);
#if defined(TURBINE_WITH_CUDA)
    if (why.empty()) {
      c.backend = make_cuda_backend(0);
      return c;
    }
#endif
    if (device == "cuda") return Error{"--device cuda: " + why};
    c.fallback_reason = why;
  }
  c.backend = make_cpu_backend(cpu_threads);
  return c;
}

}  // namespace turbine
