#include "engine/grammar/token_automaton.h"

#include <algorithm>

namespace turbine::grammar {
namespace {

constexpr TokenAutomaton::StateId kUnknown = -3;
// Expansion depth beyond which a grammar is treated as having no continuation there
// (build() rejects left recursion, so only absurd nesting reaches it).
constexpr int kMaxExpandDepth = 4096;

}  // namespace

size_t TokenAutomaton::VecHash::operator()(const std::vector<int32_t>& v) const {
  uint64_t h = 1469598103934665603ull;
  for (int32_t x : v) h = (h ^ static_cast<uint32_t>(x)) * 1099511628211ull;
  return static_cast<size_t>(h);
}

TokenAutomaton::TokenAutomaton(Grammar g, std::shared_ptr<const VocabTrie> vocab,
                               size_t max_cached_masks)
    : g_(std::move(g)), vocab_(std::move(vocab)), max_cached_masks_(max_cached_masks) {
  std::lock_guard lock(mu_);
  std::vector<int32_t> start;
  for (uint32_t alt : g_.alts[g_.root]) expand(alt, -1, start, 0);
  initial_ = intern(std::move(start));
}

int32_t TokenAutomaton::node(uint32_t pos, int32_t parent) {
  const uint64_t key = (uint64_t{pos} << 32) | static_cast<uint32_t>(parent + 1);
  auto [it, inserted] = node_index_.emplace(key, static_cast<int32_t>(nodes_.size()));
  if (inserted) nodes_.push_back({pos, parent});
  return it->second;
}

// Every stack whose top is a byte set, reached from `pos` with `parent` below it.
void TokenAutomaton::expand(uint32_t pos, int32_t parent, std::vector<int32_t>& out, int depth) {
  if (depth > kMaxExpandDepth) return;
  for (;;) {
    const Elem e = g_.code[pos];
    if (e.op == Op::kBytes) {
      out.push_back(node(pos, parent));
      return;
    }
    if (e.op == Op::kEndAlt) {
      if (parent < 0) {
        out.push_back(-1);
        return;
      }
      const Node n = nodes_[parent];
      pos = n.pos;
      parent = n.parent;
      continue;
    }
    // A rule: continue at pos + 1 after it (a tail call needs no frame of its own).
    const int32_t ret = g_.code[pos + 1].op == Op::kEndAlt ? parent : node(pos + 1, parent);
    for (uint32_t alt : g_.alts[e.arg]) expand(alt, ret, out, depth + 1);
    return;
  }
}

TokenAutomaton::StateId TokenAutomaton::intern(std::vector<int32_t> stacks) {
  std::sort(stacks.begin(), stacks.end());
  stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
  if (stacks.empty()) return kDead;
  auto it = state_index_.find(stacks);
  if (it != state_index_.end()) return it->second;
  State st;
  for (int32_t s : stacks) {
    if (s < 0) {
      st.accept = true;
      continue;
    }
    st.first |= g_.sets[g_.code[nodes_[s].pos].arg];
  }
  st.stacks = stacks;
  const auto id = static_cast<StateId>(states_.size());
  states_.push_back(std::move(st));
  state_index_.emplace(std::move(stacks), id);
  return id;
}

TokenAutomaton::StateId TokenAutomaton::step_byte(StateId s, uint8_t b) {
  if (!states_[s].first.test(b)) return kDead;
  if (states_[s].next.empty()) states_[s].next.assign(256, kUnknown);
  if (StateId n = states_[s].next[b]; n != kUnknown) return n;
  std::vector<int32_t> out;
  for (int32_t stack : states_[s].stacks) {
    if (stack < 0) continue;
    const Node n = nodes_[stack];
    if (g_.sets[g_.code[n.pos].arg].test(b)) expand(n.pos + 1, n.parent, out, 0);
  }
  const StateId next = intern(std::move(out));
  states_[s].next[b] = next;  // states_ may have grown: index again
  return next;
}

TokenAutomaton::StateId TokenAutomaton::initial() { return initial_; }

TokenAutomaton::StateId TokenAutomaton::step_token(StateId s, int32_t token) {
  std::lock_guard lock(mu_);
  if (s < 0) return kDead;
  if (vocab_->is_eog(token)) return states_[s].accept ? kEnded : kDead;
  if (!vocab_->is_text(token)) return kDead;
  const std::string& piece = vocab_->piece(token);
  if (piece.empty()) return kDead;
  for (unsigned char c : piece) {
    s = step_byte(s, c);
    if (s < 0) return kDead;
  }
  return s;
}

bool TokenAutomaton::accepting(StateId s) {
  std::lock_guard lock(mu_);
  return s == kEnded || (s >= 0 && states_[s].accept);
}

bool TokenAutomaton::complete(StateId s) {
  std::lock_guard lock(mu_);
  return s == kEnded || (s >= 0 && states_[s].accept && states_[s].first.empty());
}

size_t TokenAutomaton::states() const {
  std::lock_guard lock(mu_);
  return states_.size();
}

std::shared_ptr<const TokenMask> TokenAutomaton::eog_mask() {
  if (!eog_mask_) {
    auto m = std::make_shared<TokenMask>((vocab_->n_vocab() + 63) / 64, 0);
    for (int32_t t : vocab_->eog())
      if (t >= 0 && t < vocab_->n_vocab()) (*m)[t >> 6] |= uint64_t{1} << (t & 63);
    eog_mask_ = std::move(m);
  }
  return eog_mask_;
}

std::shared_ptr<const TokenMask> TokenAutomaton::mask(StateId s) {
  std::lock_guard lock(mu_);
  if (s == kEnded) return eog_mask();
  if (s < 0) return std::make_shared<TokenMask>((vocab_->n_vocab() + 63) / 64, 0);
  if (states_[s].mask) return states_[s].mask;
  if (cached_masks_ >= max_cached_masks_) {
    for (State& st : states_) st.mask.reset();
    cached_masks_ = 0;
  }
  auto m = compute_mask(s);
  states_[s].mask = m;
  ++cached_masks_;
  return m;
}

// One walk over the trie: a child is visited only when its byte can follow the state of
// its parent, so the walk touches exactly the allowed tokens' prefixes.
std::shared_ptr<const TokenMask> TokenAutomaton::compute_mask(StateId s) {
  auto m = std::make_shared<TokenMask>((vocab_->n_vocab() + 63) / 64, 0);
  const auto& nodes = vocab_->nodes();
  const auto& toks = vocab_->tokens();
  std::vector<std::pair<uint32_t, StateId>> todo{{0, s}};
  while (!todo.empty()) {
    auto [ni, st] = todo.back();
    todo.pop_back();
    const VocabTrie::Node& n = nodes[ni];
    for (uint32_t c = n.first_child; c < n.first_child + n.n_children; ++c) {
      const VocabTrie::Node& child = nodes[c];
      const StateId next = step_byte(st, child.byte);
      if (next < 0) continue;
      for (uint32_t k = child.tok_begin; k < child.tok_end; ++k)
        (*m)[toks[k] >> 6] |= uint64_t{1} << (toks[k] & 63);
      if (child.n_children) todo.push_back({c, next});
    }
  }
  if (states_[s].accept) {
    const auto& eog = *eog_mask();
    for (size_t i = 0; i < m->size(); ++i) (*m)[i] |= eog[i];
  }
  return m;
}

bool GrammarMatcher::accept(int32_t token) {
  const TokenAutomaton::StateId n = a_->step_token(s_, token);
  if (n == TokenAutomaton::kDead) return false;
  s_ = n;
  return true;
}

}  // namespace turbine::grammar
