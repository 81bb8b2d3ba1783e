// Compiled grammars by text: a request's constraint (response_format, `grammar`) compiles
// once to a TokenAutomaton, which every later request with the same schema shares,
// masks and transitions included. Compilation (parse, first expansion, the first mask)
// runs on the HTTP thread, off the engine loop, and is timed into
// turbine_grammar_compile_seconds. The vocabulary trie is built on first use. LRU of
// `capacity` grammars; thread-safe.
#pragma once
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "base/result.h"
#include "engine/grammar/token_automaton.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

class GrammarCache {
 public:
  explicit GrammarCache(const Tokenizer& tok, EngineMetrics* metrics = nullptr, size_t capacity = 64);

  // The automaton for grammar text `text`, or the parse error.
  Result<std::shared_ptr<grammar::TokenAutomaton>> get(const std::string& text);
  size_t size() const;

 private:
  using Entry = std::pair<std::string, std::shared_ptr<grammar::TokenAutomaton>>;

  const Tokenizer& tok_;
  EngineMetrics* metrics_;
  size_t capacity_;
  mutable std::mutex mu_;
  std::shared_ptr<const grammar::VocabTrie> vocab_;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

// The vocabulary of `tok` as the automaton sees it.
std::shared_ptr<const grammar::VocabTrie> vocab_trie_of(const Tokenizer& tok);

}  // namespace turbine
