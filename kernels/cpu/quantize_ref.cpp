// Reference (scalar) quantize/dequantize for every block type. Dequantization follows
// ggml's formulas exactly (GGUF files written by llama.cpp must decode bit for bit);
// quantization is plain round-to-nearest, which is all `turbine synth` and the activation
// path need (no importance-weighted search).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/result.h"
#include "base/dtype.h"
#include "kernels/cpu/block_fields.h"
#include "kernels/quantize.h"

namespace turbine {

namespace {

inline float h2f(uint16_t h) {
  return fp16_to_fp32(h);
}
inline uint16_t f2h(float f) {
  return fp32_to_fp16(f);
}

// Q4_K / Q5_K scale packing; the unpacking is cpu::unpack_scales_mins_k4.
void pack_scale_min_k4(const uint8_t* sc, const uint8_t* m, uint8_t* q) {
  std::memset(q, 0, 12);
  for (int j = 0; j < 8; ++j) {
    if (j < 4) {
      q[j] |= sc[j] & 63;
      q[j + 4] |= m[j] & 63;
    } else {
      q[j + 4] = static_cast<uint8_t>((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
      q[j - 4] |= static_cast<uint8_t>((sc[j] >> 4) << 6);
      q[j] |= static_cast<uint8_t>((m[j] >> 4) << 6);
    }
  }
}

// Q5_0 / Q5_1: 5-bit codes from the nibbles and the 32 fifth bits; Q5_0 as (q - 16) * d,
// Q5_1 as q * d + m (llama.cpp's operation order).
void dequant_q5(const uint8_t* qh, const uint8_t* qs, float d, float m, bool with_min, float* y) {
  int q[kQK];
  cpu::unpack_q5_codes(qh, qs, q);
  for (int j = 0; j < kQK; ++j) y[j] = with_min ? static_cast<float>(q[j]) * d + m : static_cast<float>(q[j] - 16) * d;
}

void dequant_q4_k(const BlockQ4_K* b, float* y) {
  int sc[8], mn[8];
  cpu::unpack_scales_mins_k4(b->scales, sc, mn);
  float d = h2f(b->d), dmin = h2f(b->dmin);
  const uint8_t* q = b->qs;
  // Four groups of 64: the low nibbles of 32 bytes are sub-block 2g, the high nibbles 2g+1.
  for (int g = 0; g < 4; ++g) {
    const int sc0 = sc[2 * g], m0 = mn[2 * g], sc1 = sc[2 * g + 1], m1 = mn[2 * g + 1];
    float d0 = d * sc0, d1 = d * sc1, mm0 = dmin * m0, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) y[l] = d0 * (q[l] & 0xF) - mm0;
    for (int l = 0; l < 32; ++l) y[32 + l] = d1 * (q[l] >> 4) - mm1;
    y += 64;
    q += 32;
  }
}

void dequant_q6_k(const BlockQ6_K* b, float* y) {
  float d = h2f(b->d);
  const uint8_t* ql = b->ql;
  const uint8_t* qh = b->qh;
  const int8_t* sc = b->scales;
  // Two halves of 128; in each, ql[l] / ql[l+32] hold the low 4 bits of four 32-runs and
  // qh[l] their 2 high bits; a scale covers 16 elements.
  for (int half = 0; half < 2; ++half) {
    for (int l = 0; l < 32; ++l) {
      int is = l / 16;
      int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
      int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
      int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = d * sc[is] * q1;
      y[l + 32] = d * sc[is + 2] * q2;
      y[l + 64] = d * sc[is + 4] * q3;
      y[l + 96] = d * sc[is + 6] * q4;
    }
    y += 128;
    ql += 64;
    qh += 32;
    sc += 8;
  }
}

void quant_q4_0(const float* x, BlockQ4_0* b) {
  // The signed extreme maps to -8 so the full [-8, 7] range is used, as ggml does.
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < kQK; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  float d = max / -8.f;
  float id = d != 0.f ? 1.f / d : 0.f;
  b->d = f2h(d);
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = std::clamp(static_cast<int>(std::lround(x[j] * id)) + 8, 0, 15);
    int q1 = std::clamp(static_cast<int>(std::lround(x[j + 16] * id)) + 8, 0, 15);
    b->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void quant_q4_1(const float* x, BlockQ4_1* b) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < kQK; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  float d = (mx - mn) / 15.f;
  float id = d != 0.f ? 1.f / d : 0.f;
  b->d = f2h(d);
  b->m = f2h(mn);
  for (int j = 0; j < kQK / 2; ++j) {
    int q0 = std::clamp(static_cast<int>(std::lround((x[j] - mn) * id)), 0, 15);
    int q1 = std::clamp(static_cast<int>(std::lround((x[j + 16] - mn) * id)), 0, 15);
    b->qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
  }
}

void set_q5_bits(const int* q, uint8_t* qs, uint8_t* qh) {
  uint32_t h = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    qs[j] = static_cast<uint8_t>((q[j] & 0xF) | ((q[j + 16] & 0xF) << 4));
    h |= static_cast<uint32_t>(q[j] >> 4) << j;
    h |= static_cast<uint32_t>(q[j + 16] >> 4) << (j + 16);
  }
  std::memcpy(qh, &h, 4);
}

void quant_q5_0(const float* x, BlockQ5_0* b) {
  // As Q4_0: the signed extreme maps to -16, so the whole [-16, 15] range is used.
  float amax = 0.f, max = 0.f;
  for (int j = 0; j < kQK; ++j)
    if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
  const float d = max / -16.f, id = d != 0.f ? 1.f / d : 0.f;
  b->d = f2h(d);
  int q[kQK];
  for (int j = 0; j < kQK; ++j) q[j] = std::clamp(static_cast<int>(std::lround(x[j] * id)) + 16, 0, 31);
  set_q5_bits(q, b->qs, b->qh);
}

void quant_q5_1(const float* x, BlockQ5_1* b) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < kQK; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  const float d = (mx - mn) / 31.f, id = d != 0.f ? 1.f / d : 0.f;
  b->d = f2h(d);
  b->m = f2h(mn);
  int q[kQK];
  for (int j = 0; j < kQK; ++j) q[j] = std::clamp(static_cast<int>(std::lround((x[j] - mn) * id)), 0, 31);
  set_q5_bits(q, b->qs, b->qh);
}

// Per run of `run` elements an asymmetric [min <= 0, max] range over `levels` codes, then
// the runs' scales and mins as `sbits`-bit fractions of the largest (the super-block's d,
// dmin). Writes codes q[256] and per-run scale and min codes.
void kquant_asymmetric(const float* x, int run, int levels, int smax, uint16_t* d16, uint16_t* dmin16,
                       uint8_t* sc, uint8_t* mn, uint8_t* q) {
  const int runs = kQKK / run;
  float scale[16], minv[16];
  for (int j = 0; j < runs; ++j) {
    float lo = 0.f, hi = x[run * j];
    for (int l = 0; l < run; ++l) lo = std::min(lo, x[run * j + l]), hi = std::max(hi, x[run * j + l]);
    scale[j] = (hi - lo) / static_cast<float>(levels);
    minv[j] = -lo;
  }
  *d16 = f2h(*std::max_element(scale, scale + runs) / static_cast<float>(smax));
  *dmin16 = f2h(*std::max_element(minv, minv + runs) / static_cast<float>(smax));
  const float d = h2f(*d16), dmin = h2f(*dmin16);
  for (int j = 0; j < runs; ++j) {
    sc[j] = static_cast<uint8_t>(std::clamp(d > 0 ? std::lround(scale[j] / d) : 0L, 0L, long(smax)));
    mn[j] = static_cast<uint8_t>(std::clamp(dmin > 0 ? std::lround(minv[j] / dmin) : 0L, 0L, long(smax)));
    const float ds = d * sc[j], dm = dmin * mn[j], ids = ds != 0.f ? 1.f / ds : 0.f;
    for (int l = 0; l < run; ++l)
      q[run * j + l] = static_cast<uint8_t>(std::clamp(std::lround((x[run * j + l] + dm) * ids), 0L, long(levels)));
  }
}

void quant_q5_k(const float* x, BlockQ5_K* b) {
  uint8_t sc[16], m[16], q[kQKK];
  kquant_asymmetric(x, 32, 31, 63, &b->d, &b->dmin, sc, m, q);
  pack_scale_min_k4(sc, m, b->scales);
  std::memset(b->qh, 0, sizeof b->qh);
  // Groups of 64: low nibbles of 32 bytes are run 2g, high nibbles run 2g + 1; their fifth
  // bits are bits 2g and 2g + 1 of qh[l].
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t a = q[64 * g + l], z = q[64 * g + 32 + l];
      b->qs[32 * g + l] = static_cast<uint8_t>((a & 0xF) | ((z & 0xF) << 4));
      b->qh[l] |= static_cast<uint8_t>(((a >> 4) << (2 * g)) | ((z >> 4) << (2 * g + 1)));
    }
  }
}

