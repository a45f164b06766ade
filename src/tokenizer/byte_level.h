#pragma once
// GPT-2's byte-level alphabet: every byte is shown as one printable character (space -> 'Ġ',
// newline -> 'Ċ', ...) so that BPE vocab and merges can be written as JSON text. The tokenizer
// works on raw bytes internally and uses this mapping only at load time.
#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace dsv32 {

class ByteLevelAlphabet {
 public:
  ByteLevelAlphabet();

  // The character (code point) standing for `byte`.
  char32_t char_of(unsigned char byte) const { return char_of_byte_[byte]; }
  // The byte a character stands for, or nullopt when it is not in the alphabet.
  std::optional<unsigned char> byte_of(char32_t c) const;

  // The bytes a vocab or added token stands for, as HF's ByteLevel decoder computes them: if every
  // character is in the alphabet, the bytes they map to; otherwise the token's own UTF-8 text.
  std::string token_bytes(std::string_view token_text) const;
  // Strict form for BPE vocab and merges: nullopt unless every character is in the alphabet.
  std::optional<std::string> to_bytes(std::string_view token_text) const;

 private:
  static constexpr char32_t kAlphabetEnd = 256 + 68;  // every alphabet character is below this
  std::array<char32_t, 256> char_of_byte_{};
  std::array<short, kAlphabetEnd> byte_of_char_{};  // -1: not in the alphabet
};

}  // namespace dsv32
