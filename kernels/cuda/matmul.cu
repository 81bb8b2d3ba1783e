// Decode-time matmul: a dequantizing GEMV that streams each weight row once for a batch
// of up to 8 tokens (float weights) or 64 tokens (quantized weights). Decode is memory-bound (a 7B F16 step reads 13.5 GB of weights to do
// 13.5 G multiply-adds), so what counts is that every weight byte is read exactly once, in
// full 32-byte sectors, with enough loads in flight to cover the memory latency:
//  - one warp per row, lanes reading consecutive 16-byte vectors (128-bit loads);
//  - quantized rows (GGUF blocks of 18/20/34 bytes or W4G128 groups of 68, so rows start
//    at any 2-byte boundary)
//    are staged through shared memory with aligned 128-bit loads covering the row span,
//    then each lane decodes one block from there;
//  - the batch's activations (tiny, L1/L2-resident) are re-read per row; for quantized
//    weights they are first quantized to int8 per block of 32 exactly as the CPU backend
//    does (Q8_1), so the dot products are dp4a over int8 and the two backends agree on
//    the activation rounding.
//  - K-quant rows (Q4_K: 144-byte super-blocks of 256, 16-byte aligned; Q6_K: 210 bytes)
//    are read in place: a lane takes 64 (Q4_K) or 128 (Q6_K) weights of a super-block, its
//    scales, and the matching int8 activation blocks of 32.
// Instantiations: 3 float types for 1/2/4/8 tokens; 6 quantized types for 1/2/4/8/16/32/64.
#include <algorithm>

#include "base/result.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace turbine::cuda {

namespace {

constexpr int kWarpsPerBlock = 4;
// Staging for one group of 32 quantized blocks: at most 32 * 34 bytes plus alignment slack.
constexpr int kStageVecs = (32 * 34 + 15) / 16 + 2;

template <int NT>
__device__ __forceinline__ void reduce_and_store(float (&acc)[NT], int lane, int n_tokens,
                                                 int64_t rows, int64_t row, float* y) {
#pragma unroll
  for (int t = 0; t < NT; ++t) {
    float v = warp_sum(acc[t]);
    if (lane == 0 && t < n_tokens) y[t * rows + row] = v;
  }
}

// Float weights: F32 (T = 0), F16 (1), BF16 (2). Rows are 16-byte aligned (checked on the
// host); 16 bytes carry 4 (F32) or 8 (F16/BF16) elements.
template <int T, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_float_kernel(const uint8_t* __restrict__ w, size_t stride, int64_t rows, int64_t cols,
                      const float* __restrict__ x, int n_tokens, float* __restrict__ y) {
  constexpr int kPer = T == 0 ? 4 : 8;
  const int lane = threadIdx.x % kWarp;
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / kWarp;
  if (row >= rows) return;
  const int4* wr = reinterpret_cast<const int4*>(w + row * stride);
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  const int64_t n_vec = cols / kPer;
  for (int64_t i = lane; i < n_vec; i += kWarp) {
    const int4 raw = __ldg(wr + i);
    float wf[kPer];
    if constexpr (T == 0) {
      wf[0] = __int_as_float(raw.x), wf[1] = __int_as_float(raw.y);
      wf[2] = __int_as_float(raw.z), wf[3] = __int_as_float(raw.w);
    } else {
      const uint32_t u[4] = {uint32_t(raw.x), uint32_t(raw.y), uint32_t(raw.z), uint32_t(raw.w)};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const uint16_t lo = u[k] & 0xffff, hi = u[k] >> 16;
        wf[2 * k] = T == 1 ? half_bits_to_float(lo) : bf16_bits_to_float(lo);
        wf[2 * k + 1] = T == 1 ? half_bits_to_float(hi) : bf16_bits_to_float(hi);
      }
    }
#pragma unroll
    for (int t = 0; t < NT; ++t) {
      const int tt = t < n_tokens ? t : n_tokens - 1;  // padding tokens recompute the last
      const float4* xv = reinterpret_cast<const float4*>(x + tt * cols + i * kPer);
#pragma unroll
      for (int k = 0; k < kPer / 4; ++k) {
        const float4 a = __ldg(xv + k);
        acc[t] += wf[4 * k] * a.x + wf[4 * k + 1] * a.y + wf[4 * k + 2] * a.z + wf[4 * k + 3] * a.w;
      }
    }
  }
  reduce_and_store<NT>(acc, lane, n_tokens, rows, row, y);
}

