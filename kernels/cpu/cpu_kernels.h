// Internal to the CPU backend: one table of inner kernels per instruction-set family. The
// backend picks a table once (at construction) and the hot loops call through it, so the
// library itself is compiled for baseline x86-64 and still uses AVX2/AVX-512 where present.
#pragma once
#include <cstdint>
#include <string_view>

#include "base/dtype.h"

namespace turbine::cpu {

// Dot product of one weight row (n elements, in the weight's type) with one activation row
// in the type act_type(weight type) returns: Q8_1 blocks for Q4_0/Q4_1/Q8_0/W4G128, Q8_K for the
// K-quants, float for F32/F16/BF16.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);
// Activation quantization (n a multiple of the block size).
using QuantizeFn = void (*)(const float* x, void* dst, int64_t n);
using Fp16RowFn = void (*)(const uint16_t* x, float* y, int64_t n);
// fp32 -> fp16, round to nearest even: the same halves as fp32_to_fp16.
using ToFp16RowFn = void (*)(const float* x, uint16_t* y, int64_t n);
// Four activation rows (astride bytes apart) against one weight row; results go to
// out[0], out[ostride], out[2*ostride], out[3*ostride]. Optional (nullptr: use VecDotFn).
using VecDot4Fn = void (*)(int64_t n, const void* w, const void* a, size_t astride, float* out,
                           size_t ostride);

// Token-group tiles for Q4_0/Q4_1/Q8_0/W4G128 weights (optional: nullptr where a family has none).
// A group of up to kTileTokens Q8_1 activation rows is repacked once per matmul so that
// each 32-element block of the group is contiguous: per block, the codes of token pairs
// (64 bytes per pair, (ntok + 1) / 2 pairs, a missing last token all zeros), then the 16
// tokens' d as floats, then their s (unused lanes zero): tile_block_bytes(ntok) bytes per
// block. For Q8_0 weights the codes are stored as a + 128 (unsigned). TileFn computes
// y[t * ystride + r] for rows r < nrows (wstride bytes apart) and tokens t < ntok, each
// bit for bit what the family's VecDot4Fn gives for that row and token.
constexpr int kTileTokens = 16;
constexpr size_t tile_block_bytes(int ntok) { return 64 * size_t((ntok + 1) / 2) + 128; }
using TileFn = void (*)(int64_t n, const void* w, size_t wstride, int64_t nrows, const void* packed,
                        int ntok, float* y, size_t ystride);
// Repacks ntok (<= kTileTokens) Q8_1 rows of n elements, astride bytes apart, into dst
// (n / 32 * tile_block_bytes(ntok) bytes); offset_codes: the Q8_0 form (codes + 128).
void pack_tile(const void* a, size_t astride, int ntok, int64_t n, bool offset_codes, void* dst);

// One query row of attention over n rows of an F16 KV cache (k[j], v[j]: head_dim halves
// each), in llama.cpp's rounding sequence (see attention.cpp): q is rounded to F16, scores
// are dot products with a fixed 16-lane x 4 partial-sum tree, the softmax is online with
// libm expf, and the output accumulates in F16.
using AttnF16Fn = void (*)(const float* q, int head_dim, float scale, const uint16_t* const* k,
                           const uint16_t* const* v, int n, float* out);
// attn_f16 for nh query heads (q and out rows head_dim floats apart) over the same K/V rows
// (a GQA group): each head's row exactly as attn_f16 computes it.
using AttnF16GroupFn = void (*)(const float* q, int nh, int head_dim, float scale,
                                const uint16_t* const* k, const uint16_t* const* v, int n,
                                float* out);
void attn_f16_ref(const float* q, int head_dim, float scale, const uint16_t* const* k,
                  const uint16_t* const* v, int n, float* out);

// Query rows of llama.cpp's tiled flash attention, which it runs for batches of 64 or more
// tokens (ggml-cpu's flash_attn_ext "tiled" path): F32 Q, the F16 cache widened to F32, keys
// in tiles of 64 counted from position 0. Per tile a score is one fma chain over head_dim
// times scale; a larger running max rescales the output and sum by libm expf(old - new); the
// weights are vexp(s - max) (vexp.h), added per 16 in a fixed tree into a double and then
// into the float sum; the F32 output grows by one fma chain over the tile's keys; at the end
// it is multiplied by 1/sum. Row i reads q[i], attends to keys 0..n[i]-1 of k/v (one
// sequence and KV head for all rows) and writes out[i].
using AttnTiledFn = void (*)(int nq, const float* const* q, const int* n, int head_dim,
                             float scale, const uint16_t* const* k, const uint16_t* const* v,
                             float* const* out);
void attn_tiled_ref(int nq, const float* const* q, const int* n, int head_dim, float scale,
                    const uint16_t* const* k, const uint16_t* const* v, float* const* out);
constexpr int kAttnTile = 64;  // the reference's KV tile, and its batch-size threshold

// ggml's vectorised single-precision exp (kernels/cpu/vexp.h): y[i] = e^x[i]. Every family
// gives the same bits.
using ExpRowFn = void (*)(const float* x, float* y, int64_t n);
void exp_row_ref(const float* x, float* y, int64_t n);
// out[i] = silu(gate[i]) * up[i] with vexp.h's exp, in llama.cpp's operation order
// (gate / (1 + exp(0 - gate)) * up). out may alias gate or up. Same bits in every family.
using SwigluFn = void (*)(const float* gate, const float* up, int64_t n, float* out);
void swiglu_ref(const float* gate, const float* up, int64_t n, float* out);

struct KernelTable {
  const char* name = nullptr;
  VecDotFn q4_0 = nullptr;
  VecDotFn q4_1 = nullptr;
  VecDotFn q8_0 = nullptr;
  VecDotFn q4_k = nullptr;
  VecDotFn q6_k = nullptr;
  VecDotFn f32 = nullptr;
  VecDotFn f16 = nullptr;
  VecDotFn bf16 = nullptr;
  QuantizeFn quantize_q8_1 = nullptr;
  QuantizeFn quantize_q8_k = nullptr;
  Fp16RowFn fp16_to_fp32_row = nullptr;
  VecDot4Fn q4_0_x4 = nullptr;
  VecDot4Fn q4_1_x4 = nullptr;
  VecDot4Fn q8_0_x4 = nullptr;
  AttnF16Fn attn_f16 = attn_f16_ref;
  ExpRowFn exp_row = exp_row_ref;
  SwigluFn swiglu = swiglu_ref;
  AttnTiledFn attn_tiled = attn_tiled_ref;
  TileFn q4_0_tile = nullptr;
  TileFn q4_1_tile = nullptr;
  TileFn q8_0_tile = nullptr;
  ToFp16RowFn fp32_to_fp16_row = nullptr;  // nullptr: the reference conversion
  AttnF16GroupFn attn_f16_group = nullptr;   // nullptr: attn_f16 head by head
  VecDotFn w4g128 = nullptr;
  VecDot4Fn w4g128_x4 = nullptr;
  TileFn w4g128_tile = nullptr;
  VecDotFn q5_0 = nullptr;
  VecDotFn q5_1 = nullptr;
  VecDotFn q2_k = nullptr;
  VecDotFn q3_k = nullptr;
  VecDotFn q5_k = nullptr;

