// Reference (scalar) row conversions between float and every storage type: the ground
// truth each optimized kernel is tested against, and what synth/quantize write files with.
// n must be a multiple of the type's block size.
#pragma once
#include <cstdint>

#include "base/dtype.h"

namespace turbine {

void dequantize_row(DType t, const void* src, float* dst, int64_t n);
void quantize_row(DType t, const float* src, void* dst, int64_t n);

}  // namespace turbine
