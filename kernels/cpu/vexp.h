// The single-precision exponential that ggml's CPU backend evaluates in its vector loops
// (SiLU / SwiGLU, and the softmax of its tiled flash attention), written out as scalar
// math. turbine uses it where llama.cpp does, so activations match llama.cpp's bit for bit
// instead of differing in the last bit from libm's expf (which, after the 8-bit activation
// quantization of the next matmul, is enough to flip a close greedy choice).
//
// The method (from Arm's optimized-routines expf): n = round(x / ln2) by the 1.5*2^23 shift
// trick, r = x - n*ln2 with ln2 in two parts (both products fused), e^r by a degree-5
// polynomial evaluated as two fused halves in r and r^2, then the result scaled by 2^n with
// one rounding (AVX-512 vscalefps). |n| > 192 gives +inf (n > 0) or 0. Maximum error about
// 1.5 ulp for normal results. Every operation below is one IEEE single-precision operation
// (fma = one rounding), so the scalar, AVX2 and AVX-512 versions in the kernel families give
// identical bits; tests/unit/kernels_cpu/vexp_test.cpp checks that.
//
// Everything here has internal linkage: this header is included both by baseline code and
// by translation units compiled for AVX2 / AVX-512, and a shared inline function could be
// merged into the baseline binary in its AVX-512 form.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace turbine::cpu {
namespace {

namespace vexp_c {
constexpr float kShift = 0x1.8p23f;         // adding 1.5*2^23 rounds to an integer
constexpr float kInvLn2 = 0x1.715476p+0f;   // 1/ln2
constexpr float kLn2Hi = 0x1.62e4p-1f;      // ln2 = kLn2Hi + kLn2Lo
constexpr float kLn2Lo = 0x1.7f7d1cp-20f;
constexpr float kP1 = 0x1.ffffecp-1f;       // e^r ~ 1 + P1 r + P2 r^2 + ... + P5 r^5
constexpr float kP2 = 0x1.fffdb6p-2f;
constexpr float kP3 = 0x1.555e66p-3f;
constexpr float kP4 = 0x1.573e2ep-5f;
constexpr float kP5 = 0x1.0e4020p-7f;
constexpr float kMaxN = 192.f;              // beyond: overflow to inf / underflow to 0
}  // namespace vexp_c

// 2^e as a float, for -126 <= e <= 127.
inline float vexp_pow2(int e) {
  const uint32_t bits = static_cast<uint32_t>(e + 127) << 23;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline float vexp_scalar(float x) {
  using namespace vexp_c;
  const float z = std::fma(x, kInvLn2, kShift);
  const float n = z - kShift;
  const float r = std::fma(-n, kLn2Lo, std::fma(-n, kLn2Hi, x));
  const float r2 = r * r;
  const float hi = std::fma(std::fma(kP5, r, kP4), r2, std::fma(kP3, r, kP2));
  const float p = std::fma(hi, r2, std::fma(kP1, r, 1.f));
  if (std::isnan(n)) return p;  // NaN in, NaN out
  if (std::fabs(n) > kMaxN) return n > 0.f ? INFINITY : 0.f;
  // p * 2^n with a single rounding: the first factor (|h| <= 96) is exact since p is near
  // 1, so only the second product rounds (to a subnormal, or to inf on overflow).
  const int ni = static_cast<int>(n);
  const int h = ni >> 1;
  return (p * vexp_pow2(h)) * vexp_pow2(ni - h);
}

// silu(g) * u in the reference's operation order: g / (1 + e^(0 - g)), then times u.
inline float swiglu_scalar(float g, float u) {
  return g / (1.f + vexp_scalar(0.f - g)) * u;
}

}  // namespace
}  // namespace turbine::cpu
