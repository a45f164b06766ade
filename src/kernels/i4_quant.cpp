#include "kernels/i4_quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "kernels/weight.h"

namespace dsv32 {
namespace {

// max|w| / divisor for these divisors: from no clipping of a positive maximum (7) to using -8
// for a negative one, and a little clipping (6.5) where that lowers the error.
constexpr float kDivisors[] = {6.5f, 6.75f, 7.0f, 7.25f, 7.5f, 7.75f, 8.0f};

// Division, not a multiplication by 1 / scale: a group of tiny values has a scale whose inverse
// overflows. value and scale are finite and scale > 0, so the quotient is never NaN.
int quantize_value(float value, float scale) { return static_cast<int>(std::clamp(std::nearbyint(value / scale), -8.0f, 7.0f)); }

// In double: squares of large weights would overflow float and tie every candidate at infinity.
double group_error(const float* values, std::size_t n, float scale) {
  double error = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double difference = static_cast<double>(values[i]) - static_cast<double>(scale) * quantize_value(values[i], scale);
    error += difference * difference;
  }
  return error;
}

}  // namespace

bool quantize_i4_row(const float* values, std::size_t n, std::uint8_t* packed, float* scales) {
  assert(n % 2 == 0);
  if (!std::all_of(values, values + n, [](float v) { return std::isfinite(v); })) return false;
  const auto group_size = static_cast<std::size_t>(kI4GroupSize);
  std::fill(packed, packed + n / 2, std::uint8_t{0x88});  // q = 0 in both nibbles
  for (std::size_t g0 = 0; g0 < n; g0 += group_size) {
    const std::size_t m = std::min(group_size, n - g0);
    const float* group = values + g0;
    float largest = 0.0f;
    for (std::size_t i = 0; i < m; ++i) largest = std::max(largest, std::fabs(group[i]));
    float& scale = scales[g0 / group_size];
    scale = 0.0f;
    if (largest == 0.0f) continue;
    double best_error = std::numeric_limits<double>::infinity();  // (a double sum of float squares stays finite)
    for (const float divisor : kDivisors) {
      const float candidate = largest / divisor;
      if (candidate <= 0.0f) continue;  // (largest subnormal: the quotient underflowed)
      const double error = group_error(group, m, candidate);
      if (error < best_error) {
        best_error = error;
        scale = candidate;
      }
    }
    if (scale <= 0.0f) {  // values too small for any scale: zeros, as the float32 product would give
      continue;
    }
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t c = g0 + i;
      const auto code = static_cast<std::uint8_t>(quantize_value(group[i], scale) + 8);
      std::uint8_t& byte = packed[c / 2];
      byte = c % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0) | code) : static_cast<std::uint8_t>((byte & 0x0F) | code << 4);
    }
  }
  return true;
}

}  // namespace dsv32
