// Every SIMD table against the scalar reference, on lengths that exercise the vector bodies
// and the tails.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "kernels/linear.h"
#include "kernels/number_formats.h"
#include "random_values.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

class VectorOpsTest : public ::testing::TestWithParam<const VectorOps*> {};

// n random e4m3 codes, none of them NaN (0x7F, 0xFF), drawn from rng in turn.
std::vector<std::uint8_t> finite_e4m3_codes(std::size_t n, std::mt19937& rng) {
  std::vector<std::uint8_t> codes(n);
  for (auto& code : codes) {
    do code = static_cast<std::uint8_t>(rng()); while ((code & 0x7F) == 0x7F);
  }
  return codes;
}

// Every table sums in vector_ops.h's order, so each gives the scalar reference's bits (the
// float32 forward pass is then the same on every CPU); the scalar sums are also checked against
// the exact sum in double.
TEST_P(VectorOpsTest, DotMatchesScalarBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {1, 7, 8, 15, 16, 17, 31, 32, 33, 47, 48, 49, 128, 577, 4096}) {
    const auto a = random_floats(n, 1), b = random_floats(n, 2);
    double exact = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      exact += static_cast<double>(a[i]) * b[i];
      magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    const float reference = scalar_vector_ops().dot(a.data(), b.data(), n);
    EXPECT_NEAR(reference, exact, 1e-6 * magnitude + 1e-6) << "n=" << n;
    EXPECT_EQ(std::bit_cast<std::uint32_t>(ops.dot(a.data(), b.data(), n)), std::bit_cast<std::uint32_t>(reference)) << ops.name << " n=" << n;
  }
}

TEST_P(VectorOpsTest, DotF64IsExactForFloatProductsAndMatchesScalarBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {1, 9, 16, 33, 1000}) {
    const auto a = random_floats(n, 7), b = random_floats(n, 8);
    double exact = 0.0, magnitude = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      exact += static_cast<double>(a[i]) * b[i];
      magnitude += std::fabs(static_cast<double>(a[i]) * b[i]);
    }
    EXPECT_NEAR(ops.dot_f64(a.data(), b.data(), n), exact, 1e-14 * magnitude) << "n=" << n;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(ops.dot_f64(a.data(), b.data(), n)),
              std::bit_cast<std::uint64_t>(scalar_vector_ops().dot_f64(a.data(), b.data(), n)))
        << ops.name << " n=" << n;
  }
}

TEST_P(VectorOpsTest, Dot4MatchesScalarBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {5, 16, 19, 64, 1000}) {
    const auto rows = random_floats(4 * n, 3), x = random_floats(n, 4);
    float out[4], reference[4];
    ops.dot4(rows.data(), n, x.data(), n, out);
    scalar_vector_ops().dot4(rows.data(), n, x.data(), n, reference);
    for (int r = 0; r < 4; ++r) {
      double exact = 0.0, magnitude = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        exact += static_cast<double>(rows[r * n + i]) * x[i];
        magnitude += std::fabs(static_cast<double>(rows[r * n + i]) * x[i]);
      }
      EXPECT_NEAR(reference[r], exact, 1e-6 * magnitude + 1e-6) << "n=" << n;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(out[r]), std::bit_cast<std::uint32_t>(reference[r])) << ops.name << " n=" << n << " row " << r;
    }
  }
}

TEST_P(VectorOpsTest, Dot4x4MatchesDot4Bitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {5, 16, 19, 64, 1000}) {
    const std::size_t x_stride = n + 3, out_stride = 7;
    const auto rows = random_floats(4 * n, 5), x = random_floats(4 * x_stride, 6);
    std::vector<float> out(4 * out_stride);
    ops.dot4x4(rows.data(), n, x.data(), x_stride, n, out.data(), out_stride);
    for (std::size_t t = 0; t < 4; ++t) {
      float expected[4];
      ops.dot4(rows.data(), n, x.data() + t * x_stride, n, expected);
      for (int r = 0; r < 4; ++r) EXPECT_EQ(out[t * out_stride + r], expected[r]) << ops.name << " n=" << n << " t=" << t;
    }
  }
}

