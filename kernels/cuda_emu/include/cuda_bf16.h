// Stand-in for cuda_bf16.h in the emulated build: __nv_bfloat16 with the hardware's
// conversions (round to nearest even; every NaN to the canonical 0x7fff).
#pragma once
#include <bit>
#include <cstdint>

#include <cuda_runtime.h>

struct __nv_bfloat16 {
  unsigned short __x;
};
struct alignas(4) __nv_bfloat162 {
  __nv_bfloat16 x, y;
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return {0x7fff};
  x += 0x7fff + ((x >> 16) & 1);
  return {static_cast<unsigned short>(x >> 16)};
}
inline __nv_bfloat16 __float2bfloat16(float f) {
  return __float2bfloat16_rn(f);
}
inline float __bfloat162float(__nv_bfloat16 h) {
  return std::bit_cast<float>(static_cast<uint32_t>(h.__x) << 16);
}
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) {
  return h.__x;
}
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short v) {
  return {v};
}
