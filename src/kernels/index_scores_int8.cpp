#include "kernels/index_scores_int8.h"

#include <algorithm>
#include <cmath>

#include "kernels/linear.h"
#include "kernels/number_formats.h"
#include "kernels/vector_ops.h"

namespace dsv32 {

namespace {

struct IndexInt8Grids {
  IndexInt8Grid by_largest[128];
};

IndexInt8Grids make_grids() {
  IndexInt8Grids grids{};
  const auto magnitude = [](int code) { return code == 0x7F ? 480.0 : static_cast<double>(e4m3_to_f32(static_cast<std::uint8_t>(code))); };
  for (int largest = 0; largest < 128; ++largest) {
    IndexInt8Grid& grid = grids.by_largest[largest];
    const double step = largest == 0 ? 1.0 : magnitude(largest) / 127.0;
    grid.step = static_cast<float>(step);
    for (int code = 0; code < 128; ++code) {
      grid.magnitudes[code] = static_cast<std::int8_t>(std::min(std::nearbyint(magnitude(code) / step), 127.0));
    }
  }
  return grids;
}

}  // namespace

const IndexInt8Grid& index_int8_grid(std::uint8_t largest_code) {
  static const IndexInt8Grids grids = make_grids();
  return grids.by_largest[largest_code & 0x7F];
}

std::uint8_t largest_magnitude_code(const std::uint8_t* codes, std::size_t n) {
  std::uint8_t largest = 0;
  for (std::size_t i = 0; i < n; ++i) largest = std::max(largest, static_cast<std::uint8_t>(codes[i] & 0x7F));
  return largest;
}

void index_key_codes_to_int8(std::uint8_t* codes, std::size_t n) {
  const IndexInt8Grid& grid = index_int8_grid(kIndexKeyGridCode);
  for (std::size_t i = 0; i < n; ++i) codes[i] = static_cast<std::uint8_t>(grid.value(codes[i]));
}

void pack_index_query_head_int8(const std::uint8_t* head_codes, float head_weight, std::int64_t h, std::int64_t padded_heads,
                                std::int64_t dim, std::int8_t* packed, std::int32_t* offsets, float* weights) {
  const IndexInt8Grid& grid = index_int8_grid(head_codes != nullptr ? largest_magnitude_code(head_codes, static_cast<std::size_t>(dim)) : 0);
  std::int32_t sum = 0;
  for (std::int64_t d = 0; d < dim; ++d) {
    const std::int8_t value = grid.value(head_codes != nullptr ? head_codes[d] : 0);
    packed[((d / 4) * padded_heads + h) * 4 + d % 4] = value;
    sum += value;
  }
  offsets[h] = 128 * sum;
  weights[h] = head_codes != nullptr ? head_weight * grid.step * index_int8_grid(kIndexKeyGridCode).step : 0.0f;
}

void pack_index_query_int8(const std::uint8_t* q_codes, const float* head_weights, std::int64_t heads, std::int64_t dim,
                           std::int8_t* packed, std::int32_t* offsets, float* weights) {
  const std::int64_t padded = index_padded_heads(heads);
  for (std::int64_t h = 0; h < padded; ++h) {
    const bool real = h < heads;  // padded heads: zeros
    pack_index_query_head_int8(real ? q_codes + h * dim : nullptr, real ? head_weights[h] : 0.0f, h, padded, dim, packed, offsets, weights);
  }
}

void index_scores_int8_scalar(const IndexQueryInt8& query, const std::int8_t* keys, const float* key_scales, std::size_t n,
                              float* scores, IndexKeysPrefetch) {
  const std::size_t heads = query.padded_heads, dim = query.dim;
  for (std::size_t j = 0; j < n; ++j) {
    const std::int8_t* key = keys + j * dim;
    IndexHeadLanes lanes;
    for (std::size_t h = 0; h < heads; ++h) {
      std::int32_t dot = 0;
      for (std::size_t d = 0; d < dim; ++d) dot += query.packed[((d / 4) * heads + h) * 4 + d % 4] * key[d];
      const float term = static_cast<float>(std::max(dot, 0));  // exact: |dot| < 2^24
      lanes.add(h, term, query.weights[h]);
    }
    scores[j] = lanes.sum() * key_scales[j];
  }
}

namespace {

// Run by run, for the kernels without a runs version of their own.
void runs_scalar(const IndexQueryInt8& query, std::span<const IndexKeyRun> runs) {
  for (const IndexKeyRun& run : runs) index_scores_int8_scalar(query, run.keys, run.scales, run.n, run.scores, run.prefetch);
}

void runs_avx512(const IndexQueryInt8& query, std::span<const IndexKeyRun> runs) {
  const IndexScoresInt8Fn avx512 = index_scores_int8_avx512();
  for (const IndexKeyRun& run : runs) avx512(query, run.keys, run.scales, run.n, run.scores, run.prefetch);
}

}  // namespace

IndexScoresInt8RunsFn index_scores_int8_runs_for(Precision precision, IndexerProducts products, std::int64_t dim) {
  const IndexScoresInt8Fn one = index_scores_int8_for(precision, products, dim);
  if (one == nullptr) return nullptr;
  if (one == index_scores_int8_amx()) return index_scores_int8_amx_runs();
  if (one == index_scores_int8_avx512()) return runs_avx512;
  return runs_scalar;
}

IndexScoresInt8Fn best_index_scores_int8() {
  static const IndexScoresInt8Fn best = [] {
    const IndexScoresInt8Fn amx = amx_kernels_allowed() ? index_scores_int8_amx() : nullptr;
    return amx != nullptr ? amx : avx512_kernels_allowed() ? index_scores_int8_avx512() : nullptr;
  }();
  return best;
}

IndexScoresInt8Fn index_scores_int8_for(Precision precision, IndexerProducts products, std::int64_t dim) {
  if (precision != Precision::BF16 || products == IndexerProducts::Exact) return nullptr;
  if (dim % 4 != 0 || dim > static_cast<std::int64_t>(kIndexMaxDim)) return nullptr;
  const IndexScoresInt8Fn fast = dim % 64 == 0 ? best_index_scores_int8() : nullptr;
  if (products == IndexerProducts::Int8) return fast != nullptr ? fast : &index_scores_int8_scalar;
  // Auto: only where the bf16 mode really runs (its products need AVX512-BF16; without them it
  // is the float32 run, exact throughout) and VNNI makes int8 faster.
  return bf16_products(precision) ? fast : nullptr;
}

}  // namespace dsv32
