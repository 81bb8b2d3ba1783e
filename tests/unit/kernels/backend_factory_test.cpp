// make_backend: the one place that decides which backend runs a model.
#include <gtest/gtest.h>

#include "kernels/backend.h"

namespace turbine {
namespace {

const std::vector<WeightTensor> kDense = {{"token_embd.weight", DType::kQ4_1},
                                          {"blk.0.attn_q.weight", DType::kF16}};
const std::vector<WeightTensor> kKQuant = {{"token_embd.weight", DType::kQ8_0},
                                           {"blk.0.ffn_down.weight", DType::kQ6_K}};

TEST(MakeBackend, CpuIsAlwaysTheCpu) {
  auto c = make_backend("cpu", kKQuant, 1);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->backend->name(), "cpu");
  EXPECT_TRUE(c->fallback_reason.empty());
}

TEST(MakeBackend, AnUnknownDeviceIsAnError) {
  auto c = make_backend("tpu", kDense, 1);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("cpu, cuda or auto"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("tpu"), std::string::npos) << c.error();
}

TEST(MakeBackend, AutoIsCudaWhereItCanRunElseTheCpuSayingWhy) {
  auto c = make_backend("auto", kKQuant, 1);
  ASSERT_TRUE(c.ok()) << c.error();
  if (make_backend("cuda", kDense, 1).ok()) {
    EXPECT_EQ(c->backend->name(), "cuda");  // K-quants run on CUDA too
    EXPECT_TRUE(c->fallback_reason.empty());
  } else {
    EXPECT_EQ(c->backend->name(), "cpu");
    EXPECT_FALSE(c->fallback_reason.empty());
  }
}

TEST(MakeBackend, CudaWithATypeItCannotRunIsAnErrorNamingTheTensor) {
  const std::vector<WeightTensor> odd = {{"token_embd.weight", DType::kQ8_0},
                                         {"blk.0.ffn_down.weight", DType::kQ8_K}};
  auto c = make_backend("cuda", odd, 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().rfind("--device cuda: ", 0), 0u) << c.error();
  // Without a device (or without CUDA in the build) the reason is that instead.
  auto dense = make_backend("cuda", kDense, 1);
  if (dense.ok()) {
    EXPECT_NE(c.error().find("blk.0.ffn_down.weight"), std::string::npos) << c.error();
    EXPECT_NE(c.error().find("q8_k"), std::string::npos) << c.error();
  }
}

TEST(BackendSupports, BothBackendsTakeEveryWeightTypeAndNoActivationLayout) {
  for (BackendKind k : {BackendKind::kCpu, BackendKind::kCuda}) {
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16, DType::kQ4_0, DType::kQ4_1,
                    DType::kQ8_0, DType::kQ4_K, DType::kQ6_K})
      EXPECT_TRUE(backend_supports(k, t)) << dtype_name(t);
    for (DType t : {DType::kQ8_1, DType::kQ8_K}) EXPECT_FALSE(backend_supports(k, t)) << dtype_name(t);
  }
}

}  // namespace
}  // namespace turbine
