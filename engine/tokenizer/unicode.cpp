#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace turbine {

uint16_t unicode_flags(uint32_t cpt) {
  // The BMP gets a flat table (128 KiB, built once): the pre-tokenizer asks for the flags of
  // every code point of every prompt. The rest is a binary search over the ranges.
  static const std::array<uint16_t, 0x10000>* bmp = [] {
    auto* t = new std::array<uint16_t, 0x10000>();
    for (size_t i = 0; i < kUnicodeRangeCount; ++i) {
      uint32_t start = kUnicodeRanges[i] >> kUnicodeFlagBits;
      uint32_t end = i + 1 < kUnicodeRangeCount ? kUnicodeRanges[i + 1] >> kUnicodeFlagBits
                                                : kUnicodeMaxCodepoint + 1;
      auto f = static_cast<uint16_t>(kUnicodeRanges[i] & ((1u << kUnicodeFlagBits) - 1));
      for (uint32_t c = start; c < end && c < 0x10000; ++c) (*t)[c] = f;
    }
    return t;
  }();
  if (cpt < 0x10000) return (*bmp)[cpt];
  if (cpt > kUnicodeMaxCodepoint) return kUnicodeUndefined;
  const uint32_t* end = kUnicodeRanges + kUnicodeRangeCount;
  const uint32_t key = (cpt << kUnicodeFlagBits) | ((1u << kUnicodeFlagBits) - 1);
  const uint32_t* it = std::upper_bound(kUnicodeRanges, end, key) - 1;
  return static_cast<uint16_t>(*it & ((1u << kUnicodeFlagBits) - 1));
}

uint32_t utf8_next(std::string_view s, size_t& pos) {
  auto at = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (at(i) & 0xC0) == 0x80; };
  const uint8_t b = at(pos);
  if (b < 0x80) {
    pos += 1;
    return b;
  }
  if ((b & 0xE0) == 0xC0 && cont(pos + 1)) {
    uint32_t c = ((b & 0x1Fu) << 6) | (at(pos + 1) & 0x3Fu);
    pos += 2;
    return c;
  }
  if ((b & 0xF0) == 0xE0 && cont(pos + 1) && cont(pos + 2)) {
    uint32_t c = ((b & 0x0Fu) << 12) | ((at(pos + 1) & 0x3Fu) << 6) | (at(pos + 2) & 0x3Fu);
    pos += 3;
    return c;
  }
  if ((b & 0xF8) == 0xF0 && cont(pos + 1) && cont(pos + 2) && cont(pos + 3)) {
    uint32_t c = ((b & 0x07u) << 18) | ((at(pos + 1) & 0x3Fu) << 12) |
                 ((at(pos + 2) & 0x3Fu) << 6) | (at(pos + 3) & 0x3Fu);
    pos += 4;
    return c <= kUnicodeMaxCodepoint ? c : kReplacementChar;
  }
  pos += 1;
  return kReplacementChar;
}

std::vector<uint32_t> utf8_to_cpts(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) out.push_back(utf8_next(s, pos));
  return out;
}

void append_utf8(std::string& out, uint32_t c) {
  if (c > kUnicodeMaxCodepoint) c = kReplacementChar;
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

size_t utf8_incomplete_tail(std::string_view s) {
  // Look back at most 3 bytes for the lead byte of the last sequence.
  const size_t n = s.size();
  for (size_t k = 1; k <= 3 && k <= n; ++k) {
    const auto b = static_cast<uint8_t>(s[n - k]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for its lead
    size_t need = (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : (b & 0xF8) == 0xF0 ? 4 : 1;
    return need > k ? k : 0;
  }
  return 0;  // only continuation bytes (or nothing): no lead is waiting for more
}

namespace {

struct ByteAlphabet {
  std::array<uint32_t, 256> to_cpt{};
  std::array<int16_t, 324> from_cpt{};  // alphabet code points are all below U+0144
  std::array<std::string, 256> utf8;
  ByteAlphabet() {
    from_cpt.fill(-1);
    auto printable = [](int b) {
      return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    };
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      to_cpt[b] = printable(b) ? static_cast<uint32_t>(b) : next++;
      from_cpt[to_cpt[b]] = static_cast<int16_t>(b);
      append_utf8(utf8[b], to_cpt[b]);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

uint32_t byte_to_unicode(uint8_t b) {
  return alphabet().to_cpt[b];
}

int unicode_to_byte(uint32_t cpt) {
  return cpt < 324 ? alphabet().from_cpt[cpt] : -1;
}

const std::string& byte_to_unicode_utf8(uint8_t b) {
  return alphabet().utf8[b];
}

}  // namespace turbine
