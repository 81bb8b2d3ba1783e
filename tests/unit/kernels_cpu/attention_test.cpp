// Paged attention and kv_store against a dense float reference: several sequences with
// shuffled (non-contiguous) block tables, a prefill chunk next to decode tokens, GQA, and
// every cache type (F32, F16, int8, int4).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/kv_quant.h"

namespace turbine {
namespace {

struct Seq {
  int len;          // positions 0..len-1 cached
  int first_query;  // the batch queries positions first_query..len-1
};

void run_case(KvType kv_type, int n_heads, int n_kv_heads, int head_dim, int block_size, int threads,
              const char* family, int window = 0) {
  setenv("TURBINE_CPU_KERNELS", family, 1);
  auto be = make_cpu_backend(threads);
  unsetenv("TURBINE_CPU_KERNELS");
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0.f, 1.f);
  // The last sequence has 80 tokens in the batch: with an F16 cache they take the tiled
  // path (64 or more tokens of one sequence), the others the per-row path.
  std::vector<Seq> seqs = {{10, 9}, {7, 3}, {1, 0}, {37, 36}, {150, 70}};
  const int n_seqs = static_cast<int>(seqs.size());
  const int max_blocks = (150 + block_size - 1) / block_size;
  KvGeometry g;
  g.kv_type = kv_type;
  g.block_size = block_size;
  g.num_blocks = n_seqs * max_blocks;
  g.n_kv_heads = n_kv_heads;
  g.head_dim = head_dim;
  const int kv_row = n_kv_heads * head_dim;
  auto kbuf = be->alloc(g.block_bytes() * g.num_blocks);
  auto vbuf = be->alloc(g.block_bytes() * g.num_blocks);
  KvLayer layer{kbuf->data(), vbuf->data()};

  // Shuffled physical blocks: sequences interleave in the pool.
  std::vector<int32_t> phys(g.num_blocks);
  for (int i = 0; i < g.num_blocks; ++i) phys[i] = i;
  std::shuffle(phys.begin(), phys.end(), rng);
  std::vector<int32_t> tables(n_seqs * max_blocks, -1);
  int next = 0;
  for (int s = 0; s < n_seqs; ++s) {
    int need = (seqs[s].len + block_size - 1) / block_size;
    ASSERT_LE(need, max_blocks);
    for (int b = 0; b < need; ++b) tables[s * max_blocks + b] = phys[next++];
  }

  // Dense K/V per sequence, stored through kv_store (one call per sequence).
  std::vector<std::vector<float>> K(n_seqs), V(n_seqs);
  for (int s = 0; s < n_seqs; ++s) {
    int len = seqs[s].len;
    K[s].resize(len * kv_row);
    V[s].resize(len * kv_row);
    for (auto& x : K[s]) x = nd(rng);
    for (auto& x : V[s]) x = nd(rng);
    std::vector<int32_t> slots(len);
    for (int p = 0; p < len; ++p) {
      slots[p] = tables[s * max_blocks + p / block_size] * block_size + p % block_size;
    }
    be->kv_store(g, layer, K[s].data(), V[s].data(), slots.data(), len);
    // The reference sees what the cache holds.
    if (kv_type == KvType::kF16) {
      for (auto& x : K[s]) x = fp16_to_fp32(fp32_to_fp16(x));
      for (auto& x : V[s]) x = fp16_to_fp32(fp32_to_fp16(x));
    } else if (g.quantized()) {
      std::vector<uint8_t> codes(head_dim);
      std::vector<uint16_t> dm_v(2 * g.groups());
      uint16_t* dm = dm_v.data();
      for (auto* X : {&K[s], &V[s]})
        for (size_t r = 0; r < X->size(); r += head_dim) {
          kv_rotate(X->data() + r, head_dim);
          kv_quantize_row(kv_type, X->data() + r, head_dim, codes.data(), dm);
          kv_dequantize_row(kv_type, codes.data(), dm, head_dim, X->data() + r);
          kv_rotate(X->data() + r, head_dim);
        }
    }
  }

