// tree_sums (kernels/tree_sum_avx512.h) against 16 calls of tree_sum: the same additions, so
// the same bits, on values of mixed magnitudes and signs where the order of the additions shows.
// Only the functions under test are compiled for AVX-512 (the target pragma), and they run only
// where the CPU has it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq")
#include "kernels/tree_sum_avx512.h"

namespace dsv32 {
namespace {

void sums_both_ways(const float (&values)[16][16], float (&one_by_one)[16], float (&together)[16]) {
  __m512 lanes[16];
  for (int r = 0; r < 16; ++r) lanes[r] = _mm512_loadu_ps(values[r]);
  for (int r = 0; r < 16; ++r) one_by_one[r] = tree_sum(lanes[r]);
  _mm512_storeu_ps(together, tree_sums(lanes));
}

}  // namespace
}  // namespace dsv32
#pragma GCC pop_options

namespace dsv32 {
namespace {

TEST(TreeSumTest, SixteenAtOnceGiveEachOnesBits) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) GTEST_SKIP() << "no AVX512-F and -DQ on this CPU";
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> mantissa(-1.0f, 1.0f);
  std::uniform_int_distribution<int> exponent(-30, 30);
  for (int round = 0; round < 200; ++round) {
    float values[16][16];
    for (auto& row : values) {
      for (float& v : row) v = std::ldexp(mantissa(rng), exponent(rng));
    }
    float one_by_one[16], together[16];
    sums_both_ways(values, one_by_one, together);
    for (int r = 0; r < 16; ++r) {
      std::uint32_t a = 0, b = 0;
      std::memcpy(&a, &one_by_one[r], 4);
      std::memcpy(&b, &together[r], 4);
      EXPECT_EQ(a, b) << "round " << round << " register " << r;
    }
  }
}

}  // namespace
}  // namespace dsv32
