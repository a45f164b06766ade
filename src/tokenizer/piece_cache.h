#pragma once
// Pre-token -> ids memo. Natural text repeats a few thousand words, so most pieces skip BPE.
// Shared by all threads of one Tokenizer behind a mutex (uncontended locking is a few ns);
// bounded: it starts over when full.
#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer_json.h"

namespace dsv32 {

class PieceCache {
 public:
  static constexpr std::size_t kMaxPieceBytes = 64;  // longer pieces rarely repeat

  // Appends the cached ids of `piece` to `out` and returns true, or returns false.
  bool lookup(std::string_view piece, std::vector<TokenId>& out) const;
  void insert(std::string_view piece, std::span<const TokenId> ids);
  void clear();

 private:
  static constexpr std::size_t kMaxEntries = 1 << 17;

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Span {
    std::uint32_t offset;
    std::uint32_t count;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Span, Hash, std::equal_to<>> spans_;
  std::vector<TokenId> ids_;  // all cached ids, back to back
};

}  // namespace dsv32
