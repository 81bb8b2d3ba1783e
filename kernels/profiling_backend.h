// A Backend that times every op of the backend it wraps (turbine bench --profile): per op
// kind, and per weight shape for matmul, the calls, the seconds and, for matmul and
// get_rows, the weight bytes read, so a table can say where a token's time goes and how
// near each matmul runs to the memory bandwidth. Each op is followed by the inner backend's
// synchronize(), so a device backend's times are the op's own (and graphs are not
// recorded: run_graph runs the ops one by one). Memory calls are forwarded untimed.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/backend.h"

namespace turbine {

struct OpProfile {
  std::string op;  // "attention", "matmul 1536x576 q4_1", ...
  long calls = 0;
  double seconds = 0;
  double bytes = 0;  // weight bytes read (matmul, get_rows); 0 for the others
};

class ProfilingBackend : public Backend {
 public:
  explicit ProfilingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}

  // The ops so far, the slowest first; reset() starts again.
  std::vector<OpProfile> report() const;
  void reset() { ops_.clear(); }

  std::string name() const override { return inner_->name(); }
  std::unique_ptr<Buffer> alloc(size_t bytes) override { return inner_->alloc(bytes); }
  void upload(void* dst, const void* src, size_t bytes) override { inner_->upload(dst, src, bytes); }
  void download(void* dst, const void* src, size_t bytes) override {
    inner_->download(dst, src, bytes);
  }
  void synchronize() override { inner_->synchronize(); }
  bool uses_host_memory() const override { return inner_->uses_host_memory(); }
  bool memory_info(MemoryInfo* info) override { return inner_->memory_info(info); }
  void run_graph(uint64_t, const std::function<void()>& ops) override { ops(); }
  void drop_graphs() override { inner_->drop_graphs(); }

  void matmul(const Matrix& w, const float* x, int n_tokens, float* y) override;
  void matmul_multi(const Matrix* ws, int n, const float* x, int n_tokens, float* const* ys) override;
  void get_rows(const Matrix& w, const int32_t* ids, int n, float* out) override;
  void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps,
                float* out) override;
  void rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
            const int32_t* positions, float theta, RopeStyle style,
            const RopeScaling& scaling) override;
  void swiglu(const float* gate, const float* up, int64_t n, float* out) override;
  void add(float* x, const float* y, int64_t n) override;
  void add_bias(float* x, const float* bias, int n_rows, int dim) override;
  void scale(float* x, float s, int64_t n) override;
  void geglu(const float* gate, const float* up, int64_t n, float* out) override;
  void kv_store(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                const int32_t* slots, int n_tokens) override;
  void attention(const KvGeometry& g, const KvLayer& layer, const AttentionBatch& b,
                 const AttentionParams& p, const float* q, float* out) override;
  void add_rms_norm(float* x, const float* y, const float* weight, int n_tokens, int dim,
                    float eps, float* out) override;
  void argmax(const float* x, int n_rows, int n_cols, int32_t* ids) override;
  void sample(const float* x, int n_rows, int n_cols, const SampleSpec* specs,
              int32_t* ids) override;

 private:
  template <class F>
  void timed(const std::string& op, double bytes, F&& f);

  std::unique_ptr<Backend> inner_;
  std::map<std::string, OpProfile> ops_;
};

}  // namespace turbine