  std::vector<int32_t> positions, seq_of;
  for (int s = 0; s < n_seqs; ++s) {
    for (int p = seqs[s].first_query; p < seqs[s].len; ++p) {
      positions.push_back(p);
      seq_of.push_back(s);
    }
  }
  const int nt = static_cast<int>(positions.size());
  AttentionBatch b{nt, n_seqs, positions.data(), seq_of.data(), tables.data(), max_blocks};
  AttentionParams p{n_heads, n_kv_heads, head_dim, 1.f / std::sqrt(float(head_dim)), window};
  std::vector<float> q(nt * n_heads * head_dim);
  for (auto& x : q) x = nd(rng) * 2.f;  // peaky softmax: exercises the running-max rescale
  std::vector<float> out(q.size(), -7.f);
  be->attention(g, layer, b, p, q.data(), out.data());

  const int group = n_heads / n_kv_heads;
  for (int t = 0; t < nt; ++t) {
    int s = seq_of[t];
    for (int h = 0; h < n_heads; ++h) {
      int kvh = h / group;
      const float* qh = &q[(t * n_heads + h) * head_dim];
      // A sliding window: positions[t] - window + 1 .. positions[t].
      const int j0 = window > 0 ? std::max(0, positions[t] - window + 1) : 0;
      std::vector<double> sc(positions[t] + 1, 0.0);
      double mx = -1e300;
      for (int j = j0; j <= positions[t]; ++j) {
        double d = 0;
        for (int i = 0; i < head_dim; ++i)
          d += double(qh[i]) * K[s][j * kv_row + kvh * head_dim + i];
        sc[j] = d * p.scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (int j = j0; j <= positions[t]; ++j) sum += (sc[j] = std::exp(sc[j] - mx));
      for (int i = 0; i < head_dim; ++i) {
        double want = 0;
        for (int j = j0; j <= positions[t]; ++j)
          want += sc[j] * V[s][j * kv_row + kvh * head_dim + i];
        want /= sum;
        // An F16 cache is read with Q rounded to F16 and an F16 output accumulator (the
        // reference's rounding sequence): a few F16 ulps (2^-11 relative) per output.
        // With a window, the tokens of the 80-token run that outgrow it take the per-row path
        // too, accumulating up to 100 positions in F16: up to twice the rounding.
        const double f16_tol = window > 0 ? 8e-3 : 4e-3;
        const double tol = kv_type == KvType::kF16 ? f16_tol * std::max(1.0, std::fabs(want)) : 1e-4;
        ASSERT_NEAR(out[(t * n_heads + h) * head_dim + i], want, tol)
            << family << " kv=" << kv_type_name(kv_type) << " t=" << t << " h=" << h << " i=" << i;
      }
    }
  }
}

TEST(Attention, PagedGqaMatchesDenseReference) {
  for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
    if (!cpu::family_supported(fam)) continue;
    for (KvType kv : {KvType::kF32, KvType::kF16, KvType::kInt8, KvType::kInt4}) {
      run_case(kv, 9, 3, 64, 4, 3, fam);   // SmolLM2 head layout, GQA 3
      run_case(kv, 4, 4, 32, 16, 2, fam);  // MHA, one block holds most sequences
      run_case(kv, 8, 1, 16, 5, 8, fam);   // MQA, block size not a power of two
    }
  }
}

// Sliding-window attention (Gemma-3's local layers): each query sees only the last `window`
// positions. Windows shorter than some sequences and than the tiled run of 80 tokens, one
// of a single position, and one longer than every sequence (the same as none).
TEST(Attention, SlidingWindowMatchesDenseReference) {
  for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
    if (!cpu::family_supported(fam)) continue;
    for (KvType kv : {KvType::kF32, KvType::kF16, KvType::kInt8, KvType::kInt4}) {
      run_case(kv, 9, 3, 64, 4, 3, fam, 8);
      run_case(kv, 4, 4, 32, 16, 2, fam, 100);
      run_case(kv, 8, 1, 16, 5, 8, fam, 1);
      run_case(kv, 4, 2, 32, 16, 2, fam, 1000);
    }
  }
}

