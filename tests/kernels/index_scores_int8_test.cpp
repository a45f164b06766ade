// The indexer's int8 scores (kernels/index_scores_int8.h): the value grid, the scalar reference
// against the formula, the AVX512-VNNI path against the reference bit for bit, and how close the
// int8 scores and their top-k come to the exact FP8 ones on FP8-quantised Gaussian queries and
// keys (the indexer's inputs are Hadamard-rotated, so near Gaussian).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/fp8_quant.h"
#include "kernels/index_scores.h"
#include "kernels/index_scores_int8.h"
#include "kernels/linear.h"
#include "kernels/number_formats.h"
#include "kernels/top_k.h"
#include "random_values.h"

namespace dsv32 {
namespace {

// Every grid puts its largest code at 127 and each smaller one at the nearest step.
TEST(IndexScoresInt8Test, GridRoundsEachValueToTheNearestStep) {
  EXPECT_EQ(index_int8_grid(0x7E).magnitudes[0x7E], 127);  // 448
  EXPECT_FLOAT_EQ(index_int8_grid(0x7E).step, 448.0f / 127.0f);
  EXPECT_EQ(index_int8_grid(0).magnitudes[0], 0);
  for (int largest = 1; largest < 0x7F; ++largest) {
    const IndexInt8Grid& grid = index_int8_grid(static_cast<std::uint8_t>(largest));
    EXPECT_EQ(grid.magnitudes[largest], 127) << "largest " << largest;
    EXPECT_FLOAT_EQ(grid.step, e4m3_to_f32(static_cast<std::uint8_t>(largest)) / 127.0f) << "largest " << largest;
    for (int code = 0; code <= largest; ++code) {
      const double exact = e4m3_to_f32(static_cast<std::uint8_t>(code)) / grid.step;
      EXPECT_LE(std::fabs(grid.magnitudes[code] - exact), 0.5 + 1e-4) << "largest " << largest << " code " << code;
      if (code > 0) {
        EXPECT_GE(grid.magnitudes[code], grid.magnitudes[code - 1]) << "largest " << largest << " code " << code;
      }
    }
  }
  const std::uint8_t codes[] = {0x01, 0xF0, 0x35, 0x80};
  EXPECT_EQ(largest_magnitude_code(codes, 4), 0x70);  // the sign bit does not count
}

// The cached keys' values: every code's signed value on the keys' grid of 448.
TEST(IndexScoresInt8Test, KeyCodesMapOntoTheKeysGrid) {
  std::vector<std::uint8_t> values(256);
  for (int code = 0; code < 256; ++code) values[static_cast<std::size_t>(code)] = static_cast<std::uint8_t>(code);
  index_key_codes_to_int8(values.data(), values.size());
  const IndexInt8Grid& grid = index_int8_grid(kIndexKeyGridCode);
  for (int code = 0; code < 256; ++code) {
    const auto value = static_cast<std::int8_t>(values[static_cast<std::size_t>(code)]);
    EXPECT_EQ(value, grid.value(static_cast<std::uint8_t>(code))) << "code " << code;
    EXPECT_NEAR(value * grid.step, code == 0x7F || code == 0xFF ? (code == 0x7F ? 448.0 : -448.0) : e4m3_to_f32(static_cast<std::uint8_t>(code)),
                grid.step / 2 + 1e-4)
        << "code " << code;
  }
}

struct Scenario {
  std::int64_t heads, dim, keys;
  std::vector<std::uint8_t> q_codes, key_codes;
  std::vector<float> weights, key_scales;
  std::vector<float> q, k, raw_weights;  // before quantisation
};

// One vector of any length quantised as act_quant_ue8m0 quantises a block of 128 (zero padded).
void quantise(const float* x, std::int64_t n, std::uint8_t* codes, float* scale) {
  std::vector<float> padded(static_cast<std::size_t>((n + 127) / 128 * 128));
  std::vector<std::uint8_t> padded_codes(padded.size());
  std::vector<float> scales(padded.size() / 128);
  std::copy_n(x, n, padded.begin());
  act_quant_ue8m0(padded.data(), padded.size(), padded_codes.data(), scales.data());
  ASSERT_EQ(scales.size(), 1u) << "one scale per vector: at most 128 values";
  std::copy_n(padded_codes.begin(), n, codes);
  *scale = scales[0];
}

// Gaussian heads and keys quantised as the indexer does (one ue8m0 scale per vector; the query
// scales are folded into the weights, as Model::indexer_select does). Vectors up to 128 values.
Scenario make_scenario(std::int64_t heads, std::int64_t dim, std::int64_t keys, std::uint32_t seed) {
  Scenario s{heads, dim, keys, std::vector<std::uint8_t>(static_cast<std::size_t>(heads * dim)),
             std::vector<std::uint8_t>(static_cast<std::size_t>(keys * dim)), random_floats(static_cast<std::size_t>(heads), seed),
             std::vector<float>(static_cast<std::size_t>(keys))};
  s.q = random_floats(s.q_codes.size(), seed + 1);
  s.k = random_floats(s.key_codes.size(), seed + 2);
  s.raw_weights = s.weights;
  const auto& q = s.q;
  const auto& k = s.k;
  for (std::int64_t h = 0; h < heads; ++h) {
    float scale = 0.0f;
    quantise(q.data() + h * dim, dim, s.q_codes.data() + h * dim, &scale);
    s.weights[static_cast<std::size_t>(h)] *= scale;
  }
  for (std::int64_t j = 0; j < keys; ++j) {
    quantise(k.data() + j * dim, dim, s.key_codes.data() + j * dim, &s.key_scales[static_cast<std::size_t>(j)]);
  }
  return s;
}

// The scenario's keys as the int8 mode caches them.
std::vector<std::int8_t> int8_keys(const Scenario& s) {
  std::vector<std::uint8_t> values = s.key_codes;
  index_key_codes_to_int8(values.data(), values.size());
  return {values.begin(), values.end()};
}

// The scenario's query packed for the int8 kernels.
class PackedQuery {
 public:
  explicit PackedQuery(const Scenario& s)
      : padded_(static_cast<std::size_t>(index_padded_heads(s.heads))), dim_(static_cast<std::size_t>(s.dim)), packed_(padded_ * dim_),
        offsets_(padded_), weights_(padded_) {
    pack_index_query_int8(s.q_codes.data(), s.weights.data(), s.heads, s.dim, packed_.data(), offsets_.data(), weights_.data());
  }
  IndexQueryInt8 query() const { return {packed_.data(), offsets_.data(), weights_.data(), dim_, padded_}; }

