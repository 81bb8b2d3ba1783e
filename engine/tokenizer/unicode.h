// UTF-8 <-> code points with llama.cpp's leniency, and GPT-2's byte <-> unicode mapping.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/unicode_data.h"

namespace turbine {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes one code point at `pos` and advances it. Never fails, mirroring llama.cpp's
// unicode_cpts_from_utf8 so that token ids match on invalid input:
//  - a byte that cannot start a sequence (80-BF, F8-FF), or a lead byte whose continuation
//    bytes are missing or not 10xxxxxx, yields U+FFFD and consumes that one byte only;
//  - overlong forms and surrogates are accepted as decoded (C0 80 -> U+0000, ED A0 80 ->
//    U+D800), as llama.cpp does;
//  - a well-formed 4-byte form above U+10FFFF (F4 90.., F5-F7 leads) yields U+FFFD and consumes
//    all four bytes (llama.cpp aborts the process on these; any non-crashing answer is ours).
uint32_t utf8_next(std::string_view s, size_t& pos);
std::vector<uint32_t> utf8_to_cpts(std::string_view s);
// Appends the UTF-8 form of `cpt` (<= U+10FFFF; surrogates are encoded as-is, like llama.cpp).
void append_utf8(std::string& out, uint32_t cpt);
// Length of the sequence a lead byte announces (1 for ASCII and for stray bytes), as llama.cpp's
// unicode_len_utf8: only the high nibble is looked at.
inline size_t utf8_len_from_lead(uint8_t b) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}
// Number of bytes at the end of `s` that start a UTF-8 sequence but do not finish it; a stream
// must hold these back until more bytes arrive.
size_t utf8_incomplete_tail(std::string_view s);

// GPT-2 byte-level alphabet: every byte maps to a printable code point (printable Latin-1
// bytes map to themselves, the rest to U+0100.. in byte order).
uint32_t byte_to_unicode(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 if it is not in the alphabet.
int unicode_to_byte(uint32_t cpt);
// UTF-8 of byte_to_unicode(b), precomputed.
const std::string& byte_to_unicode_utf8(uint8_t b);

}  // namespace turbine
