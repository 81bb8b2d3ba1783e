// Every CpuBackend op against a plain float reference written here (weights dequantized
// with the reference dequantize_row), for every kernel family this machine can run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

std::vector<std::string> runnable_families() {
  std::vector<std::string> out;
  for (const char* f : {"scalar", "avx2", "avx512vnni"}) {
    if (cpu::family_supported(f)) out.push_back(f);
  }
  return out;
}

// Builds a backend with the family forced through the documented override.
std::unique_ptr<Backend> backend_for(const std::string& family, int threads = 3) {
  setenv("TURBINE_CPU_KERNELS", family.c_str(), 1);
  EXPECT_EQ(cpu_kernel_family(), family);
  auto b = make_cpu_backend(threads);
  unsetenv("TURBINE_CPU_KERNELS");
  return b;
}

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(CpuKernels, FamilyOverride) {
  EXPECT_TRUE(cpu::family_supported("scalar"));
  EXPECT_FALSE(cpu::family_supported("nonsense"));
  setenv("TURBINE_CPU_KERNELS", "scalar", 1);
  EXPECT_EQ(cpu_kernel_family(), "scalar");
  unsetenv("TURBINE_CPU_KERNELS");
}

struct MatmulCase {
  DType type;
  // Bound on |y - ref| / (|W_r| * |x_t|) (Cauchy-Schwarz scale of the dot product). The
  // float types only see rounding; 8-bit activations add ~0.4% per element (half a step of
  // amax/127), which over random signs sums to well under 1% of that scale.
  float tol;
};

class Matmul : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(Matmul, MatchesFloatReferenceForEveryFamily) {
  const MatmulCase c = GetParam();
  const int64_t rows = 67, cols = 512;  // odd row count: uneven tasks, tail chunk
  std::vector<float> wf = random_vec(rows * cols, 1);
  size_t rb = row_bytes(c.type, cols);
  std::vector<uint8_t> wq(rb * rows);
  for (int64_t r = 0; r < rows; ++r) quantize_row(c.type, &wf[r * cols], &wq[r * rb], cols);
  // The reference uses the weights as stored, so only the kernel's own error is measured.
  std::vector<float> wd(rows * cols);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(c.type, &wq[r * rb], &wd[r * cols], cols);
  Matrix m{c.type, wq.data(), rows, cols, rb};

