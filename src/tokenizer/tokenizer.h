#pragma once
// The DeepSeek tokenizer: Hugging Face tokenizer.json semantics (byte-level BPE with added tokens
// and regex pre-tokenization), reproducing HF's `encode(text, add_special_tokens=false)` and
// `decode(ids, skip_special_tokens)` exactly. One instance is shared by all threads: every
// method is const and thread-safe.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

class Tokenizer {
 public:
  explicit Tokenizer(const std::filesystem::path& tokenizer_json);
  explicit Tokenizer(const TokenizerSpec& spec);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Ids of `text`; added tokens written in it (e.g. "<｜User｜>", "<think>") become their ids.
  // No BOS is added: DeepSeek's prompt text carries it. Throws dsv32::Error naming the byte
  // offset when `text` is not valid UTF-8 (HF only accepts valid Unicode strings).
  std::vector<TokenId> encode(std::string_view text) const;
  void encode(std::string_view text, std::vector<TokenId>& out) const;  // appends

  // The text of `ids`: every kept token's bytes joined, then decoded lossily (each invalid
  // UTF-8 subpart becomes U+FFFD). Throws dsv32::Error for an id with no token.
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens = false) const;

  // The bytes one token stands for (may be a partial UTF-8 character). Throws for a bad id.
  std::string_view token_bytes(TokenId id) const;
  bool is_special(TokenId id) const;  // an added token with special=true
  bool is_valid(TokenId id) const;    // has a token
  // Ids run from 0 to id_count() - 1.
  std::size_t id_count() const;
  // The id of an added token's content or of a vocab token's bytes, e.g. "<｜end▁of▁sentence｜>".
  std::optional<TokenId> token_id(std::string_view text) const;

  // Forgets the pre-token cache (for benchmarks measuring cold encoding).
  void clear_cache() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv32
