// The hot path of CPU decode. A 135M model's step is ~200 matvecs of a few hundred KB
// each, so what matters is (1) reading each weight byte once per step, (2) doing as little
// work per byte as possible (int8 dots against activations quantized once per call), and
// (3) splitting rows over the pool with one cheap barrier per op.
#include <algorithm>
#include <cstring>

#include "base/result.h"
#include "kernels/cpu/cpu_ops.h"

namespace turbine::cpu {

namespace {

// Tokens per tile: the tile's quantized activations (~1.1 bytes per element) stay in L2
// while a chunk of weight rows streams past them.
constexpr int kTokenTile = 32;
// Fewer rows than this per task and the task hand-out (one contended atomic) costs more
// than the work.
constexpr int64_t kMinRowsPerTask = 16;

// x's n_tokens rows in the activation type `at` (the weights' dot input): x itself for f32,
// else quantized into scratch. *stride gets the bytes per token row.
const uint8_t* quantize_activations(ThreadPool& pool, const KernelTable& k,
                                    std::vector<uint8_t>& scratch, DType at, const float* x,
                                    int64_t cols, int n_tokens, size_t* stride) {
  if (at == DType::kF32) {
    *stride = sizeof(float) * cols;
    return reinterpret_cast<const uint8_t*>(x);
  }
  const size_t act_stride = row_bytes(at, cols);
  *stride = act_stride;
  if (scratch.size() < act_stride * n_tokens) scratch.resize(act_stride * n_tokens);
  QuantizeFn quant = at == DType::kQ8_1 ? k.quantize_q8_1 : k.quantize_q8_k;
  uint8_t* dst = scratch.data();
  auto quant_token = [&](int64_t t) { quant(x + t * cols, dst + t * act_stride, cols); };
  if (n_tokens >= 8) {
    pool.parallel_for(n_tokens, quant_token);
  } else {
    for (int t = 0; t < n_tokens; ++t) quant_token(t);
  }
  return scratch.data();
}

// y[t][r] for rows r0..r1 of one matrix (rows `rows` in y's layout [t][rows]). Token loop
// inside the row loop: a row (a few hundred bytes) is fetched from memory once and then sits
// in L1 for every token of the tile, so a batch of B decode tokens costs one pass over the
// weights, not B.
void dot_rows(VecDotFn dot, VecDot4Fn dot4, int64_t cols, const uint8_t* wdata, size_t wstride,
              int64_t r0, int64_t r1, const uint8_t* act, size_t act_stride, int n_tokens,
              float* y, int64_t rows) {
  for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
    const int t1 = std::min(n_tokens, t0 + kTokenTile);
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* wr = wdata + r * wstride;
      int t = t0;
      if (dot4)
        for (; t + 4 <= t1; t += 4) dot4(cols, wr, act + t * act_stride, act_stride, y + t * rows + r, rows);
      for (; t < t1; ++t) y[t * rows + r] = dot(cols, wr, act + t * act_stride);
    }
  }
}

}  // namespace

void pack_tile(const void* a, size_t astride, int ntok, int64_t n, bool offset_codes, void* dst) {
  const int64_t nb = n / kQK;
  const int np = (ntok + 1) / 2;
  const size_t bstride = tile_block_bytes(ntok);
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t i = 0; i < nb; ++i, out += bstride) {
    float ds[2 * kTileTokens] = {};
    for (int t = 0; t < 2 * np; ++t) {
      uint8_t* q = out + 32 * t;
      if (t >= ntok) {
        std::memset(q, 0, 32);
        continue;
      }
      const auto& b = reinterpret_cast<const BlockQ8_1*>(static_cast<const uint8_t*>(a) + t * astride)[i];
      if (offset_codes) {
        for (int j = 0; j < kQK; ++j) q[j] = static_cast<uint8_t>(b.qs[j]) ^ 0x80;
      } else {
        std::memcpy(q, b.qs, kQK);
      }
      ds[t] = b.d;
      ds[kTileTokens + t] = b.s;
    }
    std::memcpy(out + 64 * np, ds, sizeof(ds));
  }
}

