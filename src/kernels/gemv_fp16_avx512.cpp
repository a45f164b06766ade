// AVX512-FP16 e4m3 rows of gemv_bf16.h (the half-precision table); this file alone is compiled
// with -mavx512fp16 and is only called after cpu_has_avx512_fp16(). The codes become fp16 in
// three instructions per 32 (sign-extend to words, shift the magnitude into place, clear the
// copied sign): fp16's exponent field holds e4m3's with a bias 8 larger, so the word reads as
// e4m3 · 2^-8 exactly. DecodeGemvE4m3 (benchmarks/, one core, 4 MB of rows) against the
// vdpbf16ps rows: 1 token 17.7 -> 21.6 GB/s, 2 tokens 13.4 -> 15.5, 4 tokens 8.2 -> 10.5.
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

constexpr std::size_t kChunk = 32;  // fp16 lanes: the codes of one FMA
constexpr std::size_t kGroup = 64;  // the packing's padding (gemv_e4m3_x_values)
constexpr std::size_t kBlock = static_cast<std::size_t>(kFp8BlockSize);
constexpr int kMaxTokens = 6;      // accumulators per call
constexpr int kMaxPairTokens = 4;  // two rows
constexpr std::size_t kPrefetchBytes = 8192;  // as the vdpbf16ps rows (gemv_bf16_avx512.cpp)
// The packed activations, then the token's scaling exponent (an int32) in a 64-byte slot.
constexpr std::size_t kShiftValues = 32;
// The activations' largest finite magnitude is scaled to [2^6, 2^7).
constexpr int kLargestExponent = 7;

std::size_t x_values(std::size_t n) { return gemv_e4m3_x_values(n) + kShiftValues; }

// The largest finite |x| (0 when there is none).
float largest_finite_magnitude(const float* x, std::size_t n) {
  const __m512 infinity = _mm512_set1_ps(std::numeric_limits<float>::infinity());
  __m512 largest = _mm512_setzero_ps();
  for (std::size_t c = 0; c < n; c += 16) {
    const __mmask16 mask = n - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - c)) - 1);
    const __m512 magnitude = _mm512_abs_ps(_mm512_maskz_loadu_ps(mask, x + c));
    largest = _mm512_mask_max_ps(largest, _mm512_cmp_ps_mask(magnitude, infinity, _CMP_LT_OQ), largest, magnitude);  // not inf, not NaN
  }
  return _mm512_reduce_max_ps(largest);
}

// x · 2^s as fp16 (nearest even) in column order, zeros up to the padding, then s, which the
// rows undo with 2^(8 - s) (the codes' 2^-8 too). s brings the largest finite magnitude to
// [2^6, 2^7) (applied as two factors, so that any float's s stays finite); infinities and NaNs
// stay what they are and carry through the products.
void pack_x(const float* x, std::size_t n, std::uint16_t* out) {
  const float largest = largest_finite_magnitude(x, n);
  std::int32_t shift = 0;
  if (largest > 0.0f) {
    int exponent = 0;
    std::frexp(largest, &exponent);  // largest < 2^exponent
    shift = kLargestExponent - exponent;
  }
  const __m512 first = _mm512_set1_ps(std::ldexp(1.0f, shift / 2)), second = _mm512_set1_ps(std::ldexp(1.0f, shift - shift / 2));
  const std::size_t padded = gemv_e4m3_x_values(n);
  for (std::size_t c = 0; c < padded; c += 16) {
    const __mmask16 mask = c >= n ? 0 : n - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - c)) - 1);
    const __m512 values = _mm512_maskz_loadu_ps(mask, c < n ? x + c : x);
    const __m256h half = _mm512_cvtxps_ph(_mm512_mul_ps(_mm512_mul_ps(values, first), second));
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

