// On-device sampling: the CUDA twin of kernels/sample.h, so a sampled decode step moves
// only token ids across the bus. One block of 1024 threads per row; thread t owns the
// contiguous ids [t * chunk, (t + 1) * chunk), so "in id order" is thread order, then
// order within a chunk. No sort: each filter is a threshold on an order-preserving
// 32-bit key of x, found by a binary search over the key space (32 block-wide counts or
// weight sums), with ties at the threshold resolved by rank in id order (a block scan).
// Every reduction has a fixed shape, so a seed gives the same token on every run.
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

namespace turbine::cuda {

namespace {

constexpr int kThreads = 1024;
constexpr int kWarps = kThreads / kWarp;

// Larger x, larger key (IEEE floats reordered as unsigned integers).
__device__ __forceinline__ uint32_t order_key(float x) {
  const uint32_t b = __float_as_uint(x);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
__device__ __forceinline__ float key_value(uint32_t k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k);
}
__device__ __forceinline__ bool finite(float v) {
  return (__float_as_uint(v) & 0x7f800000u) != 0x7f800000u;
}

template <typename T>
__device__ __forceinline__ T warp_largest(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const T w = __shfl_xor_sync(0xffffffffu, v, o);
    v = w > v ? w : v;
  }
  return v;
}

template <typename T>
__device__ T block_largest(T v, T* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  v = warp_largest(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  return warp_largest(lane < kWarps ? red[lane] : T(0));
}
// The sum of v over the threads before this one.
template <typename T>
__device__ T block_exclusive_scan(T v, T* red) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  T inc = v;
#pragma unroll
  for (int o = 1; o < kWarp; o <<= 1) {
    const T n = __shfl_up_sync(0xffffffffu, inc, o);
    if (lane >= o) inc += n;
  }
  __syncthreads();
  if (lane == kWarp - 1) red[warp] = inc;
  __syncthreads();
  if (warp == 0) {
    const T w = red[lane];
    T winc = w;
#pragma unroll
    for (int o = 1; o < kWarp; o <<= 1) {
      const T n = __shfl_up_sync(0xffffffffu, winc, o);
      if (lane >= o) winc += n;
    }
    __syncwarp();
    red[lane] = winc - w;  // warps before this one
  }
  __syncthreads();
  return red[warp] + inc - v;
}

// A threshold filter over keys: keeps key > key_cut, and of the keys equal to it the
// first `take_eq` in id order; `eq_before` is how many of those lie in earlier chunks.
struct Cut {
  bool on = false;
  uint32_t key = 0;
  int take_eq = 0;
  int eq_before = 0;
};

// One thread's view of its chunk of the row, with the filters found so far.
struct RowChunk {
  const float* logits;
  int begin, end;
  float inv_t;
  Cut top_k;
  bool min_p_on = false;
  float cut_x = 0.f;  // min-p
  float max_x = 0.f;
  Cut top_p;

