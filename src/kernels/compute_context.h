#pragma once
// What every kernel call needs: the thread pool, the chosen instruction set, and per-thread
// scratch that grows on first use and is then reused (no allocation in the steady state).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/vector_ops.h"
#include "util/thread_pool.h"

namespace dsv32 {

class ComputeContext {
 public:
  explicit ComputeContext(unsigned threads = 0, const VectorOps& ops = best_vector_ops())
      : pool_(threads), ops_(ops), scratch_(pool_.size()), index_scratch_(pool_.size()) {}

  ThreadPool& pool() { return pool_; }
  const VectorOps& ops() const { return ops_; }
  unsigned threads() { return pool_.size(); }

  // Scratch of at least `floats` floats for thread `thread` (valid until the next call by it).
  float* scratch(unsigned thread, std::size_t floats) {
    auto& buffer = scratch_[thread];
    if (buffer.size() < floats) buffer.resize(floats);
    return buffer.data();
  }
  std::int32_t* index_scratch(unsigned thread, std::size_t count) {
    auto& buffer = index_scratch_[thread];
    if (buffer.size() < count) buffer.resize(count);
    return buffer.data();
  }

 private:
  ThreadPool pool_;
  const VectorOps& ops_;
  std::vector<std::vector<float>> scratch_;
  std::vector<std::vector<std::int32_t>> index_scratch_;
};

}  // namespace dsv32
