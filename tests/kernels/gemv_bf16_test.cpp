// The bf16 mode's few-token product: the scalar reference against the formula in double (which
// also proves the packed column order covers every column once), and the AVX-512 path against
// the reference bitwise, at every shape edge (partial chunks, groups and blocks; token counts
// across the register groups).
#include <gtest/gtest.h>

#include <bit>
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "kernels/gemv_bf16.h"
#include "kernels/number_formats.h"
#include "random_values.h"

namespace dsv32 {
namespace {

std::uint32_t bits_of(float value) { return std::bit_cast<std::uint32_t>(value); }

constexpr std::size_t kColumnCounts[] = {1, 31, 33, 64, 100, 128, 200, 1024};

std::vector<std::uint8_t> finite_codes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> codes(n);
  for (auto& code : codes) {
    code = static_cast<std::uint8_t>(rng());
    if ((code & 0x7F) == 0x7F) code = 0x01;  // no NaN; a subnormal instead
  }
  return codes;
}

std::vector<float> block_scales(std::size_t n) {
  std::vector<float> scales;
  for (std::size_t b = 0; b < (n + 127) / 128; ++b) scales.push_back(b % 3 == 0 ? 0.5f : b % 3 == 1 ? 3.0f : 0.01f);
  return scales;
}

struct Fp8Case {
  std::size_t n, tokens;
  std::vector<std::uint8_t> codes;
  std::vector<float> scales, x;
  std::size_t x_stride;
  std::vector<std::uint16_t> packed;

  Fp8Case(const GemvBf16Kernels& kernels, std::size_t columns, std::size_t token_count)
      : n(columns), tokens(token_count), codes(finite_codes(columns, 1)), scales(block_scales(columns)),
        x(random_floats(token_count * columns, 2)), x_stride(gemv_e4m3_x_values(columns)),
        packed(token_count * x_stride, 0xFFFF) {
    for (std::size_t t = 0; t < tokens; ++t) kernels.pack_e4m3_x(x.data() + t * n, n, packed.data() + t * x_stride);
  }
  std::vector<float> run(const GemvBf16Kernels& kernels) const {
    std::vector<float> out(tokens * 2, -7.0f);
    kernels.e4m3_row(codes.data(), scales.data(), packed.data(), x_stride, tokens, n, out.data(), 2);
    return out;
  }
};

TEST(GemvBf16Test, E4m3ReferenceMatchesTheFormula) {
  for (const std::size_t n : kColumnCounts) {
    const Fp8Case c(scalar_gemv_bf16(), n, 2);
    const auto out = c.run(scalar_gemv_bf16());
    for (std::size_t t = 0; t < c.tokens; ++t) {
      double sum = 0.0, magnitude = 0.0;
      for (std::size_t i = 0; i < n; ++i) {
        const double product = static_cast<double>(e4m3_to_f32(c.codes[i])) * c.scales[i / 128] * bf16_to_f32(f32_to_bf16(c.x[t * n + i]));
        sum += product;
        magnitude += std::fabs(product);
      }
      EXPECT_NEAR(out[2 * t], sum, 1e-6 * magnitude + 1e-30) << "n=" << n << " token " << t;
      EXPECT_EQ(out[2 * t + 1], -7.0f) << "wrote past its output";
    }
  }
}

TEST(GemvBf16Test, PackedColumnsAreAPermutationPaddedWithZeros) {
  for (const std::size_t n : kColumnCounts) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i + 1);  // exact in bf16 up to 256
    std::vector<std::uint16_t> packed(gemv_e4m3_x_values(n));
    scalar_gemv_bf16().pack_e4m3_x(x.data(), n, packed.data());
    std::vector<int> seen(n, 0);
    std::size_t zeros = 0;
    for (const std::uint16_t value : packed) {
      if (value == 0) {
        ++zeros;
        continue;
      }
      const auto column = static_cast<std::size_t>(bf16_to_f32(value)) - 1;
      if (n <= 256) {
        ASSERT_LT(column, n);
        ++seen[column];
      }
    }
    EXPECT_EQ(zeros, packed.size() - n) << "n=" << n;
    if (n <= 256) {
      for (std::size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "column " << i << " of " << n;
    }
  }
}

