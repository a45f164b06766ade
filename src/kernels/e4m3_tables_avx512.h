#pragma once
// e4m3 codes to bf16 bits, exactly, 64 at a time, for the files compiled with -mavx512vbmi
// (entered only after checking the CPU has it): two 128-entry byte tables (vpermi2b) give the
// high and the low byte of each magnitude's bf16 value, subnormals and zero included, and the
// code's sign bit is merged into the high byte. A few instructions per 64 weights, against
// about five per 16 on the float32 route.
#include <immintrin.h>

#include <cstdint>

namespace dsv32 {

// bf16 bits of the e4m3 magnitude m (0..127); 127 is e4m3's NaN.
constexpr std::uint16_t e4m3_magnitude_bf16(int m) {
  const int exponent = m >> 3, mantissa = m & 7;
  if (m == 127) return 0x7FC0;
  if (exponent != 0) return static_cast<std::uint16_t>((exponent + 120) << 7 | mantissa << 4);
  if (mantissa == 0) return 0;
  const int top = mantissa >= 4 ? 2 : mantissa >= 2 ? 1 : 0;  // subnormal: mantissa * 2^-9, normalised
  return static_cast<std::uint16_t>((118 + top) << 7 | (mantissa - (1 << top)) << (7 - top));
}

struct alignas(64) E4m3ByteTables {
  std::uint8_t high[128];
  std::uint8_t low[128];
};
constexpr E4m3ByteTables make_e4m3_byte_tables() {
  E4m3ByteTables tables{};
  for (int m = 0; m < 128; ++m) {
    tables.high[m] = static_cast<std::uint8_t>(e4m3_magnitude_bf16(m) >> 8);
    tables.low[m] = static_cast<std::uint8_t>(e4m3_magnitude_bf16(m) & 0xFF);
  }
  return tables;
}
inline constexpr E4m3ByteTables kE4m3ByteTables = make_e4m3_byte_tables();

// The tables in registers (loaded once per row or block by the callers).
struct E4m3Tables {
  __m512i high0 = _mm512_load_si512(kE4m3ByteTables.high), high1 = _mm512_load_si512(kE4m3ByteTables.high + 64);
  __m512i low0 = _mm512_load_si512(kE4m3ByteTables.low), low1 = _mm512_load_si512(kE4m3ByteTables.low + 64);
  __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));  // held here: a broadcast per use costs a shuffle-port uop
};

struct E4m3Bytes {
  __m512i high, low;  // byte i: of code i's bf16 value
};

// File-local in each including file: they are compiled with different -m flags (ODR).
namespace {
E4m3Bytes e4m3x64_bytes(__m512i codes, const E4m3Tables& tables) {
  const __m512i high = _mm512_permutex2var_epi8(tables.high0, codes, tables.high1);  // index: the low 7 bits
  return {_mm512_ternarylogic_epi32(high, codes, tables.sign, 0xF8),  // high | (codes & 0x80)
          _mm512_permutex2var_epi8(tables.low0, codes, tables.low1)};
}
}  // namespace

}  // namespace dsv32
