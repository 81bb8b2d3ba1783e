// Paged attention over the KV block pool, in two kernels chosen per token on the device:
//
// - Decode (flash-decoding): a token that is alone in its sequence's run of the batch (a
//   decode step, or a 1-token prefill chunk). One CTA per (token, KV head, head chunk,
//   split); the CTA's four warps stride over the split's positions, each warp reading
//   32 / (head_dim / 8) cache rows at once with one 16-byte load per lane, and every row
//   read serves the whole GQA group (up to 8 query heads) with an online softmax. Long
//   contexts are cut into splits so a batch-1 step still fills the GPU; a second kernel
//   merges the splits' (max, sum, unnormalized output) triples.
// - Prefill: runs of consecutive tokens of one sequence (a prompt chunk). One CTA per tile
//   of 8 (4 when head_dim > 128, fewer where shared memory is smaller) tokens and KV head chunk; K/V are read once per tile in
//   chunks of 32 positions into shared memory and serve every query of the tile, with the
//   per-query softmax state in shared memory.
//
// Both read K/V through the block table (position p is block table[p / block_size], slot
// p % block_size) and accept an F16, F32, int8 or int4 cache (KvGeometry in
// kernels/backend.h); quantized rows are dequantized as they are loaded, d * q + m with the
// row's fp16 scale and offset, so the rest of each kernel is the same for every type.
// Quantized rows hold the Hadamard-rotated K and V (kernels/kv_quant.h): both kernels rotate
// their queries in shared memory first, and one more kernel rotates the output back. Everything that shapes a launch depends
// only on host-known sizes (token count, max blocks per sequence), never on positions.
#include <algorithm>
#include <climits>

#include "base/result.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/kv_quant.h"

