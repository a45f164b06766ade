// The indexer's Hadamard rotation against its definitions: the plain radix-2 loop in double
// (the float results to the bit), and the Sylvester matrix itself in long double (catches a
// wrong butterfly). The kernel's fused first stages add in the loop's order; another order of
// the double additions would rarely show after the rounding to float, so this test guards the
// results, not the order itself.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/hadamard.h"
#include "random_values.h"

namespace dsv32 {
namespace {

std::vector<float> radix2_reference(std::vector<float> x) {
  const std::size_t n = x.size();
  std::vector<double> work(x.begin(), x.end());
  for (std::size_t half = 1; half < n; half *= 2) {
    for (std::size_t block = 0; block < n; block += 2 * half) {
      for (std::size_t i = block; i < block + half; ++i) {
        const double a = work[i], b = work[i + half];
        work[i] = a + b;
        work[i + half] = a - b;
      }
    }
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(n));
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(work[i] * norm);
  return x;
}

TEST(Hadamard, MatchesTheRadix2LoopBitwiseAndTheMatrix) {
  for (const std::size_t n : {1u, 2u, 4u, 8u, 16u, 64u, 128u}) {
    // Exponents spread over 2^±40: partial sums round in double (Gaussian values alone would
    // sum exactly), over a wide range of magnitudes.
    auto x = random_floats(n, static_cast<unsigned>(n));
    for (std::size_t i = 0; i < n; ++i) x[i] = std::ldexp(x[i], static_cast<int>((i * 37 + n) % 81) - 40);
    std::vector<float> ours = x;
    std::vector<double> work(n);
    hadamard_rotate(ours.data(), n, work.data());
    const std::vector<float> reference = radix2_reference(x);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(ours[i]), std::bit_cast<std::uint32_t>(reference[i])) << "n=" << n << " i=" << i;
      long double exact = 0.0L;  // row i of H_n: (-1)^popcount(i & j)
      for (std::size_t j = 0; j < n; ++j) exact += (std::popcount(i & j) % 2 == 0 ? 1.0L : -1.0L) * x[j];
      exact /= std::sqrt(static_cast<long double>(n));
      long double magnitude = 0.0L;
      for (std::size_t j = 0; j < n; ++j) magnitude += std::fabs(static_cast<long double>(x[j]));
      EXPECT_NEAR(ours[i], static_cast<double>(exact), 1e-6 * static_cast<double>(magnitude)) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace dsv32
