#pragma once
// Reuse of computed KV blocks across requests (a shared system prompt, the earlier turns of a
// chat). Full blocks are keyed by a hash chain over their tokens and everything before them;
// the cache holds one reference to each block it lists, and gives back least recently used
// blocks that nobody else holds when memory runs short.
#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

#include "model/kv_cache.h"

namespace dsv32::engine {

class PrefixCache {
 public:
  explicit PrefixCache(KvPool& pool) : pool_(pool) {}
  ~PrefixCache();
  PrefixCache(const PrefixCache&) = delete;
  PrefixCache& operator=(const PrefixCache&) = delete;

  // The cached blocks for the longest run of full blocks of `tokens`, using at most
  // max_tokens tokens. The blocks are not retained: adopt them at once.
  std::vector<std::int32_t> match(std::span<const std::int32_t> tokens, std::int64_t max_tokens);
  // Lists the full blocks of a sequence whose first tokens.size() positions are computed.
  void insert(std::span<const std::int32_t> tokens, const std::vector<std::int32_t>& blocks);
  // Frees up to `wanted` blocks held only by the cache; returns how many it freed.
  std::int64_t evict(std::int64_t wanted);
  std::int64_t blocks() const { return static_cast<std::int64_t>(entries_.size()); }

 private:
  struct Entry {
    std::uint64_t key;
    std::int32_t block;
    std::vector<std::int32_t> tokens;  // this block's tokens, to rule out hash collisions
    std::uint64_t parent;
  };
  using EntryList = std::list<Entry>;

  std::uint64_t chain(std::uint64_t parent, std::span<const std::int32_t> block_tokens) const;

  KvPool& pool_;
  EntryList entries_;  // front: most recently used
  std::unordered_map<std::uint64_t, EntryList::iterator> by_key_;
};

}  // namespace dsv32::engine
