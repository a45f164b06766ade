// The bf16 mode's dot4x4 paths against the scalar reference: products of bf16 values are exact
// in float32, so the paths differ only in the order of float32 sums.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/dot_bf16.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

std::vector<std::uint16_t> random_bf16(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> values(n);
  for (auto& v : values) v = f32_to_bf16(normal(rng));
  return values;
}

TEST(DotBf16Test, Avx512MatchesScalar) {
  const Dot4x4Bf16 fast = dot4x4_bf16_avx512();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  for (const std::size_t n : {32, 96, 512, 1024}) {
    const std::size_t row_stride = n + 32, x_stride = n + 64, out_stride = 5;
    const auto rows = random_bf16(4 * row_stride, 1), x = random_bf16(4 * x_stride, 2);
    std::vector<float> ours(4 * out_stride), reference(4 * out_stride);
    fast(rows.data(), row_stride, x.data(), x_stride, n, ours.data(), out_stride);
    dot4x4_bf16_scalar(rows.data(), row_stride, x.data(), x_stride, n, reference.data(), out_stride);
    for (std::size_t t = 0; t < 4; ++t) {
      for (std::size_t r = 0; r < 4; ++r) {
        double magnitude = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          magnitude += std::fabs(static_cast<double>(bf16_to_f32(rows[r * row_stride + i])) * bf16_to_f32(x[t * x_stride + i]));
        }
        EXPECT_NEAR(ours[t * out_stride + r], reference[t * out_stride + r], 4e-7 * magnitude * std::sqrt(static_cast<double>(n)))
            << "n=" << n << " t=" << t << " r=" << r;
      }
    }
  }
}

TEST(DotBf16Test, BestFallsBackToScalarForOddWidths) {
  EXPECT_EQ(best_dot4x4_bf16(48), &dot4x4_bf16_scalar);
}

}  // namespace
}  // namespace dsv32