TEST_P(VectorOpsTest, Axpy4MatchesFourAxpysBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {3, 16, 21, 512}) {
    const auto x = random_floats(4 * n, 9), a = random_floats(4, 10);
    auto fused = random_floats(n, 11);
    auto expected = fused;
    ops.axpy4(a.data(), x.data(), n, fused.data(), n);
    for (std::size_t j = 0; j < 4; ++j) ops.axpy(a[j], x.data() + j * n, expected.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(fused[i], expected[i]) << ops.name << " n=" << n << " i=" << i;
  }
}

// The FP8 rows dequantised in registers give axpy4's bits on the dequantised rows, on every
// table, for any scale and for lengths with tails; the scalar table's too.
TEST_P(VectorOpsTest, Axpy4E4m3MatchesAxpy4OnDequantisedRowsBitwise) {
  const VectorOps& ops = *GetParam();
  std::mt19937 rng(15);
  for (const std::size_t n : {3, 16, 21, 200, 512}) {
    for (const float base : {3.7e-4f, 0.013f, 5000.0f}) {
      const std::size_t stride = n + 5, blocks = (n + 127) / 128;
      const std::vector<std::uint8_t> codes = finite_e4m3_codes(4 * stride, rng);
      std::vector<float> scales(blocks);
      for (auto& scale : scales) scale = base * std::uniform_real_distribution<float>(0.5f, 2.0f)(rng);
      std::vector<float> rows(4 * n);
      for (std::size_t r = 0; r < 4; ++r) {
        for (std::size_t b = 0; b < blocks; ++b) {
          const std::size_t count = std::min<std::size_t>(128, n - b * 128);
          scalar_vector_ops().e4m3_to_f32(codes.data() + r * stride + b * 128, scales[b], rows.data() + r * n + b * 128, count);
        }
      }
      const auto a = random_floats(4, 16);
      auto fused = random_floats(n, 17);
      auto expected = fused;
      ops.axpy4_e4m3(a.data(), codes.data(), stride, scales.data(), fused.data(), n);
      scalar_vector_ops().axpy4(a.data(), rows.data(), n, expected.data(), n);
      for (std::size_t i = 0; i < n; ++i) {
        EXPECT_EQ(std::bit_cast<std::uint32_t>(fused[i]), std::bit_cast<std::uint32_t>(expected[i])) << ops.name << " n=" << n << " i=" << i;
      }
    }
  }
}

// linear_transposed_accumulate of one token (FP8 rows through axpy4_e4m3 where four rows share
// a 128-row scale block, the rows path where they straddle one, a last partial group) gives the
// bits of the rows dequantised one at a time and added in order, on slices that start mid-block.
TEST_P(VectorOpsTest, TransposedAccumulateOfOneTokenMatchesRowByRowBitwise) {
  const VectorOps& ops = *GetParam();
  constexpr std::int64_t kRows = 384, kCols = 200, kScaleCols = (kCols + 127) / 128;
  std::mt19937 rng(18);
  const std::vector<std::uint8_t> codes = finite_e4m3_codes(kRows * kCols, rng);
  std::vector<float> scales(kRows / 128 * kScaleCols);
  for (auto& scale : scales) scale = std::uniform_real_distribution<float>(0.001f, 2.0f)(rng);
  const Weight full{DType::F8_E4M3, codes.data(), kRows, kCols, 0, scales.data(), kScaleCols};
  for (const auto& [first, count] : {std::pair<std::int64_t, std::int64_t>{0, kRows}, {126, 130}, {5, 250}}) {
    const Weight slice = full.row_slice(first, count);
    const auto x = random_floats(static_cast<std::size_t>(count), 19);
    auto fused = random_floats(kCols, 20);
    auto expected = fused;
    std::vector<float> scratch(4 * kCols), row(kCols);
    linear_transposed_accumulate(ops, scratch.data(), slice, {x.data(), 1, count}, {fused.data(), 1, kCols});
    for (std::int64_t r = 0; r < count; ++r) {
      slice.row_to_f32(r, row.data(), scalar_vector_ops());
      scalar_vector_ops().axpy(x[static_cast<std::size_t>(r)], row.data(), expected.data(), kCols);
    }
    for (std::int64_t i = 0; i < kCols; ++i) {
      EXPECT_EQ(std::bit_cast<std::uint32_t>(fused[i]), std::bit_cast<std::uint32_t>(expected[i])) << ops.name << " first " << first << " i=" << i;
    }
  }
}

