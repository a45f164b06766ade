#pragma once
// Scalar conversions between the storage formats of checkpoints/caches and float32.
// These are the reference definitions every SIMD path is tested against.
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace dsv32 {

inline float bf16_to_f32(std::uint16_t bits) { return std::bit_cast<float>(std::uint32_t{bits} << 16); }

// Round to nearest even, NaN kept quiet.
inline std::uint16_t f32_to_bf16(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((bits >> 16) | 0x40);
  const std::uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<std::uint16_t>((bits + rounding) >> 16);
}

// As vcvtne2ps2bf16 rounds (the bf16 mode's activations): float32 subnormals are read as zeros
// of their sign first, where f32_to_bf16 would round the largest of them up to 2^-126.
inline std::uint16_t f32_to_bf16_flushing_subnormals(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  return (bits & 0x7F800000u) == 0 ? static_cast<std::uint16_t>((bits >> 16) & 0x8000u) : f32_to_bf16(value);
}

float f16_to_f32(std::uint16_t bits);
std::uint16_t f32_to_f16(float value);

// FP8 E4M3 "fn" (bias 7, no infinities, 0x7F/0xFF NaN, max 448).
constexpr float kE4m3Max = 448.0f;

constexpr float e4m3_value(std::uint8_t code) {
  const int exponent = (code >> 3) & 0xF;
  const int mantissa = code & 0x7;
  float magnitude = 0.0f;
  if (exponent == 0xF && mantissa == 0x7) {
    magnitude = __builtin_nanf("");
  } else if (exponent == 0) {
    magnitude = static_cast<float>(mantissa) / 512.0f;
  } else {
    magnitude = (1.0f + static_cast<float>(mantissa) / 8.0f);
    for (int e = 7; e < exponent; ++e) magnitude *= 2.0f;
    for (int e = exponent; e < 7; ++e) magnitude /= 2.0f;
  }
  return (code & 0x80) ? -magnitude : magnitude;
}

constexpr std::array<float, 256> make_e4m3_table() {
  std::array<float, 256> table{};
  for (int code = 0; code < 256; ++code) table[code] = e4m3_value(static_cast<std::uint8_t>(code));
  return table;
}

inline constexpr std::array<float, 256> kE4m3Table = make_e4m3_table();

inline float e4m3_to_f32(std::uint8_t code) { return kE4m3Table[code]; }

// Saturating round-to-nearest-even onto the e4m3 grid (subnormals included), as the value.
float e4m3_round(float value);
// The same, as the code byte (sign of zero kept). Bit arithmetic without branches (every case
// computed, then chosen), so that loops over it vectorise: the indexer and the caches quantise
// millions of values per prefill. Equal to e4m3_round's code for every float (tests check).
inline std::uint8_t f32_to_e4m3(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
  // Normal results: the float32 mantissa rounded to 3 bits (nearest even; a carry moves into the
  // exponent), then the exponent rebiased from 127 to 7.
  const std::uint32_t normal = ((magnitude + 0x7FFFFu + ((magnitude >> 20) & 1u)) >> 20) - ((127u - 7u) << 3);
  // Below 2^-6, the subnormal grid of 2^-9: the steps (below 8, exact) rounded to nearest even
  // by adding 2^23, whose float has no fraction bits left.
  const float steps = std::bit_cast<float>(magnitude) * 512.0f;
  const std::uint32_t subnormal = std::bit_cast<std::uint32_t>(steps + 8388608.0f) - 0x4B000000u;
  // The choices as masks (all ones where true): GCC kept conditional selects as branches.
  const auto mask = [](bool condition) { return 0u - static_cast<std::uint32_t>(condition); };
  const std::uint32_t is_subnormal = mask(magnitude < std::bit_cast<std::uint32_t>(0.015625f));
  const std::uint32_t saturates = mask(magnitude >= std::bit_cast<std::uint32_t>(kE4m3Max));  // at 448
  const std::uint32_t is_nan = mask(magnitude > 0x7F800000u);
  std::uint32_t code = (subnormal & is_subnormal) | (normal & ~is_subnormal);
  code = ((0x7Eu & saturates) | (code & ~saturates) | ((bits >> 24) & 0x80u));
  return static_cast<std::uint8_t>((0x7Fu & is_nan) | (code & ~is_nan));
}

// Whether any of n e4m3 codes is a NaN (0x7F or 0xFF).
bool e4m3_codes_hold_nan(const std::uint8_t* codes, std::size_t n);

// DeepSeek's "ue8m0" activation scale: 2^ceil(log2(max(amax, 1e-4) * fp32(1/448))).
float ue8m0_scale(float amax);

// Value c of a row of I4 codes (kernels/weight.h): two per byte, column 2j in the low nibble,
// each stored as q + 8.
inline int i4_at(const std::uint8_t* packed, std::size_t c) { return ((packed[c / 2] >> (4 * (c % 2))) & 0xF) - 8; }

}  // namespace dsv32
