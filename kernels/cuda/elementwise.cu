// The small ops: embedding lookup, RMSNorm (fused with the residual add), RoPE, SwiGLU,
// add, the KV-cache store, and argmax/softmax over logits. Each is one pass over memory and
// mirrors its CPU twin's arithmetic (same operation order, same angle recurrence for RoPE)
// so the two backends differ only by rounding of sums.
#include <cmath>

#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/kv_quant.h"

namespace turbine::cuda {

namespace {

constexpr int kThreads = 256;

int grid_for(int64_t n) { return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8)); }

__global__ void get_rows_kernel(DType type, const uint8_t* w, size_t stride, int64_t rows,
                                int64_t cols, const int32_t* ids, float* out) {
  const int t = blockIdx.x;
  const int32_t id = ids[t];
  float* o = out + int64_t{t} * cols;
  if (id < 0 || id >= rows) {  // the CPU twin aborts; here: a zero row, never a fault
    for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) o[j] = 0.f;
    return;
  }
  const uint8_t* row = w + size_t(id) * stride;
  for (int64_t j = threadIdx.x; j < cols; j += blockDim.x) o[j] = row_element(type, row, j);
}

// One block per row. The sum of squares is a float tree (the CPU sums in double); the
// normalization is (x * scale) * weight, the CPU's order.
__global__ void rms_norm_kernel(float* x, const float* y, const float* weight, int dim,
                                float eps, float* out) {
  TURBINE_SHARED(float, red, [32]);
  float* xr = x + int64_t{blockIdx.x} * dim;
  float* orow = out + int64_t{blockIdx.x} * dim;
  float ss = 0.f;
  if (y) {
    const float* yr = y + int64_t{blockIdx.x} * dim;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
      float v = xr[i] + yr[i];
      xr[i] = v;
      ss += v * v;
    }
  } else {
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss += xr[i] * xr[i];
  }
  ss = block_sum(ss, red);
  const float mean = ss / static_cast<float>(dim);
  const float scale = 1.f / sqrtf(mean + eps);
  // Each thread reads back only the elements it wrote: no barrier needed, and out may alias x.
  for (int i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = xr[i] * scale * weight[i];
}

// One block per token; thread i owns rotation pair i for every head of the token. The angle
// is the CPU's recurrence (pos, then times theta_scale per pair), not pow(): same floats.
__global__ void rope_kernel(float* x, int n_heads, int head_dim, int half,
                            const int32_t* positions, float theta_scale, bool neox,
                            float freq_scale, const float* freq_factors) {
  const int t = blockIdx.x;
  for (int i = threadIdx.x; i < half; i += blockDim.x) {
    float a = static_cast<float>(positions[t]);
    for (int k = 0; k < i; ++k) a *= theta_scale;
    if (freq_factors) a = a / freq_factors[i];
    a = freq_scale * a;
    const float cs = cosf(a), sn = sinf(a);
    const int ia = neox ? i : 2 * i;
    const int ib = neox ? i + half : 2 * i + 1;
    for (int h = 0; h < n_heads; ++h) {
      float* v = x + (int64_t{t} * n_heads + h) * head_dim;
      const float x0 = v[ia], x1 = v[ib];
      v[ia] = fmaf(x0, cs, -(x1 * sn));
      v[ib] = fmaf(x0, sn, x1 * cs);
    }
  }
}

__global__ void swiglu_kernel(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.f + expf(-g)) * up[i];
  }
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    x[i] += y[i];
}

__global__ void add_bias_kernel(float* x, const float* bias, int64_t n, int dim) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    x[i] += bias[i % dim];
}

__global__ void scale_kernel(float* x, float v, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    x[i] *= v;
}

// The CPU twin's table, computed per element: gate rounded to F16, GELU (tanh form) in
// float, the result rounded to F16.
__global__ void geglu_kernel(const float* gate, const float* up, int64_t n, float* out) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float g = gate[i];
    float gl;
    if (g <= -10.f) {
      gl = 0.f;
    } else if (g >= 10.f) {
      gl = g;
    } else {
      const float x = __half2float(__float2half_rn(g));
      gl = __half2float(__float2half_rn(0.5f * x * (1.0f + tanhf(0.79788456080286535587989211986876f * x *
                                                                 (1.0f + 0.044715f * x * x)))));
    }
    out[i] = gl * up[i];
  }
}

