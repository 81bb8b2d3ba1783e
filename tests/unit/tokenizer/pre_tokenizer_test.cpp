// Expected pieces are worked out by hand from the regexes in pre_tokenizer.h (with
// llama.cpp's multi-pass semantics), not produced by this code.
#include <gtest/gtest.h>

#include "engine/tokenizer/pre_tokenizer.h"

namespace turbine {
namespace {

using Pieces = std::vector<std::string>;

struct Case {
  const char* pre;
  std::string text;
  Pieces pieces;
};

class PreTokenizerSplit : public ::testing::TestWithParam<Case> {};

TEST_P(PreTokenizerSplit, MatchesHandDerivedPieces) {
  const Case& c = GetParam();
  auto pre = PreTokenizer::create(c.pre);
  ASSERT_TRUE(pre.ok()) << pre.error();
  EXPECT_EQ(pre->split_utf8(c.text), c.pieces) << c.pre << ": '" << c.text << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Gpt2, PreTokenizerSplit,
    ::testing::Values(
        Case{"gpt-2", "Hello world", {"Hello", " world"}},
        Case{"gpt-2",
             "I'm here, aren't you?",
             {"I", "'m", " here", ",", " aren", "'t", " you", "?"}},
        Case{"gpt-2", "we'll they've you're", {"we", "'ll", " they", "'ve", " you", "'re"}},
        Case{"gpt-2", "IT'S", {"IT", "'", "S"}},  // contractions are case-sensitive
        Case{"gpt-2", "a  b", {"a", " ", " b"}},  // \s+(?!\S) leaves one space for the word
        Case{"gpt-2", "a   ", {"a", "   "}},      // trailing spaces stay together
        Case{"gpt-2", "x\n\ny", {"x", "\n", "\n", "y"}},
        Case{"gpt-2", "3.14 $100!!", {"3", ".", "14", " $", "100", "!!"}},
        Case{"gpt-2", " ?!", {" ?!"}},
        Case{"gpt-2", "h\xc3\xa9llo w\xc3\xb6rld", {"h\xc3\xa9llo", " w\xc3\xb6rld"}},
        Case{"gpt-2",
             "\xe4\xbd\xa0\xe5\xa5\xbd \xe4\xb8\x96\xe7\x95\x8c",
             {"\xe4\xbd\xa0\xe5\xa5\xbd", " \xe4\xb8\x96\xe7\x95\x8c"}},
        Case{"gpt-2", "", {}}));

INSTANTIATE_TEST_SUITE_P(
    SmolLm, PreTokenizerSplit,
    ::testing::Values(
        Case{"smollm", "abc123", {"abc", "1", "2", "3"}},
        Case{"smollm", "a 12", {"a", " ", "1", "2"}},  // the number pass runs first: no " 1"
        Case{"smollm", "x  1", {"x", "  ", "1"}},      // lookahead stops at the piece end
        Case{"smollm",
             "a\xd9\xa3"
             "b",
             {"a", "\xd9\xa3", "b"}},  // any \p{N}, not just 0-9
        Case{"smollm", "Hello, world!", {"Hello", ",", " world", "!"}},
        Case{"smollm", "IT'S ok", {"IT", "'", "S", " ok"}},
        Case{"smollm", "\xc2\xbd cup", {"\xc2\xbd", " cup"}}));

INSTANTIATE_TEST_SUITE_P(
    Llama3, PreTokenizerSplit,
    ::testing::Values(Case{"llama3", "Hello, world!", {"Hello", ",", " world", "!"}},
                      Case{"llama3", "12345", {"123", "45"}},
                      Case{"llama3", "IT'S", {"IT", "'S"}},  // case-insensitive contractions
                      Case{"llama3", "a\n\nb", {"a", "\n\n", "b"}},
                      Case{"llama3", "x ?!\n\ny", {"x", " ?!\n\n", "y"}},
                      Case{"llama3", "  hi", {" ", " hi"}},
                      Case{"llama3", "(hi)", {"(hi", ")"}},  // one non-letter may lead a word
                      Case{"llama3", "a \n b", {"a", " \n", " b"}}));

// Qwen2: Llama-3's pattern with every digit a piece of its own.
INSTANTIATE_TEST_SUITE_P(
    Qwen2, PreTokenizerSplit,
    ::testing::Values(Case{"qwen2", "Hello, world!", {"Hello", ",", " world", "!"}},
                      Case{"qwen2", "12345", {"1", "2", "3", "4", "5"}},
                      Case{"qwen2", "x=10.5", {"x", "=", "1", "0", ".", "5"}},
                      Case{"qwen2", "IT'S", {"IT", "'S"}},
                      Case{"qwen2", "a \n b", {"a", " \n", " b"}},
                      Case{"deepseek-r1-qwen", "v2 of 3", {"v", "2", " of", " ", "3"}}));

INSTANTIATE_TEST_SUITE_P(Default, PreTokenizerSplit,
                         ::testing::Values(Case{"default", "a+b", {"a", "+", "b"}},
                                           Case{
                                               "default", "hello, world", {"hello", ",", " world"}},
                                           Case{"default", "1234567", {"123", "456", "7"}},
                                           Case{"default", "x=1", {"x", "=", "1"}}));

TEST(PreTokenizer, UnknownNameIsAnError) {
  auto pre = PreTokenizer::create("qwen35");
  ASSERT_FALSE(pre.ok());
  EXPECT_NE(pre.error().find("'qwen35'"), std::string::npos);
  EXPECT_NE(pre.error().find("smollm"), std::string::npos);
}

TEST(PreTokenizer, TraitsFollowLlamaCpp) {
  EXPECT_FALSE(PreTokenizer::create("smollm")->clean_spaces());
  EXPECT_TRUE(PreTokenizer::create("gpt-2")->clean_spaces());
  EXPECT_TRUE(PreTokenizer::create("llama3")->ignore_merges());
  EXPECT_FALSE(PreTokenizer::create("smollm")->ignore_merges());
  EXPECT_FALSE(PreTokenizer::create("qwen2")->clean_spaces());
  EXPECT_FALSE(PreTokenizer::create("qwen2")->ignore_merges());
}

TEST(PreTokenizer, PiecesCoverInvalidInputExactly) {
  auto pre = PreTokenizer::create("smollm");
  std::string bad = "ab\xff\xc3 1\xe2\x82\xf4\x90\x80\x80z";
  size_t total = 0;
  for (const auto& p : pre->split_utf8(bad)) {
    EXPECT_FALSE(p.empty());
    total += p.size();
  }
  // Each bad byte became U+FFFD (3 bytes); the 4-byte out-of-range form became one.
  EXPECT_EQ(total, 2 + 3 + 3 + 2 + 3 + 3 + 3 + 1u);
}

}  // namespace
}  // namespace turbine
