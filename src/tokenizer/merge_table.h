#pragma once
// The BPE merge rules as an open-addressing hash table: (left id, right id) -> (rank, merged id).
// BPE looks a pair up at every step, so this is the hot path of encoding; std::unordered_map's
// node chasing costs about three times as much.
#include <cstdint>
#include <optional>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

struct MergeRule {
  std::uint32_t rank;
  TokenId merged;
};

class MergeTable {
 public:
  explicit MergeTable(std::size_t expected_rules);

  // A later rule for the same pair replaces the earlier one, as in HF's HashMap collect.
  void insert(TokenId left, TokenId right, MergeRule rule);

  void prefetch(TokenId left, TokenId right) const { __builtin_prefetch(&entries_[hash(pack(left, right))]); }

  std::optional<MergeRule> find(TokenId left, TokenId right) const {
    const std::uint64_t key = pack(left, right);
    for (std::size_t slot = hash(key);; slot = (slot + 1) & mask_) {
      const Entry& e = entries_[slot];
      if (e.key == key) return e.rule;
      if (e.key == kEmpty) return std::nullopt;
    }
  }

 private:
  struct Entry {
    std::uint64_t key;
    MergeRule rule;
  };
  static constexpr std::uint64_t kEmpty = ~std::uint64_t{0};

  static std::uint64_t pack(TokenId left, TokenId right) {
    return (std::uint64_t(std::uint32_t(left)) << 32) | std::uint32_t(right);
  }
  std::size_t hash(std::uint64_t key) const { return std::size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }

  std::vector<Entry> entries_;
  std::size_t mask_ = 0;
  int shift_ = 0;
};

}  // namespace dsv32
