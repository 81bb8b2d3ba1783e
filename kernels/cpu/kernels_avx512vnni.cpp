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
  static const KernelTable k{"avx512vnni", dot_q4_0,      dot_q4_1,      dot_q8_0,
                             dot_q4_k,     dot_q6_k,      dot_f32,       dot_f16,
                             dot_bf16,     quantize_q8_1, quantize_q8_k, fp16_row,
                             dot4_q4_0, dot4_q4_1, dot4_q8_0, attn_f16,
                             exp_row, swiglu, attn_tiled,
                             tile_q4_0, tile_q4_1, tile_q8_0, fp16_from_row,
                             attn_f16_group};
  return k;
}

}  // namespace turbine::cpu
#endif
