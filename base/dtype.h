// Tensor element types, numbered as GGUF/ggml numbers them so a GGUF tensor's type id maps
// directly, plus the block layouts of the quantized ones and the scalar half/bfloat16
// conversions. In base/ because the GGUF reader needs the table and the kernels need the
// layouts; the row conversions that use them are kernels (kernels/quantize.h).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace turbine {

enum class DType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kBF16 = 30,
  // turbine's own: 4-bit codes in groups of 128 with a scale and an offset per group
  // (W4A16, as AWQ checkpoints and LMDeploy store weights). ggml does not use the id;
  // llama.cpp cannot read a tensor of this type.
  kW4G128 = 128,
};

// Elements per block and bytes per block; 0/0 for ids turbine does not know. For W4G128 the
// block is the group of 128 elements, but a row needs only be a multiple of 32 long: its
// last group may be short (see BlockW4G128), so use row_bytes() for sizes.
struct DTypeTraits {
  std::string_view name;
  int block_elems;
  int block_bytes;
};

// Returns traits for a known type or nullptr (so a GGUF reader can reject unknown ids).
const DTypeTraits* dtype_traits(uint32_t id);
inline const DTypeTraits& traits(DType t) { return *dtype_traits(static_cast<uint32_t>(t)); }
std::string_view dtype_name(DType t);
// Elements a row's length must be a multiple of (the block size; 32 for W4G128).
int row_granule(DType t);
// Bytes for a row of n elements; n must be a multiple of row_granule(t).
size_t row_bytes(DType t, int64_t n);

// Block layouts (identical to the GGUF on-disk layout).
constexpr int kQK = 32;    // elements per block for Q4_0/Q4_1/Q8_0/Q8_1
constexpr int kQKK = 256;  // elements per super-block for the K-quants

struct BlockQ4_0 {
  uint16_t d;  // fp16 scale
  uint8_t qs[kQK / 2];  // element j in low nibble of qs[j], element j+16 in the high nibble
};
struct BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 minimum
  uint8_t qs[kQK / 2];
};
// Q5_0 / Q5_1: Q4_0 / Q4_1 with a fifth bit per element, bit j of qh (little-endian
// uint32) for element j. Q5_0: x = d * (q - 16); Q5_1: x = d * q + m.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation block for Q4_1 dot products: s = d * sum(qs) lets the weight minimum be applied
// once per block instead of once per element.
struct BlockQ8_1 {
  float d;
  float s;
  int8_t qs[kQK];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];  // 8 sub-block scales and mins, 6 bits each, packed
  uint8_t qs[kQKK / 2];
};
// Q2_K: 16 runs of 16, each with a 4-bit scale (low nibble) and 4-bit min (high nibble):
// x = d * scale * q - dmin * min, q 2 bits.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;
  uint16_t dmin;
};
// Q3_K: 16 runs of 16 with 6-bit signed scales (packed in 12 bytes, biased by 32): x =
// d * (scale - 32) * (q - 4 * !hbit), q the 2 low bits and hbit from hmask.
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
// Q5_K: Q4_K's scales and mins with a fifth bit per element in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};
// W4G128: element e of a row is d * q + m with q in 0..15, d and m the fp16 scale and
// offset (the group's minimum, m = -d * zero) of group e / 128. The 64 code bytes are four
// runs of 16, one per 32 elements, each laid out as Q4_1's (element j of the run in the low
// nibble of byte j, element j + 16 in the high nibble), so a 32-element sub-block meets
// one Q8_1 activation block. A row whose length is not a multiple of 128 ends in a short
// group: its d, m and only the runs it has (4 + 16 * runs bytes).
constexpr int kW4Group = 128;
struct BlockW4G128 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kW4Group / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockW4G128) == 68);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 40);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ5_K) == 176);

// IEEE half and bfloat16 conversions (scalar, exact round-to-nearest-even).
float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);
inline float bf16_to_fp32(uint16_t h) {
  uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
uint16_t fp32_to_bf16(float f);

}  // namespace turbine