TEST(GemvBf16Test, Avx512E4m3MatchesScalarBitwise) {
  const GemvBf16Kernels* fast = avx512_gemv_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 and AVX512-VBMI on this CPU";
  for (const std::size_t n : kColumnCounts) {
    for (const std::size_t tokens : {1, 2, 5, 6, 7, 13}) {
      const Fp8Case reference_case(scalar_gemv_bf16(), n, tokens), fast_case(*fast, n, tokens);
      EXPECT_EQ(fast_case.packed, reference_case.packed) << "packing, n=" << n;
      const auto ours = fast_case.run(*fast), reference = reference_case.run(scalar_gemv_bf16());
      for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], reference[i]) << "n=" << n << " tokens=" << tokens << " at " << i;
    }
  }
}

// Two rows at once (different codes, different block scales, 3 rows apart in memory): each
// output bitwise e4m3_row's on its own row, on both paths, for token counts across the pair's
// register groups of four.
TEST(GemvBf16Test, RowPairsMatchSingleRowsBitwise) {
  const GemvBf16Kernels* fast = avx512_gemv_bf16();
  for (const std::size_t n : kColumnCounts) {
    const std::size_t row_stride = 3 * n;
    const auto codes = finite_codes(2 * row_stride, 7);
    const auto scales0 = block_scales(n);
    std::vector<float> scales1(scales0.rbegin(), scales0.rend());
    for (float& scale : scales1) scale *= 4.0f;
    for (const std::size_t tokens : {1, 2, 3, 4, 5, 8, 9}) {
      const auto x = random_floats(tokens * n, 8);
      const std::size_t x_stride = gemv_e4m3_x_values(n);
      std::vector<std::uint16_t> packed(tokens * x_stride);
      for (std::size_t t = 0; t < tokens; ++t) scalar_gemv_bf16().pack_e4m3_x(x.data() + t * n, n, packed.data() + t * x_stride);
      std::vector<float> single(tokens * 3, -7.0f);
      scalar_gemv_bf16().e4m3_row(codes.data(), scales0.data(), packed.data(), x_stride, tokens, n, single.data(), 3);
      scalar_gemv_bf16().e4m3_row(codes.data() + row_stride, scales1.data(), packed.data(), x_stride, tokens, n, single.data() + 1, 3);
      std::vector<const GemvBf16Kernels*> paths = {&scalar_gemv_bf16()};
      if (fast != nullptr) paths.push_back(fast);
      for (const GemvBf16Kernels* kernels : paths) {
        std::vector<float> pair(tokens * 3, -7.0f);
        kernels->e4m3_row_pair(codes.data(), row_stride, scales0.data(), scales1.data(), packed.data(), x_stride, tokens, n, pair.data(), 3);
        for (std::size_t i = 0; i < pair.size(); ++i) {
          EXPECT_EQ(bits_of(pair[i]), bits_of(single[i])) << kernels->name << " n=" << n << " tokens=" << tokens << " at " << i;
        }
      }
    }
  }
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 and AVX512-VBMI on this CPU: reference checked alone";
}