// One block per token: its K and V rows go to slot slots[t] of the layer's pools.
__global__ void kv_store_kernel(bool f16, int64_t n_slots, int row, void* kpool, void* vpool,
                                const float* k, const float* v, const int32_t* slots) {
  const int t = blockIdx.x;
  const int64_t slot = slots[t];
  if (slot < 0 || slot >= n_slots) return;
  const float* kr = k + int64_t{t} * row;
  const float* vr = v + int64_t{t} * row;
  const int64_t off = slot * row;
  for (int i = threadIdx.x; i < row; i += blockDim.x) {
    if (f16) {
      static_cast<__half*>(kpool)[off + i] = __float2half_rn(kr[i]);
      static_cast<__half*>(vpool)[off + i] = __float2half_rn(vr[i]);
    } else {
      static_cast<float*>(kpool)[off + i] = kr[i];
      static_cast<float*>(vpool)[off + i] = vr[i];
    }
  }
}

// One quantized row (kernels/kv_quant.h, the same float steps as kv_quantize_row) by one
// warp, group by group (gs elements each, a multiple of 2): min and max by shuffles, then
// each lane writes the codes of its elements.
__device__ void kv_quantize_row_warp(bool int4, const float* x, int n, int gs, uint8_t* codes,
                                     __half* dm) {
  const int lane = threadIdx.x % kWarp;
  const float qmax = int4 ? 15.f : 255.f;
  for (int g0 = 0; g0 < n; g0 += gs) {
    float lo = INFINITY, hi = -INFINITY;
    for (int i = lane; i < gs; i += kWarp) lo = fminf(lo, x[g0 + i]), hi = fmaxf(hi, x[g0 + i]);
    lo = -warp_max(-lo);
    hi = warp_max(hi);
    const __half m16 = __float2half_rn(lo);
    const float m = __half2float(m16);
    const __half d16 = __float2half_rn((hi - m) / qmax);
    const float d = __half2float(d16);
    if (lane == 0) dm[2 * (g0 / gs)] = d16, dm[2 * (g0 / gs) + 1] = m16;
    auto code = [&](float val) -> int {
      if (!(d > 0.f)) return 0;
      return static_cast<int>(fminf(fmaxf(rintf((val - m) / d), 0.f), qmax));
    };
    if (!int4) {
      for (int i = lane; i < gs; i += kWarp) codes[g0 + i] = static_cast<uint8_t>(code(x[g0 + i]));
    } else {
      for (int i = lane; i < gs / 2; i += kWarp)
        codes[g0 / 2 + i] =
            static_cast<uint8_t>(code(x[g0 + 2 * i]) | (code(x[g0 + 2 * i + 1]) << 4));
    }
  }
}

// In place over a row in shared memory, by one warp: kv_rotate's butterflies (kernels/
// kv_quant.h) in the same order, pair p of stage len being (j, j + len) with
// j = (p / len) * 2 len + p % len, then the scale.
__device__ void kv_rotate_warp(float* x, int n, int block, float scale) {
  const int lane = threadIdx.x % kWarp;
  for (int len = 1; len < block; len <<= 1) {
    __syncwarp();
    for (int p = lane; p < n / 2; p += kWarp) {
      const int j = (p / len) * 2 * len + p % len;
      const float a = x[j], b = x[j + len];
      x[j] = a + b;
      x[j + len] = a - b;
    }
  }
  __syncwarp();
  for (int i = lane; i < n; i += kWarp) x[i] *= scale;
  __syncwarp();
}

// One block per token, one warp per (K or V, KV head) row in turn: the row is copied into
// the warp's shared buffer, rotated, then quantized.
__global__ void kv_store_quant_kernel(bool int4, int64_t n_slots, int n_kv_heads, int head_dim,
                                      int group_size, int rot_block, float rot_scale, int64_t code_bytes,
                                      int64_t param_off, uint8_t* kpool, uint8_t* vpool,
                                      const float* k, const float* v, const int32_t* slots) {
  TURBINE_SHARED(float, rows, [4 * 256]);
  const int t = blockIdx.x;
  const int64_t slot = slots[t];
  if (slot < 0 || slot >= n_slots) return;
  const int warp = threadIdx.x / kWarp, n_warps = blockDim.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  float* buf = rows + warp * 256;
  for (int r = warp; r < 2 * n_kv_heads; r += n_warps) {
    const bool is_v = r >= n_kv_heads;
    const int h = r % n_kv_heads;
    uint8_t* pool = is_v ? vpool : kpool;
    const int64_t row = slot * n_kv_heads + h;
    const float* x = (is_v ? v : k) + (int64_t{t} * n_kv_heads + h) * head_dim;
    __syncwarp();  // the previous row's codes are written
    for (int i = lane; i < head_dim; i += kWarp) buf[i] = x[i];
    kv_rotate_warp(buf, head_dim, rot_block, rot_scale);
    kv_quantize_row_warp(int4, buf, head_dim, group_size, pool + row * code_bytes,
                         reinterpret_cast<__half*>(pool + param_off) +
                             2 * int64_t{head_dim / group_size} * row);
  }
}

