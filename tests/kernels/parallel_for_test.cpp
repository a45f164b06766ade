// The pool behind every kernel call: each item visited exactly once, for many back-to-back
// regions (the spinning path) and after pauses long enough for workers to fall asleep (the
// futex path), with chunk boundaries on the grain.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
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

// Chunks that throw (on whichever threads claim them): the caller gets one of the exceptions once
// the region is done, no item is visited twice, and the pool keeps working.
TEST(ParallelForTest, AnExceptionReachesTheCallerAndThePoolGoesOn) {
  for (const unsigned threads : {1u, 2u, 3u}) {
    ComputeContext ctx(threads);
    for (int round = 0; round < 200; ++round) {
      const std::size_t n = 64, bad = static_cast<std::size_t>(round) % n;
      std::vector<std::atomic<int>> visits(n);
      try {
        ctx.pool().parallel_for(n, [&](std::size_t begin, std::size_t end, unsigned) {
          for (std::size_t i = begin; i < end; ++i) {
            visits[i].fetch_add(1);
            if (i == bad || i == (bad + 32) % n) throw std::runtime_error("item " + std::to_string(i));
          }
        });
        ADD_FAILURE() << "no exception, threads=" << threads;
      } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        EXPECT_TRUE(what == "item " + std::to_string(bad) || what == "item " + std::to_string((bad + 32) % n)) << what;
      }
      for (std::size_t i = 0; i < n; ++i) EXPECT_LE(visits[i].load(), 1) << i;
      EXPECT_EQ(visits[bad].load() + visits[(bad + 32) % n].load() >= 1, true);
      expect_each_item_once(ctx.pool(), 100, 3);
    }
  }
}

}  // namespace
}  // namespace dsv32
