#pragma once
// The lightning indexer's scores with int8 products, the bf16 mode's fast indexer: the FP8 e4m3
// values of the query and the keys are mapped onto int8, so each head's dot product is one exact
// integer sum, which AMX forms 16 keys x 16 heads x 64 values per instruction (TDPBSSD) and
// AVX512-VNNI 64 products per instruction (vpdpbusd), twice the rate of vdpbf16ps. Each query
// head gets its own grid, its largest magnitude at 127; the keys share the grid of 448 (the
// largest value act_quant_ue8m0 writes; a key's largest lies in (224, 448]), so they need no
// per-key search for their largest (a grid per key measured 0.97 % against 1.16 % below, and
// the layer checks of tests/model/precision_test.cpp moved no further). Being one grid, the
// keys are mapped once, when they are cached (index_key_codes_to_int8), not at every score.
// The mapping rounds (values under 1/16 of the grid's top keep fewer than e4m3's 4 significant
// bits), so the scores are close to, not equal to, index_scores.h's exact ones: on Gaussian
// inputs 1.2 % rms apart, where FP8 itself is 4.1 % from float32 (index_scores_int8_test.cpp).
//
//   score[j] = key_scale[j] · Σ_h w[h] · step(q_h) · step(448) · relu(Σ_d q8[h][d] · k8[j][d])
//   q8[h][d] = round(q[h][d] / step(q_h)),  k8[j][d] = round(k[j][d] / step(448)),
//   step(x) = (largest magnitude of x) / 127  (1 for a zero head)
//
// Summation order, fixed so the scalar reference gives the SIMD paths' bits: each head's
// integer sum is exact in any order; across heads, 16 lanes (head h in lane h % 16) summed in
// head order, then the lanes in a fixed tree (as index_scores.h).
#include <cstddef>
#include <cstdint>
#include <span>

#include "kernels/compute_context.h"
#include "kernels/index_scores.h"

namespace dsv32 {

// A vector's grid, set by its largest magnitude code (the codes order as their magnitudes):
// the int8 magnitudes of the codes 0..127 and the step. The NaN code 0x7F counts as 480.
struct IndexInt8Grid {
  std::int8_t magnitudes[128];
  float step;
  // A code's signed int8 value on this grid, without a branch on the sign (the signs of a
  // query's codes are random: packing a query mispredicted half of them).
  std::int8_t value(std::uint8_t code) const {
    const int magnitude = magnitudes[code & 0x7F], negative = -(code >> 7);  // negative: 0 or -1
    return static_cast<std::int8_t>((magnitude ^ negative) - negative);
  }
};
const IndexInt8Grid& index_int8_grid(std::uint8_t largest_code);
constexpr std::uint8_t kIndexKeyGridCode = 0x7E;  // the keys' grid: 448
// The largest magnitude code of n codes.
std::uint8_t largest_magnitude_code(const std::uint8_t* codes, std::size_t n);

// The keys' int8 values k8 in place of their n FP8 codes (two's complement bytes): what the
// int8 mode caches, and what its kernels read.
void index_key_codes_to_int8(std::uint8_t* codes, std::size_t n);

// One query, packed by pack_index_query_int8: int8 values [dim / 4][padded_heads][4]; per head
// 128 · Σ_d q8 (vpdpbusd takes unsigned keys: the AVX-512 kernel adds 128 to each key value and
// takes this back) and the weight w · step(q_h) · step(448); padded heads are zero.
struct IndexQueryInt8 {
  const std::int8_t* packed;
  const std::int32_t* offsets;
  const float* weights;
  std::size_t dim;           // a multiple of 4 (of 64 for the SIMD kernel), at most kIndexMaxDim
  std::size_t padded_heads;  // a multiple of kIndexHeadChunk
};

// packed holds dim * index_padded_heads(heads) values; offsets and weights index_padded_heads(heads).
void pack_index_query_int8(const std::uint8_t* q_codes, const float* head_weights, std::int64_t heads, std::int64_t dim,
                           std::int8_t* packed, std::int32_t* offsets, float* weights);
// The same for one head h of padded_heads (codes nullptr: a padded head, zeros), which touches
// only that head's values, offset and weight: the heads of a query can be packed in parallel.
void pack_index_query_head_int8(const std::uint8_t* head_codes, float head_weight, std::int64_t h, std::int64_t padded_heads,
                                std::int64_t dim, std::int8_t* packed, std::int32_t* offsets, float* weights);

// Memory a call requests into L2 while it scores, a few lines per group of keys: the next run's
// keys (their int8 values) and scales (64-byte lines from each begin). Asked for at once when a run started,
// they filled the core's miss queue and held up the run's first products.
struct IndexKeysPrefetch {
  const void* codes = nullptr;
  std::size_t code_lines = 0;
  const void* scales = nullptr;
  std::size_t scale_lines = 0;
};

// Scores of n keys stored contiguously (dim int8 values each, from index_key_codes_to_int8, and
// one scale each).
using IndexScoresInt8Fn = void (*)(const IndexQueryInt8& query, const std::int8_t* keys, const float* key_scales, std::size_t n,
                                   float* scores, IndexKeysPrefetch prefetch);

// (the prefetch is a hint the reference leaves aside)
void index_scores_int8_scalar(const IndexQueryInt8& query, const std::int8_t* keys, const float* key_scales, std::size_t n,
                              float* scores, IndexKeysPrefetch prefetch);
IndexScoresInt8Fn index_scores_int8_avx512();  // nullptr without AVX512-VNNI, -BW, -DQ, -VL
// The same bits with the products on AMX tiles; nullptr without AMX-INT8 (or the kernel's
// permission) beside the AVX-512 kernel's needs.
IndexScoresInt8Fn index_scores_int8_amx();
// The fastest SIMD kernel the CPU has (DSV32_ISA=avx512 leaves AMX aside; below avx512, none), else
// nullptr: without VNNI int8 products are no faster than index_scores.h's exact ones.
IndexScoresInt8Fn best_index_scores_int8();

// The int8 kernel a run in this mode uses for index heads of `dim`, or nullptr where it scores
// exactly (compute_context.h's IndexerProducts: Auto takes int8 where the bf16 mode's products
// run (AVX512-BF16 and -VBMI) and the CPU has AVX512-VNNI; Int8 whenever bf16 is asked for).
IndexScoresInt8Fn index_scores_int8_for(Precision precision, IndexerProducts products, std::int64_t dim);

// Keys side by side in one block of the paged cache: n keys' int8 values and scales, where their
// scores go, and what to request while they are scored.
struct IndexKeyRun {
  const std::int8_t* keys;
  const float* scales;
  std::size_t n;
  float* scores;
  IndexKeysPrefetch prefetch;
};
// Several runs in one call, each scored as the kernel scores it alone (the same bits): the AMX
// kernel loads its tile configuration once for them all, where a call per 64-key block of the
// cache paid it 512 times a layer at 32K.
using IndexScoresInt8RunsFn = void (*)(const IndexQueryInt8& query, std::span<const IndexKeyRun> runs);
// The runs version of index_scores_int8_for's kernel (nullptr where that is nullptr).
IndexScoresInt8RunsFn index_scores_int8_runs_for(Precision precision, IndexerProducts products, std::int64_t dim);
// The AMX kernel's own (nullptr where index_scores_int8_amx() is).
IndexScoresInt8RunsFn index_scores_int8_amx_runs();

}  // namespace dsv32
