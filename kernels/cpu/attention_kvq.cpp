// The CPU's int8/int4 KV cache (KvType::kInt8 / kInt4): kv_store rotates and quantizes each
// (token, KV head) row by the reference rule (kernels/kv_quant.h), and attention rotates its
// queries, dequantizes inside the kernel and rotates its output back. A task is a run of up to kRun tokens of one sequence and one KV head: positions
// come in chunks of kChunk rows, each K and V row is dequantized once into a float tile and
// serves every query of the run and of the GQA group. Softmax is online per query row with
// the chunk's max. A row's arithmetic depends only on its own query and position (chunks
// start at multiples of kChunk), so a request's result does not depend on what else is
// batched with it.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "base/result.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/kv_quant.h"

namespace turbine::cpu {

namespace {

constexpr int kRun = 16;
constexpr int kChunk = 32;

struct Rows {
  const uint8_t* codes;
  const uint16_t* dm;
  size_t code_bytes;
  int64_t dm_stride;  // uint16 per row: 2 * groups
};

Rows rows_of(const KvGeometry& g, const void* pool) {
  const uint8_t* base = static_cast<const uint8_t*>(pool);
  return {base, reinterpret_cast<const uint16_t*>(base + g.param_offset()), g.row_code_bytes(),
          2 * int64_t{g.groups()}};
}

}  // namespace

void kv_store_quantized(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                        const int32_t* slots, int n_tokens) {
  TURBINE_CHECK(g.quantized());
  const int hd = g.head_dim;
  const size_t cb = g.row_code_bytes();
  uint8_t* kc = static_cast<uint8_t*>(layer.k);
  uint8_t* vc = static_cast<uint8_t*>(layer.v);
  uint16_t* kdm = reinterpret_cast<uint16_t*>(kc + g.param_offset());
  uint16_t* vdm = reinterpret_cast<uint16_t*>(vc + g.param_offset());
  std::vector<float> x(hd);
  auto store = [&](const float* src, uint8_t* codes, uint16_t* dm) {
    std::copy(src, src + hd, x.begin());
    kv_rotate(x.data(), hd);
    kv_quantize_row(g.kv_type, x.data(), hd, codes, dm);
  };
  for (int t = 0; t < n_tokens; ++t) {
    TURBINE_CHECK(slots[t] >= 0 && slots[t] < int64_t{g.num_blocks} * g.block_size);
    for (int h = 0; h < g.n_kv_heads; ++h) {
      const int64_t row = int64_t{slots[t]} * g.n_kv_heads + h;
      const int64_t src = (int64_t{t} * g.n_kv_heads + h) * hd;
      store(k + src, kc + row * cb, kdm + 2 * g.groups() * row);
      store(v + src, vc + row * cb, vdm + 2 * g.groups() * row);
    }
  }
}

void attention_quantized(ThreadPool& pool, const KernelTable& k, const KvGeometry& g,
                         const KvLayer& layer, const AttentionBatch& b, const AttentionParams& p,
                         const float* q, float* out) {
  TURBINE_CHECK(g.quantized());
  const int hd = p.head_dim;
  const int group = p.n_heads / p.n_kv_heads;
  struct Unit {
    int t0, t1;
    int32_t first, last;  // the positions the unit's queries attend to, all of them
  };
  std::vector<Unit> units;
  for (int t = 0; t < b.n_tokens;) {
    const int32_t seq = b.seq_of_token[t];
    TURBINE_CHECK(seq >= 0 && seq < b.n_seqs);
    int e = t + 1;
    while (e < b.n_tokens && e - t < kRun && b.seq_of_token[e] == seq) ++e;
    int32_t last = 0, first = std::numeric_limits<int32_t>::max();
    for (int i = t; i < e; ++i) {
      TURBINE_CHECK(b.positions[i] >= 0);
      last = std::max(last, b.positions[i]);
      first = std::min(first, attention_first(p, b.positions[i]));
    }
    TURBINE_CHECK(last / g.block_size < b.max_blocks_per_seq);
    units.push_back({t, e, first, last});
    t = e;
  }
  // Work grows with the context: start the longest units first.
  std::stable_sort(units.begin(), units.end(),
                   [](const Unit& a, const Unit& c) { return a.last - a.first > c.last - c.first; });
  const Rows kr = rows_of(g, layer.k), vr = rows_of(g, layer.v);
  const VecDotFn dot = k.dot_for(DType::kF32);

  pool.parallel_for(int64_t(units.size()) * p.n_kv_heads, [&](int64_t task) {
    const Unit& u = units[task / p.n_kv_heads];
    const int kvh = static_cast<int>(task % p.n_kv_heads);
    const int n_rows = (u.t1 - u.t0) * group;
    const int32_t* table = b.block_tables + int64_t{b.seq_of_token[u.t0]} * b.max_blocks_per_seq;
    thread_local std::vector<float> kf, vf, qr, acc, m, l;
    qr.resize(size_t(n_rows) * hd);
    for (int r = 0; r < n_rows; ++r) {
      const int t = u.t0 + r / group;
      const float* src = q + (int64_t{t} * p.n_heads + kvh * group + r % group) * hd;
      std::copy(src, src + hd, qr.begin() + size_t(r) * hd);
      kv_rotate(qr.data() + size_t(r) * hd, hd);
    }
    kf.resize(size_t(kChunk) * hd);
    vf.resize(size_t(kChunk) * hd);
    acc.assign(size_t(n_rows) * hd, 0.f);
    m.assign(n_rows, -std::numeric_limits<float>::infinity());
    l.assign(n_rows, 0.f);
    float s[kChunk];
    for (int32_t c0 = u.first; c0 <= u.last; c0 += kChunk) {
      const int n = std::min<int32_t>(kChunk, u.last + 1 - c0);
      for (int j = 0; j < n; ++j) {
        const int32_t pos = c0 + j;
        const int32_t block = table[pos / g.block_size];
        TURBINE_CHECK(block >= 0 && block < g.num_blocks);
        const int64_t row = (int64_t{block} * g.block_size + pos % g.block_size) * g.n_kv_heads + kvh;
        kv_dequantize_row(g.kv_type, kr.codes + row * kr.code_bytes, kr.dm + kr.dm_stride * row, hd,
                          kf.data() + size_t(j) * hd);
        kv_dequantize_row(g.kv_type, vr.codes + row * vr.code_bytes, vr.dm + vr.dm_stride * row, hd,
                          vf.data() + size_t(j) * hd);
      }
      for (int r = 0; r < n_rows; ++r) {
        const int t = u.t0 + r / group;
        const int nv = std::min(n, b.positions[t] + 1 - c0);
        const int j0 = std::max(0, attention_first(p, b.positions[t]) - c0);
        if (nv <= j0) continue;
        const float* qv = qr.data() + size_t(r) * hd;
        float cmax = -std::numeric_limits<float>::infinity();
        for (int j = j0; j < nv; ++j) {
          s[j] = dot(hd, kf.data() + size_t(j) * hd, qv) * p.scale;
          cmax = std::max(cmax, s[j]);
        }
        float* a = acc.data() + size_t(r) * hd;
        if (cmax > m[r]) {
          const float c = std::exp(m[r] - cmax);  // 0 on the first chunk (m = -inf)
          l[r] *= c;
          for (int d = 0; d < hd; ++d) a[d] *= c;
          m[r] = cmax;
        }
        for (int j = j0; j < nv; ++j) {
          const float e = std::exp(s[j] - m[r]);
          l[r] += e;
          const float* vj = vf.data() + size_t(j) * hd;
          for (int d = 0; d < hd; ++d) a[d] += e * vj[d];
        }
      }
    }
    for (int r = 0; r < n_rows; ++r) {
      const int t = u.t0 + r / group;
      float* o = out + (int64_t{t} * p.n_heads + kvh * group + r % group) * hd;
      const float inv = 1.f / l[r];
      for (int d = 0; d < hd; ++d) o[d] = acc[size_t(r) * hd + d] * inv;
      kv_rotate(o, hd);
    }
  });
}

}  // namespace turbine::cpu
