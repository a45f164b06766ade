// AVX512-BF16 path of index_scores.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/cpu_features.h"
#include "kernels/index_scores.h"
#include "kernels/tree_sum_avx512.h"

namespace dsv32 {
namespace {

// e4m3 codes to bf16 bits, exactly, 32 at a time in 16-bit lanes: a normal code's exponent and
// mantissa move up 4 bits and the exponent is rebiased by 120; the subnormal codes (exponent 0:
// m * 2^-9, m < 8) come from an 8-entry table; the sign moves to bit 15. dim is a multiple of 16.
void codes_to_bf16(const std::uint8_t* codes, std::size_t n, std::uint16_t* out) {
  const __m512i subnormals = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                              0x3C60, 0x3C40, 0x3C20, 0x3C00, 0x3BC0, 0x3B80, 0x3B00, 0x0000);
  for (std::size_t i = 0; i < n; i += 32) {
    const __mmask32 valid = n - i >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << (n - i)) - 1);
    const __m512i w = _mm512_cvtepu8_epi16(_mm256_maskz_loadu_epi8(valid, codes + i));
    const __m512i normal = _mm512_add_epi16(_mm512_slli_epi16(_mm512_and_si512(w, _mm512_set1_epi16(0x7F)), 4), _mm512_set1_epi16(120 << 7));
    const __mmask32 tiny = _mm512_testn_epi16_mask(w, _mm512_set1_epi16(0x78));
    const __m512i magnitude = _mm512_mask_permutexvar_epi16(normal, tiny, w, subnormals);  // index: the low 3 bits
    const __m512i sign = _mm512_slli_epi16(_mm512_and_si512(w, _mm512_set1_epi16(0x80)), 8);
    _mm512_mask_storeu_epi16(out + i, valid, _mm512_or_si512(magnitude, sign));
  }
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
  return cpu_has_avx512_bf16() ? &scores : nullptr;
}

}  // namespace dsv32
