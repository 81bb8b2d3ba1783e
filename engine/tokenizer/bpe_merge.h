// The two merge loops: byte-level BPE by merge rank (GPT-2) and SentencePiece BPE by token
// score (Llama-2). Both are llama.cpp's greedy algorithms: a priority queue of adjacent
// symbol pairs, lowest rank (highest score) first and leftmost on ties, stale pairs skipped
// when popped, so a word of n symbols costs O(n log n).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace turbine {

// Heterogeneous lookup: find(std::string_view) without building a std::string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenIndex = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// Merge ranks keyed by "left right" (the merge line itself).
class MergeRanks {
 public:
  MergeRanks() = default;
  explicit MergeRanks(const std::vector<std::string>& merges);
  // The rank of merging `left` and `right`, or -1 if they never merge.
  int rank(std::string_view left, std::string_view right) const;
  size_t size() const { return ranks_.size(); }

 private:
  TokenIndex ranks_;
};

// Splits `word` (byte-level encoded, so valid UTF-8) into its final BPE symbols.
std::vector<std::string_view> bpe_merge(std::string_view word, const MergeRanks& ranks);

// SentencePiece BPE over the UTF-8 characters of `text`: two neighbours merge when their
// concatenation is a token; the highest score goes first. `score_of(text, &score)` returns
// false when `text` is not a token.
std::vector<std::string_view> spm_merge(
    std::string_view text, const std::function<bool(std::string_view, float*)>& score_of);

}  // namespace turbine
