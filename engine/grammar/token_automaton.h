// A grammar run over a vocabulary: which tokens may come next, and the state after one.
//
// The matcher state is the set of parse stacks a pushdown automaton can be in after the
// bytes so far (stacks are hash-consed into a node pool, so a stack is one id; states are
// interned sets of stacks). Byte transitions are memoised per state, which makes the
// automaton a DFA built lazily over exactly the states decoding visits. A token mask is
// one walk over the vocabulary trie (vocab_trie.h), pruned by each state's first-byte set,
// and is cached per state: generating JSON revisits a handful of states (inside a string,
// after a key, between array items), so most tokens cost a cache lookup and applying the
// mask. End-of-generation tokens are allowed exactly in accepting states.
//
// One automaton per compiled grammar, shared by every request that uses it (the cache in
// server/grammar_cache.h); calls lock, so HTTP threads may create matchers while the
// engine loop masks.
#pragma once
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engine/grammar/grammar.h"
#include "engine/grammar/vocab_trie.h"

namespace turbine::grammar {

// One bit per token id.
using TokenMask = std::vector<uint64_t>;
inline bool mask_test(const TokenMask& m, int32_t id) { return (m[id >> 6] >> (id & 63)) & 1; }

class TokenAutomaton {
 public:
  using StateId = int32_t;
  static constexpr StateId kDead = -1;   // no continuation: the bytes left the grammar
  static constexpr StateId kEnded = -2;  // an end-of-generation token was taken

  TokenAutomaton(Grammar g, std::shared_ptr<const VocabTrie> vocab,
                 size_t max_cached_masks = 1024);

  StateId initial();
  // The state after `token`, or kDead when the grammar does not allow it.
  StateId step_token(StateId s, int32_t token);
  // The tokens allowed in `s` (ends: only end-of-generation tokens).
  std::shared_ptr<const TokenMask> mask(StateId s);
  bool accepting(StateId s);
  // Accepting with no byte that could continue: only end-of-generation remains.
  bool complete(StateId s);

  const VocabTrie& vocab() const { return *vocab_; }
  const Grammar& grammar() const { return g_; }
  size_t states() const;

 private:
  struct Node {
    uint32_t pos;
    int32_t parent;
  };
  struct State {
    std::vector<int32_t> stacks;  // sorted; -1: the empty stack (the grammar can end here)
    ByteSet first;                // bytes some stack can take
    bool accept = false;
    std::vector<StateId> next;    // per byte, lazily (-3: not computed yet)
    std::shared_ptr<const TokenMask> mask;
  };
  struct VecHash {
    size_t operator()(const std::vector<int32_t>& v) const;
  };

  int32_t node(uint32_t pos, int32_t parent);
  void expand(uint32_t pos, int32_t parent, std::vector<int32_t>& out, int depth);
  StateId intern(std::vector<int32_t> stacks);
  StateId step_byte(StateId s, uint8_t b);
  std::shared_ptr<const TokenMask> compute_mask(StateId s);
  std::shared_ptr<const TokenMask> eog_mask();

  Grammar g_;
  std::shared_ptr<const VocabTrie> vocab_;
  size_t max_cached_masks_;
  size_t cached_masks_ = 0;
  mutable std::mutex mu_;
  std::vector<Node> nodes_;
  std::unordered_map<uint64_t, int32_t> node_index_;
  std::vector<State> states_;
  std::unordered_map<std::vector<int32_t>, StateId, VecHash> state_index_;
  StateId initial_ = kDead;
  std::shared_ptr<const TokenMask> eog_mask_;
};

// One request's place in its grammar.
class GrammarMatcher {
 public:
  explicit GrammarMatcher(std::shared_ptr<TokenAutomaton> a) : a_(std::move(a)), s_(a_->initial()) {}
  std::shared_ptr<const TokenMask> allowed() { return a_->mask(s_); }
  // Takes `token`; false (and no change) when the grammar does not allow it.
  bool accept(int32_t token);
  // Whether `token` may come next: its bytes stepped once (no mask needed).
  bool allows(int32_t token) const { return a_->step_token(s_, token) != TokenAutomaton::kDead; }
  bool accepting() const { return a_->accepting(s_); }
  bool complete() const { return a_->complete(s_); }
  bool ended() const { return s_ == TokenAutomaton::kEnded; }

 private:
  std::shared_ptr<TokenAutomaton> a_;
  TokenAutomaton::StateId s_;
};

}  // namespace turbine::grammar