  VecDotFn dot_for(DType weight) const;
  VecDot4Fn dot4_for(DType weight) const;
  TileFn tile_for(DType weight) const;
};

// Scalar dot products of the Q5_0 / Q5_1 (over Q8_1) and Q2_K / Q3_K / Q5_K (over Q8_K)
// weight types, which every family's table uses.
float dot_q5_0_ref(int64_t n, const void* w, const void* a);
float dot_q5_1_ref(int64_t n, const void* w, const void* a);
float dot_q2_k_ref(int64_t n, const void* w, const void* a);
float dot_q3_k_ref(int64_t n, const void* w, const void* a);
float dot_q5_k_ref(int64_t n, const void* w, const void* a);

// The activation type a weight type's dot product consumes.
DType act_type(DType weight);

const KernelTable& scalar_kernels();
#if defined(__x86_64__)
const KernelTable& avx2_kernels();
const KernelTable& avx512vnni_kernels();
#endif

// True when this CPU can run the family ("scalar", "avx2", "avx512vnni").
bool family_supported(std::string_view family);
// The best supported family, or TURBINE_CPU_KERNELS when set and supported.
const KernelTable& select_kernels();
// A named family (must be supported).
const KernelTable& kernels_by_name(std::string_view family);

// fp16 -> fp32 through a 64K-entry table: the scalar paths need it in inner loops where
// the bit-twiddling conversion would dominate.
float fp16_lookup(uint16_t h);

}  // namespace turbine::cpu
