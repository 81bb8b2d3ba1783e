// The int8/int4 KV rule (kernels/kv_quant.h): the rotation is an orthonormal block
// Hadamard transform and its own inverse, every value comes back within half a step,
// codes stay in range and in the documented nibble order, degenerate rows stay exact, and
// kv_store writes the reference bytes into the addressed row only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kv_quant.h"

namespace turbine {
namespace {

std::vector<float> make_row(const std::string& kind, int n, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& v : x) v = nd(rng);
  if (kind == "constant") std::fill(x.begin(), x.end(), 0.3721f);
  if (kind == "zeros") std::fill(x.begin(), x.end(), 0.f);
  if (kind == "outlier") x[n / 3] = 40.f;  // a K channel much larger than the rest
  if (kind == "negative") for (auto& v : x) v = -std::fabs(v) - 3.f;
  if (kind == "large") for (auto& v : x) v *= 900.f;
  if (kind == "tiny") for (auto& v : x) v *= 1e-5f;
  return x;
}

TEST(KvQuant, RoundTripWithinHalfAStep) {
  std::mt19937 rng(3);
  for (KvType t : {KvType::kInt8, KvType::kInt4}) {
    for (int n : {16, 64, 128, 80}) {
      for (const char* kind : {"normal", "constant", "zeros", "outlier", "negative", "large", "tiny"}) {
        const std::vector<float> x = make_row(kind, n, rng);
        std::vector<uint8_t> codes(t == KvType::kInt8 ? n : n / 2);
        const int gs = kv_group_size(t, n);
        std::vector<uint16_t> dms(2 * (n / gs));
        kv_quantize_row(t, x.data(), n, codes.data(), dms.data());
        std::vector<float> y(n);
        kv_dequantize_row(t, codes.data(), dms.data(), n, y.data());
        for (int g0 = 0; g0 < n; g0 += gs) {
          const float lo = *std::min_element(x.begin() + g0, x.begin() + g0 + gs);
          const float hi = *std::max_element(x.begin() + g0, x.begin() + g0 + gs);
          const uint16_t* dm = dms.data() + 2 * (g0 / gs);
          const float d = fp16_to_fp32(dm[0]), m = fp16_to_fp32(dm[1]);
          // m is min rounded to fp16; d rounded to fp16 may leave the top a little past the
          // last code. Bound: half a step, plus those two roundings.
          const float bound = 0.5f * d + std::fabs(m - lo) +
                              std::max(0.f, hi - (m + d * kv_qmax(t))) + 1e-6f * std::fabs(hi);
          for (int i = g0; i < g0 + gs; ++i)
            ASSERT_LE(std::fabs(y[i] - x[i]), bound)
                << kv_type_name(t) << " " << kind << " n=" << n << " i=" << i << " d=" << d;
          if (std::string(kind) == "zeros") EXPECT_EQ(d, 0.f);
          // The bound is tight enough to mean something: a step is the group's range / qmax.
          if (hi > lo) EXPECT_LE(d, (hi - lo) / kv_qmax(t) * 1.001f + 1e-7f) << kind;
        }
        // A constant row is at least as good as fp16 (m's rounding is left to the tiny step);
        // zeros stay exact zeros.
        if (std::string(kind) == "constant") {
          for (int i = 0; i < n; ++i) ASSERT_LE(std::fabs(y[i] - x[i]), std::fabs(x[i]) * 0x1p-11f);
        }
        if (std::string(kind) == "zeros") {
          for (int i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.f);
        }
      }
    }
  }
}

TEST(KvQuant, CodesCoverTheRangeInNibbleOrder) {
  // 0..15 ramp: int4 codes are exactly the ramp, element 2i in the low nibble of byte i.
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = float(i) * 0.5f - 2.f;
  uint8_t codes[8];
  uint16_t dm[2];
  kv_quantize_row(KvType::kInt4, x.data(), 16, codes, dm);
  EXPECT_EQ(fp16_to_fp32(dm[0]), 0.5f);
  EXPECT_EQ(fp16_to_fp32(dm[1]), -2.f);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(codes[i], (2 * i) | ((2 * i + 1) << 4)) << i;
  // int8: the extremes map to 0 and 255.
  std::vector<float> y = {1.f, -1.f, 0.25f, 3.f};
  uint8_t c8[4];
  kv_quantize_row(KvType::kInt8, y.data(), 4, c8, dm);
  EXPECT_EQ(c8[1], 0);
  EXPECT_EQ(c8[3], 255);
}

TEST(KvQuant, GeometrySizes) {
  KvGeometry g{KvType::kF16, 16, 10, 3, 64};
  EXPECT_EQ(g.row_total_bytes(), 128u);
  g.kv_type = KvType::kInt8;
  EXPECT_EQ(g.row_total_bytes(), 68u);
  EXPECT_EQ(g.param_offset(), size_t(16 * 10 * 3) * 64);
  g.kv_type = KvType::kInt4;
  // int4: 32 bytes of codes and a {d, m} pair per group of 16.
  EXPECT_EQ(g.group_size(), 16);
  EXPECT_EQ(g.groups(), 4);
  EXPECT_EQ(g.row_total_bytes(), 48u);
  EXPECT_EQ(g.block_bytes(), size_t(16 * 3 * 48));
  g.head_dim = 24;  // not a multiple of the group: one pair per row
  EXPECT_EQ(g.groups(), 1);
  EXPECT_EQ(g.row_total_bytes(), 16u);
  g.kv_type = KvType::kInt8;
  g.head_dim = 128;
  EXPECT_EQ(g.groups(), 1);
  EXPECT_EQ(g.row_total_bytes(), 132u);
  KvType t;
  EXPECT_TRUE(parse_kv_type("int8", &t) && t == KvType::kInt8);
  EXPECT_TRUE(parse_kv_type("f16", &t) && t == KvType::kF16);
  EXPECT_FALSE(parse_kv_type("fp8", &t));
  EXPECT_FALSE(parse_kv_type("INT8", &t));
}

// The rotation is the normalized Walsh-Hadamard transform over blocks of n & -n: it keeps
// each block's norm, is its own inverse, never mixes blocks, and matches the textbook matrix
// H[i][j] = (-1)^popcount(i & j) / sqrt(B).
TEST(KvQuant, RotationIsBlockHadamardAndItsOwnInverse) {
  std::mt19937 rng(5);
  for (int n : {1, 2, 16, 64, 96, 128, 256}) {
    const int B = kv_rotation_block(n);
    EXPECT_EQ(n % B, 0);
    EXPECT_EQ(B & (B - 1), 0) << n;
    std::vector<float> x = make_row("outlier", n, rng), y = x;
    kv_rotate(y.data(), n);
    for (int b0 = 0; b0 < n; b0 += B) {
      double nx = 0, ny = 0;
      for (int i = b0; i < b0 + B; ++i) {
        double want = 0;
        for (int j = b0; j < b0 + B; ++j)
          want += (__builtin_popcount((i - b0) & (j - b0)) % 2 ? -1.0 : 1.0) * x[j];
        want /= std::sqrt(double(B));
        EXPECT_NEAR(y[i], want, 1e-4 * (1 + std::fabs(want))) << n << " " << i;
        nx += double(x[i]) * x[i], ny += double(y[i]) * y[i];
      }
      EXPECT_NEAR(ny, nx, 1e-5 * nx) << n;
    }
    kv_rotate(y.data(), n);
    for (int i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i], 1e-5f * (1 + std::fabs(x[i]))) << n;
  }
  EXPECT_EQ(kv_rotation_block(96), 32);
  EXPECT_EQ(kv_rotation_block(64), 64);
}

