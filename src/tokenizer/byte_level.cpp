#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace dsv32 {

ByteLevelAlphabet::ByteLevelAlphabet() {
  // Printable Latin-1 bytes stand for themselves; the other 68 bytes take the code points from
  // U+0100 upward, in byte order (GPT-2's bytes_to_unicode).
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    char_of_byte_[b] = printable ? char32_t(b) : next++;
  }
  byte_of_char_.fill(-1);
  for (int b = 0; b < 256; ++b) byte_of_char_[char_of_byte_[b]] = static_cast<short>(b);
}

std::optional<unsigned char> ByteLevelAlphabet::byte_of(char32_t c) const {
  if (c >= kAlphabetEnd || byte_of_char_[c] < 0) return std::nullopt;
  return static_cast<unsigned char>(byte_of_char_[c]);
}

std::optional<std::string> ByteLevelAlphabet::to_bytes(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const utf8::Seq seq = utf8::next_sequence(text.substr(i));
    if (seq.kind != utf8::SeqKind::kValid) return std::nullopt;
    const auto byte = byte_of(seq.code_point);
    if (!byte) return std::nullopt;
    out.push_back(static_cast<char>(*byte));
    i += seq.length;
  }
  return out;
}

std::string ByteLevelAlphabet::token_bytes(std::string_view text) const {
  if (auto bytes = to_bytes(text)) return std::move(*bytes);
  return std::string(text);
}

}  // namespace dsv32
