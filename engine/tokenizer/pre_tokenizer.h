// Pre-tokenizers: split text (as code points) into the words BPE merges within. Each one is
// a list of regex passes, as in llama.cpp's llm_tokenizer_bpe; each pass splits every piece
// left by the previous pass further (lookaheads such as \s+(?!\S) see only their piece), and
// text a pattern does not match stays a piece of its own. The patterns are hand-written
// matchers over code points and the generated Unicode tables: std::regex knows no \p{..} and
// would be the slowest part of the engine's request path.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace turbine {

enum class PreTokenizerPass {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kGpt2,
  // (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
  // \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
  kLlama3,
  // kLlama3 with \p{N} in place of \p{N}{1,3}
  kQwen2,
  kEachNumber,        // \p{N}
  kNumberRuns,        // \p{N}+
  kPunctuationRuns,   // [\p{P}\$\+<=>\^~\|]+
  kAsciiDigitTriples  // [0-9][0-9][0-9]
};

class PreTokenizer {
 public:
  // `name` is tokenizer.ggml.pre. Supported: "default" (or empty), "gpt-2", "llama3" /
  // "llama-v3" / "llama-bpe", "qwen2" / "deepseek-r1-qwen", "smollm".
  static Result<PreTokenizer> create(std::string_view name);

  // Piece lengths in code points; they sum to cpts.size().
  std::vector<size_t> split(std::span<const uint32_t> cpts) const;
  // The pieces as UTF-8 strings (for tests and debugging).
  std::vector<std::string> split_utf8(std::string_view text) const;

  // llama.cpp pre-tokenizer traits that go with the name.
  bool ignore_merges() const { return ignore_merges_; }  // a word that is a token is kept whole
  bool clean_spaces() const { return clean_spaces_; }    // detokenizer drops " ," etc.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<PreTokenizerPass> passes_;
  bool ignore_merges_ = false;
  bool clean_spaces_ = true;
};

}  // namespace turbine
