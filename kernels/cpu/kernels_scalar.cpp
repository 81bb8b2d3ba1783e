// Portable kernels: integer dot products over the 8-bit activations, written plainly so
// the compiler's baseline (SSE2) auto-vectorizer has an easy time. Also the fallback for
// any CPU without AVX2.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/block_fields.h"
#include "kernels/cpu/vexp.h"
#include "kernels/quantize.h"

namespace turbine::cpu {

namespace {

// Q4_0 / Q4_1 / Q8_0 in the x86 families' rounding sequence (which is llama.cpp's), so a
// CPU without AVX2 gives the same bits: per block, 8 int32 lanes of 4 products each in
// element order, one float product d_w * d_a, lane-wise fma into 8 accumulators; the bias
// term (Q4_1: m * s, Q4_0: -8 d * s) summed per block; at the end the accumulators reduced
// as ((0+4)+(2+6)) + ((1+5)+(3+7)) and the bias sum added.
template <typename Block, typename Unpack>
float dot_x86_order(int64_t n, const void* wv, const void* av, Unpack unpack) {
  auto* w = static_cast<const Block*>(wv);
  auto* a = static_cast<const BlockQ8_1*>(av);
  float acc[8] = {}, extra = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    int q[kQK];
    float d, bias;
    unpack(w[i], q, &d, &bias);
    const float scale = d * a[i].d;
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) s += q[k] * a[i].qs[k];
      acc[l] = std::fma(static_cast<float>(s), scale, acc[l]);
    }
    extra += bias * a[i].s;
  }
  const float r0 = acc[0] + acc[4], r1 = acc[1] + acc[5], r2 = acc[2] + acc[6], r3 = acc[3] + acc[7];
  return ((r0 + r2) + (r1 + r3)) + extra;
}

float dot_q4_0(int64_t n, const void* wv, const void* av) {
  return dot_x86_order<BlockQ4_0>(n, wv, av, [](const BlockQ4_0& b, int* q, float* d, float* bias) {
    for (int j = 0; j < kQK / 2; ++j) q[j] = b.qs[j] & 0xF, q[j + kQK / 2] = b.qs[j] >> 4;
    *d = fp16_lookup(b.d);
    *bias = -8.f * *d;  // (q - 8) folded out: a.s = d_a * sum(a)
  });
}

float dot_q4_1(int64_t n, const void* wv, const void* av) {
  return dot_x86_order<BlockQ4_1>(n, wv, av, [](const BlockQ4_1& b, int* q, float* d, float* bias) {
    for (int j = 0; j < kQK / 2; ++j) q[j] = b.qs[j] & 0xF, q[j + kQK / 2] = b.qs[j] >> 4;
    *d = fp16_lookup(b.d);
    *bias = fp16_lookup(b.m);
  });
}

// W4G128 in the same sequence, sub-block by sub-block (run i % 4 of group i / 4).
float dot_w4g128(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockW4G128*>(wv);
  auto* a = static_cast<const BlockQ8_1*>(av);
  float acc[8] = {}, extra = 0.f;
  for (int64_t i = 0; i < n / kQK; ++i) {
    const BlockW4G128& g = w[i / 4];
    const uint8_t* qs = g.qs + 16 * (i % 4);
    int q[kQK];
    for (int j = 0; j < kQK / 2; ++j) q[j] = qs[j] & 0xF, q[j + kQK / 2] = qs[j] >> 4;
    const float scale = fp16_lookup(g.d) * a[i].d;
    for (int l = 0; l < 8; ++l) {
      int s = 0;
      for (int k = 4 * l; k < 4 * l + 4; ++k) s += q[k] * a[i].qs[k];
      acc[l] = std::fma(static_cast<float>(s), scale, acc[l]);
    }
    extra += fp16_lookup(g.m) * a[i].s;
  }
  const float r0 = acc[0] + acc[4], r1 = acc[1] + acc[5], r2 = acc[2] + acc[6], r3 = acc[3] + acc[7];
  return ((r0 + r2) + (r1 + r3)) + extra;
}

float dot_q8_0(int64_t n, const void* wv, const void* av) {
  return dot_x86_order<BlockQ8_0>(n, wv, av, [](const BlockQ8_0& b, int* q, float* d, float* bias) {
    for (int j = 0; j < kQK; ++j) q[j] = b.qs[j];
    *d = fp16_lookup(b.d);
    *bias = 0.f;
  });
}