// Why the rule rotates: a row with one outlier channel comes back with a far smaller error
// through rotate -> int4 -> rotate than through int4 alone (unrotated, the outlier coarsens
// its own group of kKvInt4Group; rotated, its energy is spread thin over the whole row).
TEST(KvQuant, RotationShrinksTheErrorOfAnOutlierRow) {
  std::mt19937 rng(8);
  double plain = 0, rotated = 0;
  for (int trial = 0; trial < 50; ++trial) {
    const int n = 64;
    std::vector<float> x = make_row("outlier", n, rng), r = x, y(n), z(n);
    uint8_t codes[32];
    uint16_t dm[2 * 64 / kKvInt4Group];
    kv_quantize_row(KvType::kInt4, x.data(), n, codes, dm);
    kv_dequantize_row(KvType::kInt4, codes, dm, n, y.data());
    kv_rotate(r.data(), n);
    kv_quantize_row(KvType::kInt4, r.data(), n, codes, dm);
    kv_dequantize_row(KvType::kInt4, codes, dm, n, z.data());
    kv_rotate(z.data(), n);
    for (int i = 0; i < n; ++i) {
      plain += double(y[i] - x[i]) * (y[i] - x[i]);
      rotated += double(z[i] - x[i]) * (z[i] - x[i]);
    }
  }
  EXPECT_LT(rotated, 0.5 * plain) << rotated << " vs " << plain;
}

TEST(KvQuant, StoreWritesReferenceBytesAtTheSlotOnly) {
  for (KvType t : {KvType::kInt8, KvType::kInt4}) {
    auto be = make_cpu_backend(1);
    KvGeometry g{t, 4, 3, 2, 32};  // int4: two {d, m} groups per row
    std::vector<uint8_t> kc(g.block_bytes() * g.num_blocks, 0xAB), vc(kc.size(), 0xCD);
    KvLayer layer{kc.data(), vc.data()};
    std::mt19937 rng(9);
    std::vector<float> k = make_row("normal", 64, rng), v = make_row("outlier", 64, rng);
    const int32_t slot = 2 * 4 + 1;
    be->kv_store(g, layer, k.data(), v.data(), &slot, 1);
    const size_t cb = g.row_code_bytes();
    for (int which = 0; which < 2; ++which) {
      const std::vector<uint8_t>& pool = which ? vc : kc;
      const float* src = which ? v.data() : k.data();
      std::vector<uint8_t> want = std::vector<uint8_t>(pool.size(), which ? 0xCD : 0xAB);
      for (int h = 0; h < 2; ++h) {
        const int64_t row = int64_t{slot} * 2 + h;
        std::vector<float> x(src + h * 32, src + h * 32 + 32);
        kv_rotate(x.data(), 32);
        kv_quantize_row(t, x.data(), 32, want.data() + row * cb,
                        reinterpret_cast<uint16_t*>(want.data() + g.param_offset()) +
                            2 * g.groups() * row);
      }
      for (size_t i = 0; i < pool.size(); ++i) ASSERT_EQ(pool[i], want[i]) << kv_type_name(t) << " " << i;
    }
  }
}

}  // namespace
}  // namespace turbine