// Any supported type, any alignment: one warp per row, element by element. Only for shapes
// the vector kernels cannot take (odd widths, unaligned views); never on a real model.
__global__ void gemv_generic_kernel(DType type, const uint8_t* w, size_t stride, int64_t rows,
                                    int64_t cols, const float* x, int n_tokens, float* y) {
  const int lane = threadIdx.x % kWarp;
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / kWarp;
  if (row >= rows) return;
  const uint8_t* wr = w + row * stride;
  for (int t = 0; t < n_tokens; ++t) {
    float acc = 0.f;
    for (int64_t j = lane; j < cols; j += kWarp) acc += row_element(type, wr, j) * x[t * cols + j];
    acc = warp_sum(acc);
    if (lane == 0) y[t * rows + row] = acc;
  }
}

// Quantized weights: Q = 2 (Q4_0), 3 (Q4_1), 8 (Q8_0), 128 (W4G128), the DType numbers.
// A lane decodes one 32-element sub-block: block b of the 32-element types, or run b % 4
// of group b / 4 of W4G128 (68-byte groups, the scale and offset shared by four runs).
template <int Q>
__device__ __forceinline__ size_t sub_header(int b) {  // bytes to the sub-block's d (and m)
  if constexpr (Q == 128) return size_t(b >> 2) * 68;
  return size_t(b) * (Q == 2 ? 18 : Q == 3 ? 20 : 34);
}
template <int Q>
__device__ __forceinline__ size_t sub_codes(int b) {  // bytes to the sub-block's codes
  if constexpr (Q == 128) return sub_header<128>(b) + 4 + 16 * (b & 3);
  return sub_header<Q>(b) + (Q == 3 ? 4 : 2);
}

