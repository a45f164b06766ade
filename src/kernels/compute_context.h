#pragma once
// What every kernel call needs: the thread pool, the chosen instruction set, and per-thread
// scratch that grows on first use and is then reused (no allocation in the steady state),
// each buffer starting on a cache line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/onednn_gemm.h"
#include "kernels/vector_ops.h"
#include "util/aligned_vector.h"
#include "util/numa.h"
#include "util/thread_pool.h"

namespace dsv32 {

// Activation precision: F32 matches the reference's float32 run; BF16 rounds activations and
// weights to bf16 in the weight products (the batched tile, and for a few rows the decode
// GEMV of kernels/gemv_bf16.h), the MLA attention and the W_UK absorption (products exact,
// sums in float32), a faster mode checked layer by layer. BF16 needs AVX512-BF16 (and
// AVX512-VBMI for the FP8 decode GEMV); without them those products take the float32 path.
enum class Precision : std::uint8_t { F32, BF16 };

// Who runs the bf16 mode's products of 32 tokens and more (prefill): oneDNN where the CPU has
// AMX and DSV32_ISA allows it (Auto; oneDNN then uses AMX tiles, as our tile does, and measured
// about 5 % faster at 512 tokens), our tile elsewhere. The other two force one side, for tests
// and benchmarks.
enum class LargeProducts : std::uint8_t { Auto, Tile, Onednn };

// How the bf16 mode scores the indexer's keys: with int8 products (kernels/index_scores_int8.h:
// twice vdpbf16ps's rate with AVX512-VNNI, scores 1.2 % rms from the exact ones) where the bf16
// products run and the CPU has VNNI (Auto), always (Int8; the scalar reference without it), or
// with the exact FP8 products (Exact). The f32 mode always scores exactly. Where int8 scores,
// the cache holds the keys as int8 values (KvLayout::index_keys_int8).
enum class IndexerProducts : std::uint8_t { Auto, Exact, Int8 };

// Where the bf16 attention core gets its bf16 key rows: Auto converts a sequence's cached keys
// of a layer once per call when the call's rows visit them several times each (a prompt's rows
// each read up to index_topk keys) and converts block by block otherwise (decode); PerBlock
// always converts block by block (tests compare the two: the same bits).
enum class AttentionKeyRows : std::uint8_t { Auto, PerBlock };

// NUMA placement (util/numa.h): on a machine with several memory nodes, Auto spreads the
// pool's workers over the nodes and lets Checkpoint::prefault interleave the weights' pages
// across them (not under a memory policy of the process's own, from numactl); Off leaves both
// to the OS. One node (or one allowed): nothing either way.
enum class NumaPlacement : std::uint8_t { Auto, Off };

class ComputeContext {
 public:
  explicit ComputeContext(unsigned threads = 0, const VectorOps& ops = best_vector_ops(), NumaPlacement numa = NumaPlacement::Auto)
      : topology_(NumaTopology::detect()),
        numa_spread_(numa == NumaPlacement::Auto && topology_.multi_node()),
        pool_(threads, numa_spread_ ? topology_.thread_cpus(threads == 0 ? ThreadPool::default_threads() : threads)
                                    : std::vector<std::vector<int>>{}),
        ops_(ops), scratch_(pool_.size()), scratch_u16_(pool_.size()), index_scratch_(pool_.size()),
        onednn_(pool_.size()) {}

  ThreadPool& pool() { return pool_; }
  const NumaTopology& numa_topology() const { return topology_; }
  // Whether this run spreads its threads and interleaves the weights over NUMA nodes.
  bool numa_spread() const { return numa_spread_; }
  const VectorOps& ops() const { return ops_; }
  unsigned threads() { return pool_.size(); }
  Precision precision() const { return precision_; }
  void set_precision(Precision precision) { precision_ = precision; }
  LargeProducts large_products() const { return large_products_; }
  void set_large_products(LargeProducts large_products) { large_products_ = large_products; }
  IndexerProducts indexer_products() const { return indexer_products_; }
  void set_indexer_products(IndexerProducts indexer_products) { indexer_products_ = indexer_products; }
  AttentionKeyRows attention_key_rows() const { return attention_key_rows_; }
  void set_attention_key_rows(AttentionKeyRows attention_key_rows) { attention_key_rows_ = attention_key_rows; }

  // Scratch of at least `floats` floats for thread `thread` (valid until the next call by it).
  float* scratch(unsigned thread, std::size_t floats) {
    auto& buffer = scratch_[thread];
    if (buffer.size() < floats) buffer.resize(floats);
    return buffer.data();
  }
  // One buffer shared by a parallel region (filled before it starts), e.g. bf16 activations.
  std::uint16_t* shared_u16(std::size_t count) {
    if (shared_u16_.size() < count) shared_u16_.resize(count);
    return shared_u16_.data();
  }
  std::uint16_t* scratch_u16(unsigned thread, std::size_t count) {
    auto& buffer = scratch_u16_[thread];
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
  }
  std::int32_t* index_scratch(unsigned thread, std::size_t count) {
    auto& buffer = index_scratch_[thread];
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
  }
  // Thread `thread`'s oneDNN products (kernels/onednn_gemm.h), made on its first use.
  OnednnGemm& onednn(unsigned thread) {
    auto& gemm = onednn_[thread];
    if (!gemm) gemm = std::make_unique<OnednnGemm>();
    return *gemm;
  }

 private:
  NumaTopology topology_;
  bool numa_spread_;
  ThreadPool pool_;
  const VectorOps& ops_;
  Precision precision_ = Precision::F32;
  LargeProducts large_products_ = LargeProducts::Auto;
  IndexerProducts indexer_products_ = IndexerProducts::Auto;
  AttentionKeyRows attention_key_rows_ = AttentionKeyRows::Auto;
  std::vector<AlignedVector<float>> scratch_;
  std::vector<AlignedVector<std::uint16_t>> scratch_u16_;
  AlignedVector<std::uint16_t> shared_u16_;
  std::vector<AlignedVector<std::int32_t>> index_scratch_;
  std::vector<std::unique_ptr<OnednnGemm>> onednn_;
};

}  // namespace dsv32