  // Calls f(id, x, key, weight) for every candidate of the chunk that passes the filters
  // up to `stage` (0: finite; 1: + top-k; 2: + min-p; 3: + top-p), in id order. `eq_k` /
  // `eq_p` count (from 0) this chunk's ties at each cut, for the rank of a tie.
  template <typename F>
  __device__ void visit(int stage, F&& f) const {
    int eq_k = top_k.eq_before, eq_p = top_p.eq_before;
    for (int i = begin; i < end; ++i) {
      const float l = logits[i];
      if (!finite(l)) continue;
      const float x = l * inv_t;
      const uint32_t key = order_key(x);
      if (stage >= 1 && top_k.on) {
        if (key < top_k.key) continue;
        if (key == top_k.key && eq_k++ >= top_k.take_eq) continue;
      }
      if (stage >= 2 && min_p_on && !(x >= cut_x)) continue;
      const float w = stage >= 2 ? expf(x - max_x) : 0.f;
      if (stage >= 3 && top_p.on) {
        if (key < top_p.key) continue;
        if (key == top_p.key && eq_p++ >= top_p.take_eq) continue;
      }
      f(i, x, key, w);
    }
  }
};

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* x, int n_cols, const SampleSpec* specs, int32_t* ids) {
  TURBINE_SHARED(int, red_i, [kWarps]);
  TURBINE_SHARED(double, red_d, [kWarps]);
  TURBINE_SHARED(unsigned long long, red_u, [kWarps]);
  const SampleSpec sp = specs[blockIdx.x];
  const int chunk = (n_cols + kThreads - 1) / kThreads;
  RowChunk rc;
  rc.logits = x + int64_t{blockIdx.x} * n_cols;
  rc.begin = min(n_cols, static_cast<int>(threadIdx.x) * chunk);
  rc.end = min(n_cols, rc.begin + chunk);

  if (!(sp.temperature > 0.f)) {
    // Greedy: the largest logit (NaN never), the lowest id on ties; an all-NaN row is 0.
    unsigned long long best = 0;
    for (int i = rc.begin; i < rc.end; ++i) {
      const float l = rc.logits[i];
      if (l != l) continue;
      const unsigned long long k = (static_cast<unsigned long long>(order_key(l)) << 32) |
                                   (0xffffffffu - static_cast<uint32_t>(i));
      best = k > best ? k : best;
    }
    best = block_largest(best, red_u);
    if (threadIdx.x == 0)
      ids[blockIdx.x] = best ? static_cast<int32_t>(0xffffffffu - uint32_t(best)) : 0;
    return;
  }
  rc.inv_t = 1.0f / sp.temperature;

  int n_cand = 0;
  unsigned long long top = 0;
  rc.visit(0, [&](int, float, uint32_t key, float) {
    ++n_cand;
    top = key > top ? key : top;
  });
  n_cand = block_sum(n_cand, red_i);
  if (n_cand == 0) {
    if (threadIdx.x == 0) ids[blockIdx.x] = 0;
    return;
  }
  const uint32_t top_key = static_cast<uint32_t>(block_largest(top, red_u));
  rc.max_x = key_value(top_key);

  // The largest key v whose stage-`stage` count (or weight) at keys >= v reaches `want`.
  auto search = [&](int stage, auto want, auto measure) {
    uint32_t lo = 0, hi = top_key;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo + 1) / 2;
      if (measure(stage, mid) >= want)
        lo = mid;
      else
        hi = mid - 1;
    }
    return lo;
  };
  auto count_at_least = [&](int stage, uint32_t v) {
    int c = 0;
    rc.visit(stage, [&](int, float, uint32_t key, float) { c += key >= v; });
    return block_sum(c, red_i);
  };
  auto weight_at_least = [&](int stage, uint32_t v) {
    double s = 0;
    rc.visit(stage, [&](int, float, uint32_t key, float w) { s += key >= v ? double(w) : 0.0; });
    return block_sum(s, red_d);
  };
  // Ties at a cut: how many of them lie in earlier chunks.
  auto ties_before = [&](int stage, uint32_t v) {
    int c = 0;
    rc.visit(stage, [&](int, float, uint32_t key, float) { c += key == v; });
    return block_exclusive_scan(c, red_i);
  };

  if (sp.top_k > 0 && sp.top_k < n_cand) {
    const uint32_t v = search(0, sp.top_k, count_at_least);
    const int above = v == top_key ? 0 : count_at_least(0, v + 1);
    rc.top_k.eq_before = ties_before(0, v);
    rc.top_k.key = v;
    rc.top_k.take_eq = sp.top_k - above;
    rc.top_k.on = true;
  }
  if (sp.min_p_on) {
    rc.min_p_on = true;
    rc.cut_x = rc.max_x + sp.log_min_p;
  }
  if (sp.top_p < 1.0f) {
    const double total = weight_at_least(2, 0);
    const double want = sp.top_p * total;
    const uint32_t v = search(2, want, weight_at_least);
    const double above = v == top_key ? 0.0 : weight_at_least(2, v + 1);
    // Ties all weigh the same: take them in id order until the weight reaches `want`.
    const double w_tie = double(expf(key_value(v) - rc.max_x));
    const int n_ties = count_at_least(2, v) - (v == top_key ? 0 : count_at_least(2, v + 1));
    int take = 0;
    for (double acc = above; take < n_ties && acc < want; ++take) acc += w_tie;
    rc.top_p.eq_before = ties_before(2, v);
    rc.top_p.key = v;
    rc.top_p.take_eq = max(take, 1);
    rc.top_p.on = true;
  }

  // The draw: u times the kept weight, walked in id order.
  double mine = 0;
  int last = -1;
  rc.visit(3, [&](int i, float, uint32_t, float w) {
    mine += w;
    last = i;
  });
  const double before = block_exclusive_scan(mine, red_d);
  const double total = block_sum(mine, red_d);
  const double target = sp.u * total;
  int pick = -1;
  if (mine > 0 && target >= before && target < before + mine) {
    double t = target - before;
    rc.visit(3, [&](int i, float, uint32_t, float w) {
      if (pick >= 0) return;
      t -= w;
      if (t < 0) pick = i;
    });
  }
  // The lowest pick if the scan's rounding let two chunks claim the target; the last kept
  // token if it let none.
  const unsigned long long first =
      block_largest(pick >= 0 ? 0xffffffffull - static_cast<uint32_t>(pick) : 0ull, red_u);
  const unsigned long long last_kept =
      block_largest(static_cast<unsigned long long>(last + 1), red_u);
  if (threadIdx.x == 0)
    ids[blockIdx.x] =
        first ? static_cast<int32_t>(0xffffffffull - first) : static_cast<int32_t>(last_kept) - 1;
}

}  // namespace

void sample(cudaStream_t s, const float* x, int n_rows, int n_cols, const SampleSpec* specs,
            int32_t* ids) {
  if (n_rows == 0) return;
  launch(sample_kernel, n_rows, kThreads, 0, s)(x, n_cols, specs, ids);
  TURBINE_CUDA_LAUNCHED();
}

}  // namespace turbine::cuda