// I4 rows (two values a byte, a scale per 128 columns): the scalar reference against the
// formula in double, the AVX-512 path against it bitwise (packing included), and row pairs
// against single rows, at every shape edge (even n only).
TEST(GemvBf16Test, I4RowsMatchTheFormulaAndScalarBitwise) {
  const GemvBf16Kernels* fast = avx512_gemv_bf16();
  for (const std::size_t n : {2u, 30u, 64u, 66u, 100u, 128u, 200u, 1024u}) {
    const std::size_t row_bytes = n / 2, row_stride = 3 * row_bytes;
    std::mt19937 rng(static_cast<std::uint32_t>(n));
    std::vector<std::uint8_t> rows(2 * row_stride);
    for (auto& byte : rows) byte = static_cast<std::uint8_t>(rng());
    const auto scales0 = block_scales(n);
    std::vector<float> scales1(scales0.rbegin(), scales0.rend());
    for (const std::size_t tokens : {1, 2, 3, 4, 5, 7}) {
      const auto x = random_floats(tokens * n, 9);
      const std::size_t x_stride = gemv_e4m3_x_values(n);
      std::vector<std::uint16_t> packed(tokens * x_stride);
      for (std::size_t t = 0; t < tokens; ++t) scalar_gemv_bf16().pack_i4_x(x.data() + t * n, n, packed.data() + t * x_stride);
      std::vector<float> single(tokens * 3, -7.0f);
      scalar_gemv_bf16().i4_row(rows.data(), scales0.data(), packed.data(), x_stride, tokens, n, single.data(), 3);
      scalar_gemv_bf16().i4_row(rows.data() + row_stride, scales1.data(), packed.data(), x_stride, tokens, n, single.data() + 1, 3);
      for (std::size_t t = 0; t < tokens; ++t) {
        double sum = 0.0, magnitude = 0.0;
        for (std::size_t c = 0; c < n; ++c) {
          const double product = i4_at(rows.data(), c) * static_cast<double>(scales0[c / 128]) * bf16_to_f32(f32_to_bf16(x[t * n + c]));
          sum += product;
          magnitude += std::fabs(product);
        }
        EXPECT_NEAR(single[t * 3], sum, 1e-5 * magnitude + 1e-30) << "reference, n=" << n << " token " << t;
      }
      std::vector<const GemvBf16Kernels*> paths = {&scalar_gemv_bf16()};
      if (fast != nullptr) paths.push_back(fast);
      for (const GemvBf16Kernels* kernels : paths) {
        std::vector<std::uint16_t> ours_packed(tokens * x_stride);
        for (std::size_t t = 0; t < tokens; ++t) kernels->pack_i4_x(x.data() + t * n, n, ours_packed.data() + t * x_stride);
        EXPECT_EQ(ours_packed, packed) << kernels->name << " packing, n=" << n;
        std::vector<float> one(tokens * 3, -7.0f), pair(tokens * 3, -7.0f);
        kernels->i4_row(rows.data(), scales0.data(), packed.data(), x_stride, tokens, n, one.data(), 3);
        kernels->i4_row(rows.data() + row_stride, scales1.data(), packed.data(), x_stride, tokens, n, one.data() + 1, 3);
        kernels->i4_row_pair(rows.data(), row_stride, scales0.data(), scales1.data(), packed.data(), x_stride, tokens, n, pair.data(), 3);
        for (std::size_t i = 0; i < one.size(); ++i) {
          EXPECT_EQ(bits_of(one[i]), bits_of(single[i])) << kernels->name << " row, n=" << n << " tokens=" << tokens << " at " << i;
          EXPECT_EQ(bits_of(pair[i]), bits_of(single[i])) << kernels->name << " pair, n=" << n << " tokens=" << tokens << " at " << i;
        }
      }
    }
  }
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 and AVX512-VBMI on this CPU: reference checked alone";
}

TEST(GemvBf16Test, Bf16RowsMatchScalarBitwiseAndTheFormula) {
  const GemvBf16Kernels* fast = avx512_gemv_bf16();
  for (const std::size_t n : kColumnCounts) {
    for (const std::size_t tokens : {1, 3, 6, 9}) {
      const auto w_floats = random_floats(n, 3), x_floats = random_floats(tokens * n, 4);
      std::vector<std::uint16_t> w(n), x(tokens * n);
      for (std::size_t i = 0; i < n; ++i) w[i] = f32_to_bf16(w_floats[i]);
      for (std::size_t i = 0; i < x.size(); ++i) x[i] = f32_to_bf16(x_floats[i]);
      std::vector<float> reference(tokens * 2, -7.0f);
      scalar_gemv_bf16().bf16_row(w.data(), x.data(), n, tokens, n, reference.data(), 2);
      for (std::size_t t = 0; t < tokens; ++t) {
        double sum = 0.0, magnitude = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          const double product = static_cast<double>(bf16_to_f32(w[i])) * bf16_to_f32(x[t * n + i]);
          sum += product;
          magnitude += std::fabs(product);
        }
        EXPECT_NEAR(reference[2 * t], sum, 1e-6 * magnitude + 1e-30) << "n=" << n;
        EXPECT_EQ(reference[2 * t + 1], -7.0f);
      }
      if (fast == nullptr) continue;
      std::vector<float> ours(tokens * 2, -7.0f);
      fast->bf16_row(w.data(), x.data(), n, tokens, n, ours.data(), 2);
      for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], reference[i]) << "n=" << n << " tokens=" << tokens << " at " << i;
    }
  }
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 and AVX512-VBMI on this CPU: reference checked alone";
}

