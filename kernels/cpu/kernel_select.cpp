// Run-time choice of the kernel family: the best one the CPU supports, unless
// TURBINE_CPU_KERNELS names another (tests compare families; benchmarks pin one).
#include <cstdlib>
#include <string>

#include "base/result.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"

namespace turbine::cpu {

VecDot4Fn KernelTable::dot4_for(DType weight) const {
  switch (weight) {
    case DType::kQ4_0: return q4_0_x4;
    case DType::kQ4_1: return q4_1_x4;
    case DType::kQ8_0: return q8_0_x4;
    case DType::kW4G128: return w4g128_x4;
    default: return nullptr;
  }
}

TileFn KernelTable::tile_for(DType weight) const {
  switch (weight) {
    case DType::kQ4_0: return q4_0_tile;
    case DType::kQ4_1: return q4_1_tile;
    case DType::kQ8_0: return q8_0_tile;
    case DType::kW4G128: return w4g128_tile;
    default: return nullptr;
  }
}

VecDotFn KernelTable::dot_for(DType weight) const {
  switch (weight) {
    case DType::kQ4_0:
      return q4_0;
    case DType::kQ4_1:
      return q4_1;
    case DType::kQ8_0:
      return q8_0;
    case DType::kQ4_K:
      return q4_k;
    case DType::kQ6_K:
      return q6_k;
    case DType::kQ5_0:
      return q5_0;
    case DType::kQ5_1:
      return q5_1;
    case DType::kQ2_K:
      return q2_k;
    case DType::kQ3_K:
      return q3_k;
    case DType::kQ5_K:
      return q5_k;
    case DType::kW4G128:
      return w4g128;
    case DType::kF32:
      return f32;
    case DType::kF16:
      return f16;
    case DType::kBF16:
      return bf16;
    default:
      return nullptr;
  }
}

DType act_type(DType weight) {
  switch (weight) {
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ8_0:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kW4G128:
      return DType::kQ8_1;
    case DType::kQ4_K:
    case DType::kQ6_K:
    case DType::kQ2_K:
    case DType::kQ3_K:
    case DType::kQ5_K:
      return DType::kQ8_K;
    default:
      return DType::kF32;
  }
}

bool family_supported(std::string_view family) {
  if (family == "scalar") return true;
#if defined(__x86_64__)
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
              __builtin_cpu_supports("f16c");
  if (family == "avx2") return avx2;
  if (family == "avx512vnni") {
    return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
#endif
  return false;
}

const KernelTable& kernels_by_name(std::string_view family) {
  TURBINE_CHECK(family_supported(family));
#if defined(__x86_64__)
  if (family == "avx512vnni") return avx512vnni_kernels();
  if (family == "avx2") return avx2_kernels();
#endif
  return scalar_kernels();
}

namespace {

std::string_view best_family() {
  if (family_supported("avx512vnni")) return "avx512vnni";
  if (family_supported("avx2")) return "avx2";
  return "scalar";
}

}  // namespace

const KernelTable& select_kernels() {
  const char* forced = std::getenv("TURBINE_CPU_KERNELS");
  if (forced != nullptr && *forced != '\0' && family_supported(forced)) {
    return kernels_by_name(forced);
  }
  return kernels_by_name(best_family());
}

}  // namespace turbine::cpu

namespace turbine {

std::string cpu_kernel_family() {
  return cpu::select_kernels().name;
}

}  // namespace turbine
