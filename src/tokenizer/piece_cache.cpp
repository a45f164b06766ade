#include "tokenizer/piece_cache.h"

namespace dsv32 {

bool PieceCache::lookup(std::string_view piece, std::vector<TokenId>& out) const {
  std::lock_guard lock(mutex_);
  const auto it = spans_.find(piece);
  if (it == spans_.end()) return false;
  const auto begin = ids_.begin() + it->second.offset;
  out.insert(out.end(), begin, begin + it->second.count);
  return true;
}

void PieceCache::insert(std::string_view piece, std::span<const TokenId> ids) {
  std::lock_guard lock(mutex_);
  if (spans_.size() >= kMaxEntries) {
    spans_.clear();
    ids_.clear();
  }
  const auto [it, inserted] = spans_.try_emplace(std::string(piece), Span{std::uint32_t(ids_.size()), std::uint32_t(ids.size())});
  if (inserted) ids_.insert(ids_.end(), ids.begin(), ids.end());
}

void PieceCache::clear() {
  std::lock_guard lock(mutex_);
  spans_.clear();
  ids_.clear();
}

}  // namespace dsv32