// Zeros of both signs, subnormal codes, float32 subnormal activations (read as zero when
// rounded) and products that underflow (vdpbf16ps flushes subnormal sums to zero): the same
// bits on both paths; a NaN weight gives NaN on both.
TEST(GemvBf16Test, Avx512MatchesScalarOnSpecialValues) {
  const GemvBf16Kernels* fast = avx512_gemv_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 and AVX512-VBMI on this CPU";
  constexpr std::size_t n = 200;
  std::vector<std::uint8_t> codes(n);
  std::vector<float> x(n);
  const std::uint8_t special_codes[] = {0x00, 0x80, 0x01, 0x81, 0x07, 0x08, 0x7E, 0xFE, 0x38};
  const float special_x[] = {0.0f, -0.0f, 1e-40f, -1e-40f, 1e-38f, -1e-38f, 1.0f, -3.5f, 2e-37f};
  for (std::size_t i = 0; i < n; ++i) {
    codes[i] = special_codes[i % 9];
    x[i] = special_x[(i / 9 + i) % 9];
  }
  const std::vector<float> scales = {1.0f, 0x1p-3f};
  std::vector<std::uint16_t> packed_fast(gemv_e4m3_x_values(n)), packed_reference(packed_fast.size());
  fast->pack_e4m3_x(x.data(), n, packed_fast.data());
  scalar_gemv_bf16().pack_e4m3_x(x.data(), n, packed_reference.data());
  EXPECT_EQ(packed_fast, packed_reference);
  float ours = 0.0f, reference = 0.0f;
  fast->e4m3_row(codes.data(), scales.data(), packed_fast.data(), 0, 1, n, &ours, 1);
  scalar_gemv_bf16().e4m3_row(codes.data(), scales.data(), packed_reference.data(), 0, 1, n, &reference, 1);
  EXPECT_EQ(bits_of(ours), bits_of(reference)) << ours << " vs " << reference;
  // Tiny products only: every partial sum is a float32 subnormal, flushed to zero.
  const std::vector<float> tiny_x(n, 2e-38f);
  const std::vector<std::uint8_t> small_codes(n, 0x01);
  fast->pack_e4m3_x(tiny_x.data(), n, packed_fast.data());
  fast->e4m3_row(small_codes.data(), scales.data(), packed_fast.data(), 0, 1, n, &ours, 1);
  scalar_gemv_bf16().e4m3_row(small_codes.data(), scales.data(), packed_fast.data(), 0, 1, n, &reference, 1);
  EXPECT_EQ(bits_of(ours), bits_of(reference)) << ours << " vs " << reference;
  codes[57] = 0x7F;  // NaN
  fast->e4m3_row(codes.data(), scales.data(), packed_reference.data(), 0, 1, n, &ours, 1);
  scalar_gemv_bf16().e4m3_row(codes.data(), scales.data(), packed_reference.data(), 0, 1, n, &reference, 1);
  EXPECT_TRUE(std::isnan(ours));
  EXPECT_TRUE(std::isnan(reference));
}

// The half-precision rows (gemv_bf16.h's HalfE4m3Rows) against Σ e4m3 · scale · x in double,
// within (2^-7 + 2^-11) of Σ |e4m3 · scale · x|: each lane's sixteen fp16 additions per span
// round by at most 2^-11 of the lane's magnitude each, the scaled activations by 2^-11 of
// theirs; a systematic error such as a wrong scale or token is off by the whole magnitude, and a
// single column's is pinned down exactly by the one-hot test below. For activations of any size
// (the power-of-two scaling keeps them inside fp16's range); pairs bitwise as two rows, rows
// known free of NaN codes bitwise as checked ones, and a checked row holding a NaN code NaN,
// its pair's other row not.
struct HalfCase {
  const HalfE4m3Rows& half;
  std::size_t n, tokens, x_stride;
  std::vector<std::uint8_t> codes;  // two rows of one 128-row group
  std::vector<float> scales, x;
  std::vector<std::uint16_t> packed;

