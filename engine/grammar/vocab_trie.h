// The vocabulary as a byte trie, built once per model: a token mask is one walk over it,
// so tokens sharing a prefix share the automaton steps for that prefix. Only text tokens
// are in the trie; control tokens (<|im_start|> ...) are never grammar text, and the
// end-of-generation ids are kept apart (allowed exactly where the grammar may end).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace turbine::grammar {

class VocabTrie {
 public:
  struct Node {
    uint32_t first_child = 0, n_children = 0;  // children are contiguous, sorted by byte
    uint32_t tok_begin = 0, tok_end = 0;       // tokens whose bytes end here
    uint8_t byte = 0;
  };

  // pieces[i]: the bytes of token i; text[i]: whether token i is text; eog: the ids that
  // end generation.
  VocabTrie(const std::vector<std::string>& pieces, const std::vector<bool>& text,
            std::vector<int32_t> eog);

  int n_vocab() const { return n_vocab_; }
  const std::vector<Node>& nodes() const { return nodes_; }  // [0] is the root
  const std::vector<int32_t>& tokens() const { return tokens_; }
  const std::vector<int32_t>& eog() const { return eog_; }
  bool is_eog(int32_t id) const;
  bool is_text(int32_t id) const { return id >= 0 && id < n_vocab_ && text_[id]; }
  const std::string& piece(int32_t id) const { return pieces_[id]; }

 private:
  int n_vocab_;
  std::vector<std::string> pieces_;
  std::vector<bool> text_;
  std::vector<int32_t> eog_;
  std::vector<Node> nodes_;
  std::vector<int32_t> tokens_;
};

}  // namespace turbine::grammar
