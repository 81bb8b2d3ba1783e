#include "engine/grammar/vocab_trie.h"

#include <algorithm>
#include <deque>
#include <numeric>

namespace turbine::grammar {

VocabTrie::VocabTrie(const std::vector<std::string>& pieces, const std::vector<bool>& text,
                     std::vector<int32_t> eog)
    : n_vocab_(static_cast<int>(pieces.size())), pieces_(pieces), text_(text), eog_(std::move(eog)) {
  text_.resize(pieces.size(), false);
  std::vector<int32_t> order;
  for (int32_t i = 0; i < n_vocab_; ++i)
    if (text_[i] && !pieces_[i].empty()) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return pieces_[a] != pieces_[b] ? pieces_[a] < pieces_[b] : a < b;
  });
  // Breadth first over ranges of `order` sharing a prefix of length `depth`: each node's
  // children are pushed together, so they are contiguous.
  struct Work {
    uint32_t node;
    size_t a, b, depth;
  };
  nodes_.push_back({});
  std::deque<Work> q{{0, 0, order.size(), 0}};
  while (!q.empty()) {
    Work w = q.front();
    q.pop_front();
    size_t i = w.a;
    nodes_[w.node].tok_begin = static_cast<uint32_t>(tokens_.size());
    while (i < w.b && pieces_[order[i]].size() == w.depth) tokens_.push_back(order[i++]);
    nodes_[w.node].tok_end = static_cast<uint32_t>(tokens_.size());
    nodes_[w.node].first_child = static_cast<uint32_t>(nodes_.size());
    while (i < w.b) {
      const auto byte = static_cast<uint8_t>(pieces_[order[i]][w.depth]);
      size_t j = i;
      while (j < w.b && static_cast<uint8_t>(pieces_[order[j]][w.depth]) == byte) ++j;
      Node n;
      n.byte = byte;
      nodes_.push_back(n);
      q.push_back({static_cast<uint32_t>(nodes_.size() - 1), i, j, w.depth + 1});
      ++nodes_[w.node].n_children;
      i = j;
    }
  }
}

bool VocabTrie::is_eog(int32_t id) const {
  return std::find(eog_.begin(), eog_.end(), id) != eog_.end();
}

}  // namespace turbine::grammar
