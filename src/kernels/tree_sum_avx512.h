#pragma once
// The 16 lanes of a register summed as a tree (halves of 8, 4, 2, 1), the order the scalar
// references of the bf16 kernels follow; for the files compiled with -mavx512f -mavx512dq.
#include <immintrin.h>

namespace dsv32 {

inline float tree_sum(__m512 lanes) {
  const __m256 eight = _mm256_add_ps(_mm512_castps512_ps256(lanes), _mm512_extractf32x8_ps(lanes, 1));
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

}  // namespace dsv32