__device__ __forceinline__ void better(float& bv, int& bi, float v, int i) {
  if (v > bv || (v == bv && i < bi)) bv = v, bi = i;
}

// One block per row: a strided scan, then a tree that keeps the first index on ties.
__global__ void argmax_kernel(const float* x, int n_cols, int32_t* ids) {
  TURBINE_SHARED(float, sv, [32]);
  TURBINE_SHARED(int, si, [32]);
  const float* row = x + int64_t{blockIdx.x} * n_cols;
  float bv = -INFINITY;
  int bi = n_cols;  // loses every comparison against a real element
  for (int j = threadIdx.x; j < n_cols; j += blockDim.x) better(bv, bi, row[j], j);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, bv, o);
    int oi = __shfl_xor_sync(0xffffffffu, bi, o);
    better(bv, bi, ov, oi);
  }
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  if (lane == 0) sv[warp] = bv, si[warp] = bi;
  __syncthreads();
  if (warp == 0) {
    const int n_warps = blockDim.x / kWarp;
    bv = lane < n_warps ? sv[lane] : -INFINITY;
    bi = lane < n_warps ? si[lane] : n_cols;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, bv, o);
      int oi = __shfl_xor_sync(0xffffffffu, bi, o);
      better(bv, bi, ov, oi);
    }
    if (lane == 0) ids[blockIdx.x] = bi < n_cols ? bi : 0;  // an all-NaN row answers 0
  }
}

__global__ void softmax_kernel(const float* x, int n_cols, float inv_temp, float* out) {
  TURBINE_SHARED(float, red, [32]);
  const float* row = x + int64_t{blockIdx.x} * n_cols;
  float* o = out + int64_t{blockIdx.x} * n_cols;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < n_cols; j += blockDim.x) m = fmaxf(m, row[j] * inv_temp);
  m = block_max(m, red);
  float s = 0.f;
  for (int j = threadIdx.x; j < n_cols; j += blockDim.x) {
    float e = expf(row[j] * inv_temp - m);
    o[j] = e;
    s += e;
  }
  s = block_sum(s, red);
  const float inv = 1.f / s;
  for (int j = threadIdx.x; j < n_cols; j += blockDim.x) o[j] *= inv;
}

__global__ void to_half_kernel(const float* x, int64_t n, uint16_t* out, bool bf16) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x)
    // F16 saturates at its largest finite value: an activation past 65504 (rare; seen in
    // FFN inputs of some models) loses precision instead of turning the row into inf/NaN.
    out[i] = bf16 ? __bfloat16_as_ushort(__float2bfloat16_rn(x[i]))
                  : __half_as_ushort(__float2half_rn(fminf(fmaxf(x[i], -65504.f), 65504.f)));
}

}  // namespace

void get_rows(cudaStream_t s, const Matrix& w, const int32_t* ids, int n, float* out) {
  if (n == 0) return;
  launch(get_rows_kernel, n, kThreads, 0, s)(w.type, static_cast<const uint8_t*>(w.data),
                                          w.row_stride, w.rows, w.cols, ids, out);
  TURBINE_CUDA_LAUNCHED();
}

void rms_norm(cudaStream_t s, float* x, const float* y, const float* weight, int n_tokens,
              int dim, float eps, float* out) {
  if (n_tokens == 0) return;
  const int threads = dim >= 4096 ? 1024 : dim >= 1024 ? 512 : 256;
  launch(rms_norm_kernel, n_tokens, threads, 0, s)(x, y, weight, dim, eps, out);
  TURBINE_CUDA_LAUNCHED();
}

