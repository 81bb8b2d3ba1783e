// Hand-built vocabularies small enough to predict every merge by hand.
#include <gtest/gtest.h>

#include "engine/tokenizer/stream_detokenizer.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace turbine {
namespace {

constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

// Byte-level vocabulary: ids 0..255 are the byte alphabet (id == byte), then merged tokens,
// then specials.
struct ByteLevelVocab {
  VocabData v;
  int32_t add(const std::string& text, int32_t type = kNormal) {
    v.tokens.push_back(text);
    v.token_types.push_back(type);
    return static_cast<int32_t>(v.tokens.size()) - 1;
  }
  explicit ByteLevelVocab(std::vector<std::string> merges, const char* pre = "smollm") {
    v.model = "gpt2";
    v.pre = pre;
    for (int b = 0; b < 256; ++b) add(byte_to_unicode_utf8(static_cast<uint8_t>(b)));
    v.merges = std::move(merges);
  }
};

// "Ġ" is the byte-level form of a space.
ByteLevelVocab hello_vocab() {
  ByteLevelVocab b({"h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"});
  for (const char* t : {"he", "ll", "hell", "hello", "Ġw", "or", "Ġwor"}) b.add(t);
  return b;
}

Tokenizer make(VocabData v) {
  auto t = Tokenizer::create(std::move(v));
  EXPECT_TRUE(t.ok()) << t.error();
  return std::move(*t);
}

std::vector<int32_t> bytes_of(const std::string& s) {
  std::vector<int32_t> ids;
  for (char c : s) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

TEST(ByteLevelBpe, MergesByRank) {
  ByteLevelVocab b = hello_vocab();
  Tokenizer tok = make(b.v);
  auto id = [&](const char* t) { return *tok.find_token(t); };
  EXPECT_EQ(tok.encode("hello world", false, false),
            (std::vector<int32_t>{id("hello"), id("Ġwor"), 'l', 'd'}));
  EXPECT_EQ(tok.decode(tok.encode("hello world", false, false)), "hello world");
}

TEST(ByteLevelBpe, LowerRankWinsAndTiesGoLeft) {
  // "abc": with "b c" ranked first the result is a|bc; swapping the ranks gives ab|c.
  ByteLevelVocab first({"b c", "a b"});
  int32_t bc = first.add("bc"), ab = first.add("ab");
  EXPECT_EQ(make(first.v).encode("abc", false, false), (std::vector<int32_t>{'a', bc}));
  ByteLevelVocab second({"a b", "b c"});
  ab = second.add("ab");
  second.add("bc");
  EXPECT_EQ(make(second.v).encode("abc", false, false), (std::vector<int32_t>{ab, 'c'}));
  // "aaa" with only "a a": the leftmost pair merges first.
  ByteLevelVocab tie({"a a"});
  int32_t aa = tie.add("aa");
  EXPECT_EQ(make(tie.v).encode("aaa", false, false), (std::vector<int32_t>{aa, 'a'}));
}

TEST(ByteLevelBpe, SpecialTokensNeedParseSpecialUserDefinedAlwaysMatch) {
  ByteLevelVocab b = hello_vocab();
  int32_t start = b.add("<|im_start|>", kControl);
  int32_t end = b.add("<|im_end|>", kControl);
  int32_t tool = b.add("<tool>", kUserDefined);
  Tokenizer tok = make(b.v);
  const int32_t hello = *tok.find_token("hello");
  EXPECT_EQ(tok.encode("<|im_start|>hello<|im_end|>", false, true),
            (std::vector<int32_t>{start, hello, end}));
  std::vector<int32_t> plain = tok.encode("<|im_start|>hello", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), start), 0);
  EXPECT_EQ(tok.decode(plain), "<|im_start|>hello");
  // User-defined tokens are matched even without parse_special.
  EXPECT_EQ(tok.encode("hello<tool>", false, false), (std::vector<int32_t>{hello, tool}));
  // No space is added or removed around specials.
  std::vector<int32_t> spaced = tok.encode(" <|im_end|> ", false, true);
  EXPECT_EQ(spaced, (std::vector<int32_t>{' ', end, ' '}));  // id == byte for the alphabet
  EXPECT_EQ(tok.token_to_piece(start), "<|im_start|>");
}