namespace turbine::cuda {

namespace {

constexpr int kThreads = 128;  // 4 warps
constexpr int kMaxHeadDim = 256;
constexpr int kHeadChunk = 8;  // query heads per CTA (a GQA group is cut into chunks of 8)
constexpr int kChunk = 32;     // prefill: cache positions per shared-memory chunk

struct AttnArgs {
  const void* k;
  const void* v;
  const int32_t* positions;
  const int32_t* seq_of_token;
  const int32_t* block_tables;
  const float* q;
  float* out;
  float* part_o;   // [n_tokens][n_heads][n_splits][head_dim]
  float* part_ml;  // [n_tokens][n_heads][n_splits][2]
  int n_tokens, max_blocks, block_size, num_blocks;
  int n_heads, n_kv_heads, head_dim, group, n_head_chunks;
  int lanes_per_row;  // power of two >= head_dim / 8
  int64_t code_bytes;  // quantized caches: bytes of codes per row
  int64_t param_off;   // quantized caches: byte offset of the {d, m} pairs
  int groups, group_shift;  // quantized caches: {d, m} pairs per row, log2 of the group size
  int split_len, n_splits;
  float scale;
  int window;       // > 0: sliding window (AttentionParams::window)
  int rot_block;    // quantized caches: kv_rotation_block(head_dim)
  float rot_scale;  // and kv_rotation_scale(head_dim)
};

constexpr bool quantized(KvType t) { return t == KvType::kInt8 || t == KvType::kInt4; }

// kv_rotate (kernels/kv_quant.h) on n_rows rows of n floats in shared memory, by the whole
// CTA; every thread must call it (it synchronizes the block).
__device__ void rotate_rows(float* x, int n_rows, int n, int block, float scale) {
  const int half = n / 2;
  for (int len = 1; len < block; len <<= 1) {
    __syncthreads();
    for (int idx = threadIdx.x; idx < n_rows * half; idx += blockDim.x) {
      const int p = idx % half;
      float* r = x + (idx / half) * n;
      const int j = (p / len) * 2 * len + p % len;
      const float u = r[j], w = r[j + len];
      r[j] = u + w;
      r[j + len] = u - w;
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < n_rows * n; idx += blockDim.x) x[idx] *= scale;
  __syncthreads();
}

// One CTA per output row (token, head) of a quantized cache: back from the rotated basis.
__global__ void unrotate_kernel(float* out, int head_dim, int block, float scale) {
  TURBINE_SHARED(float, row, [kMaxHeadDim]);
  float* o = out + int64_t{blockIdx.x} * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) row[d] = o[d];
  rotate_rows(row, 1, head_dim, block, scale);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) o[d] = row[d];
}

// A token alone in its run (its neighbours in the batch belong to other sequences) goes
// to the decode kernel; runs of two or more to the prefill kernel.
__device__ __forceinline__ bool is_single(const int32_t* seq, int n, int t) {
  const int32_t s = seq[t];
  return (t == 0 || seq[t - 1] != s) && (t == n - 1 || seq[t + 1] != s);
}

// Row (slot * n_kv_heads + kv head) of (position, kv head), or -1 when the block table has
// no valid block.
__device__ __forceinline__ int64_t cache_row(const AttnArgs& a, const int32_t* table,
                                             int pos, int kvh) {
  const int blk_idx = pos / a.block_size;
  if (blk_idx >= a.max_blocks) return -1;
  const int32_t blk = table[blk_idx];
  if (blk < 0 || blk >= a.num_blocks) return -1;
  const int64_t slot = int64_t{blk} * a.block_size + pos % a.block_size;
  return slot * a.n_kv_heads + kvh;
}

// The {d, m} pair of element d of a row.
__device__ __forceinline__ float2 row_dm(const AttnArgs& a, const void* pool, int64_t row, int d) {
  const __half2 dm = __ldg(reinterpret_cast<const __half2*>(static_cast<const uint8_t*>(pool) +
                                                            a.param_off) +
                           row * a.groups + (d >> a.group_shift));
  return __half22float2(dm);  // x: scale d, y: offset m
}

// Elements d0..d0+7 of a row as float (d0 a multiple of 8).
template <KvType T>
__device__ __forceinline__ void load8(const AttnArgs& a, const void* pool, int64_t row, int d0,
                                      float (&o)[8]) {
  if constexpr (T == KvType::kF16) {
    const __half* p = static_cast<const __half*>(pool) + row * a.head_dim + d0;
    const int4 raw = __ldg(reinterpret_cast<const int4*>(p));
    __half2 h[4];
    memcpy(h, &raw, sizeof h);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __half22float2(h[i]);
      o[2 * i] = f.x, o[2 * i + 1] = f.y;
    }
  } else if constexpr (T == KvType::kF32) {
    const float* p = static_cast<const float*>(pool) + row * a.head_dim + d0;
    const float4 x = __ldg(reinterpret_cast<const float4*>(p));
    const float4 y = __ldg(reinterpret_cast<const float4*>(p) + 1);
    o[0] = x.x, o[1] = x.y, o[2] = x.z, o[3] = x.w, o[4] = y.x, o[5] = y.y, o[6] = y.z, o[7] = y.w;
  } else {
    const uint8_t* codes = static_cast<const uint8_t*>(pool) + row * a.code_bytes;
    const float2 dm = row_dm(a, pool, row, d0);  // groups are multiples of 8 elements
    if constexpr (T == KvType::kInt8) {
      const uint2 raw = __ldg(reinterpret_cast<const uint2*>(codes + d0));
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        o[i] = dm.x * static_cast<float>((raw.x >> (8 * i)) & 255u) + dm.y;
        o[4 + i] = dm.x * static_cast<float>((raw.y >> (8 * i)) & 255u) + dm.y;
      }
    } else {  // byte i: elements 2i (low nibble) and 2i + 1 (high)
      const unsigned raw = __ldg(reinterpret_cast<const unsigned*>(codes + d0 / 2));
#pragma unroll
      for (int i = 0; i < 8; ++i) o[i] = dm.x * static_cast<float>((raw >> (4 * i)) & 15u) + dm.y;
    }
  }
}

