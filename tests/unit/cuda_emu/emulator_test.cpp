// The CUDA emulator's own tests. The canaries are kernels with the bugs the emulator exists
// to catch (a missing __syncwarp, a missing block barrier, shared memory 4 bytes short):
// each must produce a wrong result under one of the two schedules, or an AddressSanitizer
// report, while its correct twin is right under both. Then the rules it enforces (barrier
// and warp divergence, exited threads, launch limits), stream order, cuBLAS argument checks
// and the bit-exact conversions.
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "tests/unit/cuda_emu/canary_kernels.h"

namespace turbine {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

template <typename T>
struct DeviceArray {
  explicit DeviceArray(size_t n) : n(n) { EXPECT_EQ(cudaMalloc(&p, n * sizeof(T)), cudaSuccess); }
  ~DeviceArray() { cudaFree(p); }
  std::vector<T> read() const {
    std::vector<T> h(n);
    EXPECT_EQ(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return h;
  }
  void write(const std::vector<T>& h) {
    EXPECT_EQ(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  size_t n;
  T* p = nullptr;
};

// Runs `f` under the forward and the reversed schedule; returns whether each was right.
template <typename F>
std::pair<bool, bool> both_schedules(F f) {
  bool ok[2];
  for (int rev = 0; rev < 2; ++rev) {
    cudaemu::set_reverse_schedule(rev);
    ok[rev] = f();
  }
  cudaemu::set_reverse_schedule(false);
  return {ok[0], ok[1]};
}

TEST(EmulatorCanary, AMissingSyncwarpIsWrongUnderOneSchedule) {
  DeviceArray<int32_t> out(32);
  auto run = [&](bool sync) {
    return both_schedules([&] {
      canary::broadcast(sync, out.p);
      for (int32_t v : out.read())
        if (v != 42) return false;
      return true;
    });
  };
  const auto good = run(true), bad = run(false);
  EXPECT_TRUE(good.first && good.second);
  EXPECT_FALSE(bad.first && bad.second) << "the race went unseen under both schedules";
}

TEST(EmulatorCanary, AMissingBarrierInABlockReductionIsWrongUnderOneSchedule) {
  DeviceArray<float> in(128), out(1);
  std::vector<float> h(128);
  for (int i = 0; i < 128; ++i) h[i] = static_cast<float>(i + 1);
  in.write(h);
  auto run = [&](bool barriers) {
    return both_schedules([&] {
      canary::block_sum(barriers, in.p, out.p);
      return out.read()[0] == 8256.f;
    });
  };
  const auto good = run(true), bad = run(false);
  EXPECT_TRUE(good.first && good.second);
  EXPECT_FALSE(bad.first && bad.second) << "the missing barrier went unseen under both schedules";
}

TEST(EmulatorCanary, SharedMemoryFourBytesShortIsAnAddressSanitizerReport) {
  DeviceArray<float> out(64);
  canary::dynamic_smem_roundtrip(64 * 4, out.p);  // the right size works
  std::vector<float> h = out.read();
  for (int i = 0; i < 64; ++i) ASSERT_EQ(h[i], 63 - i);
  if (!kAsan) GTEST_SKIP() << "needs AddressSanitizer (the EMU build in CI has it)";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        canary::dynamic_smem_roundtrip(64 * 4 - 4, out.p);
        cudaDeviceSynchronize();
      },
      "heap-buffer-overflow");
}

TEST(EmulatorRules, BarrierDivergenceAborts) {
  DeviceArray<float> out(64);
  canary::divergent_barrier(false, out.p);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        canary::divergent_barrier(true, out.p);
        cudaDeviceSynchronize();
      },
      "barrier divergence");
}

TEST(EmulatorRules, ABarrierAfterThreadsExitedAborts) {
  DeviceArray<float> out(64);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        canary::early_exit_barrier(out.p);
        cudaDeviceSynchronize();
      },
      "exited");
}

TEST(EmulatorRules, AShuffleWaitingForAnExitedLaneAborts) {
  DeviceArray<float> out(32);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        canary::shuffle_after_exit(out.p);
        cudaDeviceSynchronize();
      },
      "exited");
}

TEST(EmulatorRules, LaunchLimitsAreLaunchErrors) {
  DeviceArray<float> out(1);
  cudaGetLastError();
  canary::launch_threads(1024, out.p);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  canary::launch_threads(1025, out.p);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  canary::launch_dynamic_smem(48 << 10, out.p);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  canary::launch_dynamic_smem((48 << 10) + 4, out.p);  // past 48 KiB needs the opt-in
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidValue);
  cudaDeviceSynchronize();
}

TEST(EmulatorStreams, WorkRunsOnlyWhenTheHostSynchronizes) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  DeviceArray<float> d(100);
  std::vector<float> h(100, -7.f);
  canary::iota(d.p, 100, s);
  ASSERT_EQ(cudaMemcpyAsync(h.data(), d.p, 100 * sizeof(float), cudaMemcpyDeviceToHost, s),
            cudaSuccess);
  // No synchronize yet: a host that reads now reads what was there (a missing synchronize
  // shows up as wrong data, as it may on a GPU).
  EXPECT_EQ(h[5], -7.f);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(h[i], static_cast<float>(i));
  cudaStreamDestroy(s);
}

