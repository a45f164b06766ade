#include "model/kv_cache.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "util/error.h"

namespace dsv32 {
namespace {

std::size_t align64(std::size_t bytes) { return (bytes + 63) & ~std::size_t{63}; }

}  // namespace

KvLayout KvLayout::for_model(const ModelConfig& config, std::int64_t block_tokens) {
  KvLayout layout;
  layout.layers = config.num_hidden_layers;
  layout.latent_dim = config.kv_lora_rank;
  layout.rope_dim = config.qk_rope_head_dim;
  layout.index_dim = config.has_indexer ? config.index_head_dim : 0;
  layout.block_tokens = block_tokens;
  const auto bt = static_cast<std::size_t>(block_tokens);
  std::size_t offset = 0;
  auto section = [&](std::size_t bytes) {
    const std::size_t at = offset;
    offset += align64(bytes);
    return at;
  };
  layout.latent_codes = section(bt * static_cast<std::size_t>(layout.latent_dim));
  layout.latent_scales = section(bt * static_cast<std::size_t>(layout.latent_dim / 128) * sizeof(float));
  layout.rope_keys = section(bt * static_cast<std::size_t>(layout.rope_dim) * sizeof(float));
  layout.index_codes = section(bt * static_cast<std::size_t>(layout.index_dim));
  layout.index_scales = section(bt * sizeof(float));
  layout.layer_bytes = offset;
  layout.block_bytes = offset * static_cast<std::size_t>(layout.layers);
  return layout;
}

namespace {

constexpr std::size_t kHugePageBytes = std::size_t{2} << 20;

// `bytes` of anonymous memory starting on a huge page, asked to be backed by huge pages where
// the kernel grants them (transparent huge pages in "madvise" or "always" mode). The indexer's
// selection scatters a decoded token's reads over the whole cache, and with 4 KB pages nearly
// every entry's sections cost a TLB miss: 32K decode, 5 alternated pairs, forward 30.3 -> 28.5
// ms per step (attention core 4.32 -> 3.72, indexer 11.31 -> 10.45), every pair faster.
std::uint8_t* map_huge_aligned(std::size_t bytes) {
  const std::size_t reserved = bytes + kHugePageBytes;
  void* map = ::mmap(nullptr, reserved, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<std::uintptr_t>(map);
  const std::uintptr_t aligned = (start + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
  // The unaligned head and the unused tail (from the page after the pool's last byte: munmap
  // takes page-aligned addresses, and ~KvPool's munmap of `bytes` covers that last page).
  if (aligned > start) ::munmap(map, aligned - start);
  const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
  if (const std::uintptr_t end = (aligned + bytes + page - 1) / page * page; end < start + reserved) {
    ::munmap(reinterpret_cast<void*>(end), start + reserved - end);
  }
  ::madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);  // a hint: without THP the pages stay small
  return reinterpret_cast<std::uint8_t*>(aligned);
}

}  // namespace

KvPool::KvPool(const KvLayout& layout, std::int64_t num_blocks) : layout_(layout), num_blocks_(num_blocks) {
  if (num_blocks <= 0) fail("KV cache: the budget must hold at least one block");
  memory_bytes_ = layout.block_bytes * static_cast<std::size_t>(num_blocks);
  memory_ = map_huge_aligned(memory_bytes_);
  if (memory_ == nullptr) fail("KV cache: cannot reserve {} bytes", memory_bytes_);
  free_.reserve(static_cast<std::size_t>(num_blocks));
  references_.assign(static_cast<std::size_t>(num_blocks), 0);
  for (auto block = static_cast<std::int32_t>(num_blocks); block-- > 0;) free_.push_back(block);
}

KvPool::~KvPool() { ::munmap(memory_, memory_bytes_); }

std::int32_t KvPool::allocate() {
  if (free_.empty()) return -1;
  const std::int32_t block = free_.back();
  free_.pop_back();
  references_[static_cast<std::size_t>(block)] = 1;
  return block;
}

void KvPool::retain(std::int32_t block) { ++references_[static_cast<std::size_t>(block)]; }

void KvPool::release(std::int32_t block) {
  if (--references_[static_cast<std::size_t>(block)] == 0) free_.push_back(block);
}

KvSlot KvPool::slot(std::int32_t block, std::int64_t layer, std::int64_t offset) const {
  std::uint8_t* base = memory_ + static_cast<std::size_t>(block) * layout_.block_bytes +
                       static_cast<std::size_t>(layer) * layout_.layer_bytes;
  const auto t = static_cast<std::size_t>(offset);
  return KvSlot{
      .latent_codes = base + layout_.latent_codes + t * static_cast<std::size_t>(layout_.latent_dim),
      .latent_scales = reinterpret_cast<float*>(base + layout_.latent_scales) + t * static_cast<std::size_t>(layout_.latent_dim / 128),
      .rope_key = reinterpret_cast<float*>(base + layout_.rope_keys) + t * static_cast<std::size_t>(layout_.rope_dim),
      .index_codes = base + layout_.index_codes + t * static_cast<std::size_t>(layout_.index_dim),
      .index_scale = reinterpret_cast<float*>(base + layout_.index_scales) + t,
  };
}

void SequenceCache::reserve(std::int64_t tokens) {
  const std::int64_t block_tokens = pool_->layout().block_tokens;
  while (capacity() < tokens) {
    const std::int32_t block = pool_->allocate();
    if (block < 0) {
      fail("KV cache full: {} tokens need {} blocks of {}, {} free", tokens, (tokens + block_tokens - 1) / block_tokens,
           block_tokens, pool_->free_blocks());
    }
    blocks_.push_back(block);
  }
}

void SequenceCache::adopt(const std::vector<std::int32_t>& blocks, std::int64_t length) {
  if (!blocks_.empty()) fail("KV cache: a prefix can only be adopted by an empty sequence");
  for (const auto block : blocks) pool_->retain(block);
  blocks_ = blocks;
  length_ = length;
}

std::int64_t SequenceCache::blocks_missing(std::int64_t tokens) const {
  const std::int64_t block_tokens = pool_->layout().block_tokens;
  return std::max<std::int64_t>(0, (tokens + block_tokens - 1) / block_tokens - static_cast<std::int64_t>(blocks_.size()));
}

void SequenceCache::clear() {
  for (const auto block : blocks_) pool_->release(block);
  blocks_.clear();
  length_ = 0;
}

std::int64_t SequenceCache::capacity() const {
  return static_cast<std::int64_t>(blocks_.size()) * pool_->layout().block_tokens;
}

KvSlot SequenceCache::slot(std::int64_t layer, std::int64_t position) const {
  const std::int64_t block_tokens = pool_->layout().block_tokens;
  return pool_->slot(blocks_[static_cast<std::size_t>(position / block_tokens)], layer, position % block_tokens);
}

void SequenceCache::prefetch_attention_entries(std::int64_t layer, std::int64_t position) const {
  const KvLayout& layout = pool_->layout();
  const KvSlot entry = slot(layer, position);
  for (std::int64_t offset = 0; offset < layout.latent_dim; offset += 64) __builtin_prefetch(entry.latent_codes + offset);
  __builtin_prefetch(entry.latent_scales);
  for (std::int64_t i = 0; i < layout.rope_dim; i += 16) __builtin_prefetch(entry.rope_key + i);
}

IndexKeysPrefetch SequenceCache::index_keys_lines(std::int64_t layer, std::int64_t position, std::int64_t count) const {
  const KvSlot first = slot(layer, position);
  const auto lines = [](const void* begin, std::size_t bytes) {  // lines holding [begin, begin + bytes)
    const auto start = reinterpret_cast<std::uintptr_t>(begin);
    return static_cast<std::size_t>((start + bytes + 63) / 64 - start / 64);
  };
  const auto line_start = [](const void* at) { return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(at) / 64 * 64); };
  const auto code_bytes = static_cast<std::size_t>(count * pool_->layout().index_dim), scale_bytes = static_cast<std::size_t>(count) * sizeof(float);
  return {line_start(first.index_codes), lines(first.index_codes, code_bytes), line_start(first.index_scale), lines(first.index_scale, scale_bytes)};
}

void SequenceCache::prefetch_index_keys(std::int64_t layer, std::int64_t position, std::int64_t count) const {
  const IndexKeysPrefetch lines = index_keys_lines(layer, position, count);
  const auto request = [](const void* begin, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) __builtin_prefetch(static_cast<const std::uint8_t*>(begin) + 64 * i, 0, 2);
  };
  request(lines.codes, lines.code_lines);
  request(lines.scales, lines.scale_lines);
}

}  // namespace dsv32
