// AVX512-BF16 path of gemm_bf16.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include <cstring>

#include "kernels/gemm_bf16.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// 8 rows x 32 tokens: sixteen accumulators, two activation loads and eight broadcast weight
// pairs per column pair, so the multiply unit is the bound, not the loads.
void tile(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
          float* out) {
  __m512 acc[kGemmTileRows][2];
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (std::size_t i = 0; i < col_pairs; ++i) {
    const auto x0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 64));
    const auto x1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 64 + 32));
#pragma GCC unroll 8
    for (int r = 0; r < kGemmTileRows; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, w + r * row_stride + 2 * i, sizeof pair);
      const auto wb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x0, wb);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x1, wb);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) {
    _mm512_storeu_ps(out + r * kGemmTileTokens, acc[r][0]);
    _mm512_storeu_ps(out + r * kGemmTileTokens + 16, acc[r][1]);
  }
}

// The first 16 tokens only (a batch of a few decoding sequences): eight accumulators.
void tile_half(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
               float* out) {
  __m512 acc[kGemmTileRows];
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) acc[r] = _mm512_setzero_ps();
  for (std::size_t i = 0; i < col_pairs; ++i) {
    const auto x0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 64));
#pragma GCC unroll 8
    for (int r = 0; r < kGemmTileRows; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, w + r * row_stride + 2 * i, sizeof pair);
      acc[r] = _mm512_dpbf16_ps(acc[r], x0, reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair)));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) _mm512_storeu_ps(out + r * kGemmTileTokens, acc[r]);
}

// vcvtne2ps2bf16 rounds to nearest even and quiets NaNs like f32_to_bf16; it reads float32
// subnormals as zero, which vdpbf16ps would do with their bf16 images anyway.
void round_to_bf16(const float* src, std::uint16_t* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh packed = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(packed));
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

// e4m3 through f16 (value * 2^-8, subnormals exact), times scale * 2^8, rounded as above.
void e4m3_to_bf16(const std::uint8_t* src, float scale, std::uint16_t* dst, std::size_t n) {
  const __m512 factor = _mm512_set1_ps(scale * 256.0f);
  const auto sixteen = [&](std::size_t i) {
    const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    const __m256i shifted = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_cvtepu8_epi16(codes), 8), 1);
    return _mm512_mul_ps(_mm512_cvtph_ps(_mm256_and_si256(shifted, _mm256_set1_epi16(static_cast<short>(0xBFFF)))), factor);
  };
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(sixteen(i + 16), sixteen(i))));
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16(e4m3_to_f32(src[i]) * scale);
}

}  // namespace

const GemmBf16Kernels* avx512_gemm_bf16() {
  static const GemmBf16Kernels kernels{"avx512bf16", tile, tile_half, round_to_bf16, e4m3_to_bf16};
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return usable ? &kernels : nullptr;
}

}  // namespace dsv32