TEST(ByteLevelBpe, LongestSpecialTokenFirst) {
  ByteLevelVocab b({});
  b.v.merges = {"x y"};
  int32_t s = b.add("<s>", kControl);
  int32_t s_bang = b.add("<s>!", kControl);
  Tokenizer tok = make(b.v);
  EXPECT_EQ(tok.encode("<s>!<s>", false, true), (std::vector<int32_t>{s_bang, s}));
}

TEST(ByteLevelBpe, BosEosOnlyWhenVocabAsks) {
  ByteLevelVocab b = hello_vocab();
  int32_t bos = b.add("<s>", kControl), eos = b.add("</s>", kControl);
  b.v.bos_id = bos;
  b.v.eos_id = eos;
  EXPECT_EQ(make(b.v).encode("he", true, false),
            (std::vector<int32_t>{*make(b.v).find_token("he")}));
  b.v.add_bos = b.v.add_eos = true;
  Tokenizer tok = make(b.v);
  EXPECT_EQ(tok.encode("he", true, false), (std::vector<int32_t>{bos, *tok.find_token("he"), eos}));
  EXPECT_EQ(tok.encode("he", false, false), (std::vector<int32_t>{*tok.find_token("he")}));
  EXPECT_EQ(tok.encode("", true, false), (std::vector<int32_t>{bos, eos}));
  EXPECT_EQ(tok.bos(), bos);
  EXPECT_EQ(tok.eos(), eos);
}

TEST(ByteLevelBpe, InvalidUtf8BecomesReplacementBytes) {
  Tokenizer tok = make(hello_vocab().v);
  const std::vector<int32_t> fffd = bytes_of("\xef\xbf\xbd");
  EXPECT_EQ(tok.encode("\xff", false, false), fffd);
  std::vector<int32_t> two = fffd;
  two.insert(two.end(), fffd.begin(), fffd.end());
  EXPECT_EQ(tok.encode("\xe2\x82", false, false), two);  // lead + one continuation
  EXPECT_EQ(tok.encode("\xc0\x80", false, false), bytes_of(std::string(1, '\0')));  // overlong NUL
  EXPECT_EQ(tok.encode("\xed\xa0\x80", false, false), bytes_of("\xed\xa0\x80"));  // surrogate kept
  EXPECT_EQ(tok.encode("\xf4\x90\x80\x80", false, false), fffd);                  // above U+10FFFF
  // Deterministic, and every prefix of a messy string tokenizes without trouble.
  std::string messy = "he\xff\xfe\xc3(\xe2\x28\xa1\xf0\x90\x28\xbc hello";
  for (size_t n = 0; n <= messy.size(); ++n)
    EXPECT_EQ(tok.encode(messy.substr(0, n), true, true),
              tok.encode(messy.substr(0, n), true, true));
}

TEST(ByteLevelBpe, DecodeRoundTripsValidUtf8) {
  Tokenizer tok = make(hello_vocab().v);
  for (const char* s : {"hello world", "  hello\n\tworld  ",
                        "caf\xc3\xa9 \xe2\x82\xac"
                        "12 \xf0\x9f\x98\x80!",
                        "it's 'quoted' , ok ?", ""})
    EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s);
}

TEST(ByteLevelBpe, CleanSpacesFollowsThePreTokenizer) {
  // gpt-2 vocabularies get llama.cpp's clean-up on decode; smollm does not.
  ByteLevelVocab g = hello_vocab();
  g.v.pre = "gpt-2";
  Tokenizer gpt2 = make(g.v);
  EXPECT_EQ(gpt2.decode(gpt2.encode("a , b ' c 's", false, false)), "a, b'c's");
  Tokenizer smol = make(hello_vocab().v);
  EXPECT_EQ(smol.decode(smol.encode("a , b ' c 's", false, false)), "a , b ' c 's");
}