void quant_q2_k(const float* x, BlockQ2_K* b) {
  uint8_t sc[16], m[16], q[kQKK];
  kquant_asymmetric(x, 16, 3, 15, &b->d, &b->dmin, sc, m, q);
  for (int j = 0; j < 16; ++j) b->scales[j] = static_cast<uint8_t>(sc[j] | (m[j] << 4));
  // Halves of 128: byte l of the half holds elements l + 32 * s at bits 2s (s = 0..3).
  std::memset(b->qs, 0, sizeof b->qs);
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) b->qs[32 * h + l] |= static_cast<uint8_t>(q[128 * h + 32 * s + l] << (2 * s));
}

void quant_q3_k(const float* x, BlockQ3_K* b) {
  // Symmetric runs of 16 over codes -4..3, signed 6-bit run scales relative to the largest.
  float scale[16], amax_all = 0.f;
  for (int j = 0; j < 16; ++j) {
    float amax = 0.f, max = 0.f;
    for (int l = 0; l < 16; ++l)
      if (std::fabs(x[16 * j + l]) > amax) amax = std::fabs(x[16 * j + l]), max = x[16 * j + l];
    scale[j] = max / -4.f;
    if (std::fabs(scale[j]) > std::fabs(amax_all)) amax_all = scale[j];
  }
  b->d = f2h(amax_all / -32.f);
  const float d = h2f(b->d);
  int8_t sc[16];
  uint8_t q[kQKK];
  for (int j = 0; j < 16; ++j) {
    sc[j] = static_cast<int8_t>(std::clamp(d != 0.f ? std::lround(scale[j] / d) : 0L, -32L, 31L));
    const float ds = d * sc[j], ids = ds != 0.f ? 1.f / ds : 0.f;
    for (int l = 0; l < 16; ++l)
      q[16 * j + l] = static_cast<uint8_t>(std::clamp(std::lround(x[16 * j + l] * ids), -4L, 3L) + 4);
  }
  // Scales: low nibbles in bytes 0..7 (runs 0..7 low, 8..15 high nibble), top 2 bits in
  // bytes 8..11 (run j at bits 2 * (j / 4) of byte 8 + j % 4).
  std::memset(b->scales, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const uint8_t u = static_cast<uint8_t>(sc[j] + 32);
    b->scales[j % 8] |= static_cast<uint8_t>((u & 0xF) << (4 * (j / 8)));
    b->scales[8 + j % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (j / 4)));
  }
  std::memset(b->qs, 0, sizeof b->qs);
  std::memset(b->hmask, 0, sizeof b->hmask);
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int l = 0; l < 32; ++l) {
        const uint8_t v = q[128 * h + 32 * s + l];
        b->qs[32 * h + l] |= static_cast<uint8_t>((v & 3) << (2 * s));
        if (v & 4) b->hmask[l] |= static_cast<uint8_t>(1 << (4 * h + s));
      }
}

