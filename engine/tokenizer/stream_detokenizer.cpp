#include "engine/tokenizer/stream_detokenizer.h"

#include "engine/tokenizer/unicode.h"

namespace turbine {

std::string StreamDetokenizer::push(int32_t id) {
  return push_bytes(tok_->token_to_piece(id));
}

std::string StreamDetokenizer::push_bytes(std::string_view bytes) {
  held_.append(bytes);
  // Only a tail that could still become a character waits; invalid bytes pass through, so
  // nothing is held forever.
  size_t keep = utf8_incomplete_tail(held_);
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace turbine
