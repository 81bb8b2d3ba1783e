// Test helpers for grammar automata over a byte vocabulary: token i < 256 is byte i and
// token 256 the end-of-generation token, so a document is fed byte by byte.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/token_automaton.h"
#include "engine/grammar/vocab_trie.h"

namespace turbine::grammar::testing {

inline constexpr int32_t kByteVocabEog = 256;

inline std::shared_ptr<const VocabTrie> byte_vocab() {
  std::vector<std::string> pieces;
  std::vector<bool> text;
  for (int i = 0; i < 256; ++i) pieces.push_back(std::string(1, static_cast<char>(i))), text.push_back(true);
  pieces.push_back("</s>");
  text.push_back(false);
  return std::make_shared<VocabTrie>(pieces, text, std::vector<int32_t>{kByteVocabEog});
}

// Whether the automaton reads `doc` byte by byte and ends in an accepting state.
inline bool accepts_bytes(TokenAutomaton& a, const std::string& doc) {
  auto st = a.initial();
  for (unsigned char c : doc) {
    st = a.step_token(st, c);
    if (st == TokenAutomaton::kDead) return false;
  }
  return a.accepting(st);
}

}  // namespace turbine::grammar::testing
