#include "kernels/attention_bf16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/gemm_bf16.h"
#include "kernels/number_formats.h"
#include "kernels/vector_ops.h"

namespace dsv32 {

void pack_attention_query(const float* queries, std::size_t query_stride, std::size_t rows, float scale, std::size_t heads,
                          std::size_t dim, std::uint16_t* packed) {
  best_gemm_bf16().pack_pairs(queries, query_stride, rows, heads, dim, scale, packed);
}

void reset_attention_state(const AttentionBf16State& state, std::size_t heads, std::size_t value_dim) {
  for (std::size_t h = 0; h < heads; ++h) {
    state.max[h] = -std::numeric_limits<float>::infinity();
    state.sum[h] = 0.0f;
    std::fill(state.acc + h * state.acc_stride, state.acc + h * state.acc_stride + value_dim, 0.0f);
  }
}

std::size_t attention_scratch_floats(std::size_t heads) { return kAttentionBlockKeys * heads * 2; }

// The same steps as the AVX512-BF16 kernel: scores with the odd then the even product of each
// pair (vdpbf16ps's order), masked; per head the new max, rescale, weights rounded to bf16 (the
// sum adds the rounded weights), and values accumulated pair by pair in the same order. Only
// e^x differs: std::exp here, a polynomial within 2 ulp there (clamped below at e^-87).
void attend_block_bf16_scalar(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, std::size_t n,
                              const std::uint32_t* visible, const AttentionBf16State& state, float* scratch) {
  const std::size_t heads = query.heads, pairs = query.dim / 2;
  float* scores = scratch;                                 // [32][heads]
  float* weights = scratch + kAttentionBlockKeys * heads;  // [32][heads], bf16-rounded
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t h = 0; h < heads; ++h) {
      float dot = 0.0f;
      for (std::size_t i = 0; i < pairs; ++i) {
        const std::uint16_t* q = query.packed + (i * heads + h) * 2;
        dot += bf16_to_f32(q[1]) * bf16_to_f32(keys[j * key_stride + 2 * i + 1]);
        dot += bf16_to_f32(q[0]) * bf16_to_f32(keys[j * key_stride + 2 * i]);
      }
      scores[j * heads + h] = j < visible[h] ? dot : -std::numeric_limits<float>::infinity();
    }
  }
  for (std::size_t h = 0; h < heads; ++h) {
    float block_max = -std::numeric_limits<float>::infinity();
    for (std::size_t j = 0; j < n; ++j) block_max = std::max(block_max, scores[j * heads + h]);
    const float new_max = std::max(state.max[h], block_max);
    const float rescale = state.max[h] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(state.max[h] - new_max);
    float* acc = state.acc + h * state.acc_stride;
    if (rescale != 1.0f) {
      for (std::size_t c = 0; c < query.value_dim; ++c) acc[c] *= rescale;
    }
    float block_sum = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
      const float s = scores[j * heads + h];
      const float p = s == -std::numeric_limits<float>::infinity() ? 0.0f : bf16_to_f32(f32_to_bf16(std::exp(s - new_max)));
      weights[j * heads + h] = p;
      block_sum += p;
    }
    state.sum[h] = state.sum[h] * rescale + block_sum;
    state.max[h] = new_max;
    for (std::size_t j = 0; j < n; j += 2) {
      const bool second = j + 1 < n;
      const float p0 = weights[j * heads + h], p1 = second ? weights[(j + 1) * heads + h] : 0.0f;
      const std::uint16_t* k0 = keys + j * key_stride;
      const std::uint16_t* k1 = keys + (second ? j + 1 : j) * key_stride;
      for (std::size_t c = 0; c < query.value_dim; ++c) {
        acc[c] += p1 * bf16_to_f32(k1[c]);
        acc[c] += p0 * bf16_to_f32(k0[c]);
      }
    }
  }
}

AttendBlockBf16 fast_attend_block_bf16() {
  static const AttendBlockBf16 fast = []() -> AttendBlockBf16 {
    const AttendBlockBf16 amx = amx_kernels_allowed() ? attend_block_bf16_amx() : nullptr;
    return amx != nullptr ? amx : avx512_kernels_allowed() ? attend_block_bf16_avx512() : nullptr;
  }();
  return fast;
}

}  // namespace dsv32