float dot_q4_k(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockQ4_K*>(wv);
  auto* a = static_cast<const BlockQ8_K*>(av);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int sc[8], m[8];
    unpack_scales_mins_k4(w[i].scales, sc, m);
    int acc = 0, acc_min = 0;
    const int8_t* q8 = a[i].qs;
    for (int g = 0; g < 4; ++g) {
      const uint8_t* q4 = w[i].qs + 32 * g;
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += (q4[l] & 0xF) * q8[64 * g + l];
        hi += (q4[l] >> 4) * q8[64 * g + 32 + l];
      }
      acc += sc[2 * g] * lo + sc[2 * g + 1] * hi;
    }
    // The minimum is constant per 32 elements, so it only needs the activation sums.
    for (int j = 0; j < 8; ++j) acc_min += m[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
    sum += a[i].d * (fp16_lookup(w[i].d) * static_cast<float>(acc) -
                     fp16_lookup(w[i].dmin) * static_cast<float>(acc_min));
  }
  return sum;
}

float dot_q6_k(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockQ6_K*>(wv);
  auto* a = static_cast<const BlockQ8_K*>(av);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int acc = 0;
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = w[i].ql + 64 * half;
      const uint8_t* qh = w[i].qh + 32 * half;
      const int8_t* sc = w[i].scales + 8 * half;
      const int8_t* q8 = a[i].qs + 128 * half;
      for (int k = 0; k < 8; ++k) {
        // Sub-block k: run r = k/2 of 32 elements, 16 of them.
        int r = k / 2, l0 = 16 * (k % 2);
        int part = 0;
        for (int l = l0; l < l0 + 16; ++l) {
          int lo = (r & 1) ? ql[l + 32] : ql[l];
          int q = ((r < 2 ? lo & 0xF : lo >> 4) | (((qh[l] >> (2 * r)) & 3) << 4));
          part += q * q8[32 * r + l];
        }
        acc += sc[k] * part;
      }
    }
    // The +32 code bias, removed with the activation sums of each 16.
    int bias = 0;
    for (int j = 0; j < 16; ++j) bias += w[i].scales[j] * a[i].bsums[j];
    sum += fp16_lookup(w[i].d) * a[i].d * static_cast<float>(acc - 32 * bias);
  }
  return sum;
}

}  // namespace

// The types added for the common GGUF mixes, scalar integer dot products: Q5_0 / Q5_1 in
// the x86 families' rounding sequence over Q8_1 blocks (the twins of kernels_x86.inc's), the K types over Q8_K with their mins or code bias folded through the
// activation block sums.
float dot_q5_0_ref(int64_t n, const void* wv, const void* av) {
  return dot_x86_order<BlockQ5_0>(n, wv, av, [](const BlockQ5_0& b, int* q, float* d, float* bias) {
    unpack_q5_codes(b.qh, b.qs, q);
    *d = fp16_lookup(b.d);
    *bias = -16.f * *d;
  });
}

float dot_q5_1_ref(int64_t n, const void* wv, const void* av) {
  return dot_x86_order<BlockQ5_1>(n, wv, av, [](const BlockQ5_1& b, int* q, float* d, float* bias) {
    unpack_q5_codes(b.qh, b.qs, q);
    *d = fp16_lookup(b.d);
    *bias = fp16_lookup(b.m);
  });
}

float dot_q5_k_ref(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockQ5_K*>(wv);
  auto* a = static_cast<const BlockQ8_K*>(av);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int sc[8], m[8];
    unpack_scales_mins_k4(w[i].scales, sc, m);
    int acc = 0, acc_min = 0;
    const int8_t* q8 = a[i].qs;
    for (int g = 0; g < 4; ++g) {
      const uint8_t* ql = w[i].qs + 32 * g;
      int lo = 0, hi = 0;
      for (int l = 0; l < 32; ++l) {
        lo += ((ql[l] & 0xF) | (((w[i].qh[l] >> (2 * g)) & 1) << 4)) * q8[64 * g + l];
        hi += ((ql[l] >> 4) | (((w[i].qh[l] >> (2 * g + 1)) & 1) << 4)) * q8[64 * g + 32 + l];
      }
      acc += sc[2 * g] * lo + sc[2 * g + 1] * hi;
    }
    for (int j = 0; j < 8; ++j) acc_min += m[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
    sum += a[i].d * (fp16_lookup(w[i].d) * static_cast<float>(acc) -
                     fp16_lookup(w[i].dmin) * static_cast<float>(acc_min));
  }
  return sum;
}

float dot_q2_k_ref(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockQ2_K*>(wv);
  auto* a = static_cast<const BlockQ8_K*>(av);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int acc = 0, acc_min = 0;
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int half = 0; half < 2; ++half) {
          const int run = 8 * h + 2 * s + half;
          const uint8_t* q = w[i].qs + 32 * h + 16 * half;
          const int8_t* q8 = a[i].qs + 16 * run;
          int part = 0;
          for (int l = 0; l < 16; ++l) part += ((q[l] >> (2 * s)) & 3) * q8[l];
          acc += (w[i].scales[run] & 0xF) * part;
          acc_min += (w[i].scales[run] >> 4) * a[i].bsums[run];
        }
    sum += a[i].d * (fp16_lookup(w[i].d) * static_cast<float>(acc) -
                     fp16_lookup(w[i].dmin) * static_cast<float>(acc_min));
  }
  return sum;
}

