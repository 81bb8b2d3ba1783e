#include <algorithm>
#include <cmath>

#include "base/result.h"
#include "kernels/kv_quant.h"

namespace turbine {

float kv_rotation_scale(int n) {
  return 1.f / std::sqrt(static_cast<float>(kv_rotation_block(n)));
}

void kv_rotate(float* x, int n) {
  const int block = kv_rotation_block(n);
  for (int len = 1; len < block; len <<= 1)
    for (int i = 0; i < n; i += 2 * len)
      for (int j = i; j < i + len; ++j) {
        const float a = x[j], b = x[j + len];
        x[j] = a + b;
        x[j + len] = a - b;
      }
  const float s = kv_rotation_scale(n);
  for (int i = 0; i < n; ++i) x[i] *= s;
}

int kv_group_size(KvType t, int head_dim) {
  if (t != KvType::kInt4) return head_dim;
  return head_dim % kKvInt4Group == 0 ? kKvInt4Group : head_dim;
}

namespace {

void quantize_group(KvType t, const float* x, int n, uint8_t* codes, uint16_t* dm) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
  const int qmax = kv_qmax(t);
  const uint16_t m16 = fp32_to_fp16(lo);
  const float m = fp16_to_fp32(m16);
  const uint16_t d16 = fp32_to_fp16((hi - m) / static_cast<float>(qmax));
  const float d = fp16_to_fp32(d16);
  dm[0] = d16;
  dm[1] = m16;
  auto code = [&](float v) -> int {
    if (!(d > 0.f)) return 0;
    const float q = std::rint((v - m) / d);
    return static_cast<int>(std::clamp(q, 0.f, static_cast<float>(qmax)));
  };
  if (t == KvType::kInt8) {
    for (int i = 0; i < n; ++i) codes[i] = static_cast<uint8_t>(code(x[i]));
  } else {
    for (int i = 0; i < n / 2; ++i)
      codes[i] = static_cast<uint8_t>(code(x[2 * i]) | (code(x[2 * i + 1]) << 4));
  }
}

}  // namespace

void kv_quantize_row(KvType t, const float* x, int n, uint8_t* codes, uint16_t* dm) {
  TURBINE_CHECK(t == KvType::kInt8 || (t == KvType::kInt4 && n % 2 == 0));
  const int gs = kv_group_size(t, n);
  const int per_byte = t == KvType::kInt4 ? 2 : 1;
  for (int g0 = 0, k = 0; g0 < n; g0 += gs, ++k)
    quantize_group(t, x + g0, gs, codes + g0 / per_byte, dm + 2 * k);
}

void kv_dequantize_row(KvType t, const uint8_t* codes, const uint16_t* dm, int n, float* out) {
  TURBINE_CHECK(t == KvType::kInt8 || (t == KvType::kInt4 && n % 2 == 0));
  const int gs = kv_group_size(t, n);
  for (int g0 = 0; g0 < n; g0 += gs, dm += 2) {
    const float d = fp16_to_fp32(dm[0]), m = fp16_to_fp32(dm[1]);
    float* o = out + g0;
    if (t == KvType::kInt8) {
      const uint8_t* c = codes + g0;
      for (int i = 0; i < gs; ++i) o[i] = d * static_cast<float>(c[i]) + m;
    } else {
      const uint8_t* c = codes + g0 / 2;
      for (int i = 0; i < gs / 2; ++i) {
        o[2 * i] = d * static_cast<float>(c[i] & 15) + m;
        o[2 * i + 1] = d * static_cast<float>(c[i] >> 4) + m;
      }
    }
  }
}

}  // namespace turbine
