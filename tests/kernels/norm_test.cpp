// RMSNorm (kernels/norm.h) against its formula in long double, at widths that do and do not
// fill the sum of squares' eight partial sums.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/norm.h"
#include "random_values.h"

namespace dsv32 {
namespace {

TEST(NormTest, RmsNormIsTheFormula) {
  for (const std::int64_t n : {1, 7, 8, 9, 512, 1030}) {
    const auto x = random_floats(static_cast<std::size_t>(n), 1);
    const auto weight = random_floats(static_cast<std::size_t>(n), 2);
    std::vector<float> out(x.size());
    rms_norm(x.data(), weight.data(), n, 1e-6f, out.data());
    long double sum = 0.0L;
    for (const float v : x) sum += static_cast<long double>(v) * v;
    const long double inv_rms = 1.0L / std::sqrt(sum / n + 1e-6L);
    for (std::int64_t i = 0; i < n; ++i) {
      const long double expected = x[i] * inv_rms * weight[i];
      EXPECT_NEAR(out[i], static_cast<double>(expected), 4e-7 * std::fabs(static_cast<double>(expected)) + 1e-30) << "n " << n << " i " << i;
    }
  }
}

TEST(NormTest, RmsNormInPlaceGivesTheSameBits) {
  const auto x = random_floats(1024, 3);
  const auto weight = random_floats(1024, 4);
  std::vector<float> out(x.size()), in_place = x;
  rms_norm(x.data(), weight.data(), 1024, 1e-6f, out.data());
  rms_norm(in_place.data(), weight.data(), 1024, 1e-6f, in_place.data());
  EXPECT_EQ(out, in_place);
}

}  // namespace
}  // namespace dsv32
