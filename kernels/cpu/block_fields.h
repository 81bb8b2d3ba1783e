// Packed fields of quantized blocks, unpacked in one place for the scalar kernels and the
// dequantizers (kernels_scalar.cpp, quantize_ref.cpp): Q5_0/Q5_1 codes, the K-quant
// super-blocks' sub-block scales.
#pragma once
#include <cstdint>
#include <cstring>

namespace turbine::cpu {

// Q5_0 / Q5_1: the 32 five-bit codes (0..31) of a block, element j's low four bits in the
// nibbles of qs (j < 16 low, j >= 16 high) and its fifth bit in bit j of qh.
inline void unpack_q5_codes(const uint8_t* qh, const uint8_t* qs, int* q) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0xF) | (((h >> j) & 1) << 4);
    q[j + 16] = (qs[j] >> 4) | (((h >> (j + 16)) & 1) << 4);
  }
}

// Q4_K / Q5_K: 8 six-bit scales and 8 six-bit mins in 12 bytes. Sub-blocks 0..3 use the low
// 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks 4..7 the nibbles of bytes 8..11
// plus the top 2 bits of bytes 0..7.
inline void unpack_scales_mins_k4(const uint8_t* s, int* sc, int* m) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    m[j] = s[j + 4] & 63;
    sc[j + 4] = (s[j + 8] & 0xF) | ((s[j] >> 6) << 4);
    m[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
  }
}

// Q3_K: 16 six-bit run scales, biased by 32, in 12 bytes (low nibbles in bytes 0..7, the
// top 2 bits in bytes 8..11).
inline void unpack_q3_k_scales(const uint8_t* p, int* sc) {
  for (int j = 0; j < 16; ++j)
    sc[j] = (((p[j % 8] >> (4 * (j / 8))) & 0xF) | (((p[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32;
}

}  // namespace turbine::cpu
