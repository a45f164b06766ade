// AVX512-BF16 path of attention_bf16.h; this file alone is compiled with -mavx512bf16 and is
// only called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/attention_bf16.h"

namespace dsv32 {
namespace {

// e^x for x <= 0 (larger x is not needed: x is a score minus the running max), within 2 ulp:
// x = n ln2 + r, |r| <= ln2/2, a degree-6 polynomial for e^r, then scaled by 2^n.
__m512 exp_nonpositive(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

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

  const __m512 minus_infinity = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (std::size_t hc = 0; hc < heads; hc += kAttentionHeadLanes) {
    const __m512i visible_keys = _mm512_loadu_si512(visible + hc);
    __m512 block_max = minus_infinity;
    for (std::size_t j = 0; j < n; ++j) {
      const __mmask16 hidden = _mm512_cmple_epu32_mask(visible_keys, _mm512_set1_epi32(static_cast<int>(j)));
      const __m512 s = _mm512_mask_mov_ps(_mm512_loadu_ps(scores + j * heads + hc), hidden, minus_infinity);
      _mm512_storeu_ps(scores + j * heads + hc, s);
      block_max = _mm512_max_ps(block_max, s);
    }
    const __m512 old_max = _mm512_loadu_ps(state.max + hc);
    const __m512 new_max = _mm512_max_ps(old_max, block_max);
    const __mmask16 started = _mm512_cmp_ps_mask(old_max, minus_infinity, _CMP_NEQ_OQ);
    const __m512 rescale = _mm512_maskz_mov_ps(started, exp_nonpositive(_mm512_sub_ps(old_max, new_max)));
    const __mmask16 changed = _mm512_cmp_ps_mask(rescale, _mm512_set1_ps(1.0f), _CMP_NEQ_UQ);
    if (changed != 0) {
      alignas(64) float factors[kAttentionHeadLanes];
      _mm512_store_ps(factors, rescale);
      for (std::size_t h = 0; h < kAttentionHeadLanes; ++h) {
        if (factors[h] == 1.0f) continue;
        float* acc = state.acc + (hc + h) * state.acc_stride;
        const __m512 f = _mm512_set1_ps(factors[h]);
        for (std::size_t c = 0; c < query.value_dim; c += 16) _mm512_storeu_ps(acc + c, _mm512_mul_ps(_mm512_loadu_ps(acc + c), f));
      }
    }
    __m512 block_sum = _mm512_setzero_ps();
    __m256i previous = _mm256_setzero_si256();
    for (std::size_t j = 0; j < n + (n % 2); ++j) {
      __m256i rounded = _mm256_setzero_si256();
      if (j < n) {
        const __m512 s = _mm512_loadu_ps(scores + j * heads + hc);
        const __mmask16 seen = _mm512_cmp_ps_mask(s, minus_infinity, _CMP_NEQ_OQ);
        const __m512 p = _mm512_maskz_mov_ps(seen, exp_nonpositive(_mm512_sub_ps(s, new_max)));
        rounded = reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(p));
        block_sum = _mm512_add_ps(block_sum, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(rounded), 16)));
      }
      if (j % 2 == 1) {  // the pair (j - 1, j): even key in the low half, as vdpbf16ps pairs them
        const __m512i pair = _mm512_or_si512(_mm512_cvtepu16_epi32(previous), _mm512_slli_epi32(_mm512_cvtepu16_epi32(rounded), 16));
        _mm512_storeu_si512(weight_pairs + (j / 2) * heads + hc, pair);
      }
      previous = rounded;
    }
    _mm512_storeu_ps(state.sum + hc, _mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(state.sum + hc), rescale), block_sum));
    _mm512_storeu_ps(state.max + hc, new_max);
  }

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
