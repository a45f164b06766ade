#include "engine/prefix_cache.h"

#include <algorithm>

namespace dsv32::engine {
namespace {

constexpr std::uint64_t kRootKey = 0x6a09e667f3bcc908ull;

}  // namespace

PrefixCache::~PrefixCache() {
  for (const Entry& entry : entries_) pool_.release(entry.block);
}

std::uint64_t PrefixCache::chain(std::uint64_t parent, std::span<const std::int32_t> block_tokens) const {
  std::uint64_t h = parent ^ 0x9e3779b97f4a7c15ull;
  for (const std::int32_t token : block_tokens) {
    h ^= static_cast<std::uint64_t>(static_cast<std::uint32_t>(token)) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
  }
  return h;
}

std::vector<std::int32_t> PrefixCache::match(std::span<const std::int32_t> tokens, std::int64_t max_tokens) {
  const std::int64_t block_tokens = pool_.layout().block_tokens;
  const std::int64_t usable = std::min<std::int64_t>(max_tokens, static_cast<std::int64_t>(tokens.size())) / block_tokens;
  std::vector<std::int32_t> blocks;
  std::uint64_t key = kRootKey;
  for (std::int64_t b = 0; b < usable; ++b) {
    const auto block = tokens.subspan(static_cast<std::size_t>(b * block_tokens), static_cast<std::size_t>(block_tokens));
    key = chain(key, block);
    const auto found = by_key_.find(key);
    if (found == by_key_.end() || !std::equal(block.begin(), block.end(), found->second->tokens.begin())) break;
    entries_.splice(entries_.begin(), entries_, found->second);  // most recently used
    blocks.push_back(found->second->block);
  }
  return blocks;
}

void PrefixCache::insert(std::span<const std::int32_t> tokens, const std::vector<std::int32_t>& blocks) {
  const std::int64_t block_tokens = pool_.layout().block_tokens;
  const std::int64_t full = std::min<std::int64_t>(static_cast<std::int64_t>(tokens.size()) / block_tokens,
                                                   static_cast<std::int64_t>(blocks.size()));
  std::uint64_t key = kRootKey;
  for (std::int64_t b = 0; b < full; ++b) {
    const auto block = tokens.subspan(static_cast<std::size_t>(b * block_tokens), static_cast<std::size_t>(block_tokens));
    const std::uint64_t parent = key;
    key = chain(key, block);
    if (by_key_.count(key) != 0) continue;
    pool_.retain(blocks[static_cast<std::size_t>(b)]);
    entries_.push_front(Entry{key, blocks[static_cast<std::size_t>(b)], std::vector<std::int32_t>(block.begin(), block.end()), parent});
    by_key_[key] = entries_.begin();
  }
}

std::int64_t PrefixCache::evict(std::int64_t wanted) {
  std::int64_t freed = 0;
  for (auto it = entries_.end(); it != entries_.begin() && freed < wanted;) {
    --it;
    if (pool_.references(it->block) != 1) continue;  // a running sequence still reads it
    pool_.release(it->block);
    by_key_.erase(it->key);
    it = entries_.erase(it);
    ++freed;
  }
  return freed;
}

}  // namespace dsv32::engine
