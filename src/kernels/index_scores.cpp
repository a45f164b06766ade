#include "kernels/index_scores.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include "kernels/number_formats.h"

namespace dsv32 {

std::int64_t index_padded_heads(std::int64_t heads) { return (heads + kIndexHeadChunk - 1) / kIndexHeadChunk * kIndexHeadChunk; }

void pack_index_query(const std::uint8_t* q_codes, const float* head_weights, std::int64_t heads, std::int64_t dim,
                      std::uint16_t* packed, float* padded_weights) {
  const std::int64_t padded = index_padded_heads(heads);
  for (std::int64_t i = 0; i < dim / 2; ++i) {
    for (std::int64_t h = 0; h < padded; ++h) {
      for (std::int64_t e = 0; e < 2; ++e) {
        const float value = h < heads ? e4m3_to_f32(q_codes[h * dim + 2 * i + e]) : 0.0f;
        packed[(i * padded + h) * 2 + e] = f32_to_bf16(value);  // exact: e4m3 fits in bf16
      }
    }
  }
  for (std::int64_t h = 0; h < padded; ++h) padded_weights[h] = h < heads ? head_weights[h] : 0.0f;
}

void index_scores_scalar(const IndexQuery& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n,
                         float* scores) {
  const std::size_t heads = query.padded_heads, dim = query.dim;
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint8_t* key = key_codes + j * dim;
    IndexHeadLanes lanes;
    for (std::size_t h = 0; h < heads; ++h) {
      float dot = 0.0f;
      for (std::size_t i = 0; i < dim / 2; ++i) {
        const std::uint16_t* q = query.packed + (i * heads + h) * 2;
        dot += bf16_to_f32(q[1]) * e4m3_to_f32(key[2 * i + 1]);  // products exact
        dot += bf16_to_f32(q[0]) * e4m3_to_f32(key[2 * i]);
      }
      const float term = std::max(dot, 0.0f);
      lanes.add(h, term, query.weights[h]);
    }
    scores[j] = lanes.sum() * key_scales[j];
  }
}

IndexScoresFn best_index_scores() {
  static const IndexScoresFn best = [] {
    const char* isa = std::getenv("DSV32_ISA");
    const std::string_view wanted = isa != nullptr ? isa : "";
    if (wanted == "scalar") return &index_scores_scalar;
    if (wanted != "avx2") {
      if (const IndexScoresFn fast = index_scores_avx512()) return fast;
    }
    const IndexScoresFn avx2 = index_scores_avx2();
    return avx2 != nullptr ? avx2 : &index_scores_scalar;
  }();
  return best;
}

}  // namespace dsv32
