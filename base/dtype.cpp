// Type table and the scalar half/bfloat16 conversions. The conversions are bit-exact IEEE
// round-to-nearest-even so that files written here match what ggml/numpy would write.
#include "base/dtype.h"

#include <cstring>

#include "base/result.h"

namespace turbine {

namespace {

// Q8_1 is our activation layout (float d and s), not ggml's fp16 one: it never appears in a
// file, and float scales keep the Q4_1 minimum correction exact.
constexpr DTypeTraits kF32{"f32", 1, 4};
constexpr DTypeTraits kF16{"f16", 1, 2};
constexpr DTypeTraits kBF16{"bf16", 1, 2};
constexpr DTypeTraits kQ4_0{"q4_0", kQK, sizeof(BlockQ4_0)};
constexpr DTypeTraits kQ4_1{"q4_1", kQK, sizeof(BlockQ4_1)};
constexpr DTypeTraits kQ8_0{"q8_0", kQK, sizeof(BlockQ8_0)};
constexpr DTypeTraits kQ5_0{"q5_0", kQK, sizeof(BlockQ5_0)};
constexpr DTypeTraits kQ5_1{"q5_1", kQK, sizeof(BlockQ5_1)};
constexpr DTypeTraits kQ2_K{"q2_k", kQKK, sizeof(BlockQ2_K)};
constexpr DTypeTraits kQ3_K{"q3_k", kQKK, sizeof(BlockQ3_K)};
constexpr DTypeTraits kQ5_K{"q5_k", kQKK, sizeof(BlockQ5_K)};
constexpr DTypeTraits kQ8_1{"q8_1", kQK, sizeof(BlockQ8_1)};
constexpr DTypeTraits kQ4_K{"q4_k", kQKK, sizeof(BlockQ4_K)};
constexpr DTypeTraits kQ6_K{"q6_k", kQKK, sizeof(BlockQ6_K)};
constexpr DTypeTraits kQ8_K{"q8_k", kQKK, sizeof(BlockQ8_K)};
constexpr DTypeTraits kW4G128{"w4g128", kW4Group, sizeof(BlockW4G128)};

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

const DTypeTraits* dtype_traits(uint32_t id) {
  switch (static_cast<DType>(id)) {
    case DType::kF32:
      return &kF32;
    case DType::kF16:
      return &kF16;
    case DType::kBF16:
      return &kBF16;
    case DType::kQ4_0:
      return &kQ4_0;
    case DType::kQ4_1:
      return &kQ4_1;
    case DType::kQ8_0:
      return &kQ8_0;
    case DType::kQ5_0:
      return &kQ5_0;
    case DType::kQ5_1:
      return &kQ5_1;
    case DType::kQ2_K:
      return &kQ2_K;
    case DType::kQ3_K:
      return &kQ3_K;
    case DType::kQ5_K:
      return &kQ5_K;
    case DType::kQ8_1:
      return &kQ8_1;
    case DType::kQ4_K:
      return &kQ4_K;
    case DType::kQ6_K:
      return &kQ6_K;
    case DType::kQ8_K:
      return &kQ8_K;
    case DType::kW4G128:
      return &kW4G128;
  }
  return nullptr;
}

std::string_view dtype_name(DType t) {
  const DTypeTraits* tr = dtype_traits(static_cast<uint32_t>(t));
  return tr ? tr->name : std::string_view("unknown");
}

int row_granule(DType t) {
  const DTypeTraits* tr = dtype_traits(static_cast<uint32_t>(t));
  TURBINE_CHECK(tr != nullptr);
  return t == DType::kW4G128 ? kQK : tr->block_elems;
}

size_t row_bytes(DType t, int64_t n) {
  const DTypeTraits* tr = dtype_traits(static_cast<uint32_t>(t));
  TURBINE_CHECK(tr != nullptr);
  TURBINE_CHECK(n % row_granule(t) == 0);
  if (t == DType::kW4G128) {
    const int64_t rest = n % kW4Group;  // a short last group: d, m and its runs
    return size_t(n / kW4Group) * sizeof(BlockW4G128) + (rest ? 4 + size_t(rest) / 2 : 0);
  }
  return static_cast<size_t>(n / tr->block_elems) * static_cast<size_t>(tr->block_bytes);
}

float fp16_to_fp32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000 | (mant << 13));  // inf / nan
  if (exp == 0) {
    if (mant == 0) return bits_float(sign);
    // Subnormal: mant * 2^-24 is exact in float.
    float v = static_cast<float>(mant) * (1.0f / 16777216.0f);
    return sign ? -v : v;
  }
  return bits_float(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t fp32_to_fp16(float f) {
  uint32_t x = float_bits(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  x &= 0x7fffffff;
  if (x > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((x >> 13) & 0x3ff);  // quiet nan
  if (x == 0x7f800000) return sign | 0x7c00;
  uint32_t e = x >> 23;
  if (e < 113) {
    // Result is subnormal (or zero): count units of 2^-24, rounding the shifted-out bits.
    if (e < 102) return sign;
    uint32_t mant = (x & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14..24
    uint32_t q = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) ++q;  // may carry into the smallest normal
    return sign | static_cast<uint16_t>(q);
  }
  uint32_t h = (x - (112u << 23)) >> 13;
  uint32_t rem = x & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) ++h;  // a carry into the exponent is right
  if (h >= 0x7c00) h = 0x7c00;                          // overflow rounds to inf
  return sign | static_cast<uint16_t>(h);
}

uint16_t fp32_to_bf16(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 0x40);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

}  // namespace turbine
