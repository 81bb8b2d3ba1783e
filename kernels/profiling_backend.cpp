#include "kernels/profiling_backend.h"

#include <algorithm>
#include <chrono>

namespace turbine {

template <class F>
void ProfilingBackend::timed(const std::string& op, double bytes, F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  inner_->synchronize();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  OpProfile& p = ops_[op];
  p.op = op;
  ++p.calls;
  p.seconds += s;
  p.bytes += bytes;
}

std::vector<OpProfile> ProfilingBackend::report() const {
  std::vector<OpProfile> out;
  for (const auto& [_, p] : ops_) out.push_back(p);
  std::sort(out.begin(), out.end(),
            [](const OpProfile& a, const OpProfile& b) { return a.seconds > b.seconds; });
  return out;
}

namespace {
std::string shape(const char* op, const Matrix& w) {
  return std::string(op) + " " + std::to_string(w.rows) + "x" + std::to_string(w.cols) + " " +
         std::string(dtype_name(w.type));
}
}  // namespace

void ProfilingBackend::matmul(const Matrix& w, const float* x, int n_tokens, float* y) {
  timed(shape("matmul", w), double(w.rows) * double(w.row_stride),
        [&] { inner_->matmul(w, x, n_tokens, y); });
}

void ProfilingBackend::matmul_multi(const Matrix* ws, int n, const float* x, int n_tokens,
                                    float* const* ys) {
  std::string op = "matmul";
  double bytes = 0;
  for (int i = 0; i < n; ++i) {
    op += (i ? " + " : " ") + std::to_string(ws[i].rows) + "x" + std::to_string(ws[i].cols) + " " +
          std::string(dtype_name(ws[i].type));
    bytes += double(ws[i].rows) * double(ws[i].row_stride);
  }
  timed(op, bytes, [&] { inner_->matmul_multi(ws, n, x, n_tokens, ys); });
}

void ProfilingBackend::get_rows(const Matrix& w, const int32_t* ids, int n, float* out) {
  timed("get_rows", double(n) * double(w.row_stride), [&] { inner_->get_rows(w, ids, n, out); });
}

void ProfilingBackend::rms_norm(const float* x, const float* weight, int n_tokens, int dim,
                                float eps, float* out) {
  timed("rms_norm", 0, [&] { inner_->rms_norm(x, weight, n_tokens, dim, eps, out); });
}

void ProfilingBackend::rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
                            const int32_t* positions, float theta, RopeStyle style,
                            const RopeScaling& scaling) {
  timed("rope", 0, [&] {
    inner_->rope(x, n_tokens, n_heads, head_dim, rot_dim, positions, theta, style, scaling);
  });
}

void ProfilingBackend::swiglu(const float* gate, const float* up, int64_t n, float* out) {
  timed("swiglu", 0, [&] { inner_->swiglu(gate, up, n, out); });
}

void ProfilingBackend::add(float* x, const float* y, int64_t n) {
  timed("add", 0, [&] { inner_->add(x, y, n); });
}

void ProfilingBackend::add_bias(float* x, const float* bias, int n_rows, int dim) {
  timed("add_bias", 0, [&] { inner_->add_bias(x, bias, n_rows, dim); });
}

void ProfilingBackend::scale(float* x, float s, int64_t n) {
  timed("scale", 0, [&] { inner_->scale(x, s, n); });
}

void ProfilingBackend::geglu(const float* gate, const float* up, int64_t n, float* out) {
  timed("geglu", 0, [&] { inner_->geglu(gate, up, n, out); });
}

void ProfilingBackend::kv_store(const KvGeometry& g, const KvLayer& layer, const float* k,
                                const float* v, const int32_t* slots, int n_tokens) {
  timed("kv_store", 0, [&] { inner_->kv_store(g, layer, k, v, slots, n_tokens); });
}

void ProfilingBackend::attention(const KvGeometry& g, const KvLayer& layer,
                                 const AttentionBatch& b, const AttentionParams& p,
                                 const float* q, float* out) {
  timed("attention", 0, [&] { inner_->attention(g, layer, b, p, q, out); });
}

void ProfilingBackend::add_rms_norm(float* x, const float* y, const float* weight, int n_tokens,
                                    int dim, float eps, float* out) {
  timed("add_rms_norm", 0, [&] { inner_->add_rms_norm(x, y, weight, n_tokens, dim, eps, out); });
}

void ProfilingBackend::argmax(const float* x, int n_rows, int n_cols, int32_t* ids) {
  timed("argmax", 0, [&] { inner_->argmax(x, n_rows, n_cols, ids); });
}

void ProfilingBackend::sample(const float* x, int n_rows, int n_cols, const SampleSpec* specs,
                              int32_t* ids) {
  timed("sample", 0, [&] { inner_->sample(x, n_rows, n_cols, specs, ids); });
}

}  // namespace turbine