// Element d of a row as float.
template <KvType T>
__device__ __forceinline__ float load1(const AttnArgs& a, const void* pool, int64_t row, int d) {
  if constexpr (T == KvType::kF16) {
    return __half2float(static_cast<const __half*>(pool)[row * a.head_dim + d]);
  } else if constexpr (T == KvType::kF32) {
    return static_cast<const float*>(pool)[row * a.head_dim + d];
  } else {
    const uint8_t* codes = static_cast<const uint8_t*>(pool) + row * a.code_bytes;
    const float2 dm = row_dm(a, pool, row, d);
    const unsigned q = T == KvType::kInt8 ? codes[d] : (codes[d / 2] >> (4 * (d & 1))) & 15u;
    return dm.x * static_cast<float>(q) + dm.y;
  }
}

// HC: query heads held in registers (1, 2, 4 or 8; the chunk's real count may be lower).
template <KvType T, int HC>
__global__ void __launch_bounds__(kThreads) decode_kernel(AttnArgs a) {
  TURBINE_SHARED(float, sm_acc, [kThreads * 8 * HC]);  // per stream: HC x head_dim (<= 8 per lane)
  TURBINE_SHARED(float, sm_m, [kThreads * HC]);
  TURBINE_SHARED(float, sm_l, [kThreads * HC]);
  const int t = blockIdx.x;
  if (!is_single(a.seq_of_token, a.n_tokens, t)) return;
  const int kvh = blockIdx.y / a.n_head_chunks;
  const int h0 = kvh * a.group + (blockIdx.y % a.n_head_chunks) * kHeadChunk;
  const int hc = min(kHeadChunk, kvh * a.group + a.group - h0);
  const int split = blockIdx.z;
  const int pos = a.positions[t];
  const int first = a.window > 0 && pos >= a.window ? pos - a.window + 1 : 0;
  const int s0 = max(split * a.split_len, first);
  const int s1 = min(pos + 1, split * a.split_len + a.split_len);
  const int hd = a.head_dim;

  if (s0 >= s1) {  // nothing of this token's context falls into this split
    if (a.n_splits > 1 && threadIdx.x < hc) {
      float* ml = a.part_ml + ((int64_t{t} * a.n_heads + h0 + threadIdx.x) * a.n_splits + split) * 2;
      ml[0] = -INFINITY, ml[1] = 0.f;
    }
    return;
  }

  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int lpr = a.lanes_per_row, rpw = kWarp / lpr;
  const int sub = lane / lpr, sl = lane % lpr;
  const int d0 = sl * 8;
  const bool active = d0 < hd;  // padding lanes when head_dim / 8 is not a power of two
  const int32_t* table = a.block_tables + int64_t{a.seq_of_token[t]} * a.max_blocks;

  // A quantized cache: the chunk's queries rotated in sm_acc (unused until the merge).
  const float* qsrc = a.q + (int64_t{t} * a.n_heads + h0) * hd;
  if constexpr (quantized(T)) {
    for (int idx = threadIdx.x; idx < hc * hd; idx += kThreads) sm_acc[idx] = qsrc[idx];
    rotate_rows(sm_acc, hc, hd, a.rot_block, a.rot_scale);
    qsrc = sm_acc;
  }
  float qr[HC][8], acc[HC][8], m[HC], l[HC];
#pragma unroll
  for (int g = 0; g < HC; ++g) {
    m[g] = -INFINITY, l[g] = 0.f;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      acc[g][e] = 0.f;
      qr[g][e] = (active && g < hc) ? qsrc[g * hd + d0 + e] * a.scale : 0.f;
    }
  }
  if constexpr (quantized(T)) __syncthreads();  // sm_acc is read before the merge writes it

  // The loop bound is uniform over the warp (the shuffles need every lane).
  for (int jb = s0 + warp * rpw; jb < s1; jb += kThreads / kWarp * rpw) {
    const int j = jb + sub;
    const int64_t row = j < s1 ? cache_row(a, table, j, kvh) : -1;
    const bool valid = row >= 0;
    float kr[8], vr[8];
    if (valid && active) {
      load8<T>(a, a.k, row, d0, kr);
      load8<T>(a, a.v, row, d0, vr);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) kr[e] = 0.f, vr[e] = 0.f;
    }
