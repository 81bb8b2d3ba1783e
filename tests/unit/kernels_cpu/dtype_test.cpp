// Block layouts and conversions against values worked out by hand from the GGUF/ggml
// format definitions, plus quantize -> dequantize round trips with per-type error bounds.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "base/dtype.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DTypeTraits, BlockSizesMatchGgml) {
  struct Want {
    DType t;
    int elems, bytes;
  } want[] = {{DType::kF32, 1, 4},     {DType::kF16, 1, 2},      {DType::kBF16, 1, 2},
              {DType::kQ4_0, 32, 18},  {DType::kQ4_1, 32, 20},   {DType::kQ8_0, 32, 34},
              {DType::kQ8_1, 32, 40},  {DType::kQ4_K, 256, 144}, {DType::kQ6_K, 256, 210},
              {DType::kQ8_K, 256, 292}, {DType::kW4G128, 128, 68},  {DType::kQ5_0, 32, 22},
              {DType::kQ5_1, 32, 24},  {DType::kQ2_K, 256, 84},  {DType::kQ3_K, 256, 110},
              {DType::kQ5_K, 256, 176}};
  for (const auto& w : want) {
    const DTypeTraits* tr = dtype_traits(static_cast<uint32_t>(w.t));
    ASSERT_NE(tr, nullptr);
    EXPECT_EQ(tr->block_elems, w.elems) << tr->name;
    EXPECT_EQ(tr->block_bytes, w.bytes) << tr->name;
  }
  EXPECT_EQ(dtype_traits(16), nullptr);  // IQ2_XXS: not supported, must be rejected
  EXPECT_EQ(dtype_traits(1000), nullptr);
  EXPECT_EQ(row_bytes(DType::kQ4_1, 576), 18u * 20u);
  EXPECT_EQ(dtype_name(DType::kQ4_K), "q4_k");
  // W4G128: rows in steps of 32, a short last group costs its header and its runs only.
  EXPECT_EQ(row_granule(DType::kW4G128), 32);
  EXPECT_EQ(row_granule(DType::kQ4_K), 256);
  EXPECT_EQ(row_bytes(DType::kW4G128, 1536), 12u * 68u);
  EXPECT_EQ(row_bytes(DType::kW4G128, 576), 4u * 68u + 4u + 32u);
  EXPECT_EQ(row_bytes(DType::kW4G128, 32), 4u + 16u);
  EXPECT_EQ(dtype_name(DType::kW4G128), "w4g128");
}

TEST(Dequantize, W4G128HandBuiltWithAShortLastGroup) {
  // 160 elements: one full group (d 0.5, m -3) and a short one of 32 (d 0.25, m 1).
  std::vector<uint8_t> row(row_bytes(DType::kW4G128, 160));
  ASSERT_EQ(row.size(), 68u + 20u);
  auto* g = reinterpret_cast<BlockW4G128*>(row.data());
  g[0].d = fp32_to_fp16(0.5f), g[0].m = fp32_to_fp16(-3.f);
  for (int j = 0; j < 64; ++j) g[0].qs[j] = static_cast<uint8_t>((j % 16) | ((15 - j % 16) << 4));
  uint8_t* tail = row.data() + 68;
  const uint16_t d1 = fp32_to_fp16(0.25f), m1 = fp32_to_fp16(1.f);
  std::memcpy(tail, &d1, 2);
  std::memcpy(tail + 2, &m1, 2);
  for (int j = 0; j < 16; ++j) tail[4 + j] = static_cast<uint8_t>(j | (j << 4));
  float y[160];
  dequantize_row(DType::kW4G128, row.data(), y, 160);
  for (int e = 0; e < 128; ++e) {
    // Run e / 32; within it element j < 16 is the low nibble of byte j, j >= 16 the high.
    const int j = e % 32, q = j < 16 ? j : 15 - (j - 16);
    EXPECT_EQ(y[e], q * 0.5f - 3.f) << e;
  }
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[128 + j], (j % 16) * 0.25f + 1.f) << j;
}

