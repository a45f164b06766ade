#include "tokenizer/merge_table.h"

namespace dsv32 {

MergeTable::MergeTable(std::size_t expected_rules) {
  // At most half full keeps probe sequences short.
  int bits = 4;
  while ((std::size_t{1} << bits) < 2 * expected_rules) ++bits;
  entries_.assign(std::size_t{1} << bits, Entry{kEmpty, {}});
  mask_ = entries_.size() - 1;
  shift_ = 64 - bits;
}

void MergeTable::insert(TokenId left, TokenId right, MergeRule rule) {
  const std::uint64_t key = pack(left, right);
  for (std::size_t slot = hash(key);; slot = (slot + 1) & mask_) {
    Entry& e = entries_[slot];
    if (e.key == key || e.key == kEmpty) {
      e = {key, rule};
      return;
    }
  }
}

}  // namespace dsv32
