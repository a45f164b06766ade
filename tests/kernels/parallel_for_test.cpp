// The pool behind every kernel call: each item visited exactly once, for many back-to-back
// regions (the spinning path) and after pauses long enough for workers to fall asleep (the
// futex path), with chunk boundaries on the grain.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/compute_context.h"

namespace dsv32 {
namespace {

void expect_each_item_once(ThreadPool& pool, std::size_t n, std::size_t grain) {
  std::vector<std::atomic<int>> visits(n);
  std::atomic<bool> misaligned{false};
  pool.parallel_for(n, [&](std::size_t begin, std::size_t end, unsigned thread) {
    if (begin % grain != 0 || thread >= pool.size()) misaligned = true;
    for (std::size_t i = begin; i < end; ++i) visits[i].fetch_add(1);
  }, grain);
  for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(visits[i].load(), 1) << "n=" << n << " item " << i;
  EXPECT_FALSE(misaligned.load());
}

TEST(ParallelForTest, BackToBackRegionsVisitEachItemOnce) {
  for (const unsigned threads : {1u, 2u, 3u}) {
    ComputeContext ctx(threads);
    for (std::size_t round = 0; round < 2000; ++round) expect_each_item_once(ctx.pool(), 1 + round % 97, 1 + round % 5);
  }
}

TEST(ParallelForTest, WorkersWakeAfterSleeping) {
  ComputeContext ctx(2);
  for (int round = 0; round < 5; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // longer than the spin
    expect_each_item_once(ctx.pool(), 1024, 4);
  }
}

}  // namespace
}  // namespace dsv32
