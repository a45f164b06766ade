#include "kernels/i4_quant.h"

#include <algorithm>
#include <cmath>

#include "kernels/weight.h"

namespace dsv32 {
namespace {

// max|w| / divisor for these divisors: from no clipping of a positive maximum (7) to using -8
// for a negative one, and a little clipping (6.5) where that lowers the error.
constexpr float kDivisors[] = {6.5f, 6.75f, 7.0f, 7.25f, 7.5f, 7.75f, 8.0f};

int quantize_value(float value, float inverse_scale) {
  return static_cast<int>(std::clamp(std::nearbyint(value * inverse_scale), -8.0f, 7.0f));
}

float group_error(const float* values, std::size_t n, float scale) {
  const float inverse = 1.0f / scale;
  float error = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float difference = values[i] - scale * static_cast<float>(quantize_value(values[i], inverse));
    error += difference * difference;
  }
  return error;
}

}  // namespace

bool quantize_i4_row(const float* values, std::size_t n, std::uint8_t* packed, float* scales) {
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
    float best_error = INFINITY;
    for (const float divisor : kDivisors) {
      const float candidate = largest / divisor;
      const float error = group_error(group, m, candidate);
      if (error < best_error) {
        best_error = error;
        scale = candidate;
      }
    }
    const float inverse = 1.0f / scale;
    for (std::size_t i = 0; i < m; ++i) {
      const std::size_t c = g0 + i;
      const auto code = static_cast<std::uint8_t>(quantize_value(group[i], inverse) + 8);
      std::uint8_t& byte = packed[c / 2];
      byte = c % 2 == 0 ? static_cast<std::uint8_t>((byte & 0xF0) | code) : static_cast<std::uint8_t>((byte & 0x0F) | code << 4);
    }
  }
  return true;
}

}  // namespace dsv32