// Any float32 block scale (not only the powers of two of UE8M0 checkpoints), small and large:
// the fused kernel still rounds value * scale once, as the dequantised rows do.
TEST_P(VectorOpsTest, FusedE4m3MatchesDequantisedRowsForAnyScale) {
  const VectorOps& ops = *GetParam();
  std::mt19937 rng(12);
  for (const float base : {3.7e-4f, 0.013f, 200.0f, 5000.0f}) {
    const std::size_t n = 1024;
    const std::vector<std::uint8_t> codes = finite_e4m3_codes(4 * n, rng);
    std::vector<float> scales(n / 128);
    for (auto& scale : scales) scale = base * std::uniform_real_distribution<float>(0.5f, 2.0f)(rng);
    const auto x = random_floats(n, 13);
    std::vector<float> rows(4 * n);
    for (std::size_t r = 0; r < 4; ++r) {
      for (std::size_t b = 0; b < n / 128; ++b) ops.e4m3_to_f32(codes.data() + r * n + b * 128, scales[b], rows.data() + r * n + b * 128, 128);
    }
    float fused[4], via_rows[4];
    ops.dot4_e4m3(codes.data(), n, scales.data(), x.data(), n, fused);
    ops.dot4(rows.data(), n, x.data(), n, via_rows);
    float reference[4];
    scalar_vector_ops().dot4_e4m3(codes.data(), n, scales.data(), x.data(), n, reference);
    for (int r = 0; r < 4; ++r) {
      EXPECT_EQ(fused[r], via_rows[r]) << ops.name << " scale " << base << " row " << r;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(fused[r]), std::bit_cast<std::uint32_t>(reference[r])) << ops.name << " scale " << base << " row " << r;
    }
    // Several tokens at once: each token's outputs equal the one-token kernel's.
    const auto xs = random_floats(11 * (n + 3), 14);
    float many[11 * 6];
    ops.dot4_e4m3_tokens(codes.data(), n, scales.data(), xs.data(), n + 3, 11, n, many, 6);
    for (std::size_t t = 0; t < 11; ++t) {
      float one[4];
      ops.dot4_e4m3(codes.data(), n, scales.data(), xs.data() + t * (n + 3), n, one);
      for (int r = 0; r < 4; ++r) EXPECT_EQ(many[t * 6 + r], one[r]) << ops.name << " token " << t << " row " << r;
    }
  }
}

