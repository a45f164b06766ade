// AVX512-FP16 e4m3 rows (gemv_bf16.h's HalfE4m3Rows); this file alone is compiled with
// -mavx512fp16 and is only called after cpu_has_avx512_fp16(). The codes become fp16 in three
// instructions per 32 (sign-extend to words, shift the magnitude into place, clear the copied
// sign): fp16's exponent field holds e4m3's with a bias 8 larger, so the word reads as
// e4m3 · 2^-8 exactly. The block scales are in the packed activations (a 128-row group's), so
// each lane adds 16 products in fp16 over 512 columns before one conversion to float32 where
// every 128-column block took one; and rows the caller knows free of NaN codes skip the check
// (3 of a chunk's instructions). DecodeGemvE4m3Fp16 (benchmarks/, one core, 4 MB of rows),
// checked / free of NaN codes, against the vdpbf16ps rows (DecodeGemvE4m3Bf16) and against
// per-block conversion with the check (before): 1 token 25.2 / 29.1 GB/s (18.4; 21.2), 2 tokens
// 20.3 / 25.2 (13.5; 15.4), 4 tokens 15.3 / 17.7 (8.3; 10.5), 8 tokens 7.7 / 9.0 (4.0; 5.2).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "kernels/cpu_features.h"
#include "kernels/gemv_bf16.h"
#include "kernels/gemv_token_groups.h"
#include "kernels/tree_sum_avx512.h"
#include "kernels/weight.h"

namespace dsv32 {
namespace {

constexpr std::size_t kChunk = 32;   // fp16 lanes: the codes of one FMA
constexpr std::size_t kSpan = 512;   // columns each lane sums in fp16 (16 products)
constexpr std::size_t kBlock = static_cast<std::size_t>(kFp8BlockSize);
constexpr int kMaxTokens = 8;        // accumulators of a single row
constexpr int kMaxPairTokens = 6;    // of two rows
// How far ahead of its codes a row asks for its stream into L2. Measured where the rows come
// from memory: 600 MB of 8192 x 1536 rows (the indexer's query projection; 100 MB, as the
// kernel benchmarks', stays partly in this host's 300 MB L3 and reads faster than decode does),
// one token, two threads, 3 alternated runs: 2 KB 16.5-17.6 GB/s, 4 KB 17.2-21.4, 8 KB
// 19.2-20.3, 16 KB 19.9-24.0, 32 KB 18.7-19.0. bench, against 4 KB, alternated: context 0
// 47.9/42.0/41.3 -> 50.9/44.7/41.6 tok/s; 16 sequences 276/287 -> 305/299 tok/s.
// (4 KB had been chosen on 16 sequences' feed-forward alone, before the staged AMX run.)
constexpr std::size_t kPrefetchBytes = 16384;
// The packed activations, then the token's scaling exponent (an int32) in a 64-byte slot.
constexpr std::size_t kShiftValues = 32;
// The activations' largest finite magnitude (scales applied) is scaled to [2^6, 2^7).
constexpr int kLargestExponent = 7;

std::size_t x_values(std::size_t n) { return gemv_e4m3_x_values(n) + kShiftValues; }

// Columns [c, c + 16) of x times their blocks' scales (zeros past n); c is a multiple of 16.
__m512 scaled_sixteen(const float* x, std::size_t n, const float* block_scales, std::size_t c) {
  const __mmask16 mask = c >= n ? 0 : n - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - c)) - 1);
  const __m512 values = _mm512_maskz_loadu_ps(mask, c < n ? x + c : x);
  return _mm512_mul_ps(values, _mm512_set1_ps(c < n ? block_scales[c / kBlock] : 0.0f));
}