void rope(cudaStream_t s, float* x, int n_tokens, int n_heads, int head_dim, int rot_dim,
          const int32_t* positions, float theta, RopeStyle style, const RopeScaling& scaling) {
  if (n_tokens == 0) return;
  const int half = rot_dim / 2;
  // The CPU's float expression, evaluated on the host with the same libm.
  const float theta_scale = std::pow(theta, -2.0f / static_cast<float>(rot_dim));
  const int threads = std::max(32, std::min(256, (half + 31) / 32 * 32));
  launch(rope_kernel, n_tokens, threads, 0, s)(x, n_heads, head_dim, half, positions, theta_scale,
                                           style == RopeStyle::kNeox, scaling.freq_scale,
                                           scaling.freq_factors);
  TURBINE_CUDA_LAUNCHED();
}

void swiglu(cudaStream_t s, const float* gate, const float* up, int64_t n, float* out) {
  if (n == 0) return;
  launch(swiglu_kernel, grid_for(n), kThreads, 0, s)(gate, up, n, out);
  TURBINE_CUDA_LAUNCHED();
}

void add(cudaStream_t s, float* x, const float* y, int64_t n) {
  if (n == 0) return;
  launch(add_kernel, grid_for(n), kThreads, 0, s)(x, y, n);
  TURBINE_CUDA_LAUNCHED();
}

void add_bias(cudaStream_t s, float* x, const float* bias, int n_rows, int dim) {
  const int64_t n = int64_t{n_rows} * dim;
  if (n == 0) return;
  launch(add_bias_kernel, grid_for(n), kThreads, 0, s)(x, bias, n, dim);
  TURBINE_CUDA_LAUNCHED();
}

void scale(cudaStream_t s, float* x, float v, int64_t n) {
  if (n == 0) return;
  launch(scale_kernel, grid_for(n), kThreads, 0, s)(x, v, n);
  TURBINE_CUDA_LAUNCHED();
}

void geglu(cudaStream_t s, const float* gate, const float* up, int64_t n, float* out) {
  if (n == 0) return;
  launch(geglu_kernel, grid_for(n), kThreads, 0, s)(gate, up, n, out);
  TURBINE_CUDA_LAUNCHED();
}

void kv_store(cudaStream_t s, const KvGeometry& g, const KvLayer& layer, const float* k,
              const float* v, const int32_t* slots, int n_tokens) {
  if (n_tokens == 0) return;
  if (g.quantized()) {
    TURBINE_CHECK(g.head_dim <= 256);
    launch(kv_store_quant_kernel, n_tokens, 128, 0, s)(
        g.kv_type == KvType::kInt4, int64_t{g.num_blocks} * g.block_size, g.n_kv_heads,
        g.head_dim, g.group_size(), kv_rotation_block(g.head_dim), kv_rotation_scale(g.head_dim),
        static_cast<int64_t>(g.row_code_bytes()), static_cast<int64_t>(g.param_offset()),
        static_cast<uint8_t*>(layer.k), static_cast<uint8_t*>(layer.v), k, v, slots);
    TURBINE_CUDA_LAUNCHED();
    return;
  }
  const int row = g.n_kv_heads * g.head_dim;
  launch(kv_store_kernel, n_tokens, 128, 0, s)(g.kv_type == KvType::kF16,
                                           int64_t{g.num_blocks} * g.block_size, row, layer.k,
                                           layer.v, k, v, slots);
  TURBINE_CUDA_LAUNCHED();
}

void argmax(cudaStream_t s, const float* x, int n_rows, int n_cols, int32_t* ids) {
  if (n_rows == 0) return;
  launch(argmax_kernel, n_rows, 1024, 0, s)(x, n_cols, ids);
  TURBINE_CUDA_LAUNCHED();
}

void softmax(cudaStream_t s, const float* x, int n_rows, int n_cols, float temperature,
             float* out) {
  if (n_rows == 0) return;
  launch(softmax_kernel, n_rows, 1024, 0, s)(x, n_cols, 1.f / temperature, out);
  TURBINE_CUDA_LAUNCHED();
}

void to_half(cudaStream_t s, const float* x, int64_t n, uint16_t* out, bool bf16) {
  if (n == 0) return;
  launch(to_half_kernel, grid_for(n), kThreads, 0, s)(x, n, out, bf16);
  TURBINE_CUDA_LAUNCHED();
}

}  // namespace turbine::cuda
