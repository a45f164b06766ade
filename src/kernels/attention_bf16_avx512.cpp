// AVX512-BF16 path of attention_bf16.h; this file alone is compiled with -mavx512bf16 and is
// only called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/attention_bf16.h"
#include "kernels/attention_softmax_avx512.h"

namespace dsv32 {
namespace {

std::int32_t load_pair(const std::uint16_t* at) {
  std::int32_t pair;
  std::memcpy(&pair, at, sizeof pair);
  return pair;
}

constexpr std::size_t kScoreKeys = 8;  // keys scored together: 8 accumulators per 16 heads

void scores_block(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, std::size_t n,
                  float* scores) {
  const std::size_t heads = query.heads, pairs = query.dim / 2;
  for (std::size_t hc = 0; hc < heads; hc += kAttentionHeadLanes) {
    for (std::size_t j0 = 0; j0 < n; j0 += kScoreKeys) {
      const std::uint16_t* rows[kScoreKeys];
      for (std::size_t k = 0; k < kScoreKeys; ++k) rows[k] = keys + std::min(j0 + k, n - 1) * key_stride;
      __m512 acc[kScoreKeys];
#pragma GCC unroll 8
      for (std::size_t k = 0; k < kScoreKeys; ++k) acc[k] = _mm512_setzero_ps();
      for (std::size_t i = 0; i < pairs; ++i) {
        const auto q = reinterpret_cast<__m512bh>(_mm512_loadu_si512(query.packed + (i * heads + hc) * 2));
#pragma GCC unroll 8
        for (std::size_t k = 0; k < kScoreKeys; ++k) {
          acc[k] = _mm512_dpbf16_ps(acc[k], q, reinterpret_cast<__m512bh>(_mm512_set1_epi32(load_pair(rows[k] + 2 * i))));
        }
      }
      for (std::size_t k = 0; k < kScoreKeys && j0 + k < n; ++k) _mm512_storeu_ps(scores + (j0 + k) * heads + hc, acc[k]);
    }
  }
}

void attend_block(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, std::size_t n,
                  const std::uint32_t* visible, const AttentionBf16State& state, float* scratch) {
  const std::size_t heads = query.heads;
  float* scores = scratch;
  auto* weight_pairs = reinterpret_cast<std::uint32_t*>(scratch + kAttentionBlockKeys * heads);  // [16][heads]
  scores_block(query, keys, key_stride, n, scores);

  softmax_block(query, n, visible, state, scores, weight_pairs);

  // acc[h][c] += Σ_j p[h][j] · key[j][c]: a register holds 16 channels of a key pair
  // interleaved (key 2m in the low half of each pair), the weights' pair is a broadcast.
  const __m512i interleave = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37, 5, 36, 4,
                                              35, 3, 34, 2, 33, 1, 32, 0);
  const std::size_t key_pairs = (n + 1) / 2;
  for (std::size_t c0 = 0; c0 < query.value_dim; c0 += 16) {
    for (std::size_t hc = 0; hc < heads; hc += kAttentionHeadLanes) {
      __m512 acc[kAttentionHeadLanes];
#pragma GCC unroll 16
      for (std::size_t h = 0; h < kAttentionHeadLanes; ++h) acc[h] = _mm512_loadu_ps(state.acc + (hc + h) * state.acc_stride + c0);
      for (std::size_t m = 0; m < key_pairs; ++m) {
        const std::uint16_t* even = keys + 2 * m * key_stride + c0;
        const std::uint16_t* odd = 2 * m + 1 < n ? even + key_stride : even;
        const auto values = reinterpret_cast<__m512bh>(_mm512_permutex2var_epi16(_mm512_loadu_si512(even), interleave, _mm512_loadu_si512(odd)));
        const std::uint32_t* p = weight_pairs + m * heads + hc;
#pragma GCC unroll 16
        for (std::size_t h = 0; h < kAttentionHeadLanes; ++h) {
          acc[h] = _mm512_dpbf16_ps(acc[h], values, reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(p[h]))));
        }
      }
#pragma GCC unroll 16
      for (std::size_t h = 0; h < kAttentionHeadLanes; ++h) _mm512_storeu_ps(state.acc + (hc + h) * state.acc_stride + c0, acc[h]);
    }
  }
}

}  // namespace

AttendBlockBf16 attend_block_bf16_avx512() {
  return cpu_has_avx512_bf16() ? &attend_block : nullptr;
}

}  // namespace dsv32
