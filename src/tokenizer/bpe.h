#pragma once
// Byte-level BPE on raw bytes: a piece starts as one symbol per byte and adjacent symbols are
// merged lowest rank first (leftmost on ties) until no rule applies, exactly as HF's
// Word::merge_all. Short pieces (almost all) use a linear scan; long ones a heap, so a
// megabyte without spaces stays O(n log n).
#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/merge_table.h"
#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

class BpeModel {
 public:
  BpeModel(const TokenizerSpec& spec, const ByteLevelAlphabet& alphabet);

  // Appends the ids of one pre-token given as raw bytes.
  void encode(std::string_view piece, std::vector<TokenId>& out) const;

  // The two merge strategies, public so that tests can check they agree.
  void encode_by_scan(std::string_view piece, std::vector<TokenId>& out) const;
  void encode_by_heap(std::string_view piece, std::vector<TokenId>& out) const;

 private:
  static constexpr std::size_t kScanLimit = 48;  // longest piece merged by linear scan

  std::array<TokenId, 256> byte_token_{};
  MergeTable merges_;
  std::unordered_map<std::string, TokenId> id_of_bytes_;  // only for ignore_merges
  bool ignore_merges_ = false;
};

}  // namespace dsv32