TEST(Quantize, W4G128ClipBoundsTheRangeByAFractionOfTheLargestMagnitude) {
  // One outlier: unclipped, the step is (40 - -1) / 15 and the small weights all fall in
  // one or two codes; clipped to 0.5 the outlier saturates and the rest get a finer step.
  std::vector<float> x(128);
  for (int j = 0; j < 128; ++j) x[j] = -1.f + 2.f * j / 127.f;
  x[77] = 40.f;
  BlockW4G128 full{}, clipped{};
  quantize_w4g128_group(x.data(), 128, 1.f, &full);
  quantize_w4g128_group(x.data(), 128, 0.5f, &clipped);
  EXPECT_NEAR(fp16_to_fp32(full.d), 41.f / 15.f, 1e-2);
  EXPECT_NEAR(fp16_to_fp32(full.m), -1.f, 1e-3);
  EXPECT_NEAR(fp16_to_fp32(clipped.d), 21.f / 15.f, 1e-2);
  EXPECT_NEAR(fp16_to_fp32(clipped.m), -1.f, 1e-3);
  float y[128];
  dequantize_row(DType::kW4G128, &clipped, y, 128);
  EXPECT_NEAR(y[77], fp16_to_fp32(clipped.m) + 15 * fp16_to_fp32(clipped.d), 1e-3);  // saturated
  // quantize_row is the unclipped group.
  BlockW4G128 row{};
  quantize_row(DType::kW4G128, x.data(), &row, 128);
  EXPECT_EQ(std::memcmp(&row, &full, sizeof row), 0);
}

TEST(Fp16, EveryHalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_fp32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f)))) << h;
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << "half 0x" << std::hex << h;
  }
}

TEST(Fp16, KnownValuesAndRounding) {
  EXPECT_EQ(fp16_to_fp32(0x3c00), 1.0f);
  EXPECT_EQ(fp16_to_fp32(0xc000), -2.0f);
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x0400), std::ldexp(1.0f, -14));  // smallest normal
  EXPECT_TRUE(std::isinf(fp16_to_fp32(0x7c00)));
  EXPECT_TRUE(std::isnan(fp16_to_fp32(0x7e00)));
  // 1 + 2^-11 is exactly half-way between 1 and 1+2^-10: ties to even (1.0).
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);
  // 1 + 3*2^-11 is half-way between 1+2^-10 (odd) and 1+2^-9 (even): rounds up.
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)), 0x3c01);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(fp32_to_fp16(-1e10f), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(std::numeric_limits<float>::infinity()), 0x7c00);
  uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x3ff, 0);
  // Subnormal results: 2^-25 ties to 0, just above goes to the smallest subnormal,
  // 1.5 * 2^-24 ties to 2 * 2^-24 (even).
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25) * 1.0001f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(1.5f * std::ldexp(1.0f, -24)), 0x0002);
  EXPECT_EQ(fp32_to_fp16(-std::ldexp(1.0f, -30)), 0x8000);
  // The largest subnormal rounding up into the smallest normal.
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -14) * (1.0f - std::ldexp(1.0f, -12))), 0x0400);
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808000)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f818000)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(from_bits(0x7f7fffff)), 0x7f80);  // overflow to inf
  uint16_t nan = fp32_to_bf16(from_bits(0x7f800001));      // NaN stays NaN
  EXPECT_TRUE(std::isnan(bf16_to_fp32(nan)));
}

TEST(Dequantize, Q4_0HandBuilt) {
  BlockQ4_0 b{};
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((j & 0xF) | ((15 - j) << 4));
  float y[32];
  dequantize_row(DType::kQ4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.5f) << j;
  }
}

TEST(Dequantize, Q4_1HandBuilt) {
  BlockQ4_1 b{};
  b.d = fp32_to_fp16(0.25f);
  b.m = fp32_to_fp16(-1.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(((j * 3) & 0xF) | (j << 4));
  float y[32];
  dequantize_row(DType::kQ4_1, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], ((j * 3) & 0xF) * 0.25f - 1.5f);
    EXPECT_EQ(y[j + 16], j * 0.25f - 1.5f);
  }
}

TEST(Dequantize, Q8_0HandBuilt) {
  BlockQ8_0 b{};
  b.d = fp32_to_fp16(0.125f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j * 8 - 128);
  float y[32];
  dequantize_row(DType::kQ8_0, &b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j * 8 - 128) * 0.125f);
}

TEST(Dequantize, Q4_KHandBuilt) {
  BlockQ4_K b{};
  b.d = fp32_to_fp16(2.0f);
  b.dmin = fp32_to_fp16(0.5f);
  // Sub-block j gets scale sc[j] and min mn[j]; values above 15 exercise the split
  // 6-bit encoding (high 2 bits stored in bytes 0..7).
  const int sc[8] = {1, 2, 3, 63, 17, 33, 48, 5};
  const int mn[8] = {0, 7, 62, 1, 16, 31, 63, 9};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>((i * 7) & 0xFF);
  float y[256];
  dequantize_row(DType::kQ4_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    int group = e / 64, within = e % 64;
    int sub = e / 32;
    uint8_t byte = b.qs[32 * group + within % 32];
    int q = within < 32 ? (byte & 0xF) : (byte >> 4);
    EXPECT_EQ(y[e], 2.0f * sc[sub] * q - 0.5f * mn[sub]) << e;
  }
}

