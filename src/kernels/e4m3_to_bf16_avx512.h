#pragma once
// FP8 e4m3 codes times a block's scale as bf16 (GemmBf16Kernels::e4m3_to_bf16's rounding), for
// the files compiled with -mavx512bf16 -mavx512vbmi and entered only after their CPU checks
// (gemm_bf16_avx512.cpp's conversions, gemm_bf16_amx.cpp's converting tile).
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/e4m3_tables_avx512.h"
#include "kernels/number_formats.h"
#include "kernels/weight.h"

namespace dsv32 {
// File-local in each including file: they are compiled with different -m flags (ODR).
namespace {

// e4m3 through f16 (value * 2^-8, subnormals exact), times 2^8 (exact), times scale (the one
// rounding), rounded to nearest even by vcvtne2ps2bf16; products below the float32 normals become zeros, as vdpbf16ps
// would read them. NaN codes (magnitude 0x7F, which f16 reads as 480) are put back as NaN.
void e4m3_to_bf16(const std::uint8_t* src, float scale, std::uint16_t* dst, std::size_t n) {
  const __m512 factor = _mm512_set1_ps(scale);
  const auto sixteen = [&](std::size_t i) {
    const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i shifted = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_cvtepu8_epi16(codes), 8), 1);
    const __m512 value = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_and_si256(shifted, _mm256_set1_epi16(static_cast<short>(0xBFFF)))),
                                       _mm512_set1_ps(256.0f));
    const __mmask16 nan = _mm_cmpeq_epi8_mask(_mm_and_si128(codes, _mm_set1_epi8(0x7F)), _mm_set1_epi8(0x7F));
    return _mm512_mask_mov_ps(_mm512_mul_ps(value, factor), nan, _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
  };
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(sixteen(i + 16), sixteen(i))));
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(e4m3_to_f32(src[i]) * scale);
}

// Word j of the first (second) register: code j (32 + j)'s low byte, then its high byte.
struct alignas(64) InterleaveIndex {
  std::uint8_t first[64], second[64];
};
constexpr InterleaveIndex make_interleave_index() {
  InterleaveIndex index{};
  for (int j = 0; j < 32; ++j) {
    index.first[2 * j] = static_cast<std::uint8_t>(j);
    index.first[2 * j + 1] = static_cast<std::uint8_t>(64 + j);
    index.second[2 * j] = static_cast<std::uint8_t>(32 + j);
    index.second[2 * j + 1] = static_cast<std::uint8_t>(96 + j);
  }
  return index;
}
constexpr InterleaveIndex kInterleaveIndex = make_interleave_index();

// The byte tables (e4m3_tables_avx512.h) and interleave indices, loaded once per call.
struct E4m3ToBf16Constants {
  E4m3Tables tables;
  __m512i first_index = _mm512_load_si512(kInterleaveIndex.first), second_index = _mm512_load_si512(kInterleaveIndex.second);
  __m512i magnitude_bits = _mm512_set1_epi8(0x7F), one = _mm512_set1_epi8(1), scaled_limit = _mm512_set1_epi8(126);
};

// Whether scale is a power of two 2^k that keeps every product a normal bf16 (products from
// 2^-9 * 2^k to 448 * 2^k), and k.
bool table_scale(float scale, int& k) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(scale);
  k = static_cast<int>((bits >> 23) & 0xFF) - 127;
  return (bits & 0x807FFFFFu) == 0 && k >= -117 && k <= 119;
}

// n codes (any n) times 2^k through the tables: the product is exact, the table's value with
// k added to its exponent (zeros and NaNs left alone).
void e4m3_times_power_of_two(const E4m3ToBf16Constants& constants, const std::uint8_t* src, int k, std::uint16_t* dst,
                             std::size_t n) {
  const __m512i exponent_step = _mm512_set1_epi16(static_cast<short>(k * 128));
  for (std::size_t i = 0; i < n; i += 64) {
    const bool whole = n - i >= 64;  // masked loads and stores only at the tail: they cost more
    const __mmask64 valid = whole ? ~__mmask64{0} : (std::uint64_t{1} << (n - i)) - 1;
    const __m512i codes = whole ? _mm512_loadu_si512(src + i) : _mm512_maskz_loadu_epi8(valid, src + i);
    // Magnitudes 1..126 (not zero, not NaN): (magnitude - 1) < 126 unsigned.
    const __m512i magnitude = _mm512_and_si512(codes, constants.magnitude_bits);
    const __mmask64 scaled = _mm512_cmplt_epu8_mask(_mm512_sub_epi8(magnitude, constants.one), constants.scaled_limit);
    const E4m3Bytes bytes = e4m3x64_bytes(codes, constants.tables);
    __m512i first = _mm512_permutex2var_epi8(bytes.low, constants.first_index, bytes.high);
    __m512i second = _mm512_permutex2var_epi8(bytes.low, constants.second_index, bytes.high);
    first = _mm512_mask_add_epi16(first, static_cast<__mmask32>(scaled), first, exponent_step);
    second = _mm512_mask_add_epi16(second, static_cast<__mmask32>(scaled >> 32), second, exponent_step);
    if (whole) {
      _mm512_storeu_si512(dst + i, first);
      _mm512_storeu_si512(dst + i + 32, second);
    } else {
      _mm512_mask_storeu_epi16(dst + i, static_cast<__mmask32>(valid), first);
      _mm512_mask_storeu_epi16(dst + i + 32, static_cast<__mmask32>(valid >> 32), second);
    }
  }
}

// How far ahead of the codes it converts a row conversion requests lines into L2: the rows
// after this one (a tile's, a head's W_UK), as the decode GEMV reads its rows (a standalone
// conversion of 256 MB: 8.9 GB/s without, 16.4-17.6 with 2-8 KB ahead; 32 MB, in L3: 17.8 -> 29-32).
constexpr std::uintptr_t kConvertStreamAhead = 8192;

// Codes [col, col_end) of one row (col a multiple of 64; scales one per kFp8BlockSize codes from
// the row's start) into dst[col, col_end), a block scale at a time: the byte tables where the
// scale is a power of two in table_scale's range, the float route otherwise. Each 64 codes
// request the line kConvertStreamAhead bytes further on (an integer address: past the weights'
// end a pointer would be undefined behaviour; a prefetch there does not fault). Inlined: called
// out of line, the converting tile reloaded the tables for each run and ran 5-30 % slower.
[[gnu::always_inline]] inline void e4m3_row_part_to_bf16(const E4m3ToBf16Constants& constants, const std::uint8_t* codes, const float* scales, std::uint16_t* dst,
                           std::size_t col, std::size_t col_end) {
  constexpr auto kBlock = static_cast<std::size_t>(kFp8BlockSize);
  while (col < col_end) {
    const std::size_t block_end = std::min(col_end, (col / kBlock + 1) * kBlock);
    const auto ahead = reinterpret_cast<std::uintptr_t>(codes + col) + kConvertStreamAhead;
    for (std::uintptr_t line = 0; line < block_end - col; line += 64) _mm_prefetch(reinterpret_cast<const char*>(ahead + line), _MM_HINT_T1);
    const float scale = scales[col / kBlock];
    int k = 0;
    if (table_scale(scale, k)) {
      e4m3_times_power_of_two(constants, codes + col, k, dst + col, block_end - col);
    } else {
      e4m3_to_bf16(codes + col, scale, dst + col, block_end - col);
    }
    col = block_end;
  }
}

}  // namespace
}  // namespace dsv32