TEST_P(VectorOpsTest, FusedDot4MatchesDequantisedDot) {
  const VectorOps& ops = *GetParam();
  std::mt19937 rng(9);
  for (const std::size_t n : {8, 100, 128, 200, 1024, 1031}) {
    const std::vector<std::uint8_t> codes = finite_e4m3_codes(4 * n, rng);
    std::vector<std::uint16_t> halves(4 * n);
    for (auto& half : halves) half = f32_to_bf16(std::normal_distribution<float>(0.0f, 1.0f)(rng));
    std::vector<float> scales((n + 127) / 128);
    for (std::size_t b = 0; b < scales.size(); ++b) scales[b] = std::ldexp(1.0f, static_cast<int>(b % 5) - 8);
    const auto x = random_floats(n, 10);
    float e4m3_out[4], bf16_out[4];
    ops.dot4_e4m3(codes.data(), n, scales.data(), x.data(), n, e4m3_out);
    ops.dot4_bf16(halves.data(), n, x.data(), n, bf16_out);
    for (int r = 0; r < 4; ++r) {
      double exact = 0.0, magnitude = 0.0, exact_bf16 = 0.0, magnitude_bf16 = 0.0;
      for (std::size_t c = 0; c < n; ++c) {
        const double w = static_cast<double>(e4m3_to_f32(codes[r * n + c])) * scales[c / 128];
        exact += w * x[c];
        magnitude += std::fabs(w * x[c]);
        const double wb = bf16_to_f32(halves[r * n + c]);
        exact_bf16 += wb * x[c];
        magnitude_bf16 += std::fabs(wb * x[c]);
      }
      EXPECT_NEAR(e4m3_out[r], exact, 2e-6 * magnitude + 1e-30) << ops.name << " n=" << n << " row " << r;
      EXPECT_NEAR(bf16_out[r], exact_bf16, 2e-6 * magnitude_bf16) << ops.name << " n=" << n << " row " << r;
    }
    // Bitwise the same as dequantising into rows and calling dot4: decode equals prefill.
    std::vector<float> dequantised(4 * n), dequantised_bf16(4 * n);
    for (std::size_t r = 0; r < 4; ++r) {
      for (std::size_t b = 0; b * 128 < n; ++b) {
        ops.e4m3_to_f32(codes.data() + r * n + b * 128, scales[b], dequantised.data() + r * n + b * 128, std::min<std::size_t>(128, n - b * 128));
      }
      ops.bf16_to_f32(halves.data() + r * n, dequantised_bf16.data() + r * n, n);
    }
    float via_rows[4], via_rows_bf16[4];
    ops.dot4(dequantised.data(), n, x.data(), n, via_rows);
    ops.dot4(dequantised_bf16.data(), n, x.data(), n, via_rows_bf16);
    float e4m3_reference[4], bf16_reference[4];
    scalar_vector_ops().dot4_e4m3(codes.data(), n, scales.data(), x.data(), n, e4m3_reference);
    scalar_vector_ops().dot4_bf16(halves.data(), n, x.data(), n, bf16_reference);
    for (int r = 0; r < 4; ++r) {
      EXPECT_EQ(e4m3_out[r], via_rows[r]) << ops.name << " n=" << n;
      EXPECT_EQ(bf16_out[r], via_rows_bf16[r]) << ops.name << " n=" << n;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(e4m3_out[r]), std::bit_cast<std::uint32_t>(e4m3_reference[r])) << ops.name << " n=" << n;
      EXPECT_EQ(std::bit_cast<std::uint32_t>(bf16_out[r]), std::bit_cast<std::uint32_t>(bf16_reference[r])) << ops.name << " n=" << n;
    }
  }
}

TEST_P(VectorOpsTest, AxpyMatchesScalarBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {3, 16, 37, 512}) {
    const auto x = random_floats(n, 5);
    auto y = random_floats(n, 6), expected = y;
    ops.axpy(0.37f, x.data(), y.data(), n);
    scalar_vector_ops().axpy(0.37f, x.data(), expected.data(), n);
    for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(std::bit_cast<std::uint32_t>(y[i]), std::bit_cast<std::uint32_t>(expected[i])) << ops.name << " n=" << n;
  }
}

TEST_P(VectorOpsTest, ConversionsAreExact) {
  const VectorOps& ops = *GetParam();
  // Every e4m3 code but the two NaNs, at several alignments and a scale.
  std::vector<std::uint8_t> codes;
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) != 0x7F) codes.push_back(static_cast<std::uint8_t>(code));
  }
  for (const float scale : {1.0f, 0.0078125f, 3.0f}) {
    for (const std::size_t offset : {0, 1, 5}) {
      const std::size_t n = codes.size() - offset;
      std::vector<float> ours(n), reference(n);
      ops.e4m3_to_f32(codes.data() + offset, scale, ours.data(), n);
      scalar_vector_ops().e4m3_to_f32(codes.data() + offset, scale, reference.data(), n);
      for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(ours[i], reference[i]) << "code " << int(codes[offset + i]) << " scale " << scale;
    }
  }
  std::vector<std::uint16_t> halves;
  for (std::uint32_t bits = 0; bits < 65536; bits += 7) halves.push_back(static_cast<std::uint16_t>(bits));
  std::vector<float> ours(halves.size()), reference(halves.size());
  ops.bf16_to_f32(halves.data(), ours.data(), halves.size());
  scalar_vector_ops().bf16_to_f32(halves.data(), reference.data(), halves.size());
  for (std::size_t i = 0; i < halves.size(); ++i) {
    if (!std::isnan(reference[i])) {
      ASSERT_EQ(ours[i], reference[i]);
    }
  }
  ops.f16_to_f32(halves.data(), ours.data(), halves.size());
  scalar_vector_ops().f16_to_f32(halves.data(), reference.data(), halves.size());
  for (std::size_t i = 0; i < halves.size(); ++i) {
    if (!std::isnan(reference[i])) {
      ASSERT_EQ(ours[i], reference[i]);
    }
  }
}