TEST(EmulatorStreams, AGraphReplaysItsCapturedWork) {
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  DeviceArray<float> d(10);
  ASSERT_EQ(cudaMemsetAsync(d.p, 0, 10 * sizeof(float), s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  canary::iota(d.p, 10, s);
  EXPECT_EQ(cudaStreamSynchronize(s), cudaErrorStreamCaptureUnsupported);
  cudaGetLastError();
  cudaGraph_t g;
  ASSERT_EQ(cudaStreamEndCapture(s, &g), cudaSuccess);
  EXPECT_EQ(d.read()[3], 0.f);  // captured, not run
  cudaGraphExec_t exec;
  ASSERT_EQ(cudaGraphInstantiate(&exec, g, 0), cudaSuccess);
  ASSERT_EQ(cudaGraphLaunch(exec, s), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT_EQ(d.read()[3], 3.f);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(g);
  cudaStreamDestroy(s);
}

TEST(EmulatorMemory, CopiesInTheWrongDirectionAreErrors) {
  DeviceArray<float> d(4);
  std::vector<float> h(4);
  EXPECT_EQ(cudaMemcpy(d.p, h.data(), 16, cudaMemcpyDeviceToHost), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(h.data(), d.p, 32, cudaMemcpyDeviceToHost),
            cudaErrorInvalidValue);  // past the end
  EXPECT_EQ(cudaMemcpy(h.data(), d.p, 16, cudaMemcpyDeviceToHost), cudaSuccess);
  cudaGetLastError();
}

TEST(EmulatorCublas, ArgumentsAreCheckedAsCublasDocumentsThem) {
  cublasHandle_t h;
  ASSERT_EQ(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  DeviceArray<float> a(6), b(6), c(4);
  a.write({1, 2, 3, 4, 5, 6});  // column-major 3x2: A^T is 2x3
  b.write({1, 0, 0, 0, 1, 0});  // 3x2
  const float one = 1.f, zero = 0.f;
  // C (2x2) = A^T (2x3) B (3x2)
  ASSERT_EQ(
      cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 3, b.p, CUDA_R_32F,
                   3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(c.read(), (std::vector<float>{1, 4, 2, 5}));
  EXPECT_EQ(
      cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 2, b.p, CUDA_R_32F,
                   3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  EXPECT_EQ(
      cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_16F, 3, b.p, CUDA_R_32F,
                   3, &zero, c.p, CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_NOT_SUPPORTED);  // mixed input types
  std::vector<float> host(4);
  EXPECT_EQ(
      cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, 2, 2, 3, &one, a.p, CUDA_R_32F, 3, b.p, CUDA_R_32F,
                   3, &zero, host.data(), CUDA_R_32F, 2, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
      CUBLAS_STATUS_INVALID_VALUE);  // C is host memory
  cublasDestroy(h);
}

TEST(EmulatorConversions, HalfAndBfloat16RoundAsTheHardware) {
  const struct {
    float in;
    unsigned short half, bf16;
  } cases[] = {
      {1.f, 0x3c00, 0x3f80},
      {65504.f, 0x7bff, 0x4780},         // bf16: rounds up to 65536
      {65520.f, 0x7c00, 0x4780},         // half: rounds to infinity
      {5.9604645e-8f, 0x0001, 0x3380},   // half: the smallest subnormal
      {2.9802322e-8f, 0x0000, 0x3300},   // half: exactly half of it, ties to even (zero)
      {1.00048828125f, 0x3c00, 0x3f80},  // half: 1 + 2^-11, a tie to even (down)
      {1.00146484375f, 0x3c02, 0x3f80},  // half: 1 + 3 * 2^-11, a tie to even (up)
      {-0.f, 0x8000, 0x8000},
      {INFINITY, 0x7c00, 0x7f80},
      {NAN, 0x7fff, 0x7fff},          // the canonical NaN
      {1.00390625f, 0x3c04, 0x3f80},  // bf16: 1 + 2^-8, a tie to even (down)
      {1.01171875f, 0x3c0c, 0x3f82},  // bf16: 1 + 3 * 2^-8, a tie to even (up)
  };
  for (const auto& c : cases) {
    EXPECT_EQ(__half_as_ushort(__float2half_rn(c.in)), c.half) << c.in;
    EXPECT_EQ(__bfloat16_as_ushort(__float2bfloat16_rn(c.in)), c.bf16) << c.in;
  }
  for (uint32_t h = 0; h < 0x10000; ++h) {  // every finite half survives the round trip
    if ((h & 0x7c00) == 0x7c00) continue;
    const auto x = static_cast<unsigned short>(h);
    ASSERT_EQ(__half_as_ushort(__float2half_rn(__half2float(__ushort_as_half(x)))), x) << h;
  }
}

TEST(EmulatorIntrinsics, Dp4aAndRounding) {
  // (-128 * 127) + (127 * -128) + (1 * 1) + (-1 * -1) + 10
  const int a = static_cast<int>(0xff017f80u), b = static_cast<int>(0xff01807fu);
  EXPECT_EQ(__dp4a(a, b, 10), -128 * 127 + 127 * -128 + 1 + 1 + 10);
  EXPECT_EQ(__dp4a(0x7f7f7f7f, 0x7f7f7f7f, 2147483647 - 4 * 127 * 127 + 1),
            -2147483647 - 1);  // wraps
  EXPECT_EQ(__float2int_rn(2.5f), 2);
  EXPECT_EQ(__float2int_rn(3.5f), 4);
  EXPECT_EQ(__float2int_rn(-2.5f), -2);
}

}  // namespace
}  // namespace turbine
