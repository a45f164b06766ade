// AVX512-BF16 path of index_scores.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/index_scores.h"

namespace dsv32 {
namespace {

// e4m3 codes to bf16 bits, exactly: through f16 (value * 2^-8, subnormals included, which the
// hardware converts exactly whatever MXCSR says), times 2^8, and the float's upper half.
void codes_to_bf16(const std::uint8_t* codes, std::size_t n, std::uint16_t* out) {
  for (std::size_t i = 0; i < n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i));
    const __m256i shifted = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_cvtepu8_epi16(bytes), 8), 1);
    const __m512 value = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_and_si256(shifted, _mm256_set1_epi16(static_cast<short>(0xBFFF)))),
                                       _mm512_set1_ps(256.0f));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(value), 16)));
  }
}

// The lanes summed in the reference's tree: halves of 8, 4, 2, 1.
float tree_sum(__m512 lanes) {
  alignas(64) float v[16];
  _mm512_store_ps(v, lanes);
  for (int width = 8; width >= 1; width /= 2) {
    for (int l = 0; l < width; ++l) v[l] += v[l + width];
  }
  return v[0];
}

constexpr int kKeys = 4;  // keys scored together: 16 accumulators for one chunk of 64 heads

void scores(const IndexQuery& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n, float* out) {
  const std::size_t dim = query.dim, heads = query.padded_heads, pairs = dim / 2;
  alignas(64) std::uint16_t keys[kKeys][kIndexMaxDim];
  for (std::size_t j0 = 0; j0 < n; j0 += kKeys) {
    const std::size_t m = std::min<std::size_t>(kKeys, n - j0);
    for (std::size_t j = 0; j < kKeys; ++j) codes_to_bf16(key_codes + (j0 + std::min(j, m - 1)) * dim, dim, keys[j]);
    __m512 lanes[kKeys];
    for (std::size_t chunk = 0; chunk < heads; chunk += kIndexHeadChunk) {
      __m512 acc[kKeys][4];
#pragma GCC unroll 4
      for (int j = 0; j < kKeys; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = _mm512_setzero_ps();
      const std::uint16_t* q = query.packed + chunk * 2;
      for (std::size_t i = 0; i < pairs; ++i) {
        __m512bh qv[4];
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) qv[g] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(q + (i * heads + 16 * g) * 2));
#pragma GCC unroll 4
        for (int j = 0; j < kKeys; ++j) {
          std::int32_t pair;
          std::memcpy(&pair, keys[j] + 2 * i, sizeof pair);
          const auto kv = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
#pragma GCC unroll 4
          for (int g = 0; g < 4; ++g) acc[j][g] = _mm512_dpbf16_ps(acc[j][g], qv[g], kv);
        }
      }
#pragma GCC unroll 4
      for (int j = 0; j < kKeys; ++j) {
#pragma GCC unroll 4
        for (int g = 0; g < 4; ++g) {
          const __m512 term = _mm512_max_ps(acc[j][g], _mm512_setzero_ps());
          const __m512 weight = _mm512_loadu_ps(query.weights + chunk + 16 * g);
          lanes[j] = chunk == 0 && g == 0 ? _mm512_mul_ps(term, weight) : _mm512_fmadd_ps(term, weight, lanes[j]);
        }
      }
    }
    for (std::size_t j = 0; j < m; ++j) out[j0 + j] = tree_sum(lanes[j]) * key_scales[j0 + j];
  }
}

}  // namespace

IndexScoresFn index_scores_avx512() {
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512bf16");
  return usable ? &scores : nullptr;
}

}  // namespace dsv32