// With an F16 cache a sequence's tokens take the tiled path when 64 or more of them are in
// the batch; the choice is per sequence, so every token's output is the same bits whether
// it is computed alone with its sequence's run or next to another sequence's.
// The int8/int4 caches promise the same independence (a row's arithmetic sees only its own
// query and position).
TEST(Attention, F16PathChoiceIsPerSequence) {
  for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
   for (KvType kvt : {KvType::kF16, KvType::kInt8, KvType::kInt4}) {
    if (!cpu::family_supported(fam)) continue;
    setenv("TURBINE_CPU_KERNELS", fam, 1);
    auto be = make_cpu_backend(3);
    unsetenv("TURBINE_CPU_KERNELS");
    KvGeometry g;
    g.kv_type = kvt;
    g.block_size = 16;
    g.num_blocks = 16;
    g.n_kv_heads = 3;
    g.head_dim = 64;
    auto kbuf = be->alloc(g.block_bytes() * g.num_blocks);
    auto vbuf = be->alloc(g.block_bytes() * g.num_blocks);
    KvLayer layer{kbuf->data(), vbuf->data()};
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.f, 1.f);
    const int kv_row = 3 * 64, lens[2] = {100, 30};
    // Sequence 0 in blocks 0..6, sequence 1 in blocks 8..9.
    std::vector<int32_t> tables = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1};
    const int max_blocks = 8;
    for (int s = 0; s < 2; ++s) {
      std::vector<float> k(lens[s] * kv_row), v(k.size());
      for (auto& x : k) x = nd(rng);
      for (auto& x : v) x = nd(rng);
      std::vector<int32_t> slots(lens[s]);
      for (int p = 0; p < lens[s]; ++p) slots[p] = tables[s * max_blocks + p / 16] * 16 + p % 16;
      be->kv_store(g, layer, k.data(), v.data(), slots.data(), lens[s]);
    }
    AttentionParams p{9, 3, 64, 0.125f};
    const int row = 9 * 64;
    // Batch: sequence 0 positions 20..99 (80 tokens, tiled), sequence 1 position 29.
    std::vector<int32_t> pos, seq;
    for (int t = 20; t < 100; ++t) pos.push_back(t), seq.push_back(0);
    pos.push_back(29), seq.push_back(1);
    const int nt = static_cast<int>(pos.size());
    std::vector<float> q(nt * row);
    for (auto& x : q) x = nd(rng) * 2.f;
    std::vector<float> both(q.size()), first(80 * row), second(row);
    AttentionBatch b{nt, 2, pos.data(), seq.data(), tables.data(), max_blocks};
    be->attention(g, layer, b, p, q.data(), both.data());
    AttentionBatch b0{80, 2, pos.data(), seq.data(), tables.data(), max_blocks};
    be->attention(g, layer, b0, p, q.data(), first.data());
    AttentionBatch b1{1, 2, pos.data() + 80, seq.data() + 80, tables.data(), max_blocks};
    be->attention(g, layer, b1, p, q.data() + 80 * row, second.data());
    for (int i = 0; i < 80 * row; ++i) ASSERT_EQ(both[i], first[i]) << fam << " " << i;
    for (int i = 0; i < row; ++i) ASSERT_EQ(both[80 * row + i], second[i]) << fam << " " << i;
   }
  }
}