// I4 rows: every nibble value in both positions, per-group scales, odd group tails; exact
// (q * scale with |q| <= 8 is one rounding), so bitwise the formula.
TEST_P(VectorOpsTest, I4RowsMatchTheFormulaBitwise) {
  const VectorOps& ops = *GetParam();
  for (const std::size_t n : {2u, 16u, 30u, 128u, 130u, 256u, 1000u}) {
    std::vector<std::uint8_t> packed(n / 2);
    for (std::size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<std::uint8_t>(i * 37 + 5);
    std::vector<float> scales((n + 127) / 128);
    for (std::size_t g = 0; g < scales.size(); ++g) scales[g] = 0.013f * static_cast<float>(g + 1) * (g % 2 == 0 ? 1.0f : -3.0f);
    std::vector<float> ours(n, -7.0f);
    ops.i4_to_f32(packed.data(), scales.data(), ours.data(), n);
    for (std::size_t c = 0; c < n; ++c) {
      const int q = c % 2 == 0 ? (packed[c / 2] & 0xF) - 8 : (packed[c / 2] >> 4) - 8;
      EXPECT_EQ(ours[c], static_cast<float>(q) * scales[c / 128]) << ops.name << " n=" << n << " c=" << c;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, VectorOpsTest, ::testing::ValuesIn(available_vector_ops()),
                         [](const auto& info) { return std::string(info.param->name); });

// The bf16 mode's SwiGLU: every table gives the scalar table's bits (vector bodies and tails),
// within a few float32 ulp of silu(g) · u in double (or 1e-35), over gates from -100 to 100 and the
// extremes (±inf, NaN, ±0, subnormals).
TEST_P(VectorOpsTest, FastSiluMatchesScalarBitwiseAndTheFormula) {
  const VectorOps& ops = *GetParam();
  std::vector<float> gates;
  for (int i = -4000; i <= 4000; ++i) gates.push_back(static_cast<float>(i) * 0.025f + 0.0011f);
  for (const float special : {0.0f, -0.0f, 1e-40f, -1e-40f, 87.5f, -87.5f, 88.9f, -88.9f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN}) {
    gates.push_back(special);
  }
  const auto up = random_floats(gates.size(), 21);
  for (const std::size_t n : {gates.size(), std::size_t{7}, std::size_t{23}}) {
    std::vector<float> ours(gates.begin(), gates.begin() + static_cast<std::ptrdiff_t>(n)), reference = ours;
    ops.silu_mul_fast(ours.data(), up.data(), n);
    scalar_vector_ops().silu_mul_fast(reference.data(), up.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isnan(reference[i])) {
        EXPECT_TRUE(std::isnan(ours[i])) << ops.name << " gate " << gates[i];
        continue;
      }
      EXPECT_EQ(std::bit_cast<std::uint32_t>(ours[i]), std::bit_cast<std::uint32_t>(reference[i])) << ops.name << " gate " << gates[i];
      const double g = gates[i], exact = g / (1.0 + std::exp(-g)) * up[i];
      if (std::isfinite(g)) {
        // (past g = -88.72, where e^-g overflows float32, the result is 0: silu is below 1e-35 there)
        EXPECT_NEAR(reference[i], exact, 4e-7 * std::fabs(exact) + 1e-35) << "gate " << g;
      }
    }
  }
}

TEST(NumberFormats, E4m3RoundTripsEveryCode) {
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) == 0x7F) continue;
    EXPECT_EQ(f32_to_e4m3(e4m3_to_f32(static_cast<std::uint8_t>(code))), code) << code;
  }
}

