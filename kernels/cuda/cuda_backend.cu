// The CUDA implementation of Backend: device memory (every allocation counted, so the
// engine reports its own use), one stream that every op is queued on, cuBLAS for the
// prefill GEMM, and scratch buffers that grow on demand and are reused, so a decode step
// allocates nothing. Ops do not synchronize; download() and argmax() do (their results
// are read by the host), so a decode step costs the host one wait.
#include <cublas_v2.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <cstring>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"

#define TURBINE_CUBLAS_CHECK(expr)                                                      \
  do {                                                                                  \
    cublasStatus_t st_ = (expr);                                                        \
    if (st_ != CUBLAS_STATUS_SUCCESS) {                                                 \
      std::fprintf(stderr, "%s:%d: cuBLAS error %d (%s)\n", __FILE__, __LINE__,        \
                   static_cast<int>(st_), #expr);                                       \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace turbine {

namespace {

// cudaMalloc rounds to its own granularity anyway; rounding the size we ask for to 256
// bytes makes the GEMV's aligned over-read of a row's last 16-byte vector legal memory for
// compute-sanitizer too.
size_t round_alloc(size_t bytes) { return std::max<size_t>(256, (bytes + 255) & ~size_t{255}); }

void* device_alloc(size_t bytes, std::atomic<size_t>& counter) {
  void* p = nullptr;
  cudaError_t err = cudaMalloc(&p, round_alloc(bytes));
  if (err != cudaSuccess) {
    size_t free_b = 0, total_b = 0;
    cudaGetLastError();
    cudaMemGetInfo(&free_b, &total_b);
    std::fprintf(stderr,
                 "error: out of GPU memory allocating %zu MiB (%zu MiB free of %zu MiB): use a "
                 "smaller model or quantization, a lower --kv-cache-fraction, or --device cpu\n",
                 bytes >> 20, free_b >> 20, total_b >> 20);
    std::exit(1);
  }
  counter += round_alloc(bytes);
  return p;
}

class DeviceBuffer final : public Buffer {
 public:
  DeviceBuffer(size_t bytes, std::atomic<size_t>& counter)
      : size_(bytes), counter_(counter), data_(device_alloc(bytes, counter)) {}
  ~DeviceBuffer() override {
    cudaFree(data_);
    counter_ -= round_alloc(size_);
  }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  size_t size_;
  std::atomic<size_t>& counter_;
  void* data_;
};

// Grow-only scratch. Growing waits for the stream: the old block may still be read.
class Scratch {
 public:
  void* get(size_t bytes, cudaStream_t s, std::atomic<size_t>& counter) {
    if (bytes > size_) {
      if (p_) {
        TURBINE_CUDA_CHECK(cudaStreamSynchronize(s));
        cudaFree(p_);
        counter -= round_alloc(size_);
      }
      size_ = std::max(bytes, size_ + size_ / 2);
      p_ = device_alloc(size_, counter);
    }
    return p_;
  }
  size_t size() const { return size_; }
  void release(std::atomic<size_t>& counter) {
    if (p_) cudaFree(p_), counter -= round_alloc(size_);
    p_ = nullptr, size_ = 0;
  }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    TURBINE_CUDA_CHECK(cudaSetDevice(device));
    TURBINE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    TURBINE_CUDA_CHECK(cudaDeviceGetAttribute(&num_sms_, cudaDevAttrMultiProcessorCount, device));
    TURBINE_CUBLAS_CHECK(cublasCreate(&cublas_));
    TURBINE_CUBLAS_CHECK(cublasSetStream(cublas_, stream_));
    TURBINE_CUDA_CHECK(cudaMallocHost(&ids_host_, kMaxIds * sizeof(int32_t)));
    TURBINE_CUDA_CHECK(cudaMallocHost(reinterpret_cast<void**>(&specs_host_), kMaxIds * sizeof(SampleSpec)));
    const char* g = std::getenv("TURBINE_CUDA_GRAPHS");
    graphs_enabled_ = !(g && std::string(g) == "0");
  }
  ~CudaBackend() override {
    bind();
    cudaStreamSynchronize(stream_);
    drop_graphs();
    for (Scratch* s : {&act_, &wh_, &xh_, &attn_ws_, &ids_dev_, &specs_dev_}) s->release(allocated_);
    cudaFreeHost(ids_host_);
    cudaFreeHost(specs_host_);
    cublasDestroy(cublas_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }

  std::unique_ptr<Buffer> alloc(size_t bytes) override {
    bind();
    return std::make_unique<DeviceBuffer>(bytes, allocated_);
  }
  void upload(void* dst, const void* src, size_t bytes) override {
    bind();
    if (!bytes) return;
    // The source may be freed (or be a page of the model mapping) right after we return.
    TURBINE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    TURBINE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void download(void* dst, const void* src, size_t bytes) override {
    bind();
    if (!bytes) return;
    TURBINE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    TURBINE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void synchronize() override {
    bind();
    TURBINE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }

  bool memory_info(MemoryInfo* info) override {
    bind();
    TURBINE_CUDA_CHECK(cudaMemGetInfo(&info->free, &info->total));
    info->allocated = allocated_.load();
    return true;
  }

  void matmul(const Matrix& w, const float* x, int n_tokens, float* y) override {
    bind();
    TURBINE_CHECK(backend_supports(BackendKind::kCuda, w.type));
    if (n_tokens <= 0) return;
    const bool quantized = cuda::is_quantized(w.type);
    if (quantized && n_tokens <= cuda::kQuantGemvMaxTokens) {
      void* act = scratch(act_, cuda::act_q8_bytes(n_tokens, w.cols));
      cuda::quantize_act_q8(stream_, x, n_tokens, w.cols, act);
      cuda::gemv(stream_, w, x, act, n_tokens, y);
      return;
    }
    if (!quantized && n_tokens <= cuda::kGemvMaxTokens) {
      cuda::gemv(stream_, w, x, nullptr, n_tokens, y);
      return;
    }
    gemm(w, x, n_tokens, y);
  }

  void get_rows(const Matrix& w, const int32_t* ids, int n, float* out) override {
    bind();
    TURBINE_CHECK(backend_supports(BackendKind::kCuda, w.type));
    cuda::get_rows(stream_, w, ids, n, out);
  }

  void rms_norm(const float* x, const float* weight, int n_tokens, int dim, float eps,
                float* out) override {
    bind();
    cuda::rms_norm(stream_, const_cast<float*>(x), nullptr, weight, n_tokens, dim, eps, out);
  }

  void add_rms_norm(float* x, const float* y, const float* weight, int n_tokens, int dim,
                    float eps, float* out) override {
    bind();
    cuda::rms_norm(stream_, x, y, weight, n_tokens, dim, eps, out);
  }

  void rope(float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
            const int32_t* positions, float theta, RopeStyle style,
            const RopeScaling& scaling) override {
    bind();
    TURBINE_CHECK(rot_dim % 2 == 0 && rot_dim <= head_dim);
    cuda::rope(stream_, x, n_tokens, n_heads, head_dim, rot_dim, positions, theta, style, scaling);
  }

  void swiglu(const float* gate, const float* up, int64_t n, float* out) override {
    bind();
    cuda::swiglu(stream_, gate, up, n, out);
  }

  void add(float* x, const float* y, int64_t n) override {
    bind();
    cuda::add(stream_, x, y, n);
  }

  void add_bias(float* x, const float* bias, int n_rows, int dim) override {
    bind();
    cuda::add_bias(stream_, x, bias, n_rows, dim);
  }

  void scale(float* x, float s, int64_t n) override {
    bind();
    cuda::scale(stream_, x, s, n);
  }

  void geglu(const float* gate, const float* up, int64_t n, float* out) override {
    bind();
    cuda::geglu(stream_, gate, up, n, out);
  }

  void kv_store(const KvGeometry& g, const KvLayer& layer, const float* k, const float* v,
                const int32_t* slots, int n_tokens) override {
    bind();
    cuda::kv_store(stream_, g, layer, k, v, slots, n_tokens);
  }

  void attention(const KvGeometry& g, const KvLayer& layer, const AttentionBatch& b,
                 const AttentionParams& p, const float* q, float* out) override {
    bind();
    if (b.n_tokens <= 0) return;  // attention_splits divides by the token count
    const int splits = cuda::attention_splits(num_sms_, b, p, g.block_size);
    const size_t ws = cuda::attention_workspace_floats(b.n_tokens, p, splits);
    float* w = ws ? static_cast<float*>(scratch(attn_ws_, ws * sizeof(float))) : nullptr;
    cuda::attention(stream_, splits, g, layer, b, p, q, out, w);
  }

  void argmax(const float* x, int n_rows, int n_cols, int32_t* ids) override {
    bind();
    for (int r0 = 0; r0 < n_rows; r0 += kMaxIds) {
      const int n = std::min(kMaxIds, n_rows - r0);
      auto* d = static_cast<int32_t*>(scratch(ids_dev_, kMaxIds * sizeof(int32_t)));
      cuda::argmax(stream_, x + int64_t{r0} * n_cols, n, n_cols, d);
      TURBINE_CUDA_CHECK(cudaMemcpyAsync(ids_host_, d, n * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
      TURBINE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      std::memcpy(ids + r0, ids_host_, n * sizeof(int32_t));
    }
  }

  void sample(const float* x, int n_rows, int n_cols, const SampleSpec* specs, int32_t* ids) override {
    bind();
    static_assert(std::is_trivially_copyable_v<SampleSpec>);
    for (int r0 = 0; r0 < n_rows; r0 += kMaxIds) {
      const int n = std::min(kMaxIds, n_rows - r0);
      auto* d = static_cast<int32_t*>(scratch(ids_dev_, kMaxIds * sizeof(int32_t)));
      auto* sd = static_cast<SampleSpec*>(scratch(specs_dev_, kMaxIds * sizeof(SampleSpec)));
      // Staged through pinned memory; the wait below keeps the staging alive until copied.
      std::memcpy(specs_host_, specs + r0, n * sizeof(SampleSpec));
      TURBINE_CUDA_CHECK(cudaMemcpyAsync(sd, specs_host_, n * sizeof(SampleSpec), cudaMemcpyHostToDevice, stream_));
      cuda::sample(stream_, x + int64_t{r0} * n_cols, n, n_cols, sd, d);
      TURBINE_CUDA_CHECK(cudaMemcpyAsync(ids_host_, d, n * sizeof(int32_t), cudaMemcpyDeviceToHost, stream_));
      TURBINE_CUDA_CHECK(cudaStreamSynchronize(stream_));
      std::memcpy(ids + r0, ids_host_, n * sizeof(int32_t));
    }
  }

  // A step's ops as a CUDA graph: the first call with a key runs them as usual (sizing
  // every scratch buffer for that shape), the second records and launches them, later ones
  // launch the recording. Steps that reach cuBLAS run as usual (its workspace is not ours
  // to pin). TURBINE_CUDA_GRAPHS=0 turns recording off.
  void run_graph(uint64_t key, const std::function<void()>& ops) override {
    bind();
    if (!graphs_enabled_) return ops();
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      if (graphs_.size() >= kMaxGraphs) drop_graphs();
      used_cublas_ = false;
      ops();
      graphs_[key].uncapturable = used_cublas_;
      return;
    }
    Graph& g = it->second;
    if (g.uncapturable) return ops();
    if (!g.exec) {
      TURBINE_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
      capturing_ = true;
      ops();
      capturing_ = false;
      cudaGraph_t graph = nullptr;
      TURBINE_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
      TURBINE_CUDA_CHECK(cudaGraphInstantiate(&g.exec, graph, 0));
      TURBINE_CUDA_CHECK(cudaGraphDestroy(graph));
      ++stats_.captures;
    } else {
      ++stats_.replays;
    }
    TURBINE_CUDA_CHECK(cudaGraphLaunch(g.exec, stream_));
  }

  void drop_graphs() override {
    TURBINE_CHECK(!capturing_);
    for (auto& [key, g] : graphs_)
      if (g.exec) cudaGraphExecDestroy(g.exec);
    graphs_.clear();
  }

  CudaGraphStats graph_stats() const { return stats_; }

  void softmax(const float* x, int n_rows, int n_cols, float temperature, float* out) {
    bind();
    cuda::softmax(stream_, x, n_rows, n_cols, temperature, out);
  }

 private:
  static constexpr int kMaxIds = 4096;
  static constexpr size_t kMaxGraphs = 256;

  struct Graph {
    cudaGraphExec_t exec = nullptr;
    bool uncapturable = false;
  };

  // A scratch buffer of at least `bytes`. Growing frees the old block, which recorded
  // graphs may point into: they are dropped (growth never happens while recording: the
  // first, unrecorded run of a shape has sized everything it needs).
  void* scratch(Scratch& s, size_t bytes) {
    if (bytes > s.size()) {
      TURBINE_CHECK(!capturing_);
      drop_graphs();
    }
    return s.get(bytes, stream_, allocated_);
  }

  // The current device is per host thread: the engine loop, the metrics scrape and the
  // constructor may be different threads, so every entry point binds this backend's device
  // (once per thread; a thread that switched devices in between is rebound).
  void bind() const {
    thread_local int bound = -1;
    int cur = -1;
    if (bound == device_ && cudaGetDevice(&cur) == cudaSuccess && cur == device_) return;
    TURBINE_CUDA_CHECK(cudaSetDevice(device_));
    bound = device_;
  }

  // Prefill and large batches: tensor-core GEMM in F16 (BF16 weights in BF16: their range
  // does not fit F16), F32 accumulation and output. Quantized weights are dequantized to a
  // scratch matrix first: an extra pass over the weights, small next to the GEMM's work
  // at the batch sizes that come here.
  void gemm(const Matrix& w, const float* x, int n_tokens, float* y) {
    used_cublas_ = true;
    const bool bf16 = w.type == DType::kBF16;
    const void* a = w.data;
    int lda = static_cast<int>(w.row_stride / 2);
    if (w.type != DType::kF16 && !bf16) {
      auto* wh = static_cast<uint16_t*>(scratch(wh_, size_t(w.rows) * w.cols * 2));
      cuda::dequantize_f16(stream_, w, wh);
      a = wh;
      lda = static_cast<int>(w.cols);
    }
    auto* xh = static_cast<uint16_t*>(scratch(xh_, size_t(n_tokens) * w.cols * 2));
    cuda::to_half(stream_, x, int64_t{n_tokens} * w.cols, xh, bf16);
    const cudaDataType t = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const float alpha = 1.f, beta = 0.f;
    // Row-major W [rows][cols] is column-major W^T; y^T (rows x n) = W x^T.
    TURBINE_CUBLAS_CHECK(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows),
                                      n_tokens, static_cast<int>(w.cols), &alpha, a, t, lda, xh, t,
                                      static_cast<int>(w.cols), &beta, y, CUDA_R_32F,
                                      static_cast<int>(w.rows), CUBLAS_COMPUTE_32F,
                                      CUBLAS_GEMM_DEFAULT));
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  int num_sms_ = 1;
  std::atomic<size_t> allocated_{0};
  Scratch act_, wh_, xh_, attn_ws_, ids_dev_, specs_dev_;
  int32_t* ids_host_ = nullptr;
  SampleSpec* specs_host_ = nullptr;
  bool graphs_enabled_ = true, capturing_ = false, used_cublas_ = false;
  std::unordered_map<uint64_t, Graph> graphs_;
  CudaGraphStats stats_;
};

}  // namespace

bool cuda_available(std::string* why) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  auto fail = [&](std::string msg) {
    if (why) *why = std::move(msg);
    return false;
  };
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return fail(std::string("no CUDA device: ") + cudaGetErrorString(err));
  }
  if (n == 0) return fail("no CUDA device");
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return fail("cannot query CUDA device 0");
  if (prop.major < 8)
    return fail(std::string(prop.name) + " has compute capability " + std::to_string(prop.major) +
                "." + std::to_string(prop.minor) + "; this build needs 8.0 or newer");
  return true;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
  return std::make_unique<CudaBackend>(device);
}

std::string cuda_device_description(int device) {
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return "unknown CUDA device";
  char mem[64];
  std::snprintf(mem, sizeof mem, "%.0f GiB", prop.totalGlobalMem / double(1ull << 30));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) +
         ", " + mem + ")";
}

double cuda_measure_copy_bandwidth(int device) {
  TURBINE_CUDA_CHECK(cudaSetDevice(device));
  const size_t bytes = size_t{1} << 30;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
    cudaGetLastError();
    if (a) cudaFree(a);
    return 0;
  }
  cudaEvent_t e0, e1;
  TURBINE_CUDA_CHECK(cudaEventCreate(&e0));
  TURBINE_CUDA_CHECK(cudaEventCreate(&e1));
  TURBINE_CUDA_CHECK(cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice));  // warm-up
  const int reps = 10;
  TURBINE_CUDA_CHECK(cudaEventRecord(e0));
  for (int i = 0; i < reps; ++i) TURBINE_CUDA_CHECK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice));
  TURBINE_CUDA_CHECK(cudaEventRecord(e1));
  TURBINE_CUDA_CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  TURBINE_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaFree(a);
  cudaFree(b);
  return 2.0 * bytes * reps / (ms / 1e3);
}

CudaGraphStats cuda_graph_stats(Backend& be) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  TURBINE_CHECK(cb != nullptr);
  return cb->graph_stats();
}

void cuda_softmax(Backend& be, const float* x, int n_rows, int n_cols, float temperature,
                  float* out) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  TURBINE_CHECK(cb != nullptr && temperature > 0.f);
  cb->softmax(x, n_rows, n_cols, temperature, out);
}

}  // namespace turbine