  HalfCase(const HalfE4m3Rows& rows, std::size_t columns, std::size_t token_count, float x_scale)
      : half(rows), n(columns), tokens(token_count), x_stride(rows.x_values(columns)), codes(finite_codes(2 * columns, 5)),
        scales(block_scales(columns)), x(random_floats(token_count * columns, 6)), packed(token_count * x_stride, 0xFFFF) {
    for (float& v : x) v *= x_scale;
    pack();
  }
  void pack() {
    for (std::size_t t = 0; t < tokens; ++t) half.pack_x(x.data() + t * n, n, scales.data(), packed.data() + t * x_stride);
  }
  // out[t * 2 + i] for rows i = 0, 1
  std::vector<float> pair(bool nan_free) const {
    std::vector<float> out(2 * tokens, -7.0f);
    half.row_pair(codes.data(), n, packed.data(), x_stride, tokens, n, nan_free, out.data(), 2);
    return out;
  }
  std::vector<float> singles(bool nan_free) const {
    std::vector<float> out(2 * tokens, -7.0f);
    half.row(codes.data(), packed.data(), x_stride, tokens, n, nan_free, out.data(), 2);
    half.row(codes.data() + n, packed.data(), x_stride, tokens, n, nan_free, out.data() + 1, 2);
    return out;
  }
  void expect_near_formula(const std::vector<float>& out, const char* what) const {
    for (std::size_t t = 0; t < tokens; ++t) {
      for (std::size_t i = 0; i < 2; ++i) {
        double sum = 0.0, magnitude = 0.0;
        for (std::size_t c = 0; c < n; ++c) {
          const double product = static_cast<double>(e4m3_to_f32(codes[i * n + c])) * scales[c / 128] * x[t * n + c];
          sum += product;
          magnitude += std::fabs(product);
        }
        EXPECT_NEAR(out[t * 2 + i], sum, magnitude * (0x1p-7 + 0x1p-11) + 1e-30)
            << what << ": n=" << n << " tokens=" << tokens << " token " << t << " row " << i;
      }
    }
  }
};

TEST(GemvBf16Test, HalfPrecisionE4m3RowsMatchTheFormula) {
  const GemvBf16Kernels* table = avx512fp16_gemv_bf16();
  if (table == nullptr) GTEST_SKIP() << "no AVX512-FP16 on this CPU";
  ASSERT_NE(table->half_e4m3, nullptr);
  for (const float x_scale : {1.0f, 1e6f, 1e-6f}) {
    for (const std::size_t n : {1, 31, 33, 64, 100, 128, 200, 511, 512, 513, 1024, 1100}) {
      for (const std::size_t tokens : {1, 2, 3, 4, 5, 6, 7, 8, 9, 13}) {
        const HalfCase c(*table->half_e4m3, n, tokens, x_scale);
        const auto pair = c.pair(false), singles = c.singles(false), pair_nan_free = c.pair(true), singles_nan_free = c.singles(true);
        c.expect_near_formula(pair, "pair");
        for (std::size_t i = 0; i < pair.size(); ++i) {
          EXPECT_EQ(bits_of(pair[i]), bits_of(singles[i])) << "n=" << n << " tokens=" << tokens << " at " << i;
          EXPECT_EQ(bits_of(pair[i]), bits_of(pair_nan_free[i])) << "n=" << n << " tokens=" << tokens << " at " << i;
          EXPECT_EQ(bits_of(pair[i]), bits_of(singles_nan_free[i])) << "n=" << n << " tokens=" << tokens << " at " << i;
        }
      }
    }
  }
}