// Rows rows (row_stride bytes apart) against Tokens tokens: per 128-column block, each lane
// adds its four products in fp16, then the block's sum goes into a float32 total through the
// block's scale. A row holding an e4m3 NaN code (0x7F or 0xFF, whose fp16 words read as
// 1.875, e4m3's 480 · 2^-8) gives NaN: the least of (code + 1) & 0x7F over the row is 0
// exactly then.
template <int Tokens, int Rows>
void rows_fixed(const std::uint8_t* row, std::size_t row_stride, const float* const* block_scales, std::size_t n, const std::uint16_t* x,
                std::size_t x_stride, float* out, std::size_t out_stride) {
  __m512 total[Rows][Tokens];
  __m256i nan_check[Rows];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i) {
    nan_check[i] = _mm256_set1_epi8(0x7F);
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) total[i][t] = _mm512_setzero_ps();
  }
  const __m256i one = _mm256_set1_epi8(1), magnitude = _mm256_set1_epi8(0x7F);
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    __m512h acc[Rows][Tokens];
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) acc[i][t] = _mm512_setzero_ph();
    }
    for (std::size_t c = b0; c < std::min(n, b0 + kBlock); c += kChunk) {
      __m512h w[Rows];
#pragma GCC unroll 8
      for (int i = 0; i < Rows; ++i) {
        const std::uint8_t* codes_at = row + i * row_stride + c;
        // (an integer address: past the last row, a pointer there would be undefined behaviour)
        if (c % kGroup == 0) _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(codes_at) + kPrefetchBytes), _MM_HINT_T1);
        const __m256i codes = n - c >= kChunk ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes_at))
                                              : _mm256_maskz_loadu_epi8(static_cast<__mmask32>((std::uint64_t{1} << (n - c)) - 1), codes_at);
        nan_check[i] = _mm256_min_epu8(nan_check[i], _mm256_and_si256(_mm256_add_epi8(codes, one), magnitude));
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
      const __m512 scale = _mm512_set1_ps(block_scales[i][b0 / kBlock]);
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) {
        const __m512i bits = _mm512_castph_si512(acc[i][t]);
        const __m512 low = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_castsi512_si256(bits)));
        const __m512 high = _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm512_extracti64x4_epi64(bits, 1)));
        total[i][t] = _mm512_fmadd_ps(_mm512_add_ps(low, high), scale, total[i][t]);
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
    const bool nan = _mm256_cmpeq_epi8_mask(nan_check[i], _mm256_setzero_si256()) != 0;
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) {
      out[t * out_stride + i] = nan ? std::numeric_limits<float>::quiet_NaN() : tree_sum(total[i][t]) * undo[t][0] * undo[t][1];
    }
  }
}

using Fixed = void (*)(const std::uint8_t*, std::size_t, const float* const*, std::size_t, const std::uint16_t*, std::size_t, float*,
                       std::size_t);

template <int Rows, int... T>
constexpr std::array<Fixed, sizeof...(T)> fixed_table(std::integer_sequence<int, T...>) {
  return {rows_fixed<T + 1, Rows>...};
}

void e4m3_row(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
              std::size_t n, float* out, std::size_t out_stride) {
  static constexpr auto fixed = fixed_table<1>(std::make_integer_sequence<int, kMaxTokens>());
  by_token_groups(tokens, kMaxTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    fixed[group - 1](row, 0, &block_scales, n, xg, x_stride, og, out_stride);
  });
}

void e4m3_row_pair(const std::uint8_t* row, std::size_t row_stride, const float* scales0, const float* scales1, const std::uint16_t* x,
                   std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  if (tokens > kMaxPairTokens) {
    e4m3_row(row, scales0, x, x_stride, tokens, n, out, out_stride);
    e4m3_row(row + row_stride, scales1, x, x_stride, tokens, n, out + 1, out_stride);
    return;
  }
  static constexpr auto fixed = fixed_table<2>(std::make_integer_sequence<int, kMaxPairTokens>());
  const float* const scales[] = {scales0, scales1};
  by_token_groups(tokens, kMaxPairTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    fixed[group - 1](row, row_stride, scales, n, xg, x_stride, og, out_stride);
  });
}

GemvBf16Kernels with_half_e4m3_rows(GemvBf16Kernels kernels) {
  kernels.name = "avx512fp16";
  kernels.pack_e4m3_x = pack_x;
  kernels.e4m3_row = e4m3_row;
  kernels.e4m3_row_pair = e4m3_row_pair;
  kernels.e4m3_x_values = x_values;
  return kernels;
}

}  // namespace

const GemvBf16Kernels* avx512fp16_gemv_bf16() {
  static const bool usable = avx512_gemv_bf16() != nullptr && cpu_has_avx512_fp16();
  if (!usable) return nullptr;
  static const GemvBf16Kernels kernels = with_half_e4m3_rows(*avx512_gemv_bf16());
  return &kernels;
}

}  // namespace dsv32