void dequant_q5_k(const BlockQ5_K* b, float* y) {
  int sc[8], mn[8];
  cpu::unpack_scales_mins_k4(b->scales, sc, mn);
  const float d = h2f(b->d), dmin = h2f(b->dmin);
  const uint8_t* ql = b->qs;
  for (int g = 0; g < 4; ++g) {
    const int sc0 = sc[2 * g], m0 = mn[2 * g], sc1 = sc[2 * g + 1], m1 = mn[2 * g + 1];
    const float d0 = d * sc0, d1 = d * sc1, mm0 = dmin * m0, mm1 = dmin * m1;
    for (int l = 0; l < 32; ++l) y[l] = d0 * ((ql[l] & 0xF) + (((b->qh[l] >> (2 * g)) & 1) << 4)) - mm0;
    for (int l = 0; l < 32; ++l) y[32 + l] = d1 * ((ql[l] >> 4) + (((b->qh[l] >> (2 * g + 1)) & 1) << 4)) - mm1;
    y += 64;
    ql += 32;
  }
}

void dequant_q2_k(const BlockQ2_K* b, float* y) {
  const float d = h2f(b->d), dmin = h2f(b->dmin);
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int half = 0; half < 2; ++half) {
        const uint8_t sc = b->scales[8 * h + 2 * s + half];
        const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
        for (int l = 0; l < 16; ++l) *y++ = dl * ((b->qs[32 * h + 16 * half + l] >> (2 * s)) & 3) - ml;
      }
}