// One-hot activations make the half-precision rows exact where the block scales have at most
// two significant bits: x = 2^k at column c packs to 64 or 96 (x · scale, times 2^(6 - k) or
// so), the product with a code (4 significant bits) is exact in fp16 and the sum is that alone,
// so every output is e4m3(code) · scale · 2^k exactly. Each of the 256 codes at columns across
// the tail shapes and spans: the conversion of every code, the column order, masked tails and
// the block scales; and activations far outside fp16's range, whose scale takes two factors
// each way.
TEST(GemvBf16Test, HalfPrecisionE4m3RowsAreExactForOneHotActivations) {
  const GemvBf16Kernels* table = avx512fp16_gemv_bf16();
  if (table == nullptr) GTEST_SKIP() << "no AVX512-FP16 on this CPU";
  const HalfE4m3Rows& half = *table->half_e4m3;
  for (const auto& [n, k] : {std::pair<std::size_t, int>{33, 0}, {200, 0}, {300, 0}, {700, 0}, {200, -100}, {600, 100}}) {
    std::vector<float> scales;
    for (std::size_t b = 0; b < (n + 127) / 128; ++b) scales.push_back(b % 4 == 0 ? 0.5f : b % 4 == 1 ? 3.0f : b % 4 == 2 ? 0.25f : 0x1p-10f);
    const std::size_t x_stride = half.x_values(n);
    for (std::size_t c = 0; c < n; c += n / 7 + 1) {
      std::vector<float> x(n, 0.0f);
      x[c] = std::ldexp(1.0f, k);
      std::vector<std::uint16_t> packed(x_stride);
      half.pack_x(x.data(), n, scales.data(), packed.data());
      for (int code = 0; code < 256; ++code) {
        std::vector<std::uint8_t> codes(2 * n, 0x38);  // 1.0 elsewhere: must not count
        codes[c] = static_cast<std::uint8_t>(code);
        codes[n + c] = static_cast<std::uint8_t>(code ^ 0x80);
        float out[2];
        half.row_pair(codes.data(), n, packed.data(), x_stride, 1, n, false, out, 1);
        const float expected = e4m3_to_f32(static_cast<std::uint8_t>(code)) * scales[c / 128] * std::ldexp(1.0f, k);
        if (std::isnan(expected)) {
          EXPECT_TRUE(std::isnan(out[0]) && std::isnan(out[1])) << "code " << code;
          continue;
        }
        EXPECT_EQ(out[0], expected) << "n=" << n << " 2^" << k << " column " << c << " code " << code;
        EXPECT_EQ(out[1], -expected) << "n=" << n << " column " << c << " code " << (code ^ 0x80);
      }
    }
  }
}

TEST(GemvBf16Test, HalfPrecisionE4m3RowsOnSpecialValues) {
  const GemvBf16Kernels* table = avx512fp16_gemv_bf16();
  if (table == nullptr) GTEST_SKIP() << "no AVX512-FP16 on this CPU";
  constexpr std::size_t n = 700;
  HalfCase c(*table->half_e4m3, n, 2, 1.0f);
  std::fill(c.x.begin(), c.x.end(), 0.0f);  // all-zero activations: exact zeros
  c.pack();
  for (const float v : c.pair(false)) EXPECT_EQ(v, 0.0f);
  c.x[3] = std::numeric_limits<float>::infinity();  // an infinite activation: ± infinity or NaN, never finite
  c.pack();
  const auto infinite = c.pair(true);
  EXPECT_FALSE(std::isfinite(infinite[0]));
  EXPECT_FALSE(std::isfinite(infinite[1]));
  HalfCase nan_case(*table->half_e4m3, n, 3, 1.0f);
  nan_case.codes[n - 1] = 0xFF;  // NaN in the first row's last column
  const auto out = nan_case.pair(false);
  for (std::size_t t = 0; t < nan_case.tokens; ++t) {
    EXPECT_TRUE(std::isnan(out[t * 2])) << "token " << t;
    EXPECT_FALSE(std::isnan(out[t * 2 + 1])) << "token " << t;
  }
  nan_case.codes[n - 1] = 0x3A;
  nan_case.codes[n + 517] = 0x7F;  // the second row, in its second span
  const auto second = nan_case.singles(false);
  EXPECT_FALSE(std::isnan(second[0]));
  EXPECT_TRUE(std::isnan(second[1]));
}

}  // namespace
}  // namespace dsv32
