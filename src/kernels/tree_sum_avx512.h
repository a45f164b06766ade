#pragma once
// The 16 lanes of a register summed as a tree (halves of 8, 4, 2, 1), the order the scalar
// references of the bf16 kernels follow; for the files compiled with -mavx512f -mavx512dq.
#include <immintrin.h>

namespace dsv32 {
// File-local in each including file: they are compiled with different -m flags (ODR).
namespace {

inline float tree_sum(__m512 lanes) {
  const __m256 eight = _mm256_add_ps(_mm512_castps512_ps256(lanes), _mm512_extractf32x8_ps(lanes, 1));
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

// tree_sum of 16 registers at once, sum i in lane i: the same additions (each lane's halves
// of 8, 4, 2, 1), done on pairs of registers side by side, 46 shuffles, adds and a permute
// where 16 tree_sums take 112 instructions.
inline __m512 tree_sums(const __m512 (&lanes)[16]) {
  __m512 eights[8], fours[4], twos[2];
  for (int p = 0; p < 8; ++p) {  // register 2p's eight sums in lanes 0-7, register 2p + 1's in 8-15
    const __m512 a = lanes[2 * p], b = lanes[2 * p + 1];
    eights[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  for (int p = 0; p < 4; ++p) {  // registers 4p .. 4p + 3's four sums, one per 128-bit lane
    const __m512 a = eights[2 * p], b = eights[2 * p + 1];
    fours[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  for (int p = 0; p < 2; ++p) {  // 128-bit lane l: registers 8p + l's two sums, then 8p + 4 + l's
    const __m512 a = fours[2 * p], b = fours[2 * p + 1];
    twos[p] = _mm512_add_ps(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // 128-bit lane l: registers l, 4 + l, 8 + l, 12 + l; lane 4l + e holds register 4e + l.
  const __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(twos[0], twos[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                    _mm512_shuffle_ps(twos[0], twos[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, sums);
}

}  // namespace
}  // namespace dsv32