#pragma unroll
    for (int g = 0; g < HC; ++g) {
      float s = 0.f;
#pragma unroll
      for (int e = 0; e < 8; ++e) s += qr[g][e] * kr[e];
      for (int o = lpr / 2; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
      if (valid) {
        const float mn = fmaxf(m[g], s);
        const float c = expf(m[g] - mn);  // 0 on the first row (m = -inf)
        const float p = expf(s - mn);
        l[g] = l[g] * c + p;
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[g][e] = acc[g][e] * c + p * vr[e];
        m[g] = mn;
      }
    }
  }

  // Merge the CTA's streams (one per warp and row slot) through shared memory.
  const int stream = warp * rpw + sub;
  const int n_streams = kThreads / kWarp * rpw;
#pragma unroll
  for (int g = 0; g < HC; ++g) {
    if (active)
#pragma unroll
      for (int e = 0; e < 8; ++e) sm_acc[(stream * HC + g) * hd + d0 + e] = acc[g][e];
    if (sl == 0) sm_m[stream * HC + g] = m[g], sm_l[stream * HC + g] = l[g];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < hc * hd; idx += kThreads) {
    const int g = idx / hd, d = idx % hd;
    float mx = -INFINITY;
    for (int st = 0; st < n_streams; ++st) mx = fmaxf(mx, sm_m[st * HC + g]);
    float L = 0.f, O = 0.f;
    for (int st = 0; st < n_streams; ++st) {
      const float ms = sm_m[st * HC + g];
      if (ms == -INFINITY) continue;
      const float w = expf(ms - mx);
      L += sm_l[st * HC + g] * w;
      O += sm_acc[(st * HC + g) * hd + d] * w;
    }
    const int64_t qh = int64_t{t} * a.n_heads + h0 + g;
    if (a.n_splits == 1) {
      a.out[qh * hd + d] = O / L;
    } else {
      a.part_o[(qh * a.n_splits + split) * hd + d] = O;
      if (d == 0) a.part_ml[(qh * a.n_splits + split) * 2] = mx, a.part_ml[(qh * a.n_splits + split) * 2 + 1] = L;
    }
  }
}

// One CTA per (token, head): out = sum_s O_s e^(m_s - M) / sum_s L_s e^(m_s - M).
__global__ void combine_kernel(AttnArgs a) {
  const int t = blockIdx.x / a.n_heads;
  if (!is_single(a.seq_of_token, a.n_tokens, t)) return;
  const int64_t qh = blockIdx.x;
  const float* ml = a.part_ml + qh * a.n_splits * 2;
  float mx = -INFINITY;
  for (int s = 0; s < a.n_splits; ++s)
    if (ml[2 * s + 1] > 0.f) mx = fmaxf(mx, ml[2 * s]);
  for (int d = threadIdx.x; d < a.head_dim; d += blockDim.x) {
    float L = 0.f, O = 0.f;
    for (int s = 0; s < a.n_splits; ++s) {
      if (!(ml[2 * s + 1] > 0.f)) continue;
      const float w = expf(ml[2 * s] - mx);
      L += ml[2 * s + 1] * w;
      O += a.part_o[(qh * a.n_splits + s) * a.head_dim + d] * w;
    }
    a.out[qh * a.head_dim + d] = O / L;
  }
}