TEST(ByteLevelBpe, IgnoreMergesKeepsWholeWordsForLlama3) {
  // "abc" is a token but no merges lead to it: llama3 uses it whole, gpt-2 cannot reach it.
  ByteLevelVocab l({"x y"}, "llama3");
  int32_t abc = l.add("abc");
  EXPECT_EQ(make(l.v).encode("abc", false, false), (std::vector<int32_t>{abc}));
  ByteLevelVocab g({"x y"}, "gpt-2");
  g.add("abc");
  EXPECT_EQ(make(g.v).encode("abc", false, false), (std::vector<int32_t>{'a', 'b', 'c'}));
}

TEST(ByteLevelBpe, EndOfGeneration) {
  ByteLevelVocab b = hello_vocab();
  int32_t eot = b.add("<|endoftext|>", kControl);
  int32_t start = b.add("<|im_start|>", kControl);
  int32_t end = b.add("<|im_end|>", kControl);
  int32_t eos = b.add("</s>", kControl);
  b.v.eos_id = eos;
  Tokenizer tok = make(b.v);
  EXPECT_TRUE(tok.is_eog(eot));
  EXPECT_TRUE(tok.is_eog(end));
  EXPECT_TRUE(tok.is_eog(eos));
  EXPECT_FALSE(tok.is_eog(start));
  EXPECT_FALSE(tok.is_eog('a'));
  EXPECT_FALSE(tok.is_eog(-1));
  EXPECT_FALSE(tok.is_eog(tok.n_vocab()));
}

TEST(ByteLevelBpe, PromotesKnownEndTokensToControl) {
  // A converter that typed <|im_end|> as normal text: llama.cpp still treats it as control.
  ByteLevelVocab b = hello_vocab();
  int32_t end = b.add("<|im_end|>", kNormal);
  Tokenizer tok = make(b.v);
  EXPECT_TRUE(tok.is_control(end));
  EXPECT_EQ(tok.encode("<|im_end|>", false, true), (std::vector<int32_t>{end}));
}

TEST(TokenizerCreate, RejectsWhatItCannotTokenize) {
  ByteLevelVocab b = hello_vocab();
  b.v.model = "bert";
  auto t = Tokenizer::create(b.v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("bert"), std::string::npos);
  b = hello_vocab();
  b.v.pre = "qwen35";
  t = Tokenizer::create(b.v);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().find("qwen35"), std::string::npos);
  b = hello_vocab();
  b.v.scores = {1.0f};
  EXPECT_FALSE(Tokenizer::create(b.v).ok());
  VocabData empty;
  empty.model = "gpt2";
  EXPECT_FALSE(Tokenizer::create(empty).ok());
}

// SentencePiece: 0 <unk>, 1 <s>, 2 </s>, 3.. <0x00>..<0xFF>, then pieces with scores.
struct SpmVocab {
  VocabData v;
  int32_t add(const std::string& t, float score, int32_t type = kNormal) {
    v.tokens.push_back(t);
    v.scores.push_back(score);
    v.token_types.push_back(type);
    return static_cast<int32_t>(v.tokens.size()) - 1;
  }
  SpmVocab() {
    v.model = "llama";
    v.add_bos = true;
    v.add_space_prefix = true;
    add("<unk>", 0, kUnknown);
    add("<s>", 0, kControl);
    add("</s>", 0, kControl);
    char hex[8];
    for (int b = 0; b < 256; ++b) {
      std::snprintf(hex, sizeof hex, "<0x%02X>", b);
      add(hex, 0, kByte);
    }
  }
};

