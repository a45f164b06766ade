// The indexer's score kernel: the AVX512-BF16 path against the scalar reference (same products,
// same summation order), and the reference against the formula in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/index_scores.h"
#include "kernels/number_formats.h"
#include "random_values.h"

namespace dsv32 {
namespace {

struct Scenario {
  std::int64_t heads, dim, keys;
  std::vector<std::uint8_t> q_codes, key_codes;
  std::vector<float> weights, key_scales;
};

Scenario make_scenario(std::int64_t heads, std::int64_t dim, std::int64_t keys, std::uint32_t seed) {
  std::mt19937 rng(seed);
  const auto code = [&] {
    auto c = static_cast<std::uint8_t>(rng());
    return (c & 0x7F) == 0x7F ? std::uint8_t{0x3C} : c;  // no NaN codes
  };
  Scenario s{heads, dim, keys, {}, {}, random_floats(static_cast<std::size_t>(heads), seed + 1), {}};
  for (std::int64_t i = 0; i < heads * dim; ++i) s.q_codes.push_back(code());
  for (std::int64_t i = 0; i < keys * dim; ++i) s.key_codes.push_back(code());
  for (std::int64_t j = 0; j < keys; ++j) s.key_scales.push_back(std::ldexp(1.0f, static_cast<int>(rng() % 9) - 4));
  return s;
}

std::vector<float> run(IndexScoresFn fn, const Scenario& s) {
  const std::int64_t padded = index_padded_heads(s.heads);
  std::vector<std::uint16_t> packed(static_cast<std::size_t>(padded * s.dim));
  std::vector<float> weights(static_cast<std::size_t>(padded)), scores(static_cast<std::size_t>(s.keys), -1.0f);
  pack_index_query(s.q_codes.data(), s.weights.data(), s.heads, s.dim, packed.data(), weights.data());
  const IndexQuery query{packed.data(), weights.data(), static_cast<std::size_t>(s.dim), static_cast<std::size_t>(padded)};
  fn(query, s.key_codes.data(), s.key_scales.data(), static_cast<std::size_t>(s.keys), scores.data());
  return scores;
}

TEST(IndexScoresTest, ReferenceComputesTheFormula) {
  const Scenario s = make_scenario(5, 16, 7, 1);
  const auto scores = run(index_scores_scalar, s);
  for (std::int64_t j = 0; j < s.keys; ++j) {
    double sum = 0.0, magnitude = 0.0;
    for (std::int64_t h = 0; h < s.heads; ++h) {
      double dot = 0.0;
      for (std::int64_t d = 0; d < s.dim; ++d) {
        dot += static_cast<double>(e4m3_to_f32(s.q_codes[h * s.dim + d])) * e4m3_to_f32(s.key_codes[j * s.dim + d]);
      }
      sum += s.weights[h] * std::max(dot, 0.0);
      magnitude += std::fabs(s.weights[h] * dot);
    }
    EXPECT_NEAR(scores[j], sum * s.key_scales[j], 1e-6 * magnitude * s.key_scales[j] + 1e-30) << "key " << j;
  }
}

// vdpbf16ps adds the odd then the even product of a pair with a rounding each, as the reference
// does; the products are exact, so every path gives the same bits.
void expect_bitwise_equal_to_reference(IndexScoresFn fast) {
  for (const auto& [heads, dim, keys] : {std::tuple{64, 128, 131}, std::tuple{4, 32, 3}, std::tuple{130, 64, 9}, std::tuple{8, 48, 5}}) {
    const Scenario s = make_scenario(heads, dim, keys, 2);
    const auto ours = run(fast, s), reference = run(index_scores_scalar, s);
    for (std::int64_t j = 0; j < keys; ++j) EXPECT_EQ(ours[j], reference[j]) << "heads " << heads << " dim " << dim << " key " << j;
  }
}

TEST(IndexScoresTest, Avx512MatchesReferenceBitwise) {
  const IndexScoresFn fast = index_scores_avx512();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  expect_bitwise_equal_to_reference(fast);
}

// Float32 FMAs of exact products round as the reference's additions do.
TEST(IndexScoresTest, Avx2MatchesReferenceBitwise) {
  const IndexScoresFn fast = index_scores_avx2();
  if (fast == nullptr) GTEST_SKIP() << "no AVX2 on this CPU";
  expect_bitwise_equal_to_reference(fast);
}

}  // namespace
}  // namespace dsv32