// x · scale · 2^s as fp16 (nearest even) in column order, zeros up to the padding, then s, which
// the rows undo with 2^(8 - s) (the codes' 2^-8 too). s brings the largest finite product
// x · scale to [2^6, 2^7) (applied as two factors, so that any float's s stays finite);
// infinities and NaNs stay what they are and carry through the products.
void pack_x(const float* x, std::size_t n, const float* block_scales, std::uint16_t* out) {
  const std::size_t padded = gemv_e4m3_x_values(n);
  const __m512 infinity = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 largest = _mm512_setzero_ps();
  for (std::size_t c = 0; c < n; c += 16) {
    const __m512 magnitude = _mm512_abs_ps(scaled_sixteen(x, n, block_scales, c));
    largest = _mm512_mask_max_ps(largest, _mm512_cmp_ps_mask(magnitude, infinity, _CMP_LT_OQ), largest, magnitude);  // not inf, not NaN
  }
  const float largest_finite = _mm512_reduce_max_ps(largest);
  std::int32_t shift = 0;
  if (largest_finite > 0.0f) {
    int exponent = 0;
    std::frexp(largest_finite, &exponent);  // largest < 2^exponent
    shift = kLargestExponent - exponent;
  }
  const __m512 first = _mm512_set1_ps(std::ldexp(1.0f, shift / 2)), second = _mm512_set1_ps(std::ldexp(1.0f, shift - shift / 2));
  for (std::size_t c = 0; c < padded; c += 16) {
    const __m256h half = _mm512_cvtxps_ph(_mm512_mul_ps(_mm512_mul_ps(scaled_sixteen(x, n, block_scales, c), first), second));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), _mm256_castph_si256(half));
  }
  std::memcpy(out + padded, &shift, sizeof shift);
}

// 32 codes as fp16 words e4m3 · 2^-8: sign-extended, shifted left by 7 (exponent and mantissa
// in fp16's fields, the sign in bit 15 and a copy in bit 14), the copy cleared.
inline __m512h codes_to_half(__m256i codes) {
  const __m512i words = _mm512_slli_epi16(_mm512_cvtepi8_epi16(codes), 7);
  return _mm512_castsi512_ph(_mm512_and_si512(words, _mm512_set1_epi16(static_cast<short>(0xBF80))));
}

// Rows rows (row_stride bytes apart) against Tokens tokens: each lane adds the products of a
// 512-column span in fp16 (at most 16 · 1.75 · 128 = 3584, far from fp16's 65504), then the
// span's two halves go into a float32 total. With CheckNan, a row holding an e4m3 NaN code
// (0x7F or 0xFF, whose fp16 words read as 1.875, e4m3's 480 · 2^-8) gives NaN: the least of
// (code + 1) & 0x7F over the row is 0 exactly then.
template <int Tokens, int Rows, bool CheckNan>
void rows_fixed(const std::uint8_t* row, std::size_t row_stride, std::size_t n, const std::uint16_t* x, std::size_t x_stride, float* out,
                std::size_t out_stride) {
  __m512 total[Rows][Tokens];
  __m256i nan_check[Rows];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i) {
    nan_check[i] = _mm256_set1_epi8(0x7F);
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) total[i][t] = _mm512_setzero_ps();
  }
  const __m256i one = _mm256_set1_epi8(1), magnitude = _mm256_set1_epi8(0x7F);
  for (std::size_t s0 = 0; s0 < n; s0 += kSpan) {
    __m512h acc[Rows][Tokens];
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) acc[i][t] = _mm512_setzero_ph();
    }
    for (std::size_t c = s0; c < std::min(n, s0 + kSpan); c += kChunk) {
      __m512h w[Rows];
#pragma GCC unroll 8
      for (int i = 0; i < Rows; ++i) {
        const std::uint8_t* codes_at = row + i * row_stride + c;
        // (an integer address: past the last row, a pointer there would be undefined behaviour)
        if (c % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(codes_at) + kPrefetchBytes), _MM_HINT_T1);
        const __m256i codes = n - c >= kChunk ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes_at))
                                              : _mm256_maskz_loadu_epi8(static_cast<__mmask32>((std::uint64_t{1} << (n - c)) - 1), codes_at);
        if constexpr (CheckNan) nan_check[i] = _mm256_min_epu8(nan_check[i], _mm256_and_si256(_mm256_add_epi8(codes, one), magnitude));
        w[i] = codes_to_half(codes);
      }
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) {
        const __m512h xv = _mm512_castsi512_ph(_mm512_loadu_si512(x + t * x_stride + c));
#pragma GCC unroll 8
        for (int i = 0; i < Rows; ++i) acc[i][t] = _mm512_fmadd_ph(w[i], xv, acc[i][t]);
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) {
        const __m512i bits = _mm512_castph_si512(acc[i][t]);
        const __m512 low = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_castsi512_si256(bits)));
        const __m512 high = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_extracti64x4_epi64(bits, 1)));
        total[i][t] = _mm512_add_ps(total[i][t], _mm512_add_ps(low, high));
      }
    }
  }
  // 2^(8 - s) as two normal powers of two (s spans a float's exponents), built from their
  // exponent bits: std::ldexp, a libm call per output, took 3.5 % of a 16-sequence step.
  const std::size_t padded = gemv_e4m3_x_values(n);
  float undo[Tokens][2];
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) {
    std::int32_t shift;
    std::memcpy(&shift, x + t * x_stride + padded, sizeof shift);
    const std::int32_t first = (8 - shift) / 2, second = 8 - shift - first;
    undo[t][0] = std::bit_cast<float>(static_cast<std::uint32_t>(first + 127) << 23);
    undo[t][1] = std::bit_cast<float>(static_cast<std::uint32_t>(second + 127) << 23);
  }
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i) {
    const bool nan = CheckNan && _mm256_cmpeq_epi8_mask(nan_check[i], _mm256_setzero_si256()) != 0;
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) {
      out[t * out_stride + i] = nan ? std::numeric_limits<float>::quiet_NaN() : tree_sum(total[i][t]) * undo[t][0] * undo[t][1];
    }
  }
}

