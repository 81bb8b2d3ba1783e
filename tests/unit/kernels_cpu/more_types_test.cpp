// The weight types of the common GGUF mixes beyond the first set (Q5_0, Q5_1, Q2_K, Q3_K,
// Q5_K): every family's dot product equals the float dot of the dequantized weight and
// activation rows, quantization round trips within half a step, and a CPU backend matmul
// on such a weight agrees with the float reference.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

const DType kTypes[] = {DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ5_K};

std::vector<float> normal(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(MoreTypes, EveryFamilysDotEqualsTheDequantizedFloatDot) {
  const int n = 1024;
  for (const char* family : {"scalar", "avx2", "avx512vnni"}) {
    if (!cpu::family_supported(family)) continue;
    const cpu::KernelTable& k = cpu::kernels_by_name(family);
    for (DType t : kTypes) {
      for (uint32_t seed = 1; seed <= 3; ++seed) {
        auto w = normal(n, seed), x = normal(n, seed + 100);
        std::vector<uint8_t> wq(row_bytes(t, n)), xq(row_bytes(cpu::act_type(t), n));
        quantize_row(t, w.data(), wq.data(), n);
        quantize_row(cpu::act_type(t), x.data(), xq.data(), n);
        std::vector<float> wd(n), xd(n);
        dequantize_row(t, wq.data(), wd.data(), n);
        dequantize_row(cpu::act_type(t), xq.data(), xd.data(), n);
        double ref = 0, mag = 0;
        for (int i = 0; i < n; ++i) ref += double(wd[i]) * xd[i], mag += std::fabs(double(wd[i]) * xd[i]);
        auto dot = k.dot_for(t);
        ASSERT_NE(dot, nullptr) << family << " " << dtype_name(t);
        // Over Q8_1 the weight offset meets the activation sum s, which Q8_1 stores in fp16
        // (as llama.cpp does): a relative error of about 1e-5 of the magnitude remains.
        const double tol = cpu::act_type(t) == DType::kQ8_1 ? 2e-4 : 1e-5;
        EXPECT_NEAR(dot(n, wq.data(), xq.data()), ref, tol * mag + 1e-6) << family << " " << dtype_name(t);
      }
    }
  }
}

// The SIMD Q5_0 / Q5_1 dots keep the scalar twin's rounding sequence, so a row's float is
// the same on every machine (what the golden tests rely on).
TEST(MoreTypes, Q5DotsAreBitExactAcrossFamilies) {
  const cpu::KernelTable& ref = cpu::kernels_by_name("scalar");
  for (const char* family : {"avx2", "avx512vnni"}) {
    if (!cpu::family_supported(family)) continue;
    const cpu::KernelTable& k = cpu::kernels_by_name(family);
    for (DType t : {DType::kQ5_0, DType::kQ5_1}) {
      EXPECT_NE(k.dot_for(t), ref.dot_for(t)) << family << ": still the scalar kernel";
      for (int n : {32, 640, 2048}) {
        for (uint32_t seed = 1; seed <= 4; ++seed) {
          auto w = normal(n, seed), x = normal(n, seed + 50);
          std::vector<uint8_t> wq(row_bytes(t, n)), xq(row_bytes(cpu::act_type(t), n));
          quantize_row(t, w.data(), wq.data(), n);
          quantize_row(cpu::act_type(t), x.data(), xq.data(), n);
          EXPECT_EQ(k.dot_for(t)(n, wq.data(), xq.data()), ref.dot_for(t)(n, wq.data(), xq.data()))
              << family << " " << dtype_name(t) << " n=" << n;
        }
      }
    }
  }
}

TEST(MoreTypes, QuantizationRoundTripsWithinTheTypesStep) {
  const int n = 2048;
  auto x = normal(n, 5);
  float amax = 0.f;
  for (float v : x) amax = std::max(amax, std::fabs(v));
  // Bounds relative to max |x|: half a step of the type's codes over its range, plus the
  // 6-bit (4-bit for Q2_K) quantization of run scales, with headroom.
  // And an RMS error (relative to RMS |x|) near what these codes give on Gaussian data:
  // measured 0.042 / 0.038 / 0.038 / 0.154 / 0.32 with these simple (non-searching)
  // quantizers.
  struct Case {
    DType t;
    float bound, rms;
  } cases[] = {{DType::kQ5_0, 1.f / 15, 0.06f}, {DType::kQ5_1, 1.f / 28, 0.055f},
               {DType::kQ5_K, 1.f / 24, 0.055f}, {DType::kQ3_K, 1.f / 3.5f, 0.2f},
               {DType::kQ2_K, 1.f / 2.2f, 0.4f}};
  for (auto [t, bound, rms] : cases) {
    std::vector<uint8_t> q(row_bytes(t, n));
    std::vector<float> y(n);
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), y.data(), n);
    double se = 0, sx = 0;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      err = std::max(err, std::fabs(x[i] - y[i]));
      se += double(x[i] - y[i]) * (x[i] - y[i]);
      sx += double(x[i]) * x[i];
    }
    EXPECT_LE(err, bound * amax) << dtype_name(t);
    EXPECT_LE(std::sqrt(se / sx), rms) << dtype_name(t);
  }
}

TEST(MoreTypes, CpuMatmulOnSuchWeightsMatchesTheFloatReference) {
  const int rows = 24, cols = 512, ntok = 3;
  auto backend = make_cpu_backend(2);
  for (DType t : kTypes) {
    EXPECT_TRUE(backend_supports(BackendKind::kCpu, t));
    EXPECT_FALSE(backend_supports(BackendKind::kCuda, t));
    auto w = normal(rows * cols, 9);
    std::vector<uint8_t> wq(row_bytes(t, cols) * rows);
    for (int r = 0; r < rows; ++r) quantize_row(t, w.data() + size_t(r) * cols, wq.data() + r * row_bytes(t, cols), cols);
    std::vector<float> wd(size_t(rows) * cols);
    for (int r = 0; r < rows; ++r) dequantize_row(t, wq.data() + r * row_bytes(t, cols), wd.data() + size_t(r) * cols, cols);
    auto x = normal(ntok * cols, 10);
    Matrix m{};
    m.type = t;
    m.rows = rows;
    m.cols = cols;
    m.row_stride = row_bytes(t, cols);
    m.data = wq.data();
    std::vector<float> y(size_t(ntok) * rows);
    backend->matmul(m, x.data(), ntok, y.data());
    for (int tk = 0; tk < ntok; ++tk)
      for (int r = 0; r < rows; ++r) {
        double ref = 0, mag = 0;
        for (int c = 0; c < cols; ++c) ref += double(wd[size_t(r) * cols + c]) * x[size_t(tk) * cols + c];
        for (int c = 0; c < cols; ++c) mag += std::fabs(double(wd[size_t(r) * cols + c]) * x[size_t(tk) * cols + c]);
        // The activations are quantized to 8 bits: about 1% of the magnitude sum at most.
        EXPECT_NEAR(y[size_t(tk) * rows + r], ref, 0.01 * mag) << dtype_name(t);
      }
  }
}

}  // namespace
}  // namespace turbine
