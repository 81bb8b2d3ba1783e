// Unicode code point ranges as UTF-8 byte-range sequences, so a character class such as
// [^"\\] or [\u00e0-\u00ff] becomes alternatives of byte sets the automaton steps through
// one byte at a time. Surrogates (U+D800..U+DFFF) are never produced: they are not
// characters and have no UTF-8 form.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace turbine::grammar {

using CodepointRange = std::pair<uint32_t, uint32_t>;  // inclusive

struct ByteRange {
  uint8_t lo, hi;
};

// Sorted, merged ranges; with `negate`, their complement within U+0000..U+10FFFF.
std::vector<CodepointRange> normalize_ranges(std::vector<CodepointRange> r, bool negate);

// Each result is one sequence: a code point matches the class exactly when its UTF-8
// bytes fall, position by position, in one sequence's ranges.
std::vector<std::vector<ByteRange>> utf8_sequences(const std::vector<CodepointRange>& ranges);

}  // namespace turbine::grammar
