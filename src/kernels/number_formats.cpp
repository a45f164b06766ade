#include "kernels/number_formats.h"

#include <immintrin.h>

namespace dsv32 {

float f16_to_f32(std::uint16_t bits) { return _cvtsh_ss(bits); }

std::uint16_t f32_to_f16(float value) { return _cvtss_sh(value, _MM_FROUND_TO_NEAREST_INT); }

float e4m3_round(float value) {
  const float magnitude = std::fmin(std::fabs(value), kE4m3Max);
  if (magnitude == 0.0f || std::isnan(value)) return std::isnan(value) ? value : std::copysign(0.0f, value);
  int binary_exponent = 0;
  std::frexp(magnitude, &binary_exponent);               // magnitude = m * 2^e, m in [0.5, 1)
  const int floor_log2 = std::max(binary_exponent - 1, -6);  // subnormals share the 2^-6 binade's spacing
  const float spacing = std::ldexp(1.0f, floor_log2 - 3);
  const float rounded = std::fmin(std::nearbyint(magnitude / spacing) * spacing, kE4m3Max);
  return std::copysign(rounded, value);
}

std::uint8_t f32_to_e4m3(float value) {
  const float rounded = e4m3_round(value);
  const std::uint8_t sign = std::signbit(rounded) ? 0x80 : 0x00;
  if (std::isnan(rounded)) return 0x7F;
  const float magnitude = std::fabs(rounded);
  if (magnitude < 0.015625f) return sign | static_cast<std::uint8_t>(magnitude * 512.0f);  // subnormal
  int binary_exponent = 0;
  const float fraction = std::frexp(magnitude, &binary_exponent);  // [0.5, 1)
  const int mantissa = static_cast<int>(fraction * 16.0f) - 8;
  return sign | static_cast<std::uint8_t>(((binary_exponent - 1 + 7) << 3) | mantissa);
}

float ue8m0_scale(float amax) {
  const float scaled = std::fmax(amax, 1e-4f) * (1.0f / kE4m3Max);
  int binary_exponent = 0;
  const float fraction = std::frexp(scaled, &binary_exponent);
  const int ceil_log2 = fraction == 0.5f ? binary_exponent - 1 : binary_exponent;
  return std::ldexp(1.0f, ceil_log2);
}

}  // namespace dsv32