void matmul(ThreadPool& pool, const KernelTable& k, std::vector<uint8_t>& scratch, const Matrix& w,
            const float* x, int n_tokens, float* y) {
  VecDotFn dot = k.dot_for(w.type);
  VecDot4Fn dot4 = k.dot4_for(w.type);
  TURBINE_CHECK(dot != nullptr);
  TURBINE_CHECK(w.row_stride >= row_bytes(w.type, w.cols));
  const int64_t cols = w.cols, rows = w.rows;
  const DType at = act_type(w.type);

  size_t act_stride = 0;
  const uint8_t* act = quantize_activations(pool, k, scratch, at, x, cols, n_tokens, &act_stride);

  // About two tasks per thread: enough slack for a thread that starts late, few enough
  // hand-outs. Rows are the outer split so no two threads ever read the same weights.
  int64_t per_task = std::max(kMinRowsPerTask, (rows + 2 * pool.size() - 1) / (2 * pool.size()));
  per_task = (per_task + 3) & ~int64_t{3};
  int64_t n_tasks = (rows + per_task - 1) / per_task;
  const auto* wdata = static_cast<const uint8_t*>(w.data);
  const size_t wstride = w.row_stride;

  TileFn tile = k.tile_for(w.type);
  if (tile != nullptr && n_tokens >= 2) {
    // Groups of kTileTokens tokens repacked block by block (cpu_kernels.h); each task runs
    // its rows against one group at a time, the group's activations staying in L1 while
    // the task's rows (re-read once per group) stay in L2.
    const int n_groups = (n_tokens + kTileTokens - 1) / kTileTokens;
    const size_t group_bytes = size_t(cols / kQK) * tile_block_bytes(kTileTokens);
    const size_t act_bytes = (act_stride * n_tokens + 63) & ~size_t{63};
    const size_t need = act_bytes + group_bytes * n_groups + 64;
    if (scratch.size() < need) {
      scratch.resize(need);
      // Growing moved the quantized rows; quantize again (rare: first calls only).
      return matmul(pool, k, scratch, w, x, n_tokens, y);
    }
    uint8_t* packed = scratch.data() + act_bytes;
    packed += (64 - reinterpret_cast<uintptr_t>(packed) % 64) % 64;
    const bool offset = w.type == DType::kQ8_0;
    auto pack_group = [&](int64_t g) {
      const int t0 = int(g) * kTileTokens, cnt = std::min(kTileTokens, n_tokens - t0);
      pack_tile(act + t0 * act_stride, act_stride, cnt, cols, offset, packed + g * group_bytes);
    };
    if (n_groups >= 2) {
      pool.parallel_for(n_groups, pack_group);
    } else {
      pack_group(0);
    }
    pool.parallel_for(n_tasks, [&](int64_t task) {
      const int64_t r0 = task * per_task, r1 = std::min(rows, r0 + per_task);
      for (int g = 0; g < n_groups; ++g) {
        const int t0 = g * kTileTokens, cnt = std::min(kTileTokens, n_tokens - t0);
        tile(cols, wdata + r0 * wstride, wstride, r1 - r0, packed + g * group_bytes, cnt,
             y + size_t(t0) * rows + r0, rows);
      }
    });
    return;
  }

  pool.parallel_for(n_tasks, [&](int64_t task) {
    const int64_t r0 = task * per_task;
    dot_rows(dot, dot4, cols, wdata, wstride, r0, std::min(rows, r0 + per_task), act, act_stride,
             n_tokens, y, rows);
  });
}

void matmul_multi(ThreadPool& pool, const KernelTable& k, std::vector<uint8_t>& scratch,
                  const Matrix* ws, int n, const float* x, int n_tokens, float* const* ys) {
  bool fuse = n > 1;
  for (int i = 0; i < n && fuse; ++i) {
    fuse = ws[i].cols == ws[0].cols && act_type(ws[i].type) == act_type(ws[0].type) &&
           k.dot_for(ws[i].type) != nullptr &&
           !(k.tile_for(ws[i].type) != nullptr && n_tokens >= 2);
  }
  if (!fuse) {
    for (int i = 0; i < n; ++i) matmul(pool, k, scratch, ws[i], x, n_tokens, ys[i]);
    return;
  }
  const int64_t cols = ws[0].cols;
  size_t act_stride = 0;
  const uint8_t* act =
      quantize_activations(pool, k, scratch, act_type(ws[0].type), x, cols, n_tokens, &act_stride);
  // One split over every matrix's rows, tasks sized as matmul sizes them for the total.
  int64_t total = 0;
  for (int i = 0; i < n; ++i) total += ws[i].rows;
  int64_t per_task = std::max(kMinRowsPerTask, (total + 2 * pool.size() - 1) / (2 * pool.size()));
  per_task = (per_task + 3) & ~int64_t{3};
  struct Task {
    int m;
    int64_t r0, r1;
  };
  // Reused, so a decode step allocates nothing; the workers see the caller's list through
  // the reference (a thread_local named inside the lambda would be each worker's own).
  thread_local std::vector<Task> task_list;
  std::vector<Task>& tasks = task_list;
  tasks.clear();
  for (int i = 0; i < n; ++i) {
    TURBINE_CHECK(ws[i].row_stride >= row_bytes(ws[i].type, ws[i].cols));
    for (int64_t r0 = 0; r0 < ws[i].rows; r0 += per_task)
      tasks.push_back({i, r0, std::min(ws[i].rows, r0 + per_task)});
  }
  pool.parallel_for(int64_t(tasks.size()), [&](int64_t ti) {
    const Task& t = tasks[ti];
    const Matrix& w = ws[t.m];
    dot_rows(k.dot_for(w.type), k.dot4_for(w.type), cols, static_cast<const uint8_t*>(w.data),
             w.row_stride, t.r0, t.r1, act, act_stride, n_tokens, ys[t.m], w.rows);
  });
}

}  // namespace turbine::cpu