template <int Q, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_quant_kernel(const uint8_t* __restrict__ w, size_t stride, int64_t rows, int nb,
                      const int8_t* __restrict__ xq, const float2* __restrict__ xds,
                      int n_tokens, float* __restrict__ y) {
  constexpr bool kAffine = Q == 3 || Q == 128;  // codes 0..15 with an offset m
  TURBINE_SHARED(int4, stage, [kWarpsPerBlock][kStageVecs]);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + warp;
  if (row >= rows) return;  // the whole warp: only __syncwarp below
  const uint8_t* wr = w + row * stride;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;

  for (int b0 = 0; b0 < nb; b0 += kWarp) {
    const int n_blk = min(kWarp, nb - b0);
    const uint8_t* g = wr + sub_header<Q>(b0);
    const uint8_t* g_end = wr + sub_codes<Q>(b0 + n_blk - 1) + (Q == 8 ? 32 : 16);
    const uintptr_t a0 = reinterpret_cast<uintptr_t>(g) & ~uintptr_t{15};
    const uintptr_t a1 = (reinterpret_cast<uintptr_t>(g_end) + 15) & ~uintptr_t{15};
    const int n_vec = static_cast<int>((a1 - a0) >> 4);
    // The aligned span may reach up to 15 bytes past the row: still inside the allocation,
    // which the backend rounds up to 256 bytes.
    for (int i = lane; i < n_vec; i += kWarp) stage[warp][i] = __ldg(reinterpret_cast<const int4*>(a0) + i);
    __syncwarp();
    if (lane < n_blk) {
      // The staged copy of the row from sub-block b0's header on.
      const uint8_t* sg = reinterpret_cast<const uint8_t*>(stage[warp]) +
                          (reinterpret_cast<uintptr_t>(g) - a0);
      const int b = b0 + lane;
      const uint8_t* hb = sg + (sub_header<Q>(b) - sub_header<Q>(b0));
      const float d = half_bits_to_float(load_u16(hb));
      const float m = kAffine ? half_bits_to_float(load_u16(hb + 2)) : 0.f;
      const uint8_t* qs = sg + (sub_codes<Q>(b) - sub_header<Q>(b0));
      int wq[8];  // int8 lanes of the 32 weights in element order (4 per word)
      if constexpr (Q == 8) {
#pragma unroll
        for (int k = 0; k < 8; ++k) wq[k] = load_i32_a2(qs + 4 * k);
      } else {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
          const int v = load_i32_a2(qs + 4 * k);
          wq[k] = v & 0x0F0F0F0F;             // elements 4k..4k+3 (low nibbles)
          wq[k + 4] = (v >> 4) & 0x0F0F0F0F;  // elements 16+4k.. (high nibbles)
        }
      }
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const int tt = t < n_tokens ? t : n_tokens - 1;
        const int4* xa = reinterpret_cast<const int4*>(xq + (int64_t{tt} * nb + b) * kQK);
        const int4 x0 = __ldg(xa), x1 = __ldg(xa + 1);
        const float2 ds = __ldg(xds + int64_t{tt} * nb + b);  // (d, d * sum(q))
        int isum = 0;
        isum = __dp4a(wq[0], x0.x, isum);
        isum = __dp4a(wq[1], x0.y, isum);
        isum = __dp4a(wq[2], x0.z, isum);
        isum = __dp4a(wq[3], x0.w, isum);
        isum = __dp4a(wq[4], x1.x, isum);
        isum = __dp4a(wq[5], x1.y, isum);
        isum = __dp4a(wq[6], x1.z, isum);
        isum = __dp4a(wq[7], x1.w, isum);
        if constexpr (Q == 2) {
          acc[t] += d * (ds.x * static_cast<float>(isum) - 8.f * ds.y);  // q - 8 per element
        } else if constexpr (kAffine) {
          acc[t] += d * ds.x * static_cast<float>(isum) + m * ds.y;
        } else {
          acc[t] += d * ds.x * static_cast<float>(isum);
        }
      }
    }
    __syncwarp();  // the stage is overwritten by the next group
  }
  reduce_and_store<NT>(acc, lane, n_tokens, rows, row, y);
}

