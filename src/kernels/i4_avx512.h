#pragma once
// 32 I4 values (kernels/weight.h) to float32 q in column order, for the files compiled with
// AVX-512 (entered only after their CPU checks): the nibbles of 16 bytes interleaved back,
// less 8, converted.
#include <immintrin.h>

#include <cstdint>

namespace dsv32 {
namespace {  // internal to each including file: they are compiled for different AVX-512 subsets

struct I4x32 {
  __m512 first, second;  // columns 0..15 and 16..31
};

inline I4x32 i4x32_to_f32(const std::uint8_t* packed) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  const __m512i eight = _mm512_set1_epi32(8);
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed));
  const __m128i low = _mm_and_si128(bytes, low_nibbles), high = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
  return {_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(low, high)), eight)),
          _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_unpackhi_epi8(low, high)), eight))};
}

}  // namespace
}  // namespace dsv32
