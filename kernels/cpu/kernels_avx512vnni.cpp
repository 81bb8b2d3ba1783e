// AVX-512 VNNI kernels (Ice Lake, Sapphire Rapids, Zen 4): int8 dots with vpdpbusd on
// 256-bit registers (AVX512VL), the rest as in the AVX2 family.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#include "kernels/cpu/vexp.h"  // after the target pragma: its fma calls become instructions
#define TURBINE_X86_VNNI 1
namespace turbine::cpu {
namespace {
#include "kernels/cpu/kernels_x86.inc"
}  // namespace
}  // namespace turbine::cpu
#undef TURBINE_X86_VNNI
#pragma GCC pop_options

namespace turbine::cpu {

const KernelTable& avx512vnni_kernels() {
  static const KernelTable k{
      .name = "avx512vnni",
      .q4_0 = dot_q4_0,
      .q4_1 = dot_q4_1,
      .q8_0 = dot_q8_0,
      .q4_k = dot_q4_k,
      .q6_k = dot_q6_k,
      .f32 = dot_f32,
      .f16 = dot_f16,
      .bf16 = dot_bf16,
      .quantize_q8_1 = quantize_q8_1,
      .quantize_q8_k = quantize_q8_k,
      .fp16_to_fp32_row = fp16_row,
      .q4_0_x4 = dot4_q4_0,
      .q4_1_x4 = dot4_q4_1,
      .q8_0_x4 = dot4_q8_0,
      .attn_f16 = attn_f16,
      .exp_row = exp_row,
      .swiglu = swiglu,
      .attn_tiled = attn_tiled,
      .q4_0_tile = tile_q4_0,
      .q4_1_tile = tile_q4_1,
      .q8_0_tile = tile_q8_0,
      .fp32_to_fp16_row = fp16_from_row,
      .attn_f16_group = attn_f16_group,
      .w4g128 = dot_w4g128,
      .w4g128_x4 = dot4_w4g128,
      .w4g128_tile = tile_w4g128,
      .q5_0 = dot_q5_0,
      .q5_1 = dot_q5_1,
      .q2_k = dot_q2_k_ref,
      .q3_k = dot_q3_k_ref,
      .q5_k = dot_q5_k_ref,
  };
  return k;
}

}  // namespace turbine::cpu
#endif