TEST(NumberFormats, E4m3RoundsToNearestEvenAndSaturates) {
  EXPECT_EQ(e4m3_round(1000.0f), 448.0f);
  EXPECT_EQ(e4m3_round(-1000.0f), -448.0f);
  EXPECT_EQ(e4m3_round(1.0625f), 1.0f);     // tie between 1.0 and 1.125: even mantissa
  EXPECT_EQ(e4m3_round(1.1875f), 1.25f);    // tie between 1.125 and 1.25: even mantissa
  EXPECT_EQ(e4m3_round(3.0f / 1024.0f), 0.001953125f * 2);  // subnormal grid 2^-9: 1.5 steps -> 2
  EXPECT_EQ(e4m3_round(1.0f / 4096.0f), 0.0f);
}

// f32_to_e4m3 (bit arithmetic) against e4m3_round (the frexp reference): every float whose low
// 16 bits are one of the patterns around the rounding points of both grids, plus a stride over
// all floats. (Checked once over all 2^32 floats by hand: equal.)
TEST(NumberFormats, E4m3CodesAgreeWithTheRoundingReference) {
  const auto check = [](std::uint32_t bits) {
    const float value = std::bit_cast<float>(bits);
    const std::uint8_t code = f32_to_e4m3(value);
    if (std::isnan(value)) {
      ASSERT_EQ(code, 0x7F);
      return;
    }
    const float expected = e4m3_round(value);
    ASSERT_EQ(e4m3_to_f32(code), expected) << std::hex << bits;
    ASSERT_EQ(std::signbit(e4m3_to_f32(code)), std::signbit(expected)) << std::hex << bits;
  };
  for (std::uint32_t high = 0; high < 0x10000u; ++high) {
    for (const std::uint32_t low : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) check(high << 16 | low);
  }
  for (std::uint64_t bits = 0; bits < (1ull << 32); bits += 9973) check(static_cast<std::uint32_t>(bits));
}

// Every code alone at every offset of a buffer that spans two of the scan's 4 KB chunks and a
// tail: found exactly when it is a NaN (0x7F, 0xFF), whatever the finite codes around it.
TEST(NumberFormats, E4m3NanScanFindsExactlyTheNanCodes) {
  constexpr std::size_t n = 2 * 4096 + 13;
  std::vector<std::uint8_t> codes(n);
  for (std::size_t i = 0; i < n; ++i) codes[i] = static_cast<std::uint8_t>((i * 37) % 0x7F | (i % 2 == 0 ? 0x80 : 0));  // 0x00..0x7E, both signs
  EXPECT_FALSE(e4m3_codes_hold_nan(codes.data(), n));
  for (const std::size_t at : {std::size_t{0}, std::size_t{7}, std::size_t{8}, std::size_t{4095}, std::size_t{4096}, n - 14, n - 13, n - 1}) {
    for (int code = 0; code < 256; ++code) {
      std::vector<std::uint8_t> probe = codes;
      probe[at] = static_cast<std::uint8_t>(code);
      EXPECT_EQ(e4m3_codes_hold_nan(probe.data(), n), (code & 0x7F) == 0x7F) << "code " << code << " at " << at;
    }
  }
  EXPECT_FALSE(e4m3_codes_hold_nan(codes.data(), 0));
}

TEST(NumberFormats, Ue8m0ScaleIsThePowerOfTwoAbove) {
  EXPECT_EQ(ue8m0_scale(448.0f), 1.0f);
  EXPECT_EQ(ue8m0_scale(449.0f), 2.0f);
  EXPECT_EQ(ue8m0_scale(0.0f), ue8m0_scale(1e-4f));
  EXPECT_EQ(ue8m0_scale(224.0f), 0.5f);
}

TEST(NumberFormats, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.00390625f)), 1.0f);       // tie -> even
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.01171875f)), 1.015625f);  // tie -> even (up)
}

}  // namespace
}  // namespace dsv32
