// Reference (scalar) row conversions between float and every storage type: the ground
// truth each optimized kernel is tested against, and what synth/quantize write files with.
// n must be a multiple of the type's block size.
#pragma once
#include <cstdint>

#include "base/dtype.h"

namespace turbine {

void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// One W4G128 group of n (32, 64, 96 or 128) elements into `block` (4 + n / 2 bytes written),
// its range [min, max] first cut to [-L, L] with L = clip * max|x| (1 = none): AWQ's clip search
// trades the few largest weights' error for a finer step on all the others. The codes are
// rounded against the stored (fp16) scale and offset. quantize_row(kW4G128) is clip = 1.
void quantize_w4g128_group(const float* x, int n, float clip, void* block);

}  // namespace turbine
