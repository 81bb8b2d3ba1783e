// The profiling backend computes exactly what the backend it wraps computes, and counts each
// op's calls, time and weight bytes by op and weight shape.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "kernels/profiling_backend.h"

namespace turbine {
namespace {

Matrix f32_matrix(const std::vector<float>& w, int rows, int cols) {
  Matrix m;
  m.type = DType::kF32;
  m.data = w.data();
  m.rows = rows;
  m.cols = cols;
  m.row_stride = size_t(cols) * sizeof(float);
  return m;
}

TEST(ProfilingBackend, SameResultsAndCountsEveryOp) {
  const int rows = 24, cols = 64, tokens = 3;
  std::vector<float> w(rows * cols), x(tokens * cols), norm_w(cols, 1.5f);
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(int(i % 13) - 6) / 7.f;
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(int(i % 5) - 2) / 3.f;
  const Matrix m = f32_matrix(w, rows, cols);

  auto plain = make_cpu_backend(1);
  ProfilingBackend prof(make_cpu_backend(1));
  EXPECT_EQ(prof.name(), plain->name());
  EXPECT_EQ(prof.uses_host_memory(), plain->uses_host_memory());

  std::vector<float> y_plain(tokens * rows), y_prof(tokens * rows);
  plain->matmul(m, x.data(), tokens, y_plain.data());
  prof.matmul(m, x.data(), tokens, y_prof.data());
  prof.matmul(m, x.data(), tokens, y_prof.data());
  EXPECT_EQ(0, std::memcmp(y_plain.data(), y_prof.data(), y_plain.size() * sizeof(float)));

  std::vector<float> n_plain(x.size()), n_prof(x.size());
  plain->rms_norm(x.data(), norm_w.data(), tokens, cols, 1e-5f, n_plain.data());
  prof.rms_norm(x.data(), norm_w.data(), tokens, cols, 1e-5f, n_prof.data());
  EXPECT_EQ(n_plain, n_prof);

  // run_graph runs the ops one by one, so they are timed too.
  bool ran = false;
  prof.run_graph(42, [&] {
    ran = true;
    prof.add(n_prof.data(), x.data(), int64_t(x.size()));
  });
  EXPECT_TRUE(ran);

  const std::vector<OpProfile> r = prof.report();
  ASSERT_EQ(r.size(), 3u);
  for (size_t i = 1; i < r.size(); ++i) EXPECT_GE(r[i - 1].seconds, r[i].seconds);  // slowest first
  auto find = [&](const std::string& op) -> const OpProfile* {
    for (const OpProfile& p : r)
      if (p.op == op) return &p;
    return nullptr;
  };
  const OpProfile* mm = find("matmul 24x64 f32");
  ASSERT_NE(mm, nullptr);
  EXPECT_EQ(mm->calls, 2);
  EXPECT_DOUBLE_EQ(mm->bytes, 2.0 * rows * cols * sizeof(float));
  EXPECT_GE(mm->seconds, 0.0);
  ASSERT_NE(find("rms_norm"), nullptr);
  EXPECT_EQ(find("rms_norm")->calls, 1);
  EXPECT_EQ(find("rms_norm")->bytes, 0.0);
  ASSERT_NE(find("add"), nullptr);

  prof.reset();
  EXPECT_TRUE(prof.report().empty());
}

}  // namespace
}  // namespace turbine
