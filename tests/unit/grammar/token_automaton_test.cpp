// The token automaton against brute force: on random walks through a JSON grammar with a
// vocabulary of multi-byte tokens (shared prefixes, partial UTF-8, control tokens), every
// mask bit equals stepping that token's bytes one by one; a live state never masks every
// token; end-of-generation is allowed exactly where the grammar may end.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/token_automaton.h"
#include "engine/grammar/vocab_trie.h"

namespace turbine::grammar {
namespace {

constexpr const char* kJson = R"(
root   ::= object
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws (pair ("," ws pair)*)? "}"
pair   ::= string ws ":" ws value ws
array  ::= "[" ws (value ws ("," ws value ws)*)? "]"
string ::= "\"" ([^"\\\x00-\x1f] | "\\" ["\\nt] )* "\""
number ::= "-"? ([0-9] | [1-9] [0-9]{1,5}) ("." [0-9]{1,3})?
ws     ::= [ \n]?
)";

// The first byte of a shortest way to an accepting state (through a few closing bytes).
int32_t toward_end(TokenAutomaton& a, TokenAutomaton::StateId from) {
  const std::string bytes = std::string("\"}]:0n") + "\x80";
  std::vector<std::pair<TokenAutomaton::StateId, int32_t>> frontier{{from, -1}};
  for (int depth = 0; depth < 64 && !frontier.empty(); ++depth) {
    std::vector<std::pair<TokenAutomaton::StateId, int32_t>> next;
    for (auto [s, first] : frontier) {
      if (a.accepting(s) && first >= 0) return first;
      for (char b : bytes) {
        auto n = a.step_token(s, static_cast<unsigned char>(b));
        if (n != TokenAutomaton::kDead) next.push_back({n, first >= 0 ? first : static_cast<unsigned char>(b)});
      }
    }
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end(), [](auto& x, auto& y) { return x.first == y.first; }), next.end());
    frontier = std::move(next);
  }
  return -1;
}

struct Vocab {
  std::shared_ptr<const VocabTrie> trie;
  std::vector<std::string> pieces;
  int32_t eos = -1, control = -1;
};

Vocab make_vocab(uint32_t seed) {
  Vocab v;
  for (int i = 0; i < 256; ++i) v.pieces.push_back(std::string(1, static_cast<char>(i)));
  const std::vector<std::string> fixed = {"{\"", "\":", "\": ", "\",", "\"}", " \"", "true", "null", "false",
                                          "1.", "12", "-3", "\n ", ", ", "[]", "{}", "\xc3", "\xc3\xa9", "\xa9x",
                                          "ab", "abc", "abcd", "a\"", "\\n", "\\\"", "}]", "]}", "::"};
  for (const auto& f : fixed) v.pieces.push_back(f);
  std::mt19937 rng(seed);
  const std::string alphabet = "{}[]\":, \nabc019.-\\tnul";
  for (int i = 0; i < 400; ++i) {
    std::string p;
    const int len = 2 + static_cast<int>(rng() % 5);
    for (int k = 0; k < len; ++k) p += alphabet[rng() % alphabet.size()];
    v.pieces.push_back(p);
  }
  v.pieces.push_back(v.pieces[300]);  // a duplicate piece: both ids must be allowed together
  std::vector<bool> text(v.pieces.size(), true);
  v.eos = static_cast<int32_t>(v.pieces.size());
  v.pieces.push_back("</s>");
  text.push_back(false);
  v.control = static_cast<int32_t>(v.pieces.size());
  v.pieces.push_back("{");  // a control token whose text would be allowed: never is
  text.push_back(false);
  v.trie = std::make_shared<VocabTrie>(v.pieces, text, std::vector<int32_t>{v.eos});
  return v;
}

