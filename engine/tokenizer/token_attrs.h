// Per-token attributes and the special-token sets derived from a vocabulary, following
// llama.cpp's llama_vocab::load: token types become attributes, well-known texts such as
// <|im_end|> or <|fim_pad|> are promoted to control tokens, and the end-of-generation set is
// built from ids and texts (llama.cpp's heuristics, so that generation stops where it does).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tokenizer/vocab.h"

namespace turbine {

// Bit values as llama.cpp's llama_token_attr.
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1 << 0,
  kAttrUnused = 1 << 1,
  kAttrNormal = 1 << 2,
  kAttrControl = 1 << 3,
  kAttrUserDefined = 1 << 4,
  kAttrByte = 1 << 5,
};

struct SpecialTokens {
  std::vector<uint32_t> attrs;  // per token id
  std::vector<int32_t> eog;     // sorted ids that end generation
  std::vector<int32_t>
      partition;        // ids matched in raw text before pre-tokenization, longest text first
  int32_t eot_id = -1;  // from metadata, else detected by text
};

// `texts` are the token texts as the tokenizer stores them (empty ones already renamed).
SpecialTokens derive_special_tokens(const VocabData& v, const std::vector<std::string>& texts);

}  // namespace turbine
