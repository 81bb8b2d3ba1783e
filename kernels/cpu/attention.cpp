// Paged attention on the CPU. One task is one token and a slice of the query heads that
// share a KV head (GQA), so each K/V row fetched from the cache serves the whole slice.
// Softmax is online (running max and sum, rescaled when the max grows): one pass over the
// cache, no score buffer whose size depends on the context length.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/result.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/quantize.h"

namespace turbine::cpu {

namespace {

constexpr int kMaxHeadDim = 512;

// Element offset of (slot, kv head) in a layer's pool: slots are contiguous across blocks
// because the pool is [num_blocks][block_size][n_kv_heads][head_dim].
inline int64_t kv_offset(const KvGeometry& g, int64_t slot, int kv_head) {
  return (slot * g.n_kv_heads + kv_head) * g.head_dim;
}

}  // namespace

void kv_store(const KernelTable& kt, const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
              const int32_t* slots, int n_tokens) {
  if (g.quantized()) return kv_store_quantized(g, layer, k, v, slots, n_tokens);
  const int64_t row = int64_t{g.n_kv_heads} * g.head_dim;
  for (int t = 0; t < n_tokens; ++t) {
    TURBINE_CHECK(slots[t] >= 0 && slots[t] < int64_t{g.num_blocks} * g.block_size);
    int64_t off = kv_offset(g, slots[t], 0);
    if (g.kv_type == KvType::kF32) {
      std::memcpy(static_cast<float*>(layer.k) + off, k + t * row, row * sizeof(float));
      std::memcpy(static_cast<float*>(layer.v) + off, v + t * row, row * sizeof(float));
    } else if (kt.fp32_to_fp16_row != nullptr) {
      kt.fp32_to_fp16_row(k + t * row, static_cast<uint16_t*>(layer.k) + off, row);
      kt.fp32_to_fp16_row(v + t * row, static_cast<uint16_t*>(layer.v) + off, row);
    } else {
      quantize_row(DType::kF16, k + t * row, static_cast<uint16_t*>(layer.k) + off, row);
      quantize_row(DType::kF16, v + t * row, static_cast<uint16_t*>(layer.v) + off, row);
    }
  }
}

namespace {

// An F16 cache is read in llama.cpp's rounding sequence (KernelTable::attn_f16): SmolLM2-
// class models quantize activations to 8 bits between layers, which turns last-bit
// differences into different tokens, so keeping the reference's sequence keeps greedy
// output equal to its output. Each query row is computed on its own, so a request's result
// does not depend on what else is batched with it. A task is one KV head and one token (or
// a run of tokens on the tiled path): the row pointers are gathered once and serve the
// whole GQA group.
//
// llama.cpp switches to its tiled flash attention (F32 accumulation, vectorised exp; see
// KernelTable::attn_tiled) when a batch has 64 or more tokens. Here the rule applies per
// sequence: its tokens take the tiled path when at least 64 of them are in this batch (a
// prompt chunk), so for one sequence the choice is llama.cpp's, and a decode token computes
// the same no matter what is batched with it.
void attention_f16(ThreadPool& pool, const KernelTable& k, const KvGeometry& g,
                   const KvLayer& layer, const AttentionBatch& b, const AttentionParams& p,
                   const float* q, float* out) {
  const int hd = p.head_dim;
  const int group = p.n_heads / p.n_kv_heads;
  std::vector<int> seq_count(b.n_seqs, 0);
  for (int t = 0; t < b.n_tokens; ++t) {
    TURBINE_CHECK(b.seq_of_token[t] >= 0 && b.seq_of_token[t] < b.n_seqs);
    ++seq_count[b.seq_of_token[t]];
  }
  // Units of work: runs of up to kBlock tokens of one tiled sequence, or single tokens.
  constexpr int kBlock = 32;
  struct Unit {
    int t0, t1;
    bool tiled;
  };
  std::vector<Unit> units;
  for (int t = 0; t < b.n_tokens;) {
    const int seq = b.seq_of_token[t];
    // The tiled kernel reads every row from position 0: a token past its window takes the
    // per-token path, which starts where the window does.
    if (seq_count[seq] < kAttnTile || attention_first(p, b.positions[t]) > 0) {
      units.push_back({t, t + 1, false});
      ++t;
      continue;
    }
    int e = t + 1;
    while (e < b.n_tokens && e - t < kBlock && b.seq_of_token[e] == seq &&
           attention_first(p, b.positions[e]) == 0)
      ++e;
    units.push_back({t, e, true});
    t = e;
  }
  // Causal work grows with the position: start the tiled (largest) units first.
  std::stable_sort(units.begin(), units.end(), [&](const Unit& a, const Unit& c) {
    if (a.tiled != c.tiled) return a.tiled;
    return a.tiled && b.positions[a.t1 - 1] > b.positions[c.t1 - 1];
  });
  auto row_ptrs = [&](int t, int kvh, int32_t last, std::vector<const uint16_t*>& kp,
                      std::vector<const uint16_t*>& vp) {
    const int32_t seq = b.seq_of_token[t];
    TURBINE_CHECK(last / g.block_size < b.max_blocks_per_seq);
    const int32_t* table = b.block_tables + int64_t{seq} * b.max_blocks_per_seq;
    kp.resize(last + 1);
    vp.resize(last + 1);
    for (int32_t j = 0; j <= last; ++j) {
      const int32_t block = table[j / g.block_size];
      TURBINE_CHECK(block >= 0 && block < g.num_blocks);
      const int64_t off = kv_offset(g, int64_t{block} * g.block_size + j % g.block_size, kvh);
      kp[j] = static_cast<const uint16_t*>(layer.k) + off;
      vp[j] = static_cast<const uint16_t*>(layer.v) + off;
    }
  };
  pool.parallel_for(int64_t(units.size()) * p.n_kv_heads, [&](int64_t task) {
    const Unit& u = units[task / p.n_kv_heads];
    const int kvh = static_cast<int>(task % p.n_kv_heads);
    thread_local std::vector<const uint16_t*> kp, vp;
    if (!u.tiled) {
      const int t = u.t0;
      const int32_t pos = b.positions[t];
      TURBINE_CHECK(pos >= 0);
      row_ptrs(t, kvh, pos, kp, vp);
      const int32_t first = attention_first(p, pos);
      const uint16_t* const* kw = kp.data() + first;
      const uint16_t* const* vw = vp.data() + first;
      if (k.attn_f16_group != nullptr) {
        const int64_t row = (int64_t{t} * p.n_heads + kvh * group) * hd;
        k.attn_f16_group(q + row, group, hd, p.scale, kw, vw, pos + 1 - first, out + row);
        return;
      }
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        const int64_t row = (int64_t{t} * p.n_heads + h) * hd;
        k.attn_f16(q + row, hd, p.scale, kw, vw, pos + 1 - first, out + row);
      }
      return;
    }
    int32_t last = 0;
    for (int t = u.t0; t < u.t1; ++t) {
      TURBINE_CHECK(b.positions[t] >= 0);
      last = std::max(last, b.positions[t]);
    }
    row_ptrs(u.t0, kvh, last, kp, vp);
    thread_local std::vector<const float*> qr;
    thread_local std::vector<float*> orow;
    thread_local std::vector<int> nr;
    qr.clear(), orow.clear(), nr.clear();
    for (int t = u.t0; t < u.t1; ++t)
      for (int h = kvh * group; h < (kvh + 1) * group; ++h) {
        const int64_t row = (int64_t{t} * p.n_heads + h) * hd;
        qr.push_back(q + row);
        orow.push_back(out + row);
        nr.push_back(b.positions[t] + 1);
      }
    k.attn_tiled(static_cast<int>(qr.size()), qr.data(), nr.data(), hd, p.scale, kp.data(),
                 vp.data(), orow.data());
  });
}

// An F32 cache: online softmax per task over (token, KV head, slice of the GQA group). A
// group is split across tasks only when there are too few (token, kv head) pairs to keep
// the pool busy (single-sequence decode): re-reading K/V then hits in cache.
void attention_f32(ThreadPool& pool, const KernelTable& k, const KvGeometry& g,
                   const KvLayer& layer, const AttentionBatch& b, const AttentionParams& p,
                   const float* q, float* out) {
  const int hd = p.head_dim;
  const int group = p.n_heads / p.n_kv_heads;
  const int64_t pairs = int64_t{b.n_tokens} * p.n_kv_heads;
  const int split = pairs >= 2 * pool.size() ? 1 : group;
  const int heads_per_task = group / split;
  const VecDotFn qk_dot = k.dot_for(DType::kF32);
  pool.parallel_for(pairs * split, [&](int64_t task) {
    const int part = static_cast<int>(task % split);
    const int64_t pair = task / split;
    const int t = static_cast<int>(pair / p.n_kv_heads);
    const int kvh = static_cast<int>(pair % p.n_kv_heads);
    const int h0 = kvh * group + part * heads_per_task;
    const int nh = heads_per_task;
    const int32_t pos = b.positions[t];
    const int32_t seq = b.seq_of_token[t];
    TURBINE_CHECK(seq >= 0 && seq < b.n_seqs && pos >= 0);
    TURBINE_CHECK(pos / g.block_size < b.max_blocks_per_seq);
    const int32_t* table = b.block_tables + int64_t{seq} * b.max_blocks_per_seq;

    std::vector<float> acc(static_cast<size_t>(nh) * hd, 0.f);
    float m[64], l[64];  // per head of the slice; groups are far smaller than 64
    TURBINE_CHECK(nh <= 64);
    for (int h = 0; h < nh; ++h) m[h] = -std::numeric_limits<float>::infinity(), l[h] = 0.f;
    const float* qt = q + (int64_t{t} * p.n_heads) * hd;

    for (int32_t j = attention_first(p, pos); j <= pos; ++j) {
      const int32_t block = table[j / g.block_size];
      TURBINE_CHECK(block >= 0 && block < g.num_blocks);
      const int64_t off = kv_offset(g, int64_t{block} * g.block_size + j % g.block_size, kvh);
      const float* krow = static_cast<const float*>(layer.k) + off;
      const float* vrow = static_cast<const float*>(layer.v) + off;
      for (int h = 0; h < nh; ++h) {
        const float s = qk_dot(hd, krow, qt + int64_t{h0 + h} * hd) * p.scale;
        float* ah = acc.data() + int64_t{h} * hd;
        if (s > m[h]) {
          // New running max: earlier terms were weighted by exp(. - old max).
          const float c = std::exp(m[h] - s);  // exp(-inf) = 0 on the first position
          l[h] *= c;
          for (int d = 0; d < hd; ++d) ah[d] *= c;
          m[h] = s;
        }
        const float e = std::exp(s - m[h]);
        l[h] += e;
        for (int d = 0; d < hd; ++d) ah[d] += e * vrow[d];
      }
    }
    for (int h = 0; h < nh; ++h) {
      float* o = out + (int64_t{t} * p.n_heads + h0 + h) * hd;
      const float inv = 1.f / l[h];
      for (int d = 0; d < hd; ++d) o[d] = acc[int64_t{h} * hd + d] * inv;
    }
  });
}

}  // namespace

void attention(ThreadPool& pool, const KernelTable& k, const KvGeometry& g, const KvLayer& layer,
               const AttentionBatch& b, const AttentionParams& p, const float* q, float* out) {
  TURBINE_CHECK(p.n_kv_heads == g.n_kv_heads && p.head_dim == g.head_dim);
  TURBINE_CHECK(p.n_heads % p.n_kv_heads == 0 && p.head_dim <= kMaxHeadDim);
  if (g.quantized()) return attention_quantized(pool, k, g, layer, b, p, q, out);
  if (g.kv_type == KvType::kF16) return attention_f16(pool, k, g, layer, b, p, q, out);
  attention_f32(pool, k, g, layer, b, p, q, out);
}

}  // namespace turbine::cpu