TEST(TokenAutomaton, MasksEqualBruteForceOnRandomWalks) {
  auto g = parse_grammar(kJson);
  ASSERT_TRUE(g.ok()) << g.error();
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    Vocab v = make_vocab(seed);
    TokenAutomaton a(*g, v.trie, /*max_cached_masks=*/8);  // small: eviction is exercised
    std::mt19937 rng(seed * 77);
    for (int walk = 0; walk < 12; ++walk) {
      auto st = a.initial();
      std::string text;
      for (int step = 0; step < 600; ++step) {
        auto mask = a.mask(st);
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < static_cast<int32_t>(v.pieces.size()); ++t) {
          const bool brute = a.step_token(st, t) != TokenAutomaton::kDead;
          ASSERT_EQ(mask_test(*mask, t), brute) << "token " << t << " '" << v.pieces[t] << "' after '" << text << "'";
          if (brute) allowed.push_back(t);
        }
        ASSERT_FALSE(allowed.empty()) << "a live state masks every token after '" << text << "'";
        EXPECT_FALSE(mask_test(*mask, v.control));
        EXPECT_EQ(mask_test(*mask, v.eos), a.accepting(st));
        // Wander for a while, then end as soon as the grammar allows.
        int32_t pick = allowed[rng() % allowed.size()];
        if (step > 60 && mask_test(*mask, v.eos)) pick = v.eos;
        if (step > 60 && pick != v.eos) {
          pick = toward_end(a, st);  // close what is open so the walk finishes
          ASSERT_GE(pick, 0) << "no way to the end after '" << text << "'";
        }
        st = a.step_token(st, pick);
        ASSERT_NE(st, TokenAutomaton::kDead);
        if (pick == v.eos) break;
        text += v.pieces[pick];
      }
      EXPECT_EQ(st, TokenAutomaton::kEnded) << "the walk did not finish: " << text;
      EXPECT_EQ(text.front(), '{');
      EXPECT_EQ(text.back(), '}');
    }
  }
}

TEST(TokenAutomaton, CompleteStatesAllowOnlyTheEnd) {
  auto g = parse_grammar(R"(root ::= "ab" | "abc")");
  ASSERT_TRUE(g.ok());
  Vocab v = make_vocab(9);
  TokenAutomaton a(std::move(*g), v.trie);
  auto st = a.step_token(a.initial(), 'a');
  st = a.step_token(st, 'b');
  EXPECT_TRUE(a.accepting(st));
  EXPECT_FALSE(a.complete(st));  // "c" may still come
  st = a.step_token(st, 'c');
  EXPECT_TRUE(a.complete(st));
  auto mask = a.mask(st);
  for (int32_t t = 0; t < static_cast<int32_t>(v.pieces.size()); ++t) EXPECT_EQ(mask_test(*mask, t), t == v.eos);
  EXPECT_EQ(a.step_token(st, v.eos), TokenAutomaton::kEnded);
  EXPECT_EQ(a.step_token(a.initial(), v.eos), TokenAutomaton::kDead);  // not yet
}

TEST(TokenAutomaton, RepeatedStatesReuseTheirMask) {
  auto g = parse_grammar(R"(root ::= "\"" [a-z]* "\"")");
  ASSERT_TRUE(g.ok());
  Vocab v = make_vocab(3);
  TokenAutomaton a(std::move(*g), v.trie);
  auto st = a.step_token(a.initial(), '"');
  auto first = a.mask(st);
  const size_t states = a.states();
  for (char c : std::string("abcabc")) st = a.step_token(st, c);
  EXPECT_EQ(a.mask(st), first);  // inside the string: the same state, the same mask object
  EXPECT_EQ(a.states(), states);
}

TEST(GrammarMatcher, RefusesWhatTheGrammarDoesNotAllowAndKeepsItsState) {
  auto g = parse_grammar(R"(root ::= "yes" | "no")");
  ASSERT_TRUE(g.ok());
  Vocab v = make_vocab(5);
  GrammarMatcher m(std::make_shared<TokenAutomaton>(std::move(*g), v.trie));
  EXPECT_FALSE(m.accept('x'));
  EXPECT_TRUE(m.allows('y'));
  EXPECT_TRUE(m.accept('n'));
  EXPECT_FALSE(m.accepting());
  EXPECT_TRUE(m.accept('o'));
  EXPECT_TRUE(m.complete());
  EXPECT_TRUE(m.accept(v.eos));
  EXPECT_TRUE(m.ended());
}

}  // namespace
}  // namespace turbine::grammar