TEST(KvStore, WritesTheAddressedSlotOnly) {
  auto be = make_cpu_backend(1);
  KvGeometry g;
  g.kv_type = KvType::kF32;
  g.block_size = 4;
  g.num_blocks = 3;
  g.n_kv_heads = 2;
  g.head_dim = 3;
  std::vector<float> kc(g.num_blocks * g.block_size * 6, 0.f), vc(kc.size(), 0.f);
  KvLayer layer{kc.data(), vc.data()};
  float k[6] = {1, 2, 3, 4, 5, 6}, v[6] = {-1, -2, -3, -4, -5, -6};
  int32_t slot = 2 * 4 + 1;  // block 2, offset 1
  be->kv_store(g, layer, k, v, &slot, 1);
  for (size_t i = 0; i < kc.size(); ++i) {
    bool in = i >= size_t(slot) * 6 && i < size_t(slot + 1) * 6;
    EXPECT_EQ(kc[i], in ? k[i - slot * 6] : 0.f) << i;
    EXPECT_EQ(vc[i], in ? v[i - slot * 6] : 0.f) << i;
  }
}

}  // namespace
}  // namespace turbine

// Every family's F16 attention row gives the reference sequence's floats bit for bit: that
// equality is what keeps greedy output independent of the CPU and of the batch.
TEST(Attention, F16RowIsBitExactAcrossFamilies) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  for (int hd : {64, 128, 80}) {
    const int n = 37;
    std::vector<float> q(hd);
    std::vector<uint16_t> kv(2 * size_t(n) * hd);
    for (auto& x : q) x = u(rng);
    for (auto& x : kv) x = turbine::fp32_to_fp16(u(rng));
    std::vector<const uint16_t*> kp(n), vp(n);
    for (int j = 0; j < n; ++j) kp[j] = kv.data() + size_t(j) * hd, vp[j] = kv.data() + size_t(n + j) * hd;
    std::vector<float> want(hd), got(hd);
    turbine::cpu::attn_f16_ref(q.data(), hd, 0.125f, kp.data(), vp.data(), n, want.data());
    for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
      if (!turbine::cpu::family_supported(fam)) continue;
      turbine::cpu::kernels_by_name(fam).attn_f16(q.data(), hd, 0.125f, kp.data(), vp.data(), n, got.data());
      for (int d = 0; d < hd; ++d) ASSERT_EQ(got[d], want[d]) << fam << " hd=" << hd << " d=" << d;
    }
  }
}

// The GQA-group form of the F16 row (several query heads over the same K/V rows) gives
// each head's attn_f16_ref floats bit for bit, for group sizes that do and do not fit the
// family's multi-head tiles.
TEST(Attention, F16GroupIsBitExact) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  for (int hd : {64, 128, 80}) {
    for (int nh : {1, 2, 3, 4, 5, 7}) {
      for (int n : {1, 2, 37, 130}) {
        std::vector<float> q(size_t(nh) * hd);
        std::vector<uint16_t> kv(2 * size_t(n) * hd);
        for (auto& x : q) x = u(rng);
        for (auto& x : kv) x = turbine::fp32_to_fp16(u(rng));
        std::vector<const uint16_t*> kp(n), vp(n);
        // Rows in a scrambled order, as a paged cache would hand them out.
        for (int j = 0; j < n; ++j) {
          const int r = (j * 7) % n == j ? j : (j * 7) % n;
          kp[j] = kv.data() + size_t(r) * hd, vp[j] = kv.data() + size_t(n + j) * hd;
        }
        std::vector<float> want(q.size()), got(q.size(), -1.f);
        for (int h = 0; h < nh; ++h)
          turbine::cpu::attn_f16_ref(q.data() + h * hd, hd, 0.125f, kp.data(), vp.data(), n,
                                     want.data() + h * hd);
        for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
          if (!turbine::cpu::family_supported(fam)) continue;
          const auto& k = turbine::cpu::kernels_by_name(fam);
          if (k.attn_f16_group == nullptr) continue;
          k.attn_f16_group(q.data(), nh, hd, 0.125f, kp.data(), vp.data(), n, got.data());
          for (size_t i = 0; i < q.size(); ++i)
            ASSERT_EQ(got[i], want[i]) << fam << " hd=" << hd << " nh=" << nh << " n=" << n << " i=" << i;
        }
      }
    }
  }
}
