#include "engine/grammar/utf8_ranges.h"

#include <algorithm>

namespace turbine::grammar {
namespace {

constexpr uint32_t kMax = 0x10FFFF;

int encode(uint32_t cp, uint8_t* out) {
  if (cp < 0x80) {
    out[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    out[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    out[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    out[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  out[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  out[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  out[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// [lo, hi] share their encoded length. Splits until every continuation position spans a
// whole aligned block, so the byte ranges position by position describe exactly the range.
void split_same_length(uint32_t lo, uint32_t hi, int len,
                       std::vector<std::vector<ByteRange>>& out) {
  for (int i = 1; i < len; ++i) {
    const uint32_t m = (uint32_t{1} << (6 * i)) - 1;
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {
        split_same_length(lo, lo | m, len, out);
        split_same_length((lo | m) + 1, hi, len, out);
        return;
      }
      if ((hi & m) != m) {
        split_same_length(lo, (hi & ~m) - 1, len, out);
        split_same_length(hi & ~m, hi, len, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  encode(lo, a);
  encode(hi, b);
  std::vector<ByteRange> seq;
  for (int i = 0; i < len; ++i) seq.push_back({a[i], b[i]});
  out.push_back(std::move(seq));
}

}  // namespace

std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> r, bool negate) {
  for (auto& [lo, hi] : r) {
    hi = std::min(hi, kMax);
    if (lo > hi) lo = hi + 1;  // empty after clamping: dropped below
  }
  r.erase(std::remove_if(r.begin(), r.end(), [](const CodepointRange& x) { return x.first > x.second; }),
          r.end());
  std::sort(r.begin(), r.end());
  std::vector<CodepointRange> merged;
  for (const auto& x : r) {
    if (!merged.empty() && x.first <= merged.back().second + 1)
      merged.back().second = std::max(merged.back().second, x.second);
    else
      merged.push_back(x);
  }
  if (!negate) return merged;
  std::vector<CodepointRange> comp;
  uint32_t next = 0;
  for (const auto& [lo, hi] : merged) {
    if (lo > next) comp.push_back({next, lo - 1});
    next = hi + 1;
  }
  if (next <= kMax) comp.push_back({next, kMax});
  return comp;
}

std::vector<std::vector<ByteRange>> utf8_sequences(const std::vector<CodepointRange>& ranges) {
  // Pieces that never cross an encoded-length boundary or the surrogate block.
  static constexpr CodepointRange kBlocks[] = {
      {0, 0x7F}, {0x80, 0x7FF}, {0x800, 0xD7FF}, {0xE000, 0xFFFF}, {0x10000, kMax}};
  static constexpr int kLen[] = {1, 2, 3, 3, 4};
  std::vector<std::vector<ByteRange>> out;
  for (const auto& [lo, hi] : ranges) {
    for (int b = 0; b < 5; ++b) {
      const uint32_t a = std::max(lo, kBlocks[b].first), z = std::min(hi, kBlocks[b].second);
      if (a <= z) split_same_length(a, z, kLen[b], out);
    }
  }
  return out;
}

}  // namespace turbine::grammar