using Fixed = void (*)(const std::uint8_t*, std::size_t, std::size_t, const std::uint16_t*, std::size_t, float*, std::size_t);

// [checked][tokens - 1]: rows_fixed for Rows rows.
template <int Rows, int... T>
constexpr std::array<std::array<Fixed, sizeof...(T)>, 2> fixed_table(std::integer_sequence<int, T...>) {
  return {{{rows_fixed<T + 1, Rows, false>...}, {rows_fixed<T + 1, Rows, true>...}}};
}

void row(const std::uint8_t* codes, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n, bool codes_nan_free,
         float* out, std::size_t out_stride) {
  static constexpr auto fixed = fixed_table<1>(std::make_integer_sequence<int, kMaxTokens>());
  const auto& by_tokens = fixed[codes_nan_free ? 0 : 1];
  by_token_groups(tokens, kMaxTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    by_tokens[group - 1](codes, 0, n, xg, x_stride, og, out_stride);
  });
}

void row_pair(const std::uint8_t* codes, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
              std::size_t n, bool codes_nan_free, float* out, std::size_t out_stride) {
  static constexpr auto fixed = fixed_table<2>(std::make_integer_sequence<int, kMaxPairTokens>());
  const auto& by_tokens = fixed[codes_nan_free ? 0 : 1];
  by_token_groups(tokens, kMaxPairTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    by_tokens[group - 1](codes, row_stride, n, xg, x_stride, og, out_stride);
  });
}

constexpr HalfE4m3Rows kHalfRows{x_values, pack_x, row, row_pair};

}  // namespace

const GemvBf16Kernels* avx512fp16_gemv_bf16() {
  static const bool usable = avx512_gemv_bf16() != nullptr && cpu_has_avx512_fp16();
  if (!usable) return nullptr;
  static const GemvBf16Kernels kernels = [] {
    GemvBf16Kernels table = *avx512_gemv_bf16();
    table.name = "avx512fp16";
    table.half_e4m3 = &kHalfRows;
    return table;
  }();
  return &kernels;
}

}  // namespace dsv32