void dequant_q3_k(const BlockQ3_K* b, float* y) {
  const float d = h2f(b->d);
  int sc[16];
  cpu::unpack_q3_k_scales(b->scales, sc);
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 4; ++s)
      for (int half = 0; half < 2; ++half) {
        const float dl = d * sc[8 * h + 2 * s + half];
        for (int l = 16 * half; l < 16 * half + 16; ++l) {
          const int q = ((b->qs[32 * h + l] >> (2 * s)) & 3) - (((b->hmask[l] >> (4 * h + s)) & 1) ? 0 : 4);
          *y++ = dl * q;
        }
      }
}

}  // namespace

void quantize_w4g128_group(const float* x, int n, float clip, void* block) {
  TURBINE_CHECK(n > 0 && n <= kW4Group && n % kQK == 0);
  auto* b = static_cast<BlockW4G128*>(block);
  float mn = x[0], mx = x[0];
  for (int j = 1; j < n; ++j) mn = std::min(mn, x[j]), mx = std::max(mx, x[j]);
  // Clipping bounds both ends by clip * max|x| (the larger side shrinks first).
  const float lim = std::max(-mn, mx) * clip;
  mn = std::max(mn, -lim);
  mx = std::min(mx, lim);
  b->d = f2h((mx - mn) / 15.f);
  b->m = f2h(mn);
  const float d = h2f(b->d), m = h2f(b->m);
  const float id = d != 0.f ? 1.f / d : 0.f;
  for (int r = 0; r < n / kQK; ++r) {
    const float* xr = x + kQK * r;
    uint8_t* q = b->qs + 16 * r;
    for (int j = 0; j < kQK / 2; ++j) {
      int q0 = std::clamp(static_cast<int>(std::lround((xr[j] - m) * id)), 0, 15);
      int q1 = std::clamp(static_cast<int>(std::lround((xr[j + 16] - m) * id)), 0, 15);
      q[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

namespace {

template <typename Q>
float quant_symmetric_8(const float* x, int n, Q* q) {
  float amax = 0.f;
  for (int j = 0; j < n; ++j) amax = std::max(amax, std::fabs(x[j]));
  float d = amax / 127.f;
  float id = amax != 0.f ? 127.f / amax : 0.f;
  for (int j = 0; j < n; ++j) q[j] = static_cast<Q>(std::nearbyint(x[j] * id));
  return d;
}

void quant_q8_1(const float* x, BlockQ8_1* b) {
  float d = quant_symmetric_8(x, kQK, b->qs);
  int sum = 0;
  for (int j = 0; j < kQK; ++j) sum += b->qs[j];
  b->d = fp16_to_fp32(fp32_to_fp16(d));
  b->s = fp16_to_fp32(fp32_to_fp16(d * static_cast<float>(sum)));
}

void quant_q8_k(const float* x, BlockQ8_K* b) {
  b->d = quant_symmetric_8(x, kQKK, b->qs);
  for (int g = 0; g < kQKK / 16; ++g) {
    int s = 0;
    for (int l = 0; l < 16; ++l) s += b->qs[16 * g + l];
    b->bsums[g] = static_cast<int16_t>(s);
  }
}

void quant_q4_k(const float* x, BlockQ4_K* b) {
  // Per sub-block of 32: an asymmetric [min, max] range (min clamped to <= 0 because the
  // format stores a non-negative offset subtracted from d*q), then 6-bit scales and mins
  // relative to the super-block's largest.
  float scale[8], minv[8];
  for (int j = 0; j < 8; ++j) {
    float lo = 0.f, hi = x[32 * j];
    for (int l = 0; l < 32; ++l) lo = std::min(lo, x[32 * j + l]), hi = std::max(hi, x[32 * j + l]);
    scale[j] = (hi - lo) / 15.f;
    minv[j] = -lo;
  }
  float max_scale = *std::max_element(scale, scale + 8);
  float max_min = *std::max_element(minv, minv + 8);
  float d = max_scale / 63.f, dmin = max_min / 63.f;
  b->d = f2h(d);
  b->dmin = f2h(dmin);
  // Quantize against the rounded (stored) super-scales so the codes fit what decodes.
  d = h2f(b->d);
  dmin = h2f(b->dmin);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(std::clamp(d > 0 ? std::lround(scale[j] / d) : 0L, 0L, 63L));
    m[j] = static_cast<uint8_t>(std::clamp(dmin > 0 ? std::lround(minv[j] / dmin) : 0L, 0L, 63L));
  }
  pack_scale_min_k4(sc, m, b->scales);
  uint8_t q[kQKK];
  for (int j = 0; j < 8; ++j) {
    float ds = d * sc[j], dm = dmin * m[j];
    float ids = ds != 0.f ? 1.f / ds : 0.f;
    for (int l = 0; l < 32; ++l) {
      q[32 * j + l] =
          static_cast<uint8_t>(std::clamp(std::lround((x[32 * j + l] + dm) * ids), 0L, 15L));
    }
  }
  for (int g = 0; g < 4; ++g) {
    for (int l = 0; l < 32; ++l) {
      b->qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
  }
}

void quant_q6_k(const float* x, BlockQ6_K* b) {
  // Symmetric per 16 elements: codes in [-31, 31] (+32 bias), int8 scales relative to d.
  float sub[16];
  float amax_sub = 0.f;
  for (int j = 0; j < 16; ++j) {
    float amax = 0.f;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * j + l]));
    sub[j] = amax / 31.f;
    amax_sub = std::max(amax_sub, sub[j]);
  }
  float d = amax_sub / 127.f;
  b->d = f2h(d);
  d = h2f(b->d);
  uint8_t q[kQKK];
  for (int j = 0; j < 16; ++j) {
    long s = d > 0 ? std::clamp(std::lround(sub[j] / d), -128L, 127L) : 0L;
    b->scales[j] = static_cast<int8_t>(s);
    float ds = d * static_cast<float>(s);
    float ids = ds != 0.f ? 1.f / ds : 0.f;
    for (int l = 0; l < 16; ++l) {
      q[16 * j + l] =
          static_cast<uint8_t>(std::clamp(std::lround(x[16 * j + l] * ids), -32L, 31L) + 32);
    }
  }
  // Inverse of dequant_q6_k's layout.
  for (int half = 0; half < 2; ++half) {
    const uint8_t* qq = q + 128 * half;
    uint8_t* ql = b->ql + 64 * half;
    uint8_t* qh = b->qh + 32 * half;
    for (int l = 0; l < 32; ++l) {
      uint8_t q1 = qq[l], q2 = qq[l + 32], q3 = qq[l + 64], q4 = qq[l + 96];
      ql[l] = static_cast<uint8_t>((q1 & 0xF) | ((q3 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((q2 & 0xF) | ((q4 & 0xF) << 4));
      qh[l] =
          static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
    }
  }
}

}  // namespace

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  const DTypeTraits& tr = traits(t);
  TURBINE_CHECK(n % row_granule(t) == 0);
  int64_t nb = n / tr.block_elems;
  switch (t) {
    case DType::kW4G128: {
      auto* b = static_cast<const BlockW4G128*>(src);
      for (int64_t i = 0; i < n / kQK; ++i, dst += kQK) {
        const BlockW4G128& g = b[i / 4];
        const float d = h2f(g.d), m = h2f(g.m);
        const uint8_t* q = g.qs + 16 * (i % 4);
        for (int j = 0; j < kQK / 2; ++j) {
          dst[j] = static_cast<float>(q[j] & 0xF) * d + m;
          dst[j + 16] = static_cast<float>(q[j] >> 4) * d + m;
        }
      }
      return;
    }
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = h2f(s[i]);
      return;
    }
    case DType::kBF16: {
      auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
      return;
    }
    case DType::kQ4_0: {
      auto* b = static_cast<const BlockQ4_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) {
        float d = h2f(b[i].d);
        for (int j = 0; j < kQK / 2; ++j) {
          dst[j] = static_cast<float>((b[i].qs[j] & 0xF) - 8) * d;
          dst[j + 16] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
        }
      }
      return;
    }
    case DType::kQ4_1: {
      auto* b = static_cast<const BlockQ4_1*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) {
        float d = h2f(b[i].d), m = h2f(b[i].m);
        for (int j = 0; j < kQK / 2; ++j) {
          dst[j] = static_cast<float>(b[i].qs[j] & 0xF) * d + m;
          dst[j + 16] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
        }
      }
      return;
    }
    case DType::kQ8_0: {
      auto* b = static_cast<const BlockQ8_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) {
        float d = h2f(b[i].d);
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * d;
      }
      return;
    }
    case DType::kQ8_1: {
      auto* b = static_cast<const BlockQ8_1*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) {
        for (int j = 0; j < kQK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * b[i].d;
      }
      return;
    }
    case DType::kQ4_K: {
      auto* b = static_cast<const BlockQ4_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) dequant_q4_k(&b[i], dst);
      return;
    }
    case DType::kQ5_K: {
      auto* b = static_cast<const BlockQ5_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) dequant_q5_k(&b[i], dst);
      return;
    }
    case DType::kQ3_K: {
      auto* b = static_cast<const BlockQ3_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) dequant_q3_k(&b[i], dst);
      return;
    }
    case DType::kQ2_K: {
      auto* b = static_cast<const BlockQ2_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) dequant_q2_k(&b[i], dst);
      return;
    }
    case DType::kQ5_0: {
      auto* b = static_cast<const BlockQ5_0*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) dequant_q5(b[i].qh, b[i].qs, h2f(b[i].d), 0.f, false, dst);
      return;
    }
    case DType::kQ5_1: {
      auto* b = static_cast<const BlockQ5_1*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQK) dequant_q5(b[i].qh, b[i].qs, h2f(b[i].d), h2f(b[i].m), true, dst);
      return;
    }
    case DType::kQ6_K: {
      auto* b = static_cast<const BlockQ6_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) dequant_q6_k(&b[i], dst);
      return;
    }
    case DType::kQ8_K: {
      auto* b = static_cast<const BlockQ8_K*>(src);
      for (int64_t i = 0; i < nb; ++i, dst += kQKK) {
        for (int j = 0; j < kQKK; ++j) dst[j] = static_cast<float>(b[i].qs[j]) * b[i].d;
      }
      return;
    }
  }
  TURBINE_CHECK(false);
}

