// Text grammars: parse errors name the line; a table of grammars and the strings each
// must and must not match, run byte by byte through the token automaton.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/token_automaton.h"
#include "engine/grammar/vocab_trie.h"
#include "tests/unit/grammar/byte_vocab.h"

namespace turbine::grammar {
namespace {

using testing::byte_vocab;

bool matches(const std::string& grammar, const std::string& s) {
  auto g = parse_grammar(grammar);
  EXPECT_TRUE(g.ok()) << g.error();
  if (!g.ok()) return false;
  TokenAutomaton a(std::move(*g), byte_vocab());
  auto st = a.initial();
  for (unsigned char c : s) {
    st = a.step_token(st, c);
    if (st == TokenAutomaton::kDead) return false;
  }
  return a.accepting(st) && a.step_token(st, 256) == TokenAutomaton::kEnded;
}

struct Case {
  const char* grammar;
  std::vector<std::string> yes, no;
};

TEST(Grammar, MatchesExactlyItsLanguage) {
  const std::vector<Case> cases = {
      {R"(root ::= "abc")", {"abc"}, {"", "ab", "abcd", "abd"}},
      {R"(root ::= "a" | "bc" | "")", {"a", "bc", ""}, {"b", "abc"}},
      {R"(root ::= [a-c]+ "!")", {"a!", "cab!"}, {"!", "ad!", "a"}},
      {R"(root ::= [^a-c]*)", {"", "xyz", "\xc3\xa9"}, {"a", "xa"}},
      {R"(root ::= [-+]? [0-9]{2,3})", {"12", "-123", "+99"}, {"1", "1234", "--12"}},
      {R"(root ::= "x"{3})", {"xxx"}, {"xx", "xxxx"}},
      {R"(root ::= "x"{2,})", {"xx", "xxxxxx"}, {"x"}},
      {R"(root ::= ("ab" | "c")* "d")", {"d", "abcd", "ccabd"}, {"abc", "ad"}},
      {R"g(root ::= "(" root ")" | "")g", {"", "()", "((()))"}, {"(()", ")("}},
      {"root ::= [\\u00e9-\\u00fc]", {"\xc3\xa9", "\xc3\xbc"}, {"e", "\xc3\xa8", "\xc3"}},
      {"root ::= .", {"a", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}, {"", "ab", "\xed\xa0\x80", "\xc0\x80"}},
      {R"(root ::= "\x41\u00e9\n\"" [\]\\])", {"A\xc3\xa9\n\"]", "A\xc3\xa9\n\"\\"}, {"A\xc3\xa9\n\""}},
      {"root ::= a b\na ::= \"1\"\n  | \"2\"  # comment\nb ::= \"z\"", {"1z", "2z"}, {"z", "12z"}},
      {R"(root ::= "€"+)", {"€", "€€"}, {"", "\xe2\x82"}},
  };
  for (const Case& c : cases) {
    for (const auto& s : c.yes) EXPECT_TRUE(matches(c.grammar, s)) << c.grammar << " on '" << s << "'";
    for (const auto& s : c.no) EXPECT_FALSE(matches(c.grammar, s)) << c.grammar << " on '" << s << "'";
  }
}

TEST(Grammar, ErrorsNameTheLineAndTheProblem) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"root ::= foo", "rule 'foo' is used but never defined"},
      {"start ::= \"a\"", "no rule 'root'"},
      {"root ::= root \"a\" | \"b\"", "'root' is left-recursive"},
      {"root ::= x\nx ::= \"\"* \"a\"", "left-recursive"},
      {"root ::= \"a\"\nroot ::= \"b\"", "line 2: rule 'root' is defined twice"},
      {"root ::= \"a\n\"", "line 1: unterminated string literal"},
      {"root ::=\n  \"\\q\"", "line 2: unknown escape '\\q'"},
      {"root ::= [z-a]", "backwards"},
      {"root ::= [^\\x00-\\U0010FFFF]", "matches nothing"},
      {"root ::= \"a\"{3,2}", "n < m"},
      {"root ::= (\"a\"", "expected ')'"},
      {"root = \"a\"", "expected '::='"},
      {"root ::= \"a\" }", "unexpected '}'"},
      {"root ::= \"\\u12\"", "4 hex digits"},
  };
  const std::string deep = "root ::= " + std::string(100000, '(') + "\"a\"" + std::string(100000, ')');
  auto g = parse_grammar(deep);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().find("nested deeper than 256"), std::string::npos) << g.error();
  for (auto [text, want] : cases) {
    auto g = parse_grammar(text);
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_NE(g.error().find(want), std::string::npos) << text << " -> " << g.error();
  }
}

TEST(Grammar, QuoteLiteralRoundTrips) {
  for (std::string s : {std::string("plain"), std::string("q\"b\\s\n\t\r"), std::string("\x01\x7f"),
                        std::string("\xc3\xa9\xe2\x82\xac")}) {
    const std::string g = "root ::= " + quote_literal(s);
    EXPECT_TRUE(matches(g, s)) << g;
  }
}

}  // namespace
}  // namespace turbine::grammar
