// Every family's Q4_0/Q4_1/Q8_0/W4G128 matmul paths (single-token dot, four-token dot4, the
// AVX-512 token-group tiles; the scalar family's plain dots) against a plain emulation of their one rounding sequence, bit
// for bit, for odd row counts and every token count 1..17: a token's float must not depend
// on the family, on how many tokens share the matmul, or on where in the batch it sits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

// The x86 sequence: per block, 8 int32 lanes of 4 products each (element order), one
// float product d_w * d_a, lane-wise fma into 8 accumulators; the bias term (Q4_1: m * s,
// Q4_0: -8 d * s, Q8_0: 0 * s) summed per block; at the end the accumulators reduced as
// ((0+4)+(2+6)) + ((1+5)+(3+7)) and the bias sum added. W4G128 is read as 32-element
// sub-blocks (its group's scale and offset for each).
float emulated_dot(DType t, const uint8_t* wrow, const BlockQ8_1* a, int64_t n) {
  float acc[8] = {}, extra = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int q[kQK];
    float d, bias;
    if (t == DType::kQ8_0) {
      const auto& b = reinterpret_cast<const BlockQ8_0*>(wrow)[i];
      for (int j = 0; j < kQK; ++j) q[j] = b.qs[j];
      d = fp16_to_fp32(b.d), bias = 0.f;
    } else if (t == DType::kW4G128) {
      // Sub-block i is run i % 4 of group i / 4.
      const auto& b = reinterpret_cast<const BlockW4G128*>(wrow)[i / 4];
      const uint8_t* qs = b.qs + 16 * (i % 4);
      for (int j = 0; j < 16; ++j) q[j] = qs[j] & 0xF, q[j + 16] = qs[j] >> 4;
      d = fp16_to_fp32(b.d), bias = fp16_to_fp32(b.m);
    } else if (t == DType::kQ4_1) {
      const auto& b = reinterpret_cast<const BlockQ4_1*>(wrow)[i];
      for (int j = 0; j < 16; ++j) q[j] = b.qs[j] & 0xF, q[j + 16] = b.qs[j] >> 4;
      d = fp16_to_fp32(b.d), bias = fp16_to_fp32(b.m);
    } else {
      const auto& b = reinterpret_cast<const BlockQ4_0*>(wrow)[i];
      for (int j = 0; j < 16; ++j) q[j] = b.qs[j] & 0xF, q[j + 16] = b.qs[j] >> 4;
      d = fp16_to_fp32(b.d), bias = -8.f * d;
    }
    const float scale = d * a[i].d;
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) s += q[k] * a[i].qs[k];
      acc[l] = std::fma(static_cast<float>(s), scale, acc[l]);
    }
    extra += bias * a[i].s;
  }
  float r0 = acc[0] + acc[4], r1 = acc[1] + acc[5], r2 = acc[2] + acc[6], r3 = acc[3] + acc[7];
  return ((r0 + r2) + (r1 + r3)) + extra;
}

std::vector<std::string> x86_families() {
  std::vector<std::string> out;
  for (const char* f : {"avx2", "avx512vnni"}) {
    if (cpu::family_supported(f)) out.push_back(f);
  }
  return out;
}

struct Data {
  std::vector<uint8_t> w;
  std::vector<float> x;
  Matrix m;
};

Data make_data(DType t, int64_t rows, int64_t cols, int tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd;
  Data d;
  const size_t rb = row_bytes(t, cols);
  d.w.resize(rb * rows);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (auto& v : row) v = nd(rng);
    quantize_row(t, row.data(), &d.w[r * rb], cols);
  }
  d.x.resize(size_t(tokens) * cols);
  for (auto& v : d.x) v = nd(rng) * (1.f + float(rng() % 4));
  d.m = Matrix{t, d.w.data(), rows, cols, rb};
  return d;
}

