// The bf16 attention kernel: the scalar reference against softmax attention in double (within
// bf16's rounding of the weights), and the AVX512-BF16 kernel against the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/attention_bf16.h"
#include "kernels/number_formats.h"
#include "random_values.h"

namespace dsv32 {
namespace {

constexpr std::size_t kRows = 20, kHeads = 32, kValueDim = 64, kKeys = 75;

struct Problem {
  std::size_t dim, key_stride;  // dim 80: off the AMX kernel's 32-value steps; 96: on them
  std::vector<float> queries;
  std::vector<std::uint16_t> keys;
  std::vector<std::uint32_t> visible;  // per head, of all kKeys keys
  explicit Problem(std::size_t key_dim = 80) : dim(key_dim), key_stride(key_dim + 32), queries(random_floats(kRows * key_dim, 1)) {
    const auto values = random_floats(kKeys * key_stride, 2);
    for (const float v : values) keys.push_back(f32_to_bf16(v));
    for (std::size_t h = 0; h < kHeads; ++h) visible.push_back(static_cast<std::uint32_t>(std::min<std::size_t>(kKeys, 40 + 3 * h)));
  }
};

// Runs the kernel over the keys in blocks of 32; returns out[h][c] = acc / sum.
std::vector<float> attend(AttendBlockBf16 kernel, const Problem& problem, float scale) {
  std::vector<std::uint16_t> packed(kHeads * problem.dim);
  pack_attention_query(problem.queries.data(), problem.dim, kRows, scale, kHeads, problem.dim, packed.data());
  const AttentionBf16Query query{packed.data(), kHeads, problem.dim, kValueDim};
  std::vector<float> max(kHeads), sum(kHeads), acc(kHeads * (kValueDim + 3)), scratch(attention_scratch_floats(kHeads));
  const AttentionBf16State state{max.data(), sum.data(), acc.data(), kValueDim + 3};
  reset_attention_state(state, kHeads, kValueDim);
  for (std::size_t k0 = 0; k0 < kKeys; k0 += kAttentionBlockKeys) {
    const std::size_t n = std::min(kAttentionBlockKeys, kKeys - k0);
    std::vector<std::uint32_t> visible(kHeads);
    for (std::size_t h = 0; h < kHeads; ++h) visible[h] = static_cast<std::uint32_t>(std::clamp<long>(long(problem.visible[h]) - long(k0), 0, long(n)));
    kernel(query, problem.keys.data() + k0 * problem.key_stride, problem.key_stride, n, visible.data(), state, scratch.data());
  }
  std::vector<float> out(kRows * kValueDim);
  for (std::size_t h = 0; h < kRows; ++h) {
    for (std::size_t c = 0; c < kValueDim; ++c) out[h * kValueDim + c] = acc[h * (kValueDim + 3) + c] / sum[h];
  }
  return out;
}

TEST(AttentionBf16Test, ReferenceIsSoftmaxAttention) {
  const Problem problem;
  const float scale = 0.3f;
  const auto out = attend(attend_block_bf16_scalar, problem, scale);
  for (std::size_t h = 0; h < kRows; ++h) {
    std::vector<double> scores(problem.visible[h]);
    for (std::size_t j = 0; j < scores.size(); ++j) {
      double dot = 0.0;
      for (std::size_t c = 0; c < problem.dim; ++c) {
        dot += static_cast<double>(bf16_to_f32(f32_to_bf16(problem.queries[h * problem.dim + c] * scale))) *
               bf16_to_f32(problem.keys[j * problem.key_stride + c]);
      }
      scores[j] = dot;
    }
    const double top = *std::max_element(scores.begin(), scores.end());
    double total = 0.0;
    for (double& s : scores) total += (s = std::exp(s - top));
    for (std::size_t c = 0; c < kValueDim; ++c) {
      double expected = 0.0;
      for (std::size_t j = 0; j < scores.size(); ++j) expected += scores[j] / total * bf16_to_f32(problem.keys[j * problem.key_stride + c]);
      EXPECT_NEAR(out[h * kValueDim + c], expected, 1e-2) << "head " << h << " channel " << c;  // weights carry 8 bits
    }
  }
}

TEST(AttentionBf16Test, Avx512MatchesReference) {
  const AttendBlockBf16 fast = attend_block_bf16_avx512();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  const Problem problem;
  const auto ours = attend(fast, problem, 0.3f), reference = attend(attend_block_bf16_scalar, problem, 0.3f);
  // Same products and order; only e^x differs (2 ulp), which can move a weight's bf16 rounding.
  for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_NEAR(ours[i], reference[i], 1e-5) << i;
}

// Two full blocks on the tiles, the last 11 keys through the AVX-512 kernel; with dim 80 every
// block takes the AVX-512 kernel. AMX adds each score's 32 products in its own order, which can
// move a weight's bf16 rounding (2^-8 of it): every output within that of the reference, and
// nearly all within float32 rounding (a wrong layout moves most outputs by far more).
TEST(AttentionBf16Test, AmxMatchesReference) {
  const AttendBlockBf16 amx = attend_block_bf16_amx();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  for (const std::size_t dim : {96, 80}) {
    const Problem problem(dim);
    const auto ours = attend(amx, problem, 0.3f), reference = attend(attend_block_bf16_scalar, problem, 0.3f);
    std::size_t close = 0;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      EXPECT_NEAR(ours[i], reference[i], 1e-2) << "dim " << dim << " at " << i;
      close += std::fabs(ours[i] - reference[i]) <= 1e-5f ? 1 : 0;
    }
    EXPECT_GE(close, ours.size() * 99 / 100) << "dim " << dim;
  }
}

}  // namespace
}  // namespace dsv32
