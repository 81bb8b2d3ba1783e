// The tokenizer's vocabulary as stored in GGUF metadata (tokenizer.ggml.*). The model loader
// fills it; the tokenizer never reads files.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace turbine {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct VocabData {
  std::string
      model;        // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece BPE)
  std::string pre;  // tokenizer.ggml.pre, e.g. "smollm", "llama3", "default", "gpt-2"
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<float> scores;         // tokenizer.ggml.scores (may be empty)
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type (TokenType values), may be empty
  std::vector<std::string> merges;   // tokenizer.ggml.merges ("a b"), gpt2 only
  int32_t bos_id = -1, eos_id = -1, unk_id = -1, pad_id = -1, eot_id = -1;  // -1 = absent
  bool add_bos = false, add_eos = false, add_space_prefix = false;
  std::string chat_template;  // tokenizer.chat_template (may be empty)
};

}  // namespace turbine
