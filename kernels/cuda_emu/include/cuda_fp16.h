// Stand-in for cuda_fp16.h in the emulated build: __half and __half2 with the hardware's
// conversions, bit for bit (round to nearest even; overflow to infinity; every NaN to the
// canonical 0x7fff, as cvt.rn.f16.f32 gives).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>

struct __half {
  unsigned short __x;
};
struct alignas(4) __half2 {
  __half x, y;
};

namespace turbine::cudaemu {

inline unsigned short f32_to_f16_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t a = x & 0x7fffffff;
  if (a > 0x7f800000) return 0x7fff;  // NaN
  if (a == 0x7f800000) return sign | 0x7c00;
  const uint32_t e = a >> 23;
  if (e < 113) {  // a subnormal half or zero: units of 2^-24, rounded to nearest even
    if (e < 102) return sign;
    const uint32_t mant = (a & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t h = (a - (112u << 23)) >> 13;
  const uint32_t rem = a & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;
  if (h >= 0x7c00) h = 0x7c00;
  return sign | static_cast<uint16_t>(h);
}

inline float f16_bits_to_f32(unsigned short h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) return std::bit_cast<float>(sign | 0x7f800000 | (mant << 13));
  if (exp == 0) {
    const float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

}  // namespace turbine::cudaemu

inline __half __float2half_rn(float f) {
  return {::turbine::cudaemu::f32_to_f16_bits(f)};
}
inline __half __float2half(float f) {
  return __float2half_rn(f);
}
inline float __half2float(__half h) {
  return ::turbine::cudaemu::f16_bits_to_f32(h.__x);
}
inline __half __ushort_as_half(unsigned short v) {
  return {v};
}
inline unsigned short __half_as_ushort(__half h) {
  return h.__x;
}
inline float2 __half22float2(__half2 h) {
  return {__half2float(h.x), __half2float(h.y)};
}
inline __half2 __floats2half2_rn(float a, float b) {
  return {__float2half_rn(a), __float2half_rn(b)};
}
inline __half2 __float22half2_rn(float2 v) {
  return __floats2half2_rn(v.x, v.y);
}
inline __half2 __halves2half2(__half a, __half b) {
  return {a, b};
}
inline float __low2float(__half2 h) {
  return __half2float(h.x);
}
inline float __high2float(__half2 h) {
  return __half2float(h.y);
}
