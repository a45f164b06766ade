#pragma once
// The pre-tokenizer: a Sequence of Split(Isolated) regexes, each applied to every piece the
// previous one produced (so a lookahead never sees past its piece), followed by ByteLevel, which
// for BPE on raw bytes needs no work.
#include <cstddef>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"
#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

struct Piece {
  std::size_t begin;
  std::size_t end;
};

class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<SplitSpec>& splits);

  // Appends the non-empty pieces of `text` in order; offsets are relative to `text`, which must
  // be valid UTF-8.
  void split(std::string_view text, RegexScratch& scratch, std::vector<Piece>& pieces) const;

 private:
  void split_stage(std::size_t stage, std::string_view text, std::size_t base, RegexScratch& scratch,
                   std::vector<Piece>& pieces) const;

  std::vector<Regex> stages_;
};

}  // namespace dsv32
