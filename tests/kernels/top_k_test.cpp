// The indexer's radix top-k against a full sort under the same total order (score descending,
// then position ascending), on scores with many ties, both zeros, negatives and extremes.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/top_k.h"

namespace dsv32 {
namespace {

std::vector<std::int32_t> sorted_top_k(const std::vector<float>& scores, std::int64_t k) {
  std::vector<std::int32_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return scores[a] > scores[b]; });
  order.resize(static_cast<std::size_t>(std::min<std::int64_t>(k, static_cast<std::int64_t>(scores.size()))));
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<std::int32_t> radix_top_k(const std::vector<float>& scores, std::int64_t k, const TopKKernels& kernels = best_top_k()) {
  const auto n = static_cast<std::int64_t>(scores.size());
  std::vector<std::int32_t> out(static_cast<std::size_t>(std::min(k, n)), -1);
  std::vector<std::int32_t> scratch(static_cast<std::size_t>(top_k_scratch_words(n)));
  select_top_k(scores.data(), n, k, out.data(), scratch.data(), kernels);
  return out;
}

// The kernel tables this CPU runs: the reference, and AVX-512 where it has it.
std::vector<const TopKKernels*> top_k_tables() {
  std::vector<const TopKKernels*> tables{&scalar_top_k()};
  if (const TopKKernels* fast = avx512_top_k()) tables.push_back(fast);
  return tables;
}

std::vector<float> scores_of_kind(int kind, std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> scores(n);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  const float specials[] = {0.0f, -0.0f, 1e-40f, -1e-40f, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), 1.0f, -1.0f};
  for (auto& s : scores) {
    switch (kind) {
      case 0: s = normal(rng); break;                                      // distinct values
      case 1: s = static_cast<float>(rng() % 7) - 3.0f; break;            // heavy ties
      case 2: s = specials[rng() % 10]; break;                            // zeros of both signs, extremes
      case 3: s = 1.0f + static_cast<float>(rng() % 4) * 0x1p-23f; break;  // differ only in the last bits
      default: s = 5.0f;                                                  // all equal
    }
  }
  return scores;
}

TEST(TopK, MatchesAFullSortUnderTheTotalOrder) {
  for (const TopKKernels* kernels : top_k_tables()) {
    for (int kind = 0; kind < 5; ++kind) {
      for (const std::size_t n : {1, 2, 7, 17, 100, 4096, 5000}) {
        for (const std::int64_t k : {0L, 1L, 2L, 5L, 50L, 2048L, static_cast<std::int64_t>(n) - 1, static_cast<std::int64_t>(n),
                                     static_cast<std::int64_t>(n) + 5}) {
          if (k < 0) continue;
          const auto scores = scores_of_kind(kind, n, static_cast<std::uint32_t>(kind * 31 + n));
          EXPECT_EQ(radix_top_k(scores, k, *kernels), sorted_top_k(scores, k)) << kernels->name << " kind " << kind << " n=" << n << " k=" << k;
        }
      }
    }
  }
}

TEST(TopK, ZerosOfBothSignsTieAndTheEarlierPositionWins) {
  const std::vector<float> scores = {-0.0f, 0.0f, -1.0f, -0.0f};
  for (const TopKKernels* kernels : top_k_tables()) {
    EXPECT_EQ(radix_top_k(scores, 1, *kernels), (std::vector<std::int32_t>{0})) << kernels->name;
    EXPECT_EQ(radix_top_k(scores, 2, *kernels), (std::vector<std::int32_t>{0, 1})) << kernels->name;
    EXPECT_EQ(radix_top_k(scores, 3, *kernels), (std::vector<std::int32_t>{0, 1, 3})) << kernels->name;
  }
}

}  // namespace
}  // namespace dsv32