TEST(TileKernels, MatmulIsBitExactForEveryTokenCount) {
  // The portable family follows the same sequence, so a CPU without AVX2 is exact too.
  auto fams = x86_families();
  fams.insert(fams.begin(), "scalar");
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kW4G128}) {
    for (int64_t cols : {int64_t{64}, int64_t{96}, int64_t{576}}) {
      const int64_t rows = 37;
      const int max_tokens = 17;
      Data d = make_data(t, rows, cols, max_tokens, uint32_t(cols) * 31 + uint32_t(t));
      // Reference: each token quantized alone with the reference quantizer.
      const size_t ab = row_bytes(DType::kQ8_1, cols);
      std::vector<uint8_t> act(ab * max_tokens);
      for (int tok = 0; tok < max_tokens; ++tok)
        quantize_row(DType::kQ8_1, d.x.data() + tok * cols, act.data() + tok * ab, cols);
      std::vector<float> want(size_t(max_tokens) * rows);
      for (int tok = 0; tok < max_tokens; ++tok)
        for (int64_t r = 0; r < rows; ++r)
          want[tok * rows + r] = emulated_dot(t, &d.w[r * d.m.row_stride],
                                              reinterpret_cast<const BlockQ8_1*>(act.data() + tok * ab), cols);
      for (const auto& fam : fams) {
        setenv("TURBINE_CPU_KERNELS", fam.c_str(), 1);
        auto be = make_cpu_backend(3);
        unsetenv("TURBINE_CPU_KERNELS");
        for (int n = 1; n <= max_tokens; ++n) {
          // Tokens [first, first + n): every token is also seen at other batch positions.
          for (int first : {0, max_tokens - n}) {
            std::vector<float> y(size_t(n) * rows, -1.f);
            be->matmul(d.m, d.x.data() + first * cols, n, y.data());
            for (int tok = 0; tok < n; ++tok)
              for (int64_t r = 0; r < rows; ++r) {
                const float g = y[tok * rows + r], e = want[(first + tok) * rows + r];
                ASSERT_EQ(std::memcmp(&g, &e, sizeof g), 0)
                    << fam << " " << dtype_name(t) << " cols=" << cols << " n=" << n
                    << " first=" << first << " tok=" << tok << " row=" << r << ": " << g << " vs " << e;
              }
          }
        }
      }
    }
  }
}

// The tile kernels directly, with the packing they are documented to take.
TEST(TileKernels, TileMatchesDot4) {
  const auto fams = x86_families();
  for (const auto& fam : fams) {
    const cpu::KernelTable& k = cpu::kernels_by_name(fam);
    for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kW4G128}) {
      cpu::TileFn tile = k.tile_for(t);
      if (tile == nullptr) continue;
      const int64_t rows = 5, cols = 160;
      Data d = make_data(t, rows, cols, cpu::kTileTokens, 99 + uint32_t(t));
      const size_t ab = row_bytes(DType::kQ8_1, cols);
      std::vector<uint8_t> act(ab * cpu::kTileTokens);
      for (int tok = 0; tok < cpu::kTileTokens; ++tok)
        k.quantize_q8_1(d.x.data() + tok * cols, act.data() + tok * ab, cols);
      for (int n = 1; n <= cpu::kTileTokens; ++n) {
        std::vector<uint8_t> packed(size_t(cols / kQK) * cpu::tile_block_bytes(n));
        cpu::pack_tile(act.data(), ab, n, cols, t == DType::kQ8_0, packed.data());
        std::vector<float> y(size_t(n) * rows);
        tile(cols, d.w.data(), d.m.row_stride, rows, packed.data(), n, y.data(), rows);
        for (int tok = 0; tok < n; ++tok)
          for (int64_t r = 0; r < rows; ++r) {
            const float e = emulated_dot(t, &d.w[r * d.m.row_stride],
                                         reinterpret_cast<const BlockQ8_1*>(act.data() + tok * ab), cols);
            const float g = y[tok * rows + r];
            ASSERT_EQ(std::memcmp(&g, &e, sizeof g), 0) << fam << " " << dtype_name(t) << " n=" << n;
          }
      }
    }
  }
}

// The families' fp32 -> fp16 row conversion (the F16 KV cache writes) against the reference
// fp32_to_fp16: ties, subnormals, overflow, infinities, for every float pattern class.
TEST(TileKernels, Fp16RowConversionMatchesReference) {
  std::mt19937 rng(5);
  std::vector<float> x;
  for (int i = 0; i < 200000; ++i) {
    uint32_t bits = rng();
    if (i % 3 == 0) bits = (bits & 0x80000000u) | ((100u + bits % 50u) << 23) | (bits & 0x7fffff);  // near fp16 range
    if (i % 7 == 0) bits &= ~uint32_t{0xfff};  // exact ties and near-ties
    float f;
    std::memcpy(&f, &bits, 4);
    if (std::isnan(f)) continue;
    x.push_back(f);
  }
  for (float f : {0.f, -0.f, 65504.f, 65519.f, 65520.f, -65520.f, 1e-8f, 2.98e-8f, 6.1e-5f,
                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()})
    x.push_back(f);
  for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
    if (!cpu::family_supported(fam)) continue;
    const cpu::KernelTable& k = cpu::kernels_by_name(fam);
    if (k.fp32_to_fp16_row == nullptr) continue;
    std::vector<uint16_t> y(x.size());
    k.fp32_to_fp16_row(x.data(), y.data(), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], fp32_to_fp16(x[i])) << fam << " " << x[i];
  }
}

}  // namespace
}  // namespace turbine
