// AVX2/FMA path of index_scores.h for CPUs without AVX512-BF16: the same products in float32
// (exact: e4m3 values have 4 significant bits) in the same order, so it gives the reference's
// bits. Built with the project's baseline flags (x86-64-v3); entered after the CPU check below.
#include <immintrin.h>

#include <algorithm>

#include "kernels/index_scores.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// e4m3 -> f32 via f16 (value * 2^-8, subnormals exact), times 2^8.
void codes_to_f32(const std::uint8_t* codes, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; i += 8) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i));
    const __m128i shifted = _mm_srai_epi16(_mm_slli_epi16(_mm_cvtepu8_epi16(bytes), 8), 1);
    const __m256 value = _mm256_cvtph_ps(_mm_and_si128(shifted, _mm_set1_epi16(static_cast<short>(0xBFFF))));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(value, _mm256_set1_ps(256.0f)));
  }
}

constexpr std::size_t kChunk = 32;  // heads per pass: 4 registers of 8, for two keys at once

void scores(const IndexQuery& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n, float* out) {
  const std::size_t dim = query.dim, heads = query.padded_heads;
  // The query as floats [dim][heads] (exact), each dimension's heads side by side: 64 KB at
  // the real model's 64 heads x 128 dimensions; larger shapes take the reference.
  constexpr std::size_t kMaxQueryValues = 128 * 128;
  alignas(32) float q[kMaxQueryValues];
  if (dim * heads > kMaxQueryValues) {
    index_scores_scalar(query, key_codes, key_scales, n, out);
    return;
  }
  for (std::size_t i = 0; i < dim / 2; ++i) {
    for (std::size_t h = 0; h < heads; ++h) {
      for (std::size_t e = 0; e < 2; ++e) q[(2 * i + e) * heads + h] = bf16_to_f32(query.packed[(i * heads + h) * 2 + e]);
    }
  }
  alignas(32) float keys[2][kIndexMaxDim];
  for (std::size_t j0 = 0; j0 < n; j0 += 2) {
    const std::size_t m = std::min<std::size_t>(2, n - j0);
    for (std::size_t j = 0; j < 2; ++j) codes_to_f32(key_codes + (j0 + std::min(j, m - 1)) * dim, dim, keys[j]);
    // Per key, lanes 0-7 and 8-15 of the reference's 16-lane head sum.
    __m256 lanes00 = _mm256_setzero_ps(), lanes01 = _mm256_setzero_ps(), lanes10 = _mm256_setzero_ps(), lanes11 = _mm256_setzero_ps();
    for (std::size_t chunk = 0; chunk < heads; chunk += kChunk) {
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
      const float* qc = q + chunk;
      const auto accumulate = [&](std::size_t d) {  // exact products: fmadd rounds as a + b * c
        const __m256 k0 = _mm256_set1_ps(keys[0][d]), k1 = _mm256_set1_ps(keys[1][d]);
        const float* qd = qc + d * heads;
        const __m256 q0 = _mm256_load_ps(qd), q1 = _mm256_load_ps(qd + 8), q2 = _mm256_load_ps(qd + 16), q3 = _mm256_load_ps(qd + 24);
        a0 = _mm256_fmadd_ps(q0, k0, a0);
        a1 = _mm256_fmadd_ps(q1, k0, a1);
        a2 = _mm256_fmadd_ps(q2, k0, a2);
        a3 = _mm256_fmadd_ps(q3, k0, a3);
        b0 = _mm256_fmadd_ps(q0, k1, b0);
        b1 = _mm256_fmadd_ps(q1, k1, b1);
        b2 = _mm256_fmadd_ps(q2, k1, b2);
        b3 = _mm256_fmadd_ps(q3, k1, b3);
      };
      for (std::size_t i = 0; i < dim; i += 2) {
        accumulate(i + 1);  // the odd product first, as vdpbf16ps
        accumulate(i);
      }
      const float* w = query.weights + chunk;
      const auto fold = [&](__m256 acc, std::size_t g, __m256& lane) {
        const __m256 term = _mm256_max_ps(acc, _mm256_setzero_ps());
        const __m256 weight = _mm256_loadu_ps(w + 8 * g);
        lane = chunk + 8 * g < 16 ? _mm256_mul_ps(term, weight) : _mm256_fmadd_ps(term, weight, lane);
      };
      fold(a0, 0, lanes00);
      fold(a1, 1, lanes01);
      fold(a2, 2, lanes00);
      fold(a3, 3, lanes01);
      fold(b0, 0, lanes10);
      fold(b1, 1, lanes11);
      fold(b2, 2, lanes10);
      fold(b3, 3, lanes11);
    }
    const __m256 lanes[2][2] = {{lanes00, lanes01}, {lanes10, lanes11}};
    for (std::size_t j = 0; j < m; ++j) {
      alignas(32) float v[16];
      _mm256_store_ps(v, lanes[j][0]);
      _mm256_store_ps(v + 8, lanes[j][1]);
      for (std::size_t width = 8; width >= 1; width /= 2) {
        for (std::size_t l = 0; l < width; ++l) v[l] += v[l + width];
      }
      out[j0 + j] = v[0] * key_scales[j0 + j];
    }
  }
}

}  // namespace

IndexScoresFn index_scores_avx2() {
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return usable ? &scores : nullptr;
}

}  // namespace dsv32