// Q4_K (Q = 12) and Q6_K (Q = 14), the DType numbers. The weights of sub-block j of a
// super-block meet activation block 8 * sb + j (Q4_K: sub-blocks of 32 with a 6-bit scale
// and min each; Q6_K: runs of 32 with an int8 scale per 16 and codes biased by 32).
template <int Q, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    gemv_kquant_kernel(const uint8_t* __restrict__ w, size_t stride, int64_t rows, int nb,
                       const int8_t* __restrict__ xq, const float2* __restrict__ xds,
                       int n_tokens, float* __restrict__ y) {
  constexpr int kBS = Q == 12 ? 144 : 210;
  constexpr int kPerSb = Q == 12 ? 4 : 2;  // lane items per super-block
  const int lane = threadIdx.x % kWarp;
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / kWarp;
  if (row >= rows) return;
  const uint8_t* wr = w + row * stride;
  float acc[NT];
#pragma unroll
  for (int t = 0; t < NT; ++t) acc[t] = 0.f;
  const int n_items = nb / 8 * kPerSb;
  for (int it = lane; it < n_items; it += kWarp) {
    const int sb = it / kPerSb, part = it % kPerSb;
    const uint8_t* b = wr + size_t(sb) * kBS;
    if constexpr (Q == 12) {
      // Sub-blocks 2 * part (low nibbles) and 2 * part + 1 (high nibbles) of 32 bytes.
      const uint32_t dm = bit_copy<uint32_t>(__ldg(reinterpret_cast<const int*>(b)));
      const float d = half_bits_to_float(dm & 0xffff), dmin = half_bits_to_float(dm >> 16);
      uint8_t sc[2], mn[2];
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int j = 2 * part + h;
        const uint8_t* q = b + 4;  // the 12 packed scale/min bytes
        if (j < 4) {
          sc[h] = q[j] & 63, mn[h] = q[j + 4] & 63;
        } else {
          sc[h] = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
          mn[h] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
      }
      const int4* qv = reinterpret_cast<const int4*>(b + 16 + 32 * part);
      const int4 r0 = __ldg(qv), r1 = __ldg(qv + 1);
      const int raw[8] = {r0.x, r0.y, r0.z, r0.w, r1.x, r1.y, r1.z, r1.w};
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const int tt = t < n_tokens ? t : n_tokens - 1;
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int blk = sb * 8 + 2 * part + h;
          const int4* xa = reinterpret_cast<const int4*>(xq + (int64_t{tt} * nb + blk) * kQK);
          const int4 x0 = __ldg(xa), x1 = __ldg(xa + 1);
          const int xw[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
          int isum = 0;
#pragma unroll
          for (int k = 0; k < 8; ++k) isum = __dp4a((raw[k] >> (4 * h)) & 0x0F0F0F0F, xw[k], isum);
          const float2 ds = __ldg(xds + int64_t{tt} * nb + blk);  // (d, d * sum(q))
          acc[t] += d * sc[h] * ds.x * static_cast<float>(isum) - dmin * mn[h] * ds.y;
        }
      }
    } else {
      // Half `part` of 128: runs r = 0..3 of 32; run r takes ql[64 part + 32 (r & 1) + l]'s
      // low (r < 2) or high nibble and bits 2r..2r+1 of qh[32 part + l].
      const uint8_t* ql = b + 64 * part;
      const uint8_t* qh = b + 128 + 32 * part;
      const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192 + 8 * part);
      const float d = half_bits_to_float(load_u16(b + 208));
      int qw[4][8];
#pragma unroll
      for (int k = 0; k < 8; ++k) {
        const int lo0 = load_i32_a2(ql + 4 * k), lo1 = load_i32_a2(ql + 32 + 4 * k);
        const int hi = load_i32_a2(qh + 4 * k);
        qw[0][k] = (lo0 & 0x0F0F0F0F) | ((hi << 4) & 0x30303030);
        qw[1][k] = (lo1 & 0x0F0F0F0F) | ((hi << 2) & 0x30303030);
        qw[2][k] = ((lo0 >> 4) & 0x0F0F0F0F) | (hi & 0x30303030);
        qw[3][k] = ((lo1 >> 4) & 0x0F0F0F0F) | ((hi >> 2) & 0x30303030);
      }
      float dsc[8];
#pragma unroll
      for (int k = 0; k < 8; ++k) dsc[k] = d * static_cast<float>(scales[k]);
#pragma unroll
      for (int t = 0; t < NT; ++t) {
        const int tt = t < n_tokens ? t : n_tokens - 1;
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int blk = sb * 8 + 4 * part + r;
          const int4* xa = reinterpret_cast<const int4*>(xq + (int64_t{tt} * nb + blk) * kQK);
          const int4 x0 = __ldg(xa), x1 = __ldg(xa + 1);
          const int xw[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
          // Codes are 0..63 for q + 32: subtract 32 * the activations' sum per 16.
          int s0 = 0, s1 = 0, x0s = 0, x1s = 0;
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            s0 = __dp4a(qw[r][k], xw[k], s0);
            x0s = __dp4a(0x01010101, xw[k], x0s);
            s1 = __dp4a(qw[r][k + 4], xw[k + 4], s1);
            x1s = __dp4a(0x01010101, xw[k + 4], x1s);
          }
          const float2 ds = __ldg(xds + int64_t{tt} * nb + blk);
          acc[t] += ds.x * (dsc[2 * r] * static_cast<float>(s0 - 32 * x0s) +
                            dsc[2 * r + 1] * static_cast<float>(s1 - 32 * x1s));
        }
      }
    }
  }
  reduce_and_store<NT>(acc, lane, n_tokens, rows, row, y);
}

