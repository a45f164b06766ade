#include <gtest/gtest.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace dsv32 {
namespace {

const std::string kFffd(utf8::kReplacement);

TEST(Utf8, LossyDecodeReplacesEachMaximalSubpart) {
  EXPECT_EQ(utf8::decode_lossy("abc"), "abc");
  EXPECT_EQ(utf8::decode_lossy("\xE2\x82\xAC"), "€");
  EXPECT_EQ(utf8::decode_lossy("\xE2\x82"), kFffd);                 // truncated: one
  EXPECT_EQ(utf8::decode_lossy("\xE2\x82" "A"), kFffd + "A");       // broken: one
  EXPECT_EQ(utf8::decode_lossy("\x80\x80"), kFffd + kFffd);         // lone continuations: one each
  EXPECT_EQ(utf8::decode_lossy("\xC0\xAF"), kFffd + kFffd);         // overlong
  EXPECT_EQ(utf8::decode_lossy("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // surrogate
  EXPECT_EQ(utf8::decode_lossy("\xF4\x90\x80\x80"), kFffd + kFffd + kFffd + kFffd);  // > U+10FFFF
  EXPECT_EQ(utf8::decode_lossy("\xF5\xFF"), kFffd + kFffd);
  EXPECT_EQ(utf8::decode_lossy("\xF0\x9F\x98"), kFffd);
  EXPECT_EQ(utf8::decode_lossy("\xEF\xBB\xBFx"), "\xEF\xBB\xBFx");  // a BOM is kept
}

TEST(Utf8, FirstInvalid) {
  EXPECT_EQ(utf8::first_invalid("plain ascii text, long enough for the fast path"), std::nullopt);
  EXPECT_EQ(utf8::first_invalid("日本語"), std::nullopt);
  EXPECT_EQ(utf8::first_invalid(std::string_view("a\0b", 3)), std::nullopt);
  EXPECT_EQ(utf8::first_invalid("0123456789\xFF"), 10u);
  EXPECT_EQ(utf8::first_invalid("ab\xE2\x82"), 2u);
  EXPECT_EQ(utf8::first_invalid("\xED\xA0\x80"), 0u);
}

TEST(Utf8, NextSequenceKinds) {
  EXPECT_EQ(utf8::next_sequence("\xE2").kind, utf8::SeqKind::kIncomplete);
  EXPECT_EQ(utf8::next_sequence("\xE2\x82").kind, utf8::SeqKind::kIncomplete);
  EXPECT_EQ(utf8::next_sequence("\xE0\x80").kind, utf8::SeqKind::kInvalid);
  const auto euro = utf8::next_sequence("\xE2\x82\xAC!");
  EXPECT_EQ(euro.kind, utf8::SeqKind::kValid);
  EXPECT_EQ(euro.length, 3u);
  EXPECT_EQ(euro.code_point, U'€');
}

TEST(Utf8, WhiteSpaceIsOnigurumasSet) {
  for (char32_t c : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028, 0x2029, 0x202F,
                     0x205F, 0x3000}) {
    EXPECT_TRUE(utf8::is_white_space(c)) << std::hex << unsigned(c);
  }
  for (char32_t c : {0xFEFF, 0x180E, 0x200B, 0x2060, 0x1C, 0x1F, 0x08}) EXPECT_FALSE(utf8::is_white_space(c)) << std::hex << unsigned(c);
}

TEST(ByteLevel, AlphabetIsABijection) {
  const ByteLevelAlphabet alphabet;
  EXPECT_EQ(alphabet.char_of(' '), U'Ġ');
  EXPECT_EQ(alphabet.char_of('\n'), U'Ċ');
  EXPECT_EQ(alphabet.char_of('a'), U'a');
  for (int b = 0; b < 256; ++b) EXPECT_EQ(alphabet.byte_of(alphabet.char_of(static_cast<unsigned char>(b))), b);
  EXPECT_EQ(alphabet.token_bytes("ĠHello"), " Hello");
  EXPECT_EQ(alphabet.token_bytes("<｜User｜>"), "<｜User｜>");  // not all in the alphabet: as written
  EXPECT_EQ(alphabet.to_bytes("<｜User｜>"), std::nullopt);
}

}  // namespace
}  // namespace dsv32
