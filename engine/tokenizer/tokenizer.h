// Text <-> token ids with llama.cpp's semantics (llama_tokenize / llama_token_to_piece /
// llama_detokenize), for byte-level BPE vocabularies ("gpt2": SmolLM2, Llama-3, ...) and
// SentencePiece BPE ones ("llama": Llama-2). Matching llama.cpp id for id matters: the
// model was evaluated with those ids, and prefix caching and reference tests compare them.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "engine/tokenizer/vocab.h"

namespace turbine {

class Tokenizer {  // immutable after create(); thread-safe for concurrent encode/decode
 public:
  // Fails with a message naming the problem for an unknown model type or pre-tokenizer, an
  // empty vocabulary or arrays of the wrong length.
  static Result<Tokenizer> create(VocabData v);

  // As llama_tokenize(text, add_special, parse_special): with parse_special, the texts of
  // control tokens (<|im_start|> ...) become those tokens; user-defined tokens always do.
  // add_special adds BOS/EOS where the vocabulary asks for them. Any bytes are accepted.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // The bytes of one token (special tokens as their text). May be a partial UTF-8 sequence.
  std::string token_to_piece(int32_t id) const;
  // As llama_detokenize(ids, remove_special=false, unparse_special=true): the pieces
  // concatenated, the leading space of a SentencePiece text dropped, and llama.cpp's
  // clean-up of " ," etc. for the vocabularies that ask for it.
  std::string decode(std::span<const int32_t> ids) const;
  // End of generation: EOS, EOT and texts such as <|im_end|>, <|endoftext|>, <|eot_id|>.
  bool is_eog(int32_t id) const;
  bool is_control(int32_t id) const;  // control/unknown tokens: not text a user wrote

  int32_t bos() const;
  int32_t eos() const;
  int32_t n_vocab() const;
  std::optional<int32_t> find_token(std::string_view text) const;
  const VocabData& vocab() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace turbine
