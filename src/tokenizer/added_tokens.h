#pragma once
// Finding added tokens (special and not) written in the text, as HF's AddedVocabulary does:
// leftmost-longest matching (its aho-corasick MatchKind::LeftmostLongest), then the token's
// single_word / lstrip / rstrip flags. HF runs two passes with two sets: first the tokens with
// normalized=false over the raw text, then those with normalized=true over the remaining gaps.
#include <array>
#include <cstddef>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

struct AddedTokenMatch {
  std::size_t begin;
  std::size_t end;
  TokenId id;  // -1: text between tokens
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(const std::vector<const AddedTokenSpec*>& tokens);

  bool empty() const { return tokens_.empty(); }

  // Splits text[begin, end) into token matches and the gaps between them (offsets into `text`;
  // the range is one sentence for the flags' boundary checks), appending to `out` in order.
  void split(std::string_view text, std::size_t begin, std::size_t end, RegexScratch& scratch,
             std::vector<AddedTokenMatch>& out) const;

 private:
  // Index into tokens_ of the longest token starting at text[pos], or -1.
  int longest_at(std::string_view text, std::size_t pos) const;
  bool is_word_char_before(std::string_view sentence, std::size_t pos, RegexScratch& scratch) const;
  bool is_word_char_at(std::string_view sentence, std::size_t pos, RegexScratch& scratch) const;

  struct Node {
    int token = -1;  // index into tokens_ ending here
  };
  std::vector<AddedTokenSpec> tokens_;
  std::vector<Node> nodes_;
  std::unordered_map<std::uint64_t, int> edges_;  // (node << 8 | byte) -> child node
  std::array<bool, 256> first_byte_{};
  Regex word_char_;
};

}  // namespace dsv32
