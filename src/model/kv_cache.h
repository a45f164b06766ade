#pragma once
// The per-token caches of every layer, in fixed-size paged blocks: the MLA latent (FP8 e4m3
// codes + one power-of-two scale per 128 channels, exactly as the reference rounds it), the
// shared rope key (float32), and the indexer's FP8 key with its scale (the key as int8 values
// where the bf16 mode scores it in int8). A sequence owns a list
// of blocks; the pool is one anonymous mapping, so untouched blocks cost no memory.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/index_scores_int8.h"
#include "model/config.h"

namespace dsv32 {

struct KvLayout {
  std::int64_t layers = 0;
  std::int64_t latent_dim = 0;   // kv_lora_rank
  std::int64_t rope_dim = 0;     // qk_rope_head_dim
  std::int64_t index_dim = 0;    // index_head_dim, 0 without an indexer
  std::int64_t block_tokens = 64;
  // The indexer keys as their int8 values (kernels/index_scores_int8.h), not as FP8 codes: the
  // format of the runs that fill and read the cache (Model::kv_layout).
  bool index_keys_int8 = false;
  // Byte offsets of each section inside one layer's part of a block.
  std::size_t latent_codes = 0, latent_scales = 0, rope_keys = 0, index_codes = 0, index_scales = 0;
  std::size_t layer_bytes = 0, block_bytes = 0;

  static KvLayout for_model(const ModelConfig& config, std::int64_t block_tokens = 64);
  std::size_t bytes_per_token() const { return block_bytes / static_cast<std::size_t>(block_tokens); }
};

// One token's entries in one layer.
struct KvSlot {
  std::uint8_t* latent_codes;  // [latent_dim]
  float* latent_scales;        // [latent_dim / 128]
  float* rope_key;             // [rope_dim]
  std::uint8_t* index_codes;   // [index_dim]: FP8 codes, or their int8 values where the indexer scores in int8 (index_scores_int8.h)
  float* index_scale;          // [1]
};

class KvPool {
 public:
  KvPool(const KvLayout& layout, std::int64_t num_blocks);
  ~KvPool();
  KvPool(const KvPool&) = delete;
  KvPool& operator=(const KvPool&) = delete;

  const KvLayout& layout() const { return layout_; }
  std::int64_t num_blocks() const { return num_blocks_; }
  std::int64_t free_blocks() const { return static_cast<std::int64_t>(free_.size()); }

  // Blocks are reference counted so that sequences can share a cached prefix.
  // allocate() returns a block with one reference, or -1 when none is free.
  std::int32_t allocate();
  void retain(std::int32_t block);
  void release(std::int32_t block);  // frees the block with its last reference
  std::int32_t references(std::int32_t block) const { return references_[static_cast<std::size_t>(block)]; }
  KvSlot slot(std::int32_t block, std::int64_t layer, std::int64_t offset) const;

 private:
  KvLayout layout_;
  std::int64_t num_blocks_;
  std::uint8_t* memory_ = nullptr;
  std::size_t memory_bytes_ = 0;
  std::vector<std::int32_t> free_;
  std::vector<std::int32_t> references_;
};

// The cache of one sequence: positions 0..length()-1 are filled.
class SequenceCache {
 public:
  explicit SequenceCache(KvPool& pool) : pool_(&pool) {}
  ~SequenceCache() { clear(); }
  SequenceCache(const SequenceCache&) = delete;
  SequenceCache& operator=(const SequenceCache&) = delete;

  // Makes room for positions < tokens; throws dsv32::Error when the pool is exhausted.
  void reserve(std::int64_t tokens);
  // Starts an empty sequence on shared, already filled blocks (a cached prefix): they are
  // retained, and positions < length count as filled. New tokens go to blocks of its own.
  void adopt(const std::vector<std::int32_t>& blocks, std::int64_t length);
  const std::vector<std::int32_t>& blocks() const { return blocks_; }
  // Blocks needed beyond the current ones to hold `tokens` positions.
  std::int64_t blocks_missing(std::int64_t tokens) const;
  void clear();
  std::int64_t capacity() const;
  std::int64_t length() const { return length_; }
  void set_length(std::int64_t length) { length_ = length; }

  KvSlot slot(std::int64_t layer, std::int64_t position) const;
  const KvLayout& layout() const { return pool_->layout(); }
  // Positions stored side by side in one block: slot(layer, p) for p in a run of these, aligned
  // to it, are consecutive entries of each section.
  std::int64_t block_tokens() const { return pool_->layout().block_tokens; }
  // Asks the CPU for the attention entries (latent, scales, rope key) of one position ahead of
  // their use: the keys an indexer selects are scattered, which the prefetchers cannot guess.
  void prefetch_attention_entries(std::int64_t layer, std::int64_t position) const;
  // Asks for the indexer keys (codes or int8 values, and scales) of positions [position, position + count), which
  // lie in one cache block, into L2: each block's run starts over the hardware prefetcher.
  void prefetch_index_keys(std::int64_t layer, std::int64_t position, std::int64_t count) const;
  // The same lines, for the int8 scoring kernel to request spread over its work.
  IndexKeysPrefetch index_keys_lines(std::int64_t layer, std::int64_t position, std::int64_t count) const;
  static constexpr std::int64_t kPrefetchAheadKeys = 4;  // how far ahead of use (measured: 4K decode +11%)

 private:
  KvPool* pool_;
  std::vector<std::int32_t> blocks_;
  std::int64_t length_ = 0;
};

}  // namespace dsv32