float dot_q3_k_ref(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const BlockQ3_K*>(wv);
  auto* a = static_cast<const BlockQ8_K*>(av);
  float sum = 0.f;
  for (int64_t i = 0; i < n / kQKK; ++i) {
    int scales[16];
    unpack_q3_k_scales(w[i].scales, scales);
    int acc = 0;
    for (int h = 0; h < 2; ++h)
      for (int s = 0; s < 4; ++s)
        for (int half = 0; half < 2; ++half) {
          const int run = 8 * h + 2 * s + half;
          const int sc = scales[run];
          const int8_t* q8 = a[i].qs + 16 * run;
          int part = 0;
          for (int l = 0; l < 16; ++l) {
            const int e = 16 * half + l;
            const int q = ((w[i].qs[32 * h + e] >> (2 * s)) & 3) - (((w[i].hmask[e] >> (4 * h + s)) & 1) ? 0 : 4);
            part += q * q8[l];
          }
          acc += sc * part;
        }
    sum += fp16_lookup(w[i].d) * a[i].d * static_cast<float>(acc);
  }
  return sum;
}

namespace {

float dot_f32(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const float*>(wv);
  auto* a = static_cast<const float*>(av);
  // Several partial sums: breaks the add dependency chain and lets SSE2 vectorize.
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) s[k] += w[i + k] * a[i + k];
  }
  for (; i < n; ++i) s[0] += w[i] * a[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

float dot_f16(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const uint16_t*>(wv);
  auto* a = static_cast<const float*>(av);
  float s[4] = {};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) s[k] += fp16_lookup(w[i + k]) * a[i + k];
  }
  for (; i < n; ++i) s[0] += fp16_lookup(w[i]) * a[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

float dot_bf16(int64_t n, const void* wv, const void* av) {
  auto* w = static_cast<const uint16_t*>(wv);
  auto* a = static_cast<const float*>(av);
  float s[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) s[k] += bf16_to_fp32(w[i + k]) * a[i + k];
  }
  for (; i < n; ++i) s[0] += bf16_to_fp32(w[i]) * a[i];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

void quantize_q8_1(const float* x, void* dst, int64_t n) {
  quantize_row(DType::kQ8_1, x, dst, n);
}
void quantize_q8_k(const float* x, void* dst, int64_t n) {
  quantize_row(DType::kQ8_K, x, dst, n);
}
void fp16_row(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = fp16_lookup(x[i]);
}

struct Fp16Table {
  float v[65536];
  Fp16Table() {
    for (uint32_t i = 0; i < 65536; ++i) v[i] = fp16_to_fp32(static_cast<uint16_t>(i));
  }
};

}  // namespace

void attn_f16_ref(const float* q, int hd, float scale, const uint16_t* const* k,
                  const uint16_t* const* v, int n, float* out) {
  uint16_t q16[512], acc16[512];
  for (int d = 0; d < hd; ++d) q16[d] = fp32_to_fp16(q[d]), acc16[d] = 0;
  const int np = hd & ~63;
  float m = -std::numeric_limits<float>::infinity(), l = 0.f;
  for (int j = 0; j < n; ++j) {
    // Score: 4 accumulators of 16 lanes over each 64-element step, then a fixed tree.
    float acc[4][16] = {};
    for (int i = 0; i < np; i += 64)
      for (int a = 0; a < 4; ++a)
        for (int ln = 0; ln < 16; ++ln) {
          const int e = i + 16 * a + ln;
          acc[a][ln] = std::fma(fp16_lookup(k[j][e]), fp16_lookup(q16[e]), acc[a][ln]);
        }
    for (int ln = 0; ln < 16; ++ln) acc[0][ln] += acc[2][ln], acc[1][ln] += acc[3][ln];
    for (int ln = 0; ln < 16; ++ln) acc[0][ln] += acc[1][ln];
    float t3[8], t6[4];
    for (int ln = 0; ln < 8; ++ln) t3[ln] = acc[0][ln] + acc[0][8 + ln];
    for (int ln = 0; ln < 4; ++ln) t6[ln] = t3[ln] + t3[4 + ln];
    double dot = (t6[0] + t6[2]) + (t6[1] + t6[3]);
    for (int e = np; e < hd; ++e)
      dot += static_cast<double>(fp16_lookup(k[j][e]) * fp16_lookup(q16[e]));
    const float s = static_cast<float>(dot) * scale;

    float ms = 1.f, vs = 1.f;
    if (s > m) {
      ms = std::exp(m - s);  // 0 on the first row
      m = s;
      for (int d = 0; d < hd; ++d) acc16[d] = fp32_to_fp16(fp16_lookup(acc16[d]) * ms);
    } else {
      vs = std::exp(s - m);
    }
    for (int d = 0; d < hd; ++d)
      acc16[d] = fp32_to_fp16(std::fma(fp16_lookup(v[j][d]), vs, fp16_lookup(acc16[d])));
    l = std::fma(l, ms, vs);
  }
  const float inv = l == 0.f ? 0.f : 1.f / l;
  for (int d = 0; d < hd; ++d) out[d] = fp16_lookup(acc16[d]) * inv;
}

