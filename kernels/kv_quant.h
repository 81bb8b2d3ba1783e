// The KV cache's int8/int4 rule (KvType::kInt8 / kInt4, see KvGeometry in kernels/backend.h),
// as the scalar reference both backends' kv_store and attention are tested against.
//
// A row x[0..n) (one token's values for one KV head, after RoPE) is stored as
//   m = fp16(min x),  d = fp16((max x - m) / qmax),  q[i] = clamp(rint((x[i] - m) / d), 0, qmax)
// with qmax = 255 (int8) or 15 (int4), every step in float32 with the already rounded d and
// m, so x[i] ~ d * q[i] + m within d / 2 (plus m's rounding where it lies above min x). A
// constant row (d == 0) stores q = 0. The CUDA kv_store follows the same float operations,
// so both backends write the same bytes.
#pragma once
#include <cstdint>

#include "kernels/backend.h"

namespace turbine {

inline int kv_qmax(KvType t) { return t == KvType::kInt8 ? 255 : 15; }

// codes: row_code_bytes of the geometry for n = head_dim; dm: {fp16 d, fp16 m}.
void kv_quantize_row(KvType t, const float* x, int n, uint8_t* codes, uint16_t* dm);
void kv_dequantize_row(KvType t, const uint8_t* codes, const uint16_t* dm, int n, float* out);

}  // namespace turbine
