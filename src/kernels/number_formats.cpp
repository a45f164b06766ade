#include "kernels/number_formats.h"

#include <immintrin.h>

#include <bit>
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

// Bit arithmetic instead of e4m3_round's frexp/ldexp (the indexer and the caches quantise
// millions of values per prefill); equal to e4m3_round's code for every float, tests check.
std::uint8_t f32_to_e4m3(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  const auto sign = static_cast<std::uint8_t>((bits >> 24) & 0x80u);
  if (magnitude > 0x7F800000u) return 0x7F;                                  // NaN
  if (magnitude >= std::bit_cast<std::uint32_t>(kE4m3Max)) return sign | 0x7E;  // saturates at 448
  if (magnitude < std::bit_cast<std::uint32_t>(0.015625f)) {                  // subnormal grid 2^-9
    const float steps = std::bit_cast<float>(magnitude) * 512.0f;  // exact; below 8
    return sign | static_cast<std::uint8_t>(std::nearbyint(steps));
  }
  // Round the float32 mantissa to 3 bits (nearest even; a carry moves into the exponent), then
  // rebias the exponent from 127 to 7.
  const std::uint32_t rounded = (magnitude + 0x7FFFFu + ((magnitude >> 20) & 1u)) >> 20;
  return sign | static_cast<std::uint8_t>(rounded - ((127u - 7u) << 3));
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