void attn_tiled_ref(int nq, const float* const* q, const int* n, int hd, float scale,
                    const uint16_t* const* k, const uint16_t* const* v, float* const* out) {
  constexpr int T = kAttnTile;
  int nmax = 0;
  for (int i = 0; i < nq; ++i) nmax = std::max(nmax, n[i]);
  std::vector<float> acc(size_t(nq) * hd, 0.f), m(nq, -std::numeric_limits<float>::infinity()),
      l(nq, 0.f);
  for (int t0 = 0; t0 < nmax; t0 += T) {
    for (int i = 0; i < nq; ++i) {
      if (n[i] <= t0) continue;
      const int valid = std::min(T, n[i] - t0);
      float s[T], p[T];
      float tmax = -std::numeric_limits<float>::infinity();
      for (int j = 0; j < T; ++j) {
        if (j < valid) {
          float a = 0.f;
          for (int d = 0; d < hd; ++d) a = std::fma(q[i][d], fp16_lookup(k[t0 + j][d]), a);
          s[j] = a * scale;
        } else {
          s[j] = -std::numeric_limits<float>::infinity();
        }
        tmax = std::max(tmax, s[j]);
      }
      float* ai = acc.data() + size_t(i) * hd;
      const float mnew = std::max(m[i], tmax);
      if (mnew > m[i]) {
        const float ms = std::exp(m[i] - mnew);
        for (int d = 0; d < hd; ++d) ai[d] *= ms;
        l[i] *= ms;
      }
      m[i] = mnew;
      double sum = 0;
      for (int g = 0; g < T; g += 16) {
        for (int j = g; j < g + 16; ++j) p[j] = vexp_scalar(s[j] - mnew);
        // _mm512_reduce_add_ps's tree: halves, quarters, then (0+2) + (1+3).
        float h8[8], h4[4];
        for (int e = 0; e < 8; ++e) h8[e] = p[g + 8 + e] + p[g + e];
        for (int e = 0; e < 4; ++e) h4[e] = h8[4 + e] + h8[e];
        sum += static_cast<double>((h4[0] + h4[2]) + (h4[1] + h4[3]));
      }
      l[i] = static_cast<float>(l[i] + sum);
      for (int j = 0; j < valid; ++j)
        for (int d = 0; d < hd; ++d) ai[d] = std::fma(p[j], fp16_lookup(v[t0 + j][d]), ai[d]);
    }
  }
  for (int i = 0; i < nq; ++i) {
    const float inv = l[i] == 0.f ? 0.f : 1.f / l[i];
    for (int d = 0; d < hd; ++d) out[i][d] = acc[size_t(i) * hd + d] * inv;
  }
}

void exp_row_ref(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = vexp_scalar(x[i]);
}

void swiglu_ref(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = swiglu_scalar(gate[i], up[i]);
}

float fp16_lookup(uint16_t h) {
  static const Fp16Table* table = new Fp16Table();  // never freed: used until exit
  return table->v[h];
}

const KernelTable& scalar_kernels() {
  static const KernelTable k{
      .name = "scalar",
      .q4_0 = dot_q4_0,
      .q4_1 = dot_q4_1,
      .q8_0 = dot_q8_0,
      .q4_k = dot_q4_k,
      .q6_k = dot_q6_k,
      .f32 = dot_f32,
      .f16 = dot_f16,
      .bf16 = dot_bf16,
      .quantize_q8_1 = quantize_q8_1,
      .quantize_q8_k = quantize_q8_k,
      .fp16_to_fp32_row = fp16_row,
      .w4g128 = dot_w4g128,
      .q5_0 = dot_q5_0_ref,
      .q5_1 = dot_q5_1_ref,
      .q2_k = dot_q2_k_ref,
      .q3_k = dot_q3_k_ref,
      .q5_k = dot_q5_k_ref,
  };
  return k;
}

}  // namespace turbine::cpu