// One warp per (token, block of 32): the CPU's Q8_1 quantization (d = amax / 127 rounded
// to F16, q = round-to-even(x * 127 / amax), s = d * sum(q) rounded to F16).
__global__ void quantize_act_kernel(const float* x, int64_t cols, int nb, int64_t n_blocks,
                                    int8_t* xq, float2* xds) {
  const int lane = threadIdx.x % kWarp;
  const int64_t blk = int64_t{blockIdx.x} * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  if (blk >= n_blocks) return;
  const int64_t t = blk / nb, b = blk % nb;
  const float v = x[t * cols + b * kQK + lane];
  float amax = fabsf(v);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  const float d = amax / 127.f;
  const float id = amax != 0.f ? 127.f / amax : 0.f;
  const int q = __float2int_rn(v * id);
  int sum = q;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  xq[blk * kQK + lane] = static_cast<int8_t>(q);
  if (lane == 0) {
    const float d16 = __half2float(__float2half_rn(d));
    xds[blk] = make_float2(d16, __half2float(__float2half_rn(d * static_cast<float>(sum))));
  }
}

// One thread per block of 32 weights -> 32 halves (four 16-byte stores).
__global__ void dequantize_f16_kernel(DType type, const uint8_t* w, size_t stride, int64_t rows,
                                      int64_t cols, __half* out) {
  const int64_t nb = cols / kQK;
  const int64_t n = rows * nb;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = i / nb, b = i % nb;
    const uint8_t* row = w + r * stride;
    __align__(16) __half v[kQK];
#pragma unroll 8
    for (int j = 0; j < kQK; ++j) v[j] = __float2half_rn(row_element(type, row, b * kQK + j));
    int4* o = reinterpret_cast<int4*>(out + r * cols + b * kQK);
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      int4 q;
      memcpy(&q, v + 8 * k, sizeof q);
      o[k] = q;
    }
  }
}

__global__ void convert_f16_kernel(DType type, const uint8_t* w, size_t stride, int64_t rows,
                                   int64_t cols, __half* out) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    out[i] = __float2half_rn(row_element(type, w + (i / cols) * stride, i % cols));
}

