#pragma once
// The online-softmax step of a block of keys, shared by the bf16 attention kernels
// (attention_bf16_avx512.cpp, attention_bf16_amx.cpp; files compiled with -mavx512bf16 and
// entered only after their CPU checks): from a block's scores to the weights the values take.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <limits>

#include "kernels/attention_bf16.h"

namespace dsv32 {
// File-local in each including file: they are compiled with different -m flags (ODR).
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

// scores[j][heads] of n keys: masks the keys past each head's `visible`, takes the new running
// max, rescales the state's sum and values, and writes the weights rounded to bf16 as key pairs,
// weight_pairs[m][heads] with key 2m in the low half (as vdpbf16ps pairs them); pairs from
// (n + 1) / 2 on are left as they were.
void softmax_block(const AttentionBf16Query& query, std::size_t n, const std::uint32_t* visible, const AttentionBf16State& state,
                          float* scores, std::uint32_t* weight_pairs) {
  const std::size_t heads = query.heads;
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

}

}  // namespace
}  // namespace dsv32