TEST(Dequantize, Q6_KHandBuilt) {
  BlockQ6_K b{};
  b.d = fp32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j * 9 - 70);
  // Build from intended 6-bit codes with the documented layout, then decode.
  int code[256];
  for (int e = 0; e < 256; ++e) code[e] = (e * 37 + 11) % 64;
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      int c[4];
      for (int r = 0; r < 4; ++r) c[r] = code[128 * half + 32 * r + l];
      b.ql[64 * half + l] = static_cast<uint8_t>((c[0] & 0xF) | ((c[2] & 0xF) << 4));
      b.ql[64 * half + 32 + l] = static_cast<uint8_t>((c[1] & 0xF) | ((c[3] & 0xF) << 4));
      b.qh[32 * half + l] = static_cast<uint8_t>((c[0] >> 4) | ((c[1] >> 4) << 2) |
                                                 ((c[2] >> 4) << 4) | ((c[3] >> 4) << 6));
    }
  }
  float y[256];
  dequantize_row(DType::kQ6_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) {
    EXPECT_EQ(y[e], 0.5f * b.scales[e / 16] * (code[e] - 32)) << e;
  }
}

// Round trip: max error relative to the row's max magnitude. Bounds: half a quantization
// step (range / levels / 2; Q4_1's range is up to 2*amax, and Q4_0 clips the side opposite
// its signed extreme by one full step) plus fp16 scale rounding, with headroom.
TEST(Quantize, RoundTripErrorBounds) {
  struct Case {
    DType t;
    float bound;
  } cases[] = {{DType::kF32, 0.f},         {DType::kF16, 1e-3f},       {DType::kBF16, 8e-3f},
               {DType::kQ8_0, 1.0f / 200}, {DType::kQ8_1, 1.0f / 200}, {DType::kQ8_K, 1.0f / 200},
               {DType::kQ4_0, 1.0f / 7},   {DType::kQ4_1, 1.0f / 14},  {DType::kQ4_K, 1.0f / 12},
               {DType::kQ6_K, 1.0f / 50},  {DType::kW4G128, 1.0f / 14}};
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.f, 1.f);
  const int n = 1024;
  std::vector<float> x(n), y(n);
  for (auto& v : x) v = dist(rng);
  x[5] = 0.f;
  float amax = 0.f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  for (const auto& c : cases) {
    std::vector<uint8_t> q(row_bytes(c.t, n));
    quantize_row(c.t, x.data(), q.data(), n);
    dequantize_row(c.t, q.data(), y.data(), n);
    float err = 0.f;
    double se = 0, sx = 0;
    for (int i = 0; i < n; ++i) {
      err = std::max(err, std::fabs(x[i] - y[i]));
      se += double(x[i] - y[i]) * (x[i] - y[i]);
      sx += double(x[i]) * x[i];
    }
    EXPECT_LE(err, c.bound * amax) << dtype_name(c.t);
    // And not wildly wrong on average either (catches a layout swap that keeps ranges).
    EXPECT_LE(std::sqrt(se / sx), c.bound * 2 + 1e-6) << dtype_name(c.t);
  }
}

TEST(Quantize, ZeroRowStaysZero) {
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ8_1, DType::kQ4_K,
                  DType::kQ6_K, DType::kQ8_K, DType::kW4G128}) {
    std::vector<float> x(256, 0.f), y(256, 1.f);
    std::vector<uint8_t> q(row_bytes(t, 256));
    quantize_row(t, x.data(), q.data(), 256);
    dequantize_row(t, q.data(), y.data(), 256);
    for (float v : y) ASSERT_EQ(v, 0.f) << dtype_name(t);
  }
}

TEST(Quantize, Q8_KBlockSums) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = std::sin(i * 0.37f) * 3.f;
  BlockQ8_K b;
  quantize_row(DType::kQ8_K, x.data(), &b, 256);
  for (int g = 0; g < 16; ++g) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += b.qs[16 * g + l];
    EXPECT_EQ(b.bsums[g], s);
  }
}

}  // namespace
}  // namespace turbine