// Prefill: see the file comment. Dynamic shared memory: q and state for tile x 8 queries,
// K and V chunks as float with a padded row (head_dim + 1: lanes reading different rows hit
// different banks).
template <KvType T>
__global__ void __launch_bounds__(kThreads) prefill_kernel(AttnArgs a, int tile) {
  TURBINE_DYNAMIC_SHARED(float, smem);
  const int hd = a.head_dim, ld = hd + 1;
  const int max_q = tile * kHeadChunk;
  float* q_s = smem;                       // [max_q][hd]
  float* acc_s = q_s + max_q * hd;         // [max_q][hd]
  float* m_s = acc_s + max_q * hd;         // [max_q]
  float* l_s = m_s + max_q;                // [max_q]
  float* k_s = l_s + max_q;                // [kChunk][ld]
  float* v_s = k_s + kChunk * ld;          // [kChunk][ld]
  float* p_s = v_s + kChunk * ld;          // [4 warps][kChunk]
  TURBINE_SHARED(int32_t, seq_s, [8]);
  TURBINE_SHARED(int32_t, pos_s, [8]);

  const int t0 = blockIdx.x * tile;
  const int n_tile = min(tile, a.n_tokens - t0);
  const int kvh = blockIdx.y / a.n_head_chunks;
  const int h0 = kvh * a.group + (blockIdx.y % a.n_head_chunks) * kHeadChunk;
  const int hc = min(kHeadChunk, kvh * a.group + a.group - h0);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  if (threadIdx.x < n_tile) {
    seq_s[threadIdx.x] = a.seq_of_token[t0 + threadIdx.x];
    pos_s[threadIdx.x] = a.positions[t0 + threadIdx.x];
  }
  __syncthreads();

  for (int r0 = 0; r0 < n_tile;) {  // runs of one sequence inside the tile
    int r1 = r0 + 1;
    while (r1 < n_tile && seq_s[r1] == seq_s[r0]) ++r1;
    const int run = r1 - r0;
    if (run == 1 && is_single(a.seq_of_token, a.n_tokens, t0 + r0)) {
      r0 = r1;  // the decode kernel's token
      continue;
    }
    const int nq = run * hc;
    const int32_t* table = a.block_tables + int64_t{seq_s[r0]} * a.max_blocks;
    int max_pos = 0, min_first = INT_MAX;
    for (int i = r0; i < r1; ++i) {
      max_pos = max(max_pos, pos_s[i]);
      min_first = min(min_first, a.window > 0 && pos_s[i] >= a.window ? pos_s[i] - a.window + 1 : 0);
    }
    for (int idx = threadIdx.x; idx < nq * hd; idx += kThreads) {
      const int qi = idx / hd, d = idx % hd;
      const int tok = t0 + r0 + qi / hc, h = h0 + qi % hc;
      q_s[idx] = a.q[(int64_t{tok} * a.n_heads + h) * hd + d] * a.scale;
      acc_s[idx] = 0.f;
    }
    for (int qi = threadIdx.x; qi < nq; qi += kThreads) m_s[qi] = -INFINITY, l_s[qi] = 0.f;
    if constexpr (quantized(T)) rotate_rows(q_s, nq, hd, a.rot_block, a.rot_scale);

    for (int c0 = min_first; c0 <= max_pos; c0 += kChunk) {
      __syncthreads();  // previous chunk consumed; q/state initialized
      for (int idx = threadIdx.x; idx < kChunk * hd; idx += kThreads) {
        const int j = idx / hd, d = idx % hd;
        const int64_t row = c0 + j <= max_pos ? cache_row(a, table, c0 + j, kvh) : -1;
        k_s[j * ld + d] = row >= 0 ? load1<T>(a, a.k, row, d) : 0.f;
        v_s[j * ld + d] = row >= 0 ? load1<T>(a, a.v, row, d) : 0.f;
      }
      __syncthreads();
      for (int qi = warp; qi < nq; qi += kThreads / kWarp) {
        const int my_pos = pos_s[r0 + qi / hc];
        const int my_first = a.window > 0 && my_pos >= a.window ? my_pos - a.window + 1 : 0;
        if (c0 > my_pos || c0 + kChunk <= my_first) continue;  // warp-uniform
        const int j = c0 + lane;
        const bool valid = j <= my_pos && j >= my_first && cache_row(a, table, j, kvh) >= 0;
        float s = -INFINITY;
        if (valid) {
          s = 0.f;
          const float* qv = q_s + qi * hd;
          const float* kv = k_s + lane * ld;
          for (int d = 0; d < hd; ++d) s += qv[d] * kv[d];
        }
        const float cmax = warp_max(s);
        if (cmax == -INFINITY) continue;  // warp-uniform
        const float m_old = m_s[qi];
        const float mn = fmaxf(m_old, cmax);
        const float c = expf(m_old - mn);
        const float p = valid ? expf(s - mn) : 0.f;
        const float psum = warp_sum(p);
        p_s[warp * kChunk + lane] = p;
        __syncwarp();
        for (int d = lane; d < hd; d += kWarp) {
          float o = acc_s[qi * hd + d] * c;
#pragma unroll 8
          for (int jj = 0; jj < kChunk; ++jj) o += p_s[warp * kChunk + jj] * v_s[jj * ld + d];
          acc_s[qi * hd + d] = o;
        }
        __syncwarp();  // every lane has read m_s and p_s before they change
        if (lane == 0) m_s[qi] = mn, l_s[qi] = l_s[qi] * c + psum;
        __syncwarp();
      }
    }
    __syncthreads();
    for (int idx = threadIdx.x; idx < nq * hd; idx += kThreads) {
      const int qi = idx / hd, d = idx % hd;
      const int tok = t0 + r0 + qi / hc, h = h0 + qi % hc;
      a.out[(int64_t{tok} * a.n_heads + h) * hd + d] = acc_s[idx] / l_s[qi];
    }
    __syncthreads();  // before the next run reuses the buffers
    r0 = r1;
  }
}