  for (const std::string& fam : runnable_families()) {
    auto be = backend_for(fam);
    for (int nt : {1, 3, 17, 40}) {
      std::vector<float> x = random_vec(nt * cols, 100 + nt);
      x[3] = 25.f;  // an outlier, as real activations have
      std::vector<float> y(nt * rows, -1.f);
      be->matmul(m, x.data(), nt, y.data());
      for (int t = 0; t < nt; ++t) {
        double xn = 0;
        for (int64_t i = 0; i < cols; ++i) xn += double(x[t * cols + i]) * x[t * cols + i];
        for (int64_t r = 0; r < rows; ++r) {
          double ref = 0, wn = 0;
          for (int64_t i = 0; i < cols; ++i) {
            ref += double(wd[r * cols + i]) * x[t * cols + i];
            wn += double(wd[r * cols + i]) * wd[r * cols + i];
          }
          double scale = std::sqrt(wn * xn);
          ASSERT_NEAR(y[t * rows + r], ref, c.tol * scale)
              << fam << " " << dtype_name(c.type) << " nt=" << nt << " t=" << t << " r=" << r;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, Matmul,
    ::testing::Values(MatmulCase{DType::kF32, 1e-5f}, MatmulCase{DType::kF16, 1e-5f},
                      MatmulCase{DType::kBF16, 1e-5f}, MatmulCase{DType::kQ8_0, 1e-2f},
                      MatmulCase{DType::kQ4_0, 1e-2f}, MatmulCase{DType::kQ4_1, 1e-2f},
                      MatmulCase{DType::kQ4_K, 1e-2f}, MatmulCase{DType::kQ6_K, 1e-2f},
                      MatmulCase{DType::kW4G128, 1e-2f}),
    [](const auto& info) { return std::string(dtype_name(info.param.type)); });

// matmul_multi gives bit for bit what one matmul per matrix gives, fused (decode: same
// activation type) or not (prefill tiles, mixed activation types), for every family.
TEST(MatmulMulti, SameBitsAsOneMatmulPerMatrix) {
  const int64_t cols = 512;
  struct Mix {
    std::vector<DType> types;
    std::vector<int64_t> rows;
  } mixes[] = {
      {{DType::kQ4_1, DType::kQ4_1, DType::kQ4_1}, {96, 33, 33}},  // Q, K, V
      {{DType::kQ8_0, DType::kQ8_0}, {150, 150}},                  // gate, up
      {{DType::kQ4_K, DType::kQ4_K, DType::kQ6_K}, {64, 20, 20}},  // a Q4_K_M layer: V in Q6_K
      {{DType::kQ4_0, DType::kF32}, {40, 7}},                      // different activation types
      {{DType::kW4G128}, {77}},
  };
  for (const Mix& mix : mixes) {
    std::vector<std::vector<uint8_t>> store;
    std::vector<Matrix> ws;
    for (size_t i = 0; i < mix.types.size(); ++i) {
      const size_t rb = row_bytes(mix.types[i], cols);
      std::vector<float> wf = random_vec(mix.rows[i] * cols, 7 + uint32_t(i));
      store.emplace_back(rb * mix.rows[i]);
      for (int64_t r = 0; r < mix.rows[i]; ++r)
        quantize_row(mix.types[i], &wf[r * cols], &store.back()[r * rb], cols);
    }
    for (size_t i = 0; i < mix.types.size(); ++i)
      ws.push_back(Matrix{mix.types[i], store[i].data(), mix.rows[i], cols, row_bytes(mix.types[i], cols)});
    for (const std::string& fam : runnable_families()) {
      auto be = backend_for(fam);
      for (int nt : {1, 2, 5, 33}) {
        std::vector<float> x = random_vec(nt * cols, 300 + nt);
        std::vector<std::vector<float>> one(ws.size()), multi(ws.size());
        std::vector<float*> outs;
        for (size_t i = 0; i < ws.size(); ++i) {
          one[i].assign(nt * ws[i].rows, -1.f);
          multi[i].assign(nt * ws[i].rows, -2.f);
          be->matmul(ws[i], x.data(), nt, one[i].data());
          outs.push_back(multi[i].data());
        }
        be->matmul_multi(ws.data(), int(ws.size()), x.data(), nt, outs.data());
        for (size_t i = 0; i < ws.size(); ++i)
          EXPECT_EQ(one[i], multi[i]) << fam << " tokens " << nt << " matrix " << i << " "
                                      << dtype_name(ws[i].type);
      }
    }
  }
}

TEST(Matmul, FamiliesAgreeClosely) {
  // Same quantized activations in every family (up to rounding ties), so results differ
  // only by float summation order: much tighter than the bound against float math.
  const int64_t rows = 40, cols = 768;
  for (DType t : {DType::kQ4_0, DType::kQ4_1, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K, DType::kW4G128}) {
    std::vector<float> wf = random_vec(rows * cols, 5);
    size_t rb = row_bytes(t, cols);
    std::vector<uint8_t> wq(rb * rows);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, &wf[r * cols], &wq[r * rb], cols);
    Matrix m{t, wq.data(), rows, cols, rb};
    std::vector<float> x = random_vec(2 * cols, 6);
    std::vector<float> ref(2 * rows), y(2 * rows);
    backend_for("scalar")->matmul(m, x.data(), 2, ref.data());
    for (const std::string& fam : runnable_families()) {
      backend_for(fam)->matmul(m, x.data(), 2, y.data());
      for (int64_t i = 0; i < 2 * rows; ++i) {
        ASSERT_NEAR(y[i], ref[i], 2e-3 * (1 + std::fabs(ref[i]))) << fam << " " << dtype_name(t);
      }
    }
  }
}

TEST(GetRows, DequantizesSelectedRows) {
  auto be = make_cpu_backend(2);
  const int64_t rows = 10, cols = 256;
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1, DType::kQ8_0,
                  DType::kQ4_K, DType::kQ6_K}) {
    std::vector<float> wf = random_vec(rows * cols, 9);
    size_t rb = row_bytes(t, cols);
    std::vector<uint8_t> wq(rb * rows);
    for (int64_t r = 0; r < rows; ++r) quantize_row(t, &wf[r * cols], &wq[r * rb], cols);
    Matrix m{t, wq.data(), rows, cols, rb};
    int32_t ids[3] = {7, 0, 7};
    std::vector<float> out(3 * cols), want(cols);
    be->get_rows(m, ids, 3, out.data());
    for (int k = 0; k < 3; ++k) {
      dequantize_row(t, &wq[ids[k] * rb], want.data(), cols);
      for (int64_t i = 0; i < cols; ++i) ASSERT_EQ(out[k * cols + i], want[i]) << dtype_name(t);
    }
  }
}

TEST(ElementWise, RmsNormSwigluAdd) {
  for (int nt : {1, 3, 40}) {
    auto be = make_cpu_backend(3);
    const int dim = 576;
    std::vector<float> x = random_vec(nt * dim, 11), w = random_vec(dim, 12);
    std::vector<float> out(nt * dim);
    be->rms_norm(x.data(), w.data(), nt, dim, 1e-5f, out.data());
    for (int t = 0; t < nt; ++t) {
      double ss = 0;
      for (int i = 0; i < dim; ++i) ss += double(x[t * dim + i]) * x[t * dim + i];
      double s = 1.0 / std::sqrt(ss / dim + 1e-5);
      for (int i = 0; i < dim; ++i) {
        ASSERT_NEAR(out[t * dim + i], x[t * dim + i] * s * w[i],
                    1e-5 * (1 + std::fabs(out[t * dim + i])));
      }
    }
    // In place (out aliases x).
    std::vector<float> y = x;
    be->rms_norm(y.data(), w.data(), nt, dim, 1e-5f, y.data());
    EXPECT_EQ(y, out);

    int64_t n = int64_t{nt} * 1536;
    std::vector<float> g = random_vec(n, 13, 3.f), u = random_vec(n, 14);
    std::vector<float> o(n);
    be->swiglu(g.data(), u.data(), n, o.data());
    for (int64_t i = 0; i < n; ++i) {
      double want = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
      ASSERT_NEAR(o[i], want, 1e-5 * (1 + std::fabs(want)));
    }
    std::vector<float> a = g;
    be->add(a.data(), u.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(a[i], g[i] + u[i]);
  }
}

TEST(Rope, NormalAndNeoxPairs) {
  auto be = make_cpu_backend(2);
  const int nt = 3, nh = 2, hd = 8, rot = 6;
  const float theta = 10000.f;
  int32_t pos[nt] = {0, 5, 1000};
  std::vector<float> x0 = random_vec(nt * nh * hd, 21);
  for (RopeStyle style : {RopeStyle::kNormal, RopeStyle::kNeox}) {
    std::vector<float> x = x0;
    be->rope(x.data(), nt, nh, hd, rot, pos, theta, style);
    for (int t = 0; t < nt; ++t) {
      for (int h = 0; h < nh; ++h) {
        const float* in = &x0[(t * nh + h) * hd];
        const float* got = &x[(t * nh + h) * hd];
        std::vector<double> want(in, in + hd);
        for (int i = 0; i < rot / 2; ++i) {
          double ang = pos[t] * std::pow(double(theta), -2.0 * i / rot);
          int a = style == RopeStyle::kNormal ? 2 * i : i;
          int b = style == RopeStyle::kNormal ? 2 * i + 1 : i + rot / 2;
          want[a] = in[a] * std::cos(ang) - in[b] * std::sin(ang);
          want[b] = in[a] * std::sin(ang) + in[b] * std::cos(ang);
        }
        for (int d = 0; d < hd; ++d)
          ASSERT_NEAR(got[d], want[d], 1e-5) << t << " " << h << " " << d;
        // Dims past rot_dim are untouched.
        EXPECT_EQ(got[hd - 1], in[hd - 1]);
        if (pos[t] == 0) {
          for (int d = 0; d < hd; ++d) EXPECT_EQ(got[d], in[d]);
        }
      }
    }
  }
}

}  // namespace
}  // namespace turbine
