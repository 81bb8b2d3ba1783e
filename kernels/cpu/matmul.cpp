// The hot path of CPU decode. A 135M model's step is ~200 matvecs of a few hundred KB
// each, so what matters is (1) reading each weight byte once per step, (2) doing as little
// work per byte as possible (int8 dots against activations quantized once per call), and
// (3) splitting rows over the pool with one cheap barrier per op.
#include <algorithm>

#include "engine/result.h"
#include "kernels/cpu/cpu_ops.h"

namespace turbine::cpu {

namespace {

// Tokens per tile: the tile's quantized activations (~1.1 bytes per element) stay in L2
// while a chunk of weight rows streams past them.
constexpr int kTokenTile = 32;
// Fewer rows than this per task and the task hand-out (one contended atomic) costs more
// than the work.
constexpr int64_t kMinRowsPerTask = 16;

}  // namespace

void matmul(ThreadPool& pool, const KernelTable& k, std::vector<uint8_t>& scratch, const Matrix& w,
            const float* x, int n_tokens, float* y) {
  VecDotFn dot = k.dot_for(w.type);
  VecDot4Fn dot4 = k.dot4_for(w.type);
  TURBINE_CHECK(dot != nullptr);
  TURBINE_CHECK(w.row_stride >= row_bytes(w.type, w.cols));
  const int64_t cols = w.cols, rows = w.rows;
  const DType at = act_type(w.type);

  const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
  size_t act_stride = sizeof(float) * cols;
  if (at != DType::kF32) {
    act_stride = row_bytes(at, cols);
    if (scratch.size() < act_stride * n_tokens) scratch.resize(act_stride * n_tokens);
    QuantizeFn quant = at == DType::kQ8_1 ? k.quantize_q8_1 : k.quantize_q8_k;
    uint8_t* dst = scratch.data();
    auto quant_token = [&](int64_t t) { quant(x + t * cols, dst + t * act_stride, cols); };
    if (n_tokens >= 8) {
      pool.parallel_for(n_tokens, quant_token);
    } else {
      for (int t = 0; t < n_tokens; ++t) quant_token(t);
    }
    act = scratch.data();
  }

  // About two tasks per thread: enough slack for a thread that starts late, few enough
  // hand-outs. Rows are the outer split so no two threads ever read the same weights.
  int64_t per_task = std::max(kMinRowsPerTask, (rows + 2 * pool.size() - 1) / (2 * pool.size()));
  per_task = (per_task + 3) & ~int64_t{3};
  int64_t n_tasks = (rows + per_task - 1) / per_task;
  const auto* wdata = static_cast<const uint8_t*>(w.data);
  const size_t wstride = w.row_stride;
  pool.parallel_for(n_tasks, [&](int64_t task) {
    int64_t r0 = task * per_task, r1 = std::min(rows, r0 + per_task);
    // Token loop inside the row loop: a row (a few hundred bytes) is fetched from memory
    // once and then sits in L1 for every token of the tile, so a batch of B decode tokens
    // costs one pass over the weights, not B.
    for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
      int t1 = std::min(n_tokens, t0 + kTokenTile);
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* wr = wdata + r * wstride;
        int t = t0;
        if (dot4)
          for (; t + 4 <= t1; t += 4) dot4(cols, wr, act + t * act_stride, act_stride, y + t * rows + r, rows);
        for (; t < t1; ++t) y[t * rows + r] = dot(cols, wr, act + t * act_stride);
      }
    }
  });
}

}  // namespace turbine::cpu