template <int NT>
void launch_quant(cudaStream_t s, const Matrix& w, const void* act, int n_tokens, float* y) {
  const int nb = static_cast<int>(w.cols / kQK);
  const int8_t* xq = static_cast<const int8_t*>(act);
  const float2* xds =
      reinterpret_cast<const float2*>(static_cast<const uint8_t*>(act) + size_t(n_tokens) * w.cols);
  const int grid = ceil_div(w.rows, kWarpsPerBlock);
  const auto* wp = static_cast<const uint8_t*>(w.data);
  switch (w.type) {
    case DType::kQ4_0:
      launch(gemv_quant_kernel<2, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
    case DType::kQ4_1:
      launch(gemv_quant_kernel<3, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
    case DType::kW4G128:
      launch(gemv_quant_kernel<128, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
    case DType::kQ4_K:
      launch(gemv_kquant_kernel<12, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
    case DType::kQ6_K:
      launch(gemv_kquant_kernel<14, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
    default:
      launch(gemv_quant_kernel<8, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, nb, xq, xds, n_tokens, y);
      break;
  }
}

template <int NT>
void launch_float(cudaStream_t s, const Matrix& w, const float* x, int n_tokens, float* y) {
  const int grid = ceil_div(w.rows, kWarpsPerBlock);
  const auto* wp = static_cast<const uint8_t*>(w.data);
  switch (w.type) {
    case DType::kF32:
      launch(gemv_float_kernel<0, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, w.cols, x, n_tokens, y);
      break;
    case DType::kF16:
      launch(gemv_float_kernel<1, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, w.cols, x, n_tokens, y);
      break;
    default:
      launch(gemv_float_kernel<2, NT>, grid, kWarpsPerBlock * 32, 0, s)(wp, w.row_stride, w.rows, w.cols, x, n_tokens, y);
      break;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool is_quantized(DType t) {
  return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kQ8_0 || t == DType::kQ4_K ||
         t == DType::kQ6_K || t == DType::kW4G128;
}

size_t act_q8_bytes(int n_tokens, int64_t cols) {
  // int8 values, then the float2 scales (n_tokens * cols is a multiple of 32: 8-aligned).
  return size_t(n_tokens) * cols + size_t(n_tokens) * (cols / kQK) * sizeof(float2);
}

void quantize_act_q8(cudaStream_t s, const float* x, int n_tokens, int64_t cols, void* act) {
  TURBINE_CHECK(cols % kQK == 0);
  const int nb = static_cast<int>(cols / kQK);
  const int64_t n_blocks = int64_t{n_tokens} * nb;
  int8_t* xq = static_cast<int8_t*>(act);
  float2* xds = reinterpret_cast<float2*>(static_cast<uint8_t*>(act) + size_t(n_tokens) * cols);
  launch(quantize_act_kernel, ceil_div(n_blocks, 8), 256, 0, s)(x, cols, nb, n_blocks, xq, xds);
  TURBINE_CUDA_LAUNCHED();
}

void gemv(cudaStream_t s, const Matrix& w, const float* x, const void* act, int n_tokens,
          float* y) {
  TURBINE_CHECK(n_tokens >= 1);
  if (is_quantized(w.type)) {
    TURBINE_CHECK(n_tokens <= kQuantGemvMaxTokens && act != nullptr && aligned16(act) &&
                  w.cols % kQK == 0);
    if (w.type == DType::kQ4_K)
      TURBINE_CHECK(aligned16(w.data) && w.row_stride % 16 == 0);  // 144-byte blocks
    if (n_tokens == 1) launch_quant<1>(s, w, act, n_tokens, y);
    else if (n_tokens == 2) launch_quant<2>(s, w, act, n_tokens, y);
    else if (n_tokens <= 4) launch_quant<4>(s, w, act, n_tokens, y);
    else if (n_tokens <= 8) launch_quant<8>(s, w, act, n_tokens, y);
    else if (n_tokens <= 16) launch_quant<16>(s, w, act, n_tokens, y);
    else if (n_tokens <= 32) launch_quant<32>(s, w, act, n_tokens, y);
    else launch_quant<64>(s, w, act, n_tokens, y);
  } else {
    TURBINE_CHECK(n_tokens <= kGemvMaxTokens);
    const int per = w.type == DType::kF32 ? 4 : 8;
    const bool vec = aligned16(w.data) && w.row_stride % 16 == 0 && w.cols % per == 0 &&
                     aligned16(x) && w.cols % 4 == 0;
    if (!vec) {
      launch(gemv_generic_kernel, ceil_div(w.rows, kWarpsPerBlock), kWarpsPerBlock * 32, 0, s)(
          w.type, static_cast<const uint8_t*>(w.data), w.row_stride, w.rows, w.cols, x, n_tokens, y);
    } else if (n_tokens == 1) {
      launch_float<1>(s, w, x, n_tokens, y);
    } else if (n_tokens == 2) {
      launch_float<2>(s, w, x, n_tokens, y);
    } else if (n_tokens <= 4) {
      launch_float<4>(s, w, x, n_tokens, y);
    } else {
      launch_float<8>(s, w, x, n_tokens, y);
    }
  }
  TURBINE_CUDA_LAUNCHED();
}

void dequantize_f16(cudaStream_t s, const Matrix& w, uint16_t* out) {
  const auto* wp = static_cast<const uint8_t*>(w.data);
  __half* o = reinterpret_cast<__half*>(out);
  if (is_quantized(w.type)) {
    const int64_t n = w.rows * (w.cols / kQK);
    const int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 65535 * 4));
    launch(dequantize_f16_kernel, grid, 256, 0, s)(w.type, wp, w.row_stride, w.rows, w.cols, o);
  } else {
    const int64_t n = w.rows * w.cols;
    const int grid = static_cast<int>(std::min<int64_t>((n + 255) / 256, 65535 * 4));
    launch(convert_f16_kernel, grid, 256, 0, s)(w.type, wp, w.row_stride, w.rows, w.cols, o);
  }
  TURBINE_CUDA_LAUNCHED();
}

}  // namespace turbine::cuda
