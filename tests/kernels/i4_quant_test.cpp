// Rounding to I4 for `dsv32 quantize`: codes and scales laid out as kernels/weight.h says,
// every value within half a step of its group's scale (or clipped at the ends of the range),
// a chosen scale never worse than plain max / 7, zero groups, and non-finite input refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/i4_quant.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

double squared_error(const std::vector<float>& values, std::size_t begin, std::size_t end, const std::vector<std::uint8_t>& packed,
                     const std::vector<float>& scales) {
  double error = 0.0;
  for (std::size_t c = begin; c < end; ++c) {
    const double difference = values[c] - static_cast<double>(i4_at(packed.data(), c)) * scales[c / 128];
    error += difference * difference;
  }
  return error;
}

TEST(I4QuantTest, RoundsEachGroupWithinHalfAStep) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (const std::size_t n : {2u, 128u, 300u, 1024u}) {
    std::vector<float> values(n);
    for (auto& v : values) v = normal(rng);
    values[n / 2] = 0.5f;  // an outlier in one group
    std::vector<std::uint8_t> packed(n / 2);
    std::vector<float> scales((n + 127) / 128);
    ASSERT_TRUE(quantize_i4_row(values.data(), n, packed.data(), scales.data()));
    for (std::size_t g = 0; g * 128 < n; ++g) {
      const std::size_t begin = g * 128, end = std::min(n, begin + 128);
      float largest = 0.0f;
      for (std::size_t c = begin; c < end; ++c) largest = std::max(largest, std::fabs(values[c]));
      ASSERT_GT(scales[g], 0.0f);
      for (std::size_t c = begin; c < end; ++c) {
        const float step = scales[g], q = static_cast<float>(i4_at(packed.data(), c));
        const bool clipped = (q == 7.0f && values[c] > 7.0f * step) || (q == -8.0f && values[c] < -8.0f * step);
        if (!clipped) {
          EXPECT_LE(std::fabs(values[c] - q * step), 0.5f * step * (1.0f + 1e-6f)) << "n=" << n << " c=" << c;
        }
      }
      // never worse than the plain max / 7 scale
      std::vector<std::uint8_t> plain(packed);
      std::vector<float> plain_scales(scales);
      plain_scales[g] = largest / 7.0f;
      for (std::size_t c = begin; c < end; ++c) {
        const int q = static_cast<int>(std::clamp(std::nearbyint(values[c] / plain_scales[g]), -8.0f, 7.0f)) + 8;
        plain[c / 2] = static_cast<std::uint8_t>(c % 2 == 0 ? (plain[c / 2] & 0xF0) | q : (plain[c / 2] & 0x0F) | q << 4);
      }
      EXPECT_LE(squared_error(values, begin, end, packed, scales), squared_error(values, begin, end, plain, plain_scales) * (1.0 + 1e-6))
          << "n=" << n << " group " << g;
    }
  }
}

TEST(I4QuantTest, ZeroGroupsGetZeroScaleAndZeroCodes) {
  std::vector<float> values(256, 0.0f);
  values[200] = -1.0f;
  std::vector<std::uint8_t> packed(128, 0xFF);
  std::vector<float> scales(2, -1.0f);
  ASSERT_TRUE(quantize_i4_row(values.data(), values.size(), packed.data(), scales.data()));
  EXPECT_EQ(scales[0], 0.0f);
  for (std::size_t c = 0; c < 128; ++c) EXPECT_EQ(i4_at(packed.data(), c), 0) << c;
  // A lone value: within half a step of its code, and the rest of its group stays exact zeros.
  EXPECT_NEAR(static_cast<float>(i4_at(packed.data(), 200)) * scales[1], -1.0f, 0.5f * scales[1]);
  for (std::size_t c = 128; c < 256; ++c) {
    if (c != 200) {
      EXPECT_EQ(i4_at(packed.data(), c), 0) << c;
    }
  }
}

// Extreme magnitudes: huge weights (whose squares overflow float) and weights so small that
// 1 / scale would overflow still get a scale and codes within half a step.
TEST(I4QuantTest, ExtremeMagnitudesKeepTheirGroups) {
  for (const float magnitude : {1e30f, 3e38f, 1e-38f, 1e-44f}) {
    std::vector<float> values(128);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = magnitude * ((static_cast<float>(i % 17) - 8.0f) / 8.0f);
    std::vector<std::uint8_t> packed(64);
    std::vector<float> scales(1);
    ASSERT_TRUE(quantize_i4_row(values.data(), values.size(), packed.data(), scales.data())) << magnitude;
    ASSERT_TRUE(std::isfinite(scales[0])) << magnitude;
    ASSERT_GT(scales[0], 0.0f) << magnitude;
    for (std::size_t c = 0; c < values.size(); ++c) {
      const double step = scales[0], q = i4_at(packed.data(), c);
      const bool clipped = (q == 7 && values[c] > 7 * step) || (q == -8 && values[c] < -8 * step);
      if (!clipped) {
        EXPECT_LE(std::fabs(values[c] - q * step), 0.5 * step * (1 + 1e-6)) << magnitude << " c=" << c;
      }
    }
  }
}

TEST(I4QuantTest, RefusesValuesThatAreNotFinite) {
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    std::vector<float> values(128, 0.25f);
    values[77] = bad;
    std::vector<std::uint8_t> packed(64);
    std::vector<float> scales(1);
    EXPECT_FALSE(quantize_i4_row(values.data(), values.size(), packed.data(), scales.data())) << bad;
  }
}

}  // namespace
}  // namespace dsv32