 private:
  std::size_t padded_, dim_;
  std::vector<std::int8_t> packed_;
  std::vector<std::int32_t> offsets_;
  std::vector<float> weights_;
};

std::vector<float> run_int8(IndexScoresInt8Fn fn, const Scenario& s, IndexKeysPrefetch prefetch = {}) {
  const PackedQuery packed(s);
  std::vector<float> scores(static_cast<std::size_t>(s.keys), -1.0f);
  const std::vector<std::int8_t> keys = int8_keys(s);
  fn(packed.query(), keys.data(), s.key_scales.data(), static_cast<std::size_t>(s.keys), scores.data(), prefetch);
  return scores;
}

std::vector<float> run_exact(const Scenario& s) {
  const std::int64_t padded = index_padded_heads(s.heads);
  std::vector<std::uint16_t> packed(static_cast<std::size_t>(padded * s.dim));
  std::vector<float> weights(static_cast<std::size_t>(padded)), scores(static_cast<std::size_t>(s.keys));
  pack_index_query(s.q_codes.data(), s.weights.data(), s.heads, s.dim, packed.data(), weights.data());
  const IndexQuery query{packed.data(), weights.data(), static_cast<std::size_t>(s.dim), static_cast<std::size_t>(padded)};
  best_index_scores()(query, s.key_codes.data(), s.key_scales.data(), static_cast<std::size_t>(s.keys), scores.data());
  return scores;
}

// A query packed head by head, in any order, is the query packed at once (padded heads included).
TEST(IndexScoresInt8Test, HeadByHeadPackingIsThePacking) {
  const Scenario s = make_scenario(5, 128, 1, 6);
  const std::int64_t padded = index_padded_heads(s.heads);
  const auto size = static_cast<std::size_t>(padded);
  std::vector<std::int8_t> packed(size * 128, 1), by_head(size * 128, 2);
  std::vector<std::int32_t> offsets(size, 1), head_offsets(size, 2);
  std::vector<float> weights(size, 1.0f), head_weights(size, 2.0f);
  pack_index_query_int8(s.q_codes.data(), s.weights.data(), s.heads, 128, packed.data(), offsets.data(), weights.data());
  for (std::int64_t h = padded; h-- > 0;) {
    const bool real = h < s.heads;
    pack_index_query_head_int8(real ? s.q_codes.data() + h * 128 : nullptr, real ? s.weights[static_cast<std::size_t>(h)] : 0.0f, h, padded,
                               128, by_head.data(), head_offsets.data(), head_weights.data());
  }
  EXPECT_EQ(by_head, packed);
  EXPECT_EQ(head_offsets, offsets);
  EXPECT_EQ(head_weights, weights);
}

TEST(IndexScoresInt8Test, ReferenceComputesTheFormula) {
  const Scenario s = make_scenario(5, 16, 7, 1);
  const auto scores = run_int8(index_scores_int8_scalar, s);
  const IndexInt8Grid& key_grid = index_int8_grid(kIndexKeyGridCode);
  for (std::int64_t j = 0; j < s.keys; ++j) {
    const std::uint8_t* key = s.key_codes.data() + j * s.dim;
    double sum = 0.0, magnitude = 0.0;
    for (std::int64_t h = 0; h < s.heads; ++h) {
      const std::uint8_t* head = s.q_codes.data() + h * s.dim;
      const IndexInt8Grid& head_grid = index_int8_grid(largest_magnitude_code(head, static_cast<std::size_t>(s.dim)));
      double dot = 0.0;
      for (std::int64_t d = 0; d < s.dim; ++d) dot += static_cast<double>(head_grid.value(head[d])) * key_grid.value(key[d]);
      const double weight = static_cast<double>(s.weights[h]) * head_grid.step * key_grid.step;
      sum += weight * std::max(dot, 0.0);
      magnitude += std::fabs(weight * dot);
    }
    EXPECT_NEAR(scores[j], sum * s.key_scales[j], 1e-6 * magnitude * s.key_scales[j] + 1e-30) << "key " << j;
  }
}

void expect_matches_reference_bitwise(IndexScoresInt8Fn fast) {
  // (whole groups of 16 and none over: 64, 48, 32 and 16 keys, 32 where the next group's
  // request ends on the last key; one key; one group and one key)
  for (const auto& [heads, dim, keys] : {std::tuple{64, 128, 131}, std::tuple{4, 64, 3}, std::tuple{130, 64, 9}, std::tuple{8, 128, 5},
                                         std::tuple{64, 128, 64}, std::tuple{4, 64, 48}, std::tuple{130, 128, 32}, std::tuple{64, 128, 16},
                                         std::tuple{64, 128, 1}, std::tuple{64, 128, 17}}) {
    Scenario s = make_scenario(heads, dim, keys, 2);
    s.key_codes[0] = 0x7E;  // the extremes of the grids
    s.key_codes[1] = 0xFE;
    s.q_codes[0] = 0x7E;
    if (keys > 1) std::fill_n(s.key_codes.begin() + dim, dim, std::uint8_t{0});  // a zero key
    const auto ours = run_int8(fast, s), reference = run_int8(index_scores_int8_scalar, s);
    for (std::int64_t j = 0; j < keys; ++j) EXPECT_EQ(ours[j], reference[j]) << "heads " << heads << " dim " << dim << " key " << j;
    // Requesting lines (here those of the keys' FP8 codes, and one line past them) changes no result.
    const IndexKeysPrefetch prefetch{s.key_codes.data(), s.key_codes.size() / 64 + 1, s.key_scales.data(), s.key_scales.size() * 4 / 64 + 1};
    EXPECT_EQ(run_int8(fast, s, prefetch), ours) << "heads " << heads << " dim " << dim;
  }
}

TEST(IndexScoresInt8Test, Avx512MatchesReferenceBitwise) {
  const IndexScoresInt8Fn fast = index_scores_int8_avx512();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  expect_matches_reference_bitwise(fast);
}

// AMX sums each head exactly (signed by signed, where vpdpbusd takes the keys plus 128 and the
// query's offsets take that back), and sums the lanes in the same tree: same bits.
TEST(IndexScoresInt8Test, AmxMatchesReferenceBitwise) {
  const IndexScoresInt8Fn amx = index_scores_int8_amx();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-INT8 on this CPU (or the kernel refused its tiles)";
  expect_matches_reference_bitwise(amx);
}

// Keys that end where readable memory ends (a page without access right after them): the
// kernels read no key past the n given, whether n ends a group of 16 or not.
TEST(IndexScoresInt8Test, KernelsReadNoKeyPastTheLast) {
  const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  void* map = ::mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* base = static_cast<std::uint8_t*>(map);
  ASSERT_EQ(::mprotect(base + page, page, PROT_NONE), 0);
  std::vector<IndexScoresInt8Fn> kernels = {index_scores_int8_scalar};
  if (index_scores_int8_avx512() != nullptr) kernels.push_back(index_scores_int8_avx512());
  if (index_scores_int8_amx() != nullptr) kernels.push_back(index_scores_int8_amx());
  for (const std::int64_t keys : {32, 27}) {
    const Scenario s = make_scenario(64, 128, keys, 4);
    const std::vector<std::int8_t> values = int8_keys(s);
    auto* at_the_end = reinterpret_cast<std::int8_t*>(base + page - values.size());
    std::copy(values.begin(), values.end(), at_the_end);
    const PackedQuery packed(s);
    const IndexQueryInt8 query = packed.query();
    const auto reference = run_int8(index_scores_int8_scalar, s);
    for (const IndexScoresInt8Fn fn : kernels) {
      std::vector<float> scores(static_cast<std::size_t>(keys));
      fn(query, at_the_end, s.key_scales.data(), static_cast<std::size_t>(keys), scores.data(), {});
      EXPECT_EQ(scores, reference) << "keys " << keys;
    }
  }
  ::munmap(map, 2 * page);
}

// The runs version of each mode's kernel: runs of uneven sizes (one key, a partial group of 16,
// several groups, the rest) scored in one call give the single-call kernel's bits, each score
// in its run's place; the AMX kernel's own runs function is the one Int8 picks on AMX.
TEST(IndexScoresInt8Test, RunsMatchOneCallPerRun) {
  const Scenario s = make_scenario(64, 128, 300, 3);
  const PackedQuery packed(s);
  const IndexQueryInt8 query = packed.query();
  const std::vector<std::int8_t> keys = int8_keys(s);
  const std::size_t bounds[] = {0, 1, 10, 64, 100, 300};
  for (const IndexerProducts products : {IndexerProducts::Int8, IndexerProducts::Auto}) {
    const IndexScoresInt8Fn one = index_scores_int8_for(Precision::BF16, products, s.dim);
    const IndexScoresInt8RunsFn runs_fn = index_scores_int8_runs_for(Precision::BF16, products, s.dim);
    ASSERT_EQ(one == nullptr, runs_fn == nullptr);
    if (one == nullptr) continue;
    if (one == index_scores_int8_amx()) {
      EXPECT_EQ(runs_fn, index_scores_int8_amx_runs());
    }
    std::vector<float> ours(static_cast<std::size_t>(s.keys), -1.0f), expected(ours.size(), -2.0f);
    std::vector<IndexKeyRun> runs;
    for (std::size_t r = 0; r + 1 < std::size(bounds); ++r) {
      const std::size_t first = bounds[r], n = bounds[r + 1] - first;
      const std::int8_t* run_keys = keys.data() + first * static_cast<std::size_t>(s.dim);
      runs.push_back({run_keys, s.key_scales.data() + first, n, ours.data() + first, {}});
      one(query, run_keys, s.key_scales.data() + first, n, expected.data() + first, {});
    }
    runs_fn(query, runs);
    for (std::size_t j = 0; j < ours.size(); ++j) EXPECT_EQ(ours[j], expected[j]) << "key " << j;
  }
  EXPECT_EQ(index_scores_int8_runs_for(Precision::BF16, IndexerProducts::Exact, s.dim), nullptr);
  EXPECT_EQ(index_scores_int8_runs_for(Precision::F32, IndexerProducts::Int8, s.dim), nullptr);
}

double rms_rel(const std::vector<float>& ours, const std::vector<float>& reference) {
  double error = 0.0, magnitude = 0.0;
  for (std::size_t j = 0; j < ours.size(); ++j) {
    error += std::pow(static_cast<double>(ours[j]) - reference[j], 2);
    magnitude += std::pow(static_cast<double>(reference[j]), 2);
  }
  return std::sqrt(error / magnitude);
}

// The share of reference's top-k that ours keeps.
double kept(const std::vector<float>& ours, const std::vector<float>& reference, std::int64_t k) {
  const auto n = static_cast<std::int64_t>(ours.size());
  std::vector<std::int32_t> chosen_ours(static_cast<std::size_t>(k)), chosen_reference(chosen_ours.size()),
      scratch(static_cast<std::size_t>(top_k_scratch_words(n)));
  select_top_k(ours.data(), n, k, chosen_ours.data(), scratch.data());
  select_top_k(reference.data(), n, k, chosen_reference.data(), scratch.data());
  std::vector<std::int32_t> common;
  std::set_intersection(chosen_ours.begin(), chosen_ours.end(), chosen_reference.begin(), chosen_reference.end(), std::back_inserter(common));
  return static_cast<double>(common.size()) / static_cast<double>(k);
}

// The scores in float32 before any quantisation: what the FP8 step itself costs.
std::vector<float> run_unquantised(const Scenario& s) {
  std::vector<float> scores(static_cast<std::size_t>(s.keys));
  for (std::int64_t j = 0; j < s.keys; ++j) {
    double sum = 0.0;
    for (std::int64_t h = 0; h < s.heads; ++h) {
      double dot = 0.0;
      for (std::int64_t d = 0; d < s.dim; ++d) dot += static_cast<double>(s.q[h * s.dim + d]) * s.k[j * s.dim + d];
      sum += s.raw_weights[h] * std::max(dot, 0.0);
    }
    scores[static_cast<std::size_t>(j)] = static_cast<float>(sum);
  }
  return scores;
}

// The real model's shape (64 heads x 128) over 8192 keys, keeping 2048: the int8 scores' error
// and the share of the exact top-k they keep. Measured here: 1.16 % rms error, 99.3 % kept, where
// the FP8 quantisation itself (the reference's exact FP8 scores against unquantised float32
// ones) costs 4.1 % and keeps 97.7 %. The bounds leave room for other seeds.
TEST(IndexScoresInt8Test, ScoresAndSelectionStayCloseToExact) {
  const IndexScoresInt8Fn fn = index_scores_int8_avx512() != nullptr ? index_scores_int8_avx512() : &index_scores_int8_scalar;
  constexpr std::int64_t kKeys = 8192, kTopK = 2048;
  const Scenario s = make_scenario(64, 128, kKeys, 3);
  const auto exact = run_exact(s), approx = run_int8(fn, s), unquantised = run_unquantised(s);
  const double error = rms_rel(approx, exact), kept_share = kept(approx, exact, kTopK);
  std::printf("int8 against exact FP8 scores: rms error %.4f, top-%lld kept %.4f\n", error, static_cast<long long>(kTopK), kept_share);
  std::printf("exact FP8 against unquantised: rms error %.4f, top-%lld kept %.4f\n", rms_rel(exact, unquantised), static_cast<long long>(kTopK),
              kept(exact, unquantised, kTopK));
  EXPECT_LT(error, 0.02);
  EXPECT_GT(kept_share, 0.97);
}

// Which runs score in int8 (compute_context.h's IndexerProducts).
TEST(IndexScoresInt8Test, ModesChooseTheirKernel) {
  EXPECT_EQ(index_scores_int8_for(Precision::F32, IndexerProducts::Int8, 128), nullptr);  // f32: always exact
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Exact, 128), nullptr);
  const IndexScoresInt8Fn fast = best_index_scores_int8();  // (DSV32_ISA below avx512: none)
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Int8, 128), fast != nullptr ? fast : &index_scores_int8_scalar);
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Int8, 68), &index_scores_int8_scalar);  // SIMD: multiples of 64
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Int8, 66), nullptr);                    // not whole quads
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Int8, 1024), nullptr);                  // past kIndexMaxDim
  EXPECT_EQ(index_scores_int8_for(Precision::BF16, IndexerProducts::Auto, 128), bf16_products(Precision::BF16) ? fast : nullptr);
}

}  // namespace
}  // namespace dsv32