TEST(SentencePieceBpe, HighestScoreMergesFirst) {
  SpmVocab s;
  int32_t sp = s.add("\xe2\x96\x81", -10), a = s.add("a", -10), b = s.add("b", -10),
          c = s.add("c", -10);
  int32_t sp_a = s.add(
              "\xe2\x96\x81"
              "a",
              -2),
          ab = s.add("ab", -1);
  s.add("bc", -3);
  (void)a, (void)b;
  Tokenizer tok = make(s.v);
  // "▁abc": ab (-1) beats ▁a (-2) and bc (-3); "▁ab" and "abc" are not tokens.
  EXPECT_EQ(tok.encode("abc", false, false), (std::vector<int32_t>{sp, ab, c}));
  EXPECT_EQ(tok.encode("abc", true, false), (std::vector<int32_t>{1, sp, ab, c}));
  // Make ▁a the better merge and the split changes.
  s.v.scores[sp_a] = 0;
  Tokenizer tok2 = make(s.v);
  EXPECT_EQ(tok2.encode("abc", false, false), (std::vector<int32_t>{sp_a, *tok2.find_token("bc")}));
  // Decode drops the prefix space it added.
  EXPECT_EQ(tok.decode(tok.encode("abc", false, false)), "abc");
  EXPECT_EQ(tok.decode(tok.encode("abc", true, false)),
            "<s> abc");  // BOS kept: llama.cpp's remove_special=false
}

TEST(SentencePieceBpe, ByteFallbackAndUnknown) {
  SpmVocab s;
  int32_t sp = s.add("\xe2\x96\x81", -10);
  s.add("a", -10);
  Tokenizer tok = make(s.v);
  // é is not a piece: its two UTF-8 bytes come out as <0xC3> <0xA9> (ids 3 + byte).
  EXPECT_EQ(tok.encode("\xc3\xa9", false, false), (std::vector<int32_t>{sp, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok.token_to_piece(3 + 0xC3), "\xc3");
  EXPECT_EQ(tok.decode(tok.encode("a\xc3\xa9", false, false)), "a\xc3\xa9");
  // Without byte tokens an unknown character is <unk>.
  SpmVocab bare;
  bare.v.tokens.resize(3);
  bare.v.scores.resize(3);
  bare.v.token_types.resize(3);
  bare.add("\xe2\x96\x81", -1);
  Tokenizer t2 = make(bare.v);
  EXPECT_EQ(t2.encode("z", false, false), (std::vector<int32_t>{3, 0}));
}

TEST(SentencePieceBpe, SpacePrefixAfterSpecialTokens) {
  SpmVocab s;
  int32_t sp = s.add("\xe2\x96\x81", -10);
  int32_t a = s.add("a", -10), b = s.add("b", -10);
  int32_t sp_a = s.add(
              "\xe2\x96\x81"
              "a",
              -1),
          sp_b = s.add(
              "\xe2\x96\x81"
              "b",
              -1);
  (void)sp, (void)a, (void)b;
  Tokenizer tok = make(s.v);
  EXPECT_EQ(tok.encode("a</s>b", false, true), (std::vector<int32_t>{sp_a, 2, sp_b}));
  EXPECT_TRUE(tok.is_eog(2));
  EXPECT_EQ(tok.bos(), 1);
}

TEST(StreamDetokenizer, HoldsBackPartialUtf8) {
  Tokenizer tok = make(hello_vocab().v);
  StreamDetokenizer s(tok);
  EXPECT_EQ(s.push(*tok.find_token("hello")), "hello");
  // € = E2 82 AC, one byte token each.
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push(0x82), "");
  EXPECT_EQ(s.pending_bytes(), 2u);
  EXPECT_EQ(s.push(0xAC), "\xe2\x82\xac");
  // 😀 = F0 9F 98 80, then text in the same token as the last byte.
  EXPECT_EQ(s.push(0xF0), "");
  EXPECT_EQ(s.push(0x9F), "");
  EXPECT_EQ(s.push(0x98), "");
  EXPECT_EQ(s.push(0x80), "\xf0\x9f\x98\x80");
  // A broken sequence is not held forever: the next ASCII byte releases it as is.
  EXPECT_EQ(s.push(0xE2), "");
  EXPECT_EQ(s.push('a'),
            "\xe2"
            "a");
  EXPECT_EQ(s.push(0xC3), "");
  EXPECT_EQ(s.flush(), "\xc3");
  EXPECT_EQ(s.pending_bytes(), 0u);
}

}  // namespace
}  // namespace turbine
