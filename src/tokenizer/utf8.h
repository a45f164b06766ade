#pragma once
// UTF-8 as the tokenizer needs it: validation, one-sequence classification for streaming, and the
// lossy decode of Hugging Face's ByteLevel decoder (each maximal invalid subpart -> one U+FFFD,
// the rule of Rust's String::from_utf8_lossy and WHATWG).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dsv32::utf8 {

inline constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

enum class SeqKind { kValid, kInvalid, kIncomplete };

// The sequence starting at bytes[0]: a whole valid character (length = its bytes), an invalid
// maximal subpart (length = bytes to replace by one U+FFFD), or a valid but unfinished prefix
// that runs to the end of `bytes` (length = bytes.size()).
struct Seq {
  SeqKind kind;
  std::size_t length;
  char32_t code_point;  // only for kValid
};
Seq next_sequence(std::string_view bytes);

// Byte offset of the first invalid or truncated sequence, or nullopt when `bytes` is valid.
std::optional<std::size_t> first_invalid(std::string_view bytes);

// Appends `bytes` to `out`, replacing each maximal invalid subpart (and a truncated tail) by U+FFFD.
void append_lossy(std::string_view bytes, std::string& out);
std::string decode_lossy(std::string_view bytes);

void append_code_point(char32_t code_point, std::string& out);

// Unicode White_Space (what Rust's char::is_whitespace and Oniguruma's \s use).
bool is_white_space(char32_t code_point);

}  // namespace dsv32::utf8