size_t prefill_smem_bytes(int head_dim, int tile) {
  const int max_q = tile * kHeadChunk;
  return sizeof(float) * (size_t(2) * max_q * head_dim + 2 * max_q + 2 * kChunk * (head_dim + 1) +
                          4 * kChunk);
}

// Tokens per prefill CTA: 8 (4 past head_dim 128), halved until the shared memory fits what
// this device lets one block opt into (sm_80: 163 KB, sm_90: 227 KB, sm_86/sm_89: 99 KB).
int prefill_tile(int head_dim) {
  static const int max_smem = [] {
    int dev = 0, v = 48 << 10;
    if (cudaGetDevice(&dev) == cudaSuccess)
      cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    return v;
  }();
  int tile = head_dim > 128 ? 4 : 8;
  while (tile > 1 && prefill_smem_bytes(head_dim, tile) > size_t(max_smem)) tile /= 2;
  return tile;
}

template <KvType T>
void launch_attention(cudaStream_t s, const AttnArgs& a, const AttentionBatch& b) {
  dim3 dgrid(a.n_tokens, a.n_kv_heads * a.n_head_chunks, a.n_splits);
  const int hc_max = std::min(kHeadChunk, a.group);
  if (hc_max == 1) launch(decode_kernel<T, 1>, dgrid, kThreads, 0, s)(a);
  else if (hc_max == 2) launch(decode_kernel<T, 2>, dgrid, kThreads, 0, s)(a);
  else if (hc_max <= 4) launch(decode_kernel<T, 4>, dgrid, kThreads, 0, s)(a);
  else launch(decode_kernel<T, 8>, dgrid, kThreads, 0, s)(a);
  TURBINE_CUDA_LAUNCHED();
  if (a.n_splits > 1) {
    launch(combine_kernel, a.n_tokens * a.n_heads, std::min(a.head_dim, 256), 0, s)(a);
    TURBINE_CUDA_LAUNCHED();
  }
  if (a.n_tokens > 1) {
    const int tile = prefill_tile(a.head_dim);
    const size_t smem = prefill_smem_bytes(a.head_dim, tile);
    // Over 48 KB of dynamic shared memory needs an opt-in (raised as head sizes grow; the
    // engine thread is the only caller).
    static size_t opted_in = 48 << 10;
    if (smem > opted_in) {
      TURBINE_CUDA_CHECK(cudaFuncSetAttribute(prefill_kernel<T>,
                                              cudaFuncAttributeMaxDynamicSharedMemorySize,
                                              static_cast<int>(smem)));
      opted_in = smem;
    }
    dim3 pgrid(ceil_div(a.n_tokens, tile), a.n_kv_heads * a.n_head_chunks);
    launch(prefill_kernel<T>, pgrid, kThreads, smem, s)(a, tile);
    TURBINE_CUDA_LAUNCHED();
  }
  if constexpr (quantized(T)) {
    launch(unrotate_kernel, a.n_tokens * a.n_heads, 64, 0, s)(a.out, a.head_dim, a.rot_block,
                                                              a.rot_scale);
    TURBINE_CUDA_LAUNCHED();
  }
}

}  // namespace

