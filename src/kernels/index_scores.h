#pragma once
// The lightning indexer's scores (README §5.5): for one query and a run of cached keys,
//   score[j] = key_scale[j] · Σ_h w[h] · relu(q[h] · key[j]),
// with q and the keys as FP8 e4m3 codes, as the reference quantises them. e4m3 values are exact
// in bf16 and their products exact in float32, so AVX512-BF16 (vdpbf16ps) computes the same
// products as float32 would, at twice the rate and with no horizontal sums per head.
//
// The summation order is fixed and the scalar reference follows it step for step: per head, the
// odd then the even product of each dimension pair (vdpbf16ps's order); across heads, 16 lanes
// (head h in lane h % 16) summed in head order, then the lanes in a fixed tree.
#include <cstddef>
#include <cstdint>

namespace dsv32 {

constexpr std::int64_t kIndexHeadChunk = 64;  // heads are padded to a multiple of this

// One query, packed by pack_index_query: bf16 values [dim / 2][padded_heads][2], weights padded
// with zeros.
struct IndexQuery {
  const std::uint16_t* packed;
  const float* weights;
  std::size_t dim;           // even, at most kIndexMaxDim; a multiple of 16 for the SIMD kernels
  std::size_t padded_heads;  // multiple of kIndexHeadChunk
};

constexpr std::size_t kIndexMaxDim = 512;

std::int64_t index_padded_heads(std::int64_t heads);
// packed holds dim * index_padded_heads(heads) values, padded_weights index_padded_heads(heads).
void pack_index_query(const std::uint8_t* q_codes, const float* head_weights, std::int64_t heads, std::int64_t dim,
                      std::uint16_t* packed, float* padded_weights);

// The scalar references' sum over heads, in the SIMD kernels' order: head h's weighted term
// into lane h % 16, in head order, then the 16 lanes as a tree (halves of 8, 4, 2, 1).
class IndexHeadLanes {
 public:
  void add(std::size_t head, float term, float weight) {
    float& lane = lanes_[head % 16];
    lane = head < 16 ? term * weight : __builtin_fmaf(term, weight, lane);
  }
  float sum() {
    for (std::size_t width = 8; width >= 1; width /= 2) {
      for (std::size_t l = 0; l < width; ++l) lanes_[l] += lanes_[l + width];
    }
    return lanes_[0];
  }

 private:
  float lanes_[16] = {};
};

// Scores of n keys stored contiguously (dim codes each, one scale each). The SIMD kernels read
// the NaN codes 0x7F/0xFF as ±480 (the reference as NaN); the caches never hold them, since
// f32_to_e4m3 saturates every finite value.
using IndexScoresFn = void (*)(const IndexQuery& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n,
                               float* scores);

void index_scores_scalar(const IndexQuery& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n,
                         float* scores);
IndexScoresFn index_scores_avx2();    // nullptr when the CPU lacks AVX2/FMA/F16C
IndexScoresFn index_scores_avx512();  // nullptr when the CPU lacks AVX512-BF16
// The fastest this CPU runs (DSV32_ISA=scalar|avx2 caps it, as for the vector tables).
IndexScoresFn best_index_scores();

}  // namespace dsv32
