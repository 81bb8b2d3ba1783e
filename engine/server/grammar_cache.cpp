#include "engine/server/grammar_cache.h"

#include <chrono>

#include "engine/grammar/grammar_parser.h"
#include "engine/runtime/engine_metrics.h"

namespace turbine {

std::shared_ptr<const grammar::VocabTrie> vocab_trie_of(const Tokenizer& tok) {
  std::vector<std::string> pieces(tok.n_vocab());
  std::vector<bool> text(tok.n_vocab());
  std::vector<int32_t> eog;
  for (int32_t i = 0; i < tok.n_vocab(); ++i) {
    pieces[i] = tok.token_to_piece(i);
    text[i] = !tok.is_control(i) && !tok.is_eog(i);
    if (tok.is_eog(i)) eog.push_back(i);
  }
  return std::make_shared<grammar::VocabTrie>(pieces, text, std::move(eog));
}

GrammarCache::GrammarCache(const Tokenizer& tok, EngineMetrics* metrics, size_t capacity)
    : tok_(tok), metrics_(metrics), capacity_(capacity) {}

size_t GrammarCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

Result<std::shared_ptr<grammar::TokenAutomaton>> GrammarCache::get(const std::string& text) {
  std::shared_ptr<const grammar::VocabTrie> vocab;
  {
    std::lock_guard lock(mu_);
    if (auto it = index_.find(text); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return lru_.front().second;
    }
    if (!vocab_) vocab_ = vocab_trie_of(tok_);
    vocab = vocab_;
  }
  // Compile outside the lock: a large schema does not hold up cache hits.
  const auto t0 = std::chrono::steady_clock::now();
  auto g = grammar::parse_grammar(text);
  if (!g.ok()) return Error{g.error()};
  auto a = std::make_shared<grammar::TokenAutomaton>(std::move(*g), vocab);
  if (a->initial() == grammar::TokenAutomaton::kDead)
    return Error{"the grammar matches nothing"};
  (void)a->mask(a->initial());  // the first token's mask, ready before the loop needs it
  if (metrics_)
    metrics_->grammar_compile_seconds.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::lock_guard lock(mu_);
  if (auto it = index_.find(text); it != index_.end()) return it->second->second;
  lru_.emplace_front(text, a);
  index_[text] = lru_.begin();
  while (lru_.size() > capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return a;
}

}  // namespace turbine
