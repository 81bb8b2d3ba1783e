// UTF-8 lowering of code point classes, checked over every code point.
#include <gtest/gtest.h>

#include "engine/grammar/utf8_ranges.h"

namespace turbine::grammar {
namespace {

int encode(uint32_t cp, uint8_t* o) {
  if (cp < 0x80) return o[0] = static_cast<uint8_t>(cp), 1;
  if (cp < 0x800) return o[0] = 0xC0 | (cp >> 6), o[1] = 0x80 | (cp & 0x3F), 2;
  if (cp < 0x10000)
    return o[0] = 0xE0 | (cp >> 12), o[1] = 0x80 | ((cp >> 6) & 0x3F), o[2] = 0x80 | (cp & 0x3F), 3;
  o[0] = 0xF0 | (cp >> 18), o[1] = 0x80 | ((cp >> 12) & 0x3F), o[2] = 0x80 | ((cp >> 6) & 0x3F);
  o[3] = 0x80 | (cp & 0x3F);
  return 4;
}

bool in_sequences(const std::vector<std::vector<ByteRange>>& seqs, uint32_t cp) {
  uint8_t b[4];
  const int n = encode(cp, b);
  int hits = 0;
  for (const auto& s : seqs) {
    if (static_cast<int>(s.size()) != n) continue;
    bool all = true;
    for (int i = 0; i < n; ++i) all = all && b[i] >= s[i].lo && b[i] <= s[i].hi;
    hits += all;
  }
  EXPECT_LE(hits, 1) << "code point " << cp << " in two sequences";
  return hits == 1;
}

TEST(Utf8Ranges, EveryCodePointIsInExactlyWhenTheClassHasIt) {
  const std::vector<std::vector<CodepointRange>> classes = {
      {{'a', 'z'}},
      {{0x7F, 0x80}, {0x7FE, 0x801}},
      {{0x41, 0x10FFFF}},
      {{0xD000, 0xE100}},
      {{0xFFFF, 0x10000}, {0x10FFFE, 0x10FFFF}},
      {{0x123, 0x4567}, {0x89AB, 0x9ABCD}},
  };
  for (const auto& cls : classes) {
    for (bool negate : {false, true}) {
      const auto norm = normalize_ranges(cls, negate);
      const auto seqs = utf8_sequences(norm);
      for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
        bool want = false;
        for (auto [lo, hi] : cls) want = want || (cp >= lo && cp <= hi);
        want = want != negate;
        if (cp >= 0xD800 && cp <= 0xDFFF) want = false;  // surrogates have no UTF-8 form
        ASSERT_EQ(in_sequences(seqs, cp), want) << "code point " << cp << (negate ? " negated" : "");
      }
    }
  }
}

}  // namespace
}  // namespace turbine::grammar
