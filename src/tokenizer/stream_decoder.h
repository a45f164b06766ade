#pragma once
// Turning generated ids into text chunk by chunk without ever splitting a character.
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace dsv32 {

// What the server streams. Emits each character as soon as its last byte arrives, holds back
// only a trailing sequence that may still become valid, and emits U+FFFD at once for bytes that
// never can. step() outputs followed by finish() concatenate to Tokenizer::decode of all ids.
class StreamDecoder {
 public:
  StreamDecoder(const Tokenizer& tokenizer, bool skip_special_tokens);

  // The text completed by `id` (often empty while a character is incomplete).
  std::string step(TokenId id);
  // Releases the held-back tail (one U+FFFD for a truncated character) and resets.
  std::string finish();

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::string pending_;  // bytes of an unfinished character
};

// An exact port of Hugging Face tokenizers' DecodeStream::step, for clients that want its
// output byte for byte: re-decodes a short window of ids and returns the new text, or nullopt
// while the decoded window ends in U+FFFD. Bytes that can never become valid stay held back,
// so a caller flushes with a full decode at the end.
class HfDecodeStream {
 public:
  HfDecodeStream(const Tokenizer& tokenizer, bool skip_special_tokens);
  std::optional<std::string> step(TokenId id);

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_tokens_;
  std::vector<TokenId> ids_;
  std::string prefix_;
  std::size_t prefix_index_ = 0;
};

}  // namespace dsv32
