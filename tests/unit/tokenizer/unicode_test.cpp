#include <gtest/gtest.h>

#include "engine/tokenizer/unicode.h"

namespace turbine {
namespace {

TEST(UnicodeFlags, CategoriesOfKnownCodePoints) {
  EXPECT_TRUE(unicode_flags('A') & kUnicodeLetter);
  EXPECT_TRUE(unicode_flags(0x00E9) & kUnicodeLetter);  // é
  EXPECT_TRUE(unicode_flags(0x4E16) & kUnicodeLetter);  // 世 (inside a CJK range)
  EXPECT_TRUE(unicode_flags(0xAC00) & kUnicodeLetter);  // 가 (Hangul range)
  EXPECT_TRUE(unicode_flags('7') & kUnicodeNumber);
  EXPECT_TRUE(unicode_flags(0x0663) & kUnicodeNumber);  // Arabic-Indic three
  EXPECT_TRUE(unicode_flags(0x00BD) & kUnicodeNumber);  // ½ (No)
  EXPECT_TRUE(unicode_flags(',') & kUnicodePunctuation);
  EXPECT_TRUE(unicode_flags('$') & kUnicodeSymbol);
  EXPECT_TRUE(unicode_flags(0x1F600) & kUnicodeSymbol);  // 😀
  EXPECT_TRUE(unicode_flags(0x0301) & kUnicodeMark);     // combining acute
  EXPECT_TRUE(unicode_flags(0x200D) & kUnicodeControl);  // ZWJ (Cf)
  EXPECT_EQ(unicode_flags(0x0378), kUnicodeUndefined);   // unassigned
  EXPECT_EQ(unicode_flags(0x110000), kUnicodeUndefined);
  for (uint32_t ws : {0x09u, 0x0Au, 0x0Du, 0x20u, 0x85u, 0xA0u, 0x2003u, 0x3000u})
    EXPECT_TRUE(unicode_flags(ws) & kUnicodeWhitespace) << std::hex << ws;
  EXPECT_FALSE(unicode_flags(0x1C) & kUnicodeWhitespace);  // isspace() says yes; White_Space no
  EXPECT_FALSE(unicode_flags(0x200B) & kUnicodeWhitespace);
  EXPECT_FALSE(unicode_flags('a') & kUnicodeWhitespace);
}

TEST(UnicodeFlags, TableCoversAllCodePointsInOrder) {
  ASSERT_GT(kUnicodeRangeCount, 100u);
  EXPECT_EQ(kUnicodeRanges[0] >> kUnicodeFlagBits, 0u);
  for (size_t i = 1; i < kUnicodeRangeCount; ++i)
    ASSERT_LT(kUnicodeRanges[i - 1] >> kUnicodeFlagBits, kUnicodeRanges[i] >> kUnicodeFlagBits);
  // The BMP table and the binary search agree at a range boundary above the BMP.
  EXPECT_TRUE(unicode_flags(0x20000) & kUnicodeLetter);  // CJK Extension B
}

std::vector<uint32_t> cpts(const std::string& s) {
  return utf8_to_cpts(s);
}

TEST(Utf8, DecodesValidText) {
  EXPECT_EQ(cpts("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
            (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F600}));
}

TEST(Utf8, InvalidBytesDecodeAsLlamaCppDoes) {
  const uint32_t R = kReplacementChar;
  EXPECT_EQ(cpts("\xff"), (std::vector<uint32_t>{R}));
  EXPECT_EQ(cpts("\x80"
                 "a"),
            (std::vector<uint32_t>{R, 'a'}));
  // A lead byte without its continuation: one U+FFFD, decoding resumes at the next byte.
  EXPECT_EQ(cpts("\xe2\x82"
                 "a"),
            (std::vector<uint32_t>{R, R, 'a'}));
  EXPECT_EQ(cpts("\xc3"
                 "a"),
            (std::vector<uint32_t>{R, 'a'}));
  // Overlong forms and surrogates are decoded, not rejected.
  EXPECT_EQ(cpts("\xc0\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(cpts("\xe0\x80\x80"), (std::vector<uint32_t>{0}));
  EXPECT_EQ(cpts("\xed\xa0\x80"), (std::vector<uint32_t>{0xD800}));
  // Beyond U+10FFFF (llama.cpp aborts here): one replacement for the four bytes.
  EXPECT_EQ(cpts("\xf4\x90\x80\x80"), (std::vector<uint32_t>{R}));
  EXPECT_EQ(cpts("\xf7\xbf\xbf\xbf"
                 "b"),
            (std::vector<uint32_t>{R, 'b'}));
  EXPECT_EQ(cpts("\xf8\x88\x80\x80\x80"), (std::vector<uint32_t>(5, R)));
}

TEST(Utf8, EncodeRoundTripsEveryScalarValueClass) {
  for (uint32_t c : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    std::string s;
    append_utf8(s, c);
    EXPECT_EQ(cpts(s), (std::vector<uint32_t>{c})) << std::hex << c;
  }
}

TEST(Utf8, IncompleteTail) {
  EXPECT_EQ(utf8_incomplete_tail(""), 0u);
  EXPECT_EQ(utf8_incomplete_tail("abc"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("a\xe2"), 1u);
  EXPECT_EQ(utf8_incomplete_tail("a\xe2\x82"), 2u);
  EXPECT_EQ(utf8_incomplete_tail("a\xe2\x82\xac"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("\xf0\x9f\x98"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("\xf0\x9f\x98\x80"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("a\x80\x80"), 0u);  // stray continuations never complete
  EXPECT_EQ(utf8_incomplete_tail("\xff"), 0u);
}

TEST(ByteAlphabet, Gpt2Mapping) {
  EXPECT_EQ(byte_to_unicode('A'), uint32_t('A'));
  EXPECT_EQ(byte_to_unicode(0xE9), 0xE9u);
  EXPECT_EQ(byte_to_unicode(0x00), 0x100u);
  EXPECT_EQ(byte_to_unicode(' '), 0x120u);   // Ġ
  EXPECT_EQ(byte_to_unicode('\n'), 0x10Au);  // Ċ
  EXPECT_EQ(byte_to_unicode(0xAD), 0x143u);  // the last one
  EXPECT_EQ(byte_to_unicode_utf8(' '), "\xc4\xa0");
  for (int b = 0; b < 256; ++b)
    EXPECT_EQ(unicode_to_byte(byte_to_unicode(static_cast<uint8_t>(b))), b);
  EXPECT_EQ(unicode_to_byte(' '), -1);
  EXPECT_EQ(unicode_to_byte(0x4E16), -1);
}

}  // namespace
}  // namespace turbine
