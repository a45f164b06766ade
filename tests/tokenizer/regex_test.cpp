#include <gtest/gtest.h>

#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace dsv32 {
namespace {

bool full_match(const Regex& regex, std::string_view text) {
  RegexScratch scratch;
  std::size_t begin = 0;
  std::size_t end = 0;
  return regex.find(text, 0, scratch, begin, end) && begin == 0 && end == text.size();
}

// \s must be Oniguruma's White_Space set, whatever PCRE2 or ICU would say (README section 4).
TEST(Regex, BackslashSIsUnicodeWhiteSpace) {
  const Regex space("\\s", false);
  const Regex non_space("\\S", false);
  const Regex in_class("[\\sx]", false);
  for (char32_t c = 0; c < 0x3100; ++c) {
    if (c >= 0xD800 && c <= 0xDFFF) continue;
    std::string text;
    utf8::append_code_point(c, text);
    EXPECT_EQ(full_match(space, text), utf8::is_white_space(c)) << std::hex << unsigned(c);
    EXPECT_EQ(full_match(non_space, text), !utf8::is_white_space(c)) << std::hex << unsigned(c);
    EXPECT_EQ(full_match(in_class, text), c == 'x' || utf8::is_white_space(c)) << std::hex << unsigned(c);
  }
  EXPECT_FALSE(full_match(space, "\xEF\xBB\xBF"));  // U+FEFF
}

TEST(Regex, TranslationKeepsOtherEscapesAndClasses) {
  EXPECT_EQ(onig_to_pcre2("[\\]\\\\s]"), "[\\]\\\\s]");  // escaped backslash then a literal s
  EXPECT_EQ(onig_to_pcre2("[]s]"), "[]s]");
  EXPECT_EQ(onig_to_pcre2("\\p{L}+"), "\\p{L}+");
}

TEST(Regex, LiteralPattern) {
  const Regex literal("a.b", true);
  EXPECT_TRUE(full_match(literal, "a.b"));
  EXPECT_FALSE(full_match(literal, "axb"));
}

TEST(Regex, LongInputsDoNotExhaustTheJitStack) {
  const Regex main_split("\\s+(?!\\S)|\\s+|[\\p{L}\\p{M}]+", false);
  EXPECT_TRUE(full_match(main_split, std::string(1 << 20, ' ')));
  EXPECT_TRUE(full_match(main_split, std::string(1 << 20, 'a')));
}

}  // namespace
}  // namespace dsv32
