// The KV cache's int8/int4 rule (KvType::kInt8 / kInt4, see KvGeometry in kernels/backend.h),
// as the scalar reference both backends' kv_store and attention are tested against.
//
// A row (one token's values for one KV head, after RoPE) is first rotated, x = H row, by the
// normalized Walsh-Hadamard transform over blocks of B = n & -n elements (the largest power
// of two dividing the head size: all of it at 64, 128 or 256). H is orthonormal and its own
// inverse, so q.k = (Hq).(Hk) and sum p_j v_j = H sum p_j (H v_j): attention rotates the
// query once, works on the rotated codes, and rotates its output back. The rotation spreads
// a few outlier channels (K's large low-frequency RoPE pairs) over the whole row, which
// shrinks the row's range and so the step d: on SmolLM2-135M it takes int4's perplexity
// cost from +16% to +7% and int8's from +0.11% to +0.03%.
//
// The rotated row x[0..n) is cut into groups of G = kv_group_size(t, n) consecutive elements
// (int8: the whole row; int4: kKvInt4Group), and each group is stored as
//   m = fp16(min x),  d = fp16((max x - m) / qmax),  q[i] = clamp(rint((x[i] - m) / d), 0, qmax)
// with qmax = 255 (int8) or 15 (int4), every step in float32 with the already rounded d and
// m, so x[i] ~ d * q[i] + m within d / 2 (plus m's rounding where it lies above min x). A
// constant group (d == 0) stores q = 0. int4 needs the smaller groups: with one pair per
// 64-element row its perplexity cost on SmolLM2-135M is +8.2%, with groups of 32 +5.4%, of 16
// +3.4% (48 bytes a row instead of f16's 128: 2.67x the tokens; int8's 68: 1.88x). The CUDA kv_store follows the same float operations,
// so both backends write the same bytes.
#pragma once
#include <cstdint>

#include "kernels/backend.h"

namespace turbine {

inline int kv_qmax(KvType t) { return t == KvType::kInt8 ? 255 : 15; }

// int4's group (a head size that it does not divide uses one group per row).
constexpr int kKvInt4Group = 16;

// Rotation block and its scale 1 / sqrt(B) (computed once on the host; the CUDA kernels
// take it as an argument so both backends multiply by the same float).
inline int kv_rotation_block(int n) { return n & -n; }
float kv_rotation_scale(int n);

// In place: for len = 1, 2, .., B/2, every pair (j, j + len) inside each block of 2 len
// becomes (a + b, a - b); then every element times kv_rotation_scale(n). The CUDA kv_store
// performs the same operations in the same order.
void kv_rotate(float* x, int n);

// The code-level rule on an already rotated row. codes: row_code_bytes of the geometry for
// n = head_dim; dm: n / kv_group_size(t, n) pairs {fp16 d, fp16 m}, group by group.
void kv_quantize_row(KvType t, const float* x, int n, uint8_t* codes, uint16_t* dm);
void kv_dequantize_row(KvType t, const uint8_t* codes, const uint16_t* dm, int n, float* out);

}  // namespace turbine