void quantize_row(DType t, const float* src, void* dst, int64_t n) {
  const DTypeTraits& tr = traits(t);
  TURBINE_CHECK(n % row_granule(t) == 0);
  int64_t nb = n / tr.block_elems;
  switch (t) {
    case DType::kW4G128:
      for (int64_t g = 0; g * kW4Group < n; ++g)
        quantize_w4g128_group(src + g * kW4Group, static_cast<int>(std::min<int64_t>(kW4Group, n - g * kW4Group)),
                              1.f, static_cast<BlockW4G128*>(dst) + g);
      return;
    case DType::kF32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DType::kF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f2h(src[i]);
      return;
    }
    case DType::kBF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
      return;
    }
    case DType::kQ4_0:
      for (int64_t i = 0; i < nb; ++i) quant_q4_0(src + i * kQK, static_cast<BlockQ4_0*>(dst) + i);
      return;
    case DType::kQ4_1:
      for (int64_t i = 0; i < nb; ++i) quant_q4_1(src + i * kQK, static_cast<BlockQ4_1*>(dst) + i);
      return;
    case DType::kQ8_0:
      for (int64_t i = 0; i < nb; ++i) {
        auto* b = static_cast<BlockQ8_0*>(dst) + i;
        b->d = f2h(quant_symmetric_8(src + i * kQK, kQK, b->qs));
      }
      return;
    case DType::kQ8_1:
      for (int64_t i = 0; i < nb; ++i) quant_q8_1(src + i * kQK, static_cast<BlockQ8_1*>(dst) + i);
      return;
    case DType::kQ4_K:
      for (int64_t i = 0; i < nb; ++i) quant_q4_k(src + i * kQKK, static_cast<BlockQ4_K*>(dst) + i);
      return;
    case DType::kQ5_K:
      for (int64_t i = 0; i < nb; ++i) quant_q5_k(src + i * kQKK, static_cast<BlockQ5_K*>(dst) + i);
      return;
    case DType::kQ3_K:
      for (int64_t i = 0; i < nb; ++i) quant_q3_k(src + i * kQKK, static_cast<BlockQ3_K*>(dst) + i);
      return;
    case DType::kQ2_K:
      for (int64_t i = 0; i < nb; ++i) quant_q2_k(src + i * kQKK, static_cast<BlockQ2_K*>(dst) + i);
      return;
    case DType::kQ5_0:
      for (int64_t i = 0; i < nb; ++i) quant_q5_0(src + i * kQK, static_cast<BlockQ5_0*>(dst) + i);
      return;
    case DType::kQ5_1:
      for (int64_t i = 0; i < nb; ++i) quant_q5_1(src + i * kQK, static_cast<BlockQ5_1*>(dst) + i);
      return;
    case DType::kQ6_K:
      for (int64_t i = 0; i < nb; ++i) quant_q6_k(src + i * kQKK, static_cast<BlockQ6_K*>(dst) + i);
      return;
    case DType::kQ8_K:
      for (int64_t i = 0; i < nb; ++i) quant_q8_k(src + i * kQKK, static_cast<BlockQ8_K*>(dst) + i);
      return;
  }
  TURBINE_CHECK(false);
}

}  // namespace turbine