int attention_splits(int num_sms, const AttentionBatch& b, const AttentionParams& p,
                     int block_size) {
  const int group = p.n_heads / p.n_kv_heads;
  const int64_t base = int64_t{b.n_tokens} * p.n_kv_heads * ceil_div(group, kHeadChunk);
  const int64_t max_ctx = int64_t{b.max_blocks_per_seq} * block_size;
  if (base <= 0) return 1;
  // Two CTAs per SM at least, but no split shorter than 128 positions (then the merge costs
  // more than the parallelism gains) and at most 32 splits.
  int64_t want = (2 * int64_t{num_sms} + base - 1) / base;
  want = std::min<int64_t>(want, std::max<int64_t>(1, max_ctx / 128));
  return static_cast<int>(std::clamp<int64_t>(want, 1, 32));
}

size_t attention_workspace_floats(int n_tokens, const AttentionParams& p, int n_splits) {
  if (n_splits <= 1) return 0;
  return size_t(n_tokens) * p.n_heads * n_splits * (p.head_dim + 2);
}

void attention(cudaStream_t s, int n_splits, const KvGeometry& g, const KvLayer& layer,
               const AttentionBatch& b, const AttentionParams& p, const float* q, float* out,
               float* workspace) {
  TURBINE_CHECK(p.n_kv_heads == g.n_kv_heads && p.head_dim == g.head_dim);
  TURBINE_CHECK(p.n_heads % p.n_kv_heads == 0);
  TURBINE_CHECK(p.head_dim % 8 == 0 && p.head_dim <= kMaxHeadDim);
  if (b.n_tokens == 0) return;
  AttnArgs a{};
  a.k = layer.k;
  a.v = layer.v;
  a.positions = b.positions;
  a.seq_of_token = b.seq_of_token;
  a.block_tables = b.block_tables;
  a.q = q;
  a.out = out;
  a.n_tokens = b.n_tokens;
  a.max_blocks = b.max_blocks_per_seq;
  a.block_size = g.block_size;
  a.num_blocks = g.num_blocks;
  a.n_heads = p.n_heads;
  a.n_kv_heads = p.n_kv_heads;
  a.head_dim = p.head_dim;
  a.group = p.n_heads / p.n_kv_heads;
  a.n_head_chunks = ceil_div(a.group, kHeadChunk);
  a.lanes_per_row = 1;
  while (a.lanes_per_row * 8 < p.head_dim) a.lanes_per_row *= 2;
  a.n_splits = std::max(1, n_splits);
  const int64_t max_ctx = std::max<int64_t>(1, int64_t{b.max_blocks_per_seq} * g.block_size);
  a.split_len = ceil_div(max_ctx, a.n_splits);
  a.scale = p.scale;
  a.window = p.window;
  a.code_bytes = static_cast<int64_t>(g.row_code_bytes());
  a.param_off = static_cast<int64_t>(g.param_offset());
  a.groups = g.groups();
  a.group_shift = 0;
  while (g.quantized() && (1 << a.group_shift) < g.group_size()) ++a.group_shift;
  TURBINE_CHECK(a.groups <= 1 || (1 << a.group_shift) == g.group_size());
  a.rot_block = kv_rotation_block(p.head_dim);
  a.rot_scale = kv_rotation_scale(p.head_dim);
  if (a.n_splits > 1) {
    TURBINE_CHECK(workspace != nullptr);
    a.part_o = workspace;
    a.part_ml = workspace + size_t(b.n_tokens) * p.n_heads * a.n_splits * p.head_dim;
  }
  switch (g.kv_type) {
    case KvType::kF16: return launch_attention<KvType::kF16>(s, a, b);
    case KvType::kF32: return launch_attention<KvType::kF32>(s, a, b);
    case KvType::kInt8: return launch_attention<KvType::kInt8>(s, a, b);
    case KvType::kInt4: return launch_attention<KvType::kInt4>(s, a, b);
  }
}

}  // namespace turbine::cuda
