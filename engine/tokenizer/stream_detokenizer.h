// Token ids -> text for streaming (CLI output, SSE deltas): a character whose UTF-8 bytes
// are split across tokens (common for emoji and CJK with byte-level BPE) is held back until
// it is complete, so every chunk sent is valid UTF-8 on its own.
#pragma once
#include <cstdint>
#include <string>

#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class StreamDetokenizer {  // one per generation; not thread-safe
 public:
  explicit StreamDetokenizer(const Tokenizer& tok) : tok_(&tok) {}
  // The text that became complete with `id` (possibly empty).
  std::string push(int32_t id);
  // Appends raw bytes instead of a token (e.g. a piece computed elsewhere).
  std::string push_bytes(std::string_view bytes);
  // Whatever is still held back (an incomplete sequence at the end of generation), as is.
  std::string flush();
  size_t pending_bytes() const { return held_.size(); }

 private:
  const Tokenizer* tok_;
  std::string held_;
};

}  // namespace turbine
