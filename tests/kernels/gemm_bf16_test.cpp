// The bf16 mode's batched product: the AVX512-BF16 tile (bitwise) and rounding against their
// scalar references, and linear() in Precision::BF16 against a double-precision product of the
// bf16-rounded operands (every shape edge: short tiles, short token blocks, FP8 and BF16).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/gemm_bf16.h"
#include "kernels/gemv_bf16.h"
#include "kernels/linear.h"
#include "kernels/number_formats.h"
#include "kernels/vector_ops.h"
#include "random_values.h"

namespace dsv32 {
namespace {

std::vector<std::uint16_t> random_bf16(std::size_t n, std::uint32_t seed) {
  std::vector<std::uint16_t> values(n);
  const auto floats = random_floats(n, seed);
  for (std::size_t i = 0; i < n; ++i) values[i] = f32_to_bf16(floats[i]);
  return values;
}

// The first 16 tokens of a block packed 32 wide, packed 16 wide (tile_half's block).
std::vector<std::uint16_t> first_half_block(const std::vector<std::uint16_t>& packed, std::size_t pairs) {
  std::vector<std::uint16_t> half(pairs * kGemmHalfTokens * 2);
  for (std::size_t i = 0; i < pairs; ++i) {
    std::copy_n(packed.begin() + static_cast<std::ptrdiff_t>(i * kGemmTileTokens * 2), kGemmHalfTokens * 2,
                half.begin() + static_cast<std::ptrdiff_t>(i * kGemmHalfTokens * 2));
  }
  return half;
}

TEST(GemmBf16Test, Avx512TileMatchesScalar) {
  const GemmBf16Kernels* fast = avx512_gemm_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  for (const std::size_t pairs : {1, 16, 512}) {
    const std::size_t row_stride = 2 * pairs + 6;
    const auto w = random_bf16(kGemmTileRows * row_stride, 1), packed = random_bf16(kGemmTileTokens * 2 * pairs, 2);
    std::vector<float> ours(kGemmTileRows * kGemmTileTokens), reference(ours.size());
    fast->tile(w.data(), row_stride, packed.data(), pairs, ours.data(), {w.data() + row_stride, 3});  // prefetching changes nothing
    scalar_gemm_bf16().tile(w.data(), row_stride, packed.data(), pairs, reference.data(), {});
    std::vector<float> half(ours.size(), -1.0f), reference_half(ours.size(), -1.0f);
    const auto half_block = first_half_block(packed, pairs);
    fast->tile_half(w.data(), row_stride, half_block.data(), pairs, half.data(), {w.data(), 4});
    scalar_gemm_bf16().tile_half(w.data(), row_stride, half_block.data(), pairs, reference_half.data(), {});
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (i % kGemmTileTokens < kGemmTileTokens / 2) {
        EXPECT_EQ(half[i], ours[i]) << "tile_half, pairs=" << pairs << " at " << i;
        EXPECT_EQ(reference_half[i], ours[i]) << "scalar tile_half, pairs=" << pairs << " at " << i;
      }
    }
    // Exact products added odd then even, one rounding each: the reference's order, same bits.
    for (std::size_t i = 0; i < ours.size(); ++i) EXPECT_EQ(ours[i], reference[i]) << "pairs=" << pairs << " at " << i;
  }
}

// AMX sums a step's 32 products in its own order, so the tile is held to the double-precision
// sum: within float32 rounding of Σ |w·x| (whole steps, a vdpbf16ps tail, and both together).
TEST(GemmBf16Test, AmxTileMatchesDoubleProducts) {
  const GemmBf16Kernels* amx = amx_gemm_bf16();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  for (const std::size_t pairs : {1, 15, 16, 17, 48, 512, 517}) {
    const std::size_t row_stride = 2 * pairs + 6;
    const auto w = random_bf16(kGemmTileRows * row_stride, 1), packed = random_bf16(kGemmTileTokens * 2 * pairs, 2);
    std::vector<float> ours(kGemmTileRows * kGemmTileTokens), half(ours.size(), -1.0f);
    amx->tile(w.data(), row_stride, packed.data(), pairs, ours.data(), {w.data() + row_stride, 3});
    amx->tile_half(w.data(), row_stride, first_half_block(packed, pairs).data(), pairs, half.data(), {w.data(), 4});
    for (std::size_t r = 0; r < kGemmTileRows; ++r) {
      for (std::size_t t = 0; t < kGemmTileTokens; ++t) {
        double sum = 0.0, magnitude = 0.0;
        for (std::size_t c = 0; c < 2 * pairs; ++c) {
          const double product = static_cast<double>(bf16_to_f32(w[r * row_stride + c])) * bf16_to_f32(packed[((c / 2) * kGemmTileTokens + t) * 2 + c % 2]);
          sum += product;
          magnitude += std::fabs(product);
        }
        const std::size_t i = r * kGemmTileTokens + t;
        const double tolerance = 1e-6 * magnitude * std::sqrt(static_cast<double>(pairs)) + 1e-30;
        EXPECT_NEAR(ours[i], sum, tolerance) << "pairs=" << pairs << " row " << r << " token " << t;
        if (t < kGemmTileTokens / 2) {
          EXPECT_NEAR(half[i], sum, tolerance) << "tile_half, pairs=" << pairs << " row " << r << " token " << t;
        } else {
          EXPECT_EQ(half[i], -1.0f) << "tile_half wrote token " << t;
        }
      }
    }
  }
}

// The wide tile is four tiles' work in one call: the same sums as the 8-row tile, bitwise (each
// result element is one weight row against one token, summed step by step alike), both token
// widths, with and without a vdpbf16ps tail, the rows `row_stride` apart.
TEST(GemmBf16Test, AmxWideTileMatchesFourTiles) {
  const GemmBf16Kernels* amx = amx_gemm_bf16();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  ASSERT_NE(amx->tile_wide, nullptr);
  for (const std::size_t pairs : {1, 16, 17, 48, 517}) {
    const std::size_t row_stride = 2 * pairs + 6;
    const auto w = random_bf16(kGemmWideRows * row_stride, 3), packed = random_bf16(kGemmTileTokens * 2 * pairs, 4);
    const auto half_block = first_half_block(packed, pairs);
    std::vector<float> wide(kGemmWideRows * kGemmTileTokens), wide_half(wide.size(), -1.0f), tiles(wide.size()), tiles_half(wide.size(), -1.0f);
    amx->tile_wide(w.data(), row_stride, packed.data(), pairs, wide.data(), {});
    amx->tile_half_wide(w.data(), row_stride, half_block.data(), pairs, wide_half.data(), {w.data(), 5});
    for (std::size_t r = 0; r < kGemmWideRows; r += kGemmTileRows) {
      amx->tile(w.data() + r * row_stride, row_stride, packed.data(), pairs, tiles.data() + r * kGemmTileTokens, {});
      amx->tile_half(w.data() + r * row_stride, row_stride, half_block.data(), pairs, tiles_half.data() + r * kGemmTileTokens, {});
    }
    for (std::size_t i = 0; i < wide.size(); ++i) {
      EXPECT_EQ(wide[i], tiles[i]) << "pairs=" << pairs << " row " << i / kGemmTileTokens << " token " << i % kGemmTileTokens;
      EXPECT_EQ(wide_half[i], tiles_half[i]) << "tile_half_wide, pairs=" << pairs << " row " << i / kGemmTileTokens << " token " << i % kGemmTileTokens;
    }
  }
}

// A run of wide tiles (one tile configuration for the run) stores what tile_wide and the
// scalar store_tile give tile by tile, for both token widths, every token count of a block,
// and shapes with no whole step, a vdpbf16ps tail, and whole steps only; nothing past the
// run's rows or tokens is written.
TEST(GemmBf16Test, AmxWideRunMatchesTileByTile) {
  const GemmBf16Kernels* amx = amx_gemm_bf16();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  ASSERT_NE(amx->rows_wide, nullptr);
  ASSERT_NE(amx->rows_half_wide, nullptr);
  constexpr std::size_t kRows = 3 * kGemmWideRows, kStride = kRows + 3;
  for (const std::size_t pairs : {5, 150, 512}) {
    const std::size_t row_stride = 2 * pairs + 2;
    const auto w = random_bf16(kRows * row_stride, 6), packed = random_bf16(kGemmTileTokens * 2 * pairs, 7);
    const auto half_block = first_half_block(packed, pairs);
    for (const bool half : {false, true}) {
      const auto& block = half ? half_block : packed;
      for (const std::size_t tokens : {std::size_t{1}, std::size_t{9}, std::size_t{16}, std::size_t{32}}) {
        if (half && tokens > kGemmHalfTokens) continue;
        std::vector<float> ours(kGemmTileTokens * kStride, -5.0f), expected(ours.size(), -5.0f), tile(kGemmWideRows * kGemmTileTokens);
        (half ? amx->rows_half_wide : amx->rows_wide)(w.data(), row_stride, kRows, block.data(), pairs, tokens, ours.data(), kStride);
        for (std::size_t r = 0; r < kRows; r += kGemmWideRows) {
          (half ? amx->tile_half_wide : amx->tile_wide)(w.data() + r * row_stride, row_stride, block.data(), pairs, tile.data(), {});
          scalar_gemm_bf16().store_tile(tile.data(), kGemmWideRows, tokens, expected.data() + r, kStride);
        }
        ASSERT_EQ(ours, expected) << "pairs " << pairs << (half ? " half" : "") << " tokens " << tokens;
      }
    }
  }
}

// A run of converting wide tiles over FP8 rows (a view from an odd first row, runs from its
// first row and from its second tile, scales that are powers of two and others, one row with a
// NaN code) stores what tile_wide gives tile by tile on the rows as e4m3_row_to_bf16 converts
// them: for both token widths, shapes with no whole step, a tail and whole steps only, two and
// three tiles.
//
// Columns that are a multiple of 64 take the staged run (64 codes of each row at a time, codes
// with a nonzero exponent field on a shift-and-add route); with `checkpoint_like` codes, as a
// checkpoint's quantisation leaves them (nonzero exponents but for a few zeros and
// subnormals), most groups take that route, the others the tables or (a scale that is not a
// power of two) the float route; the weight is marked free of NaN codes unless one is placed
// (`nan_row`), then in a group of otherwise normal codes, which only the NaN check sends to the
// tables. Random codes send nearly every group to the tables. A row block's scales are of one
// size, so that no block's products vanish in another's sums: the first block's 2^-2..2^2 and
// 0.3, the second's at an end of the shift route's range.
TEST(GemmBf16Test, AmxConvertingRunMatchesTileByTile) {
  const GemmBf16Kernels* amx = amx_gemm_bf16();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  ASSERT_NE(amx->rows_wide_converting, nullptr);
  ASSERT_NE(amx->rows_half_wide_converting, nullptr);
  struct Case {
    std::int64_t cols;
    bool checkpoint_like, nan_row;
  };
  for (const auto& [cols, checkpoint_like, nan_row] :
       {Case{24, false, true}, Case{300, false, true}, Case{1024, false, true}, Case{128, true, false}, Case{192, true, false}, Case{1024, true, false},
        Case{1024, true, true}}) {
    const std::int64_t full_rows = 200, blocks = (cols + 127) / 128;
    std::mt19937 rng(9);
    std::vector<std::uint8_t> codes(full_rows * cols);
    for (auto& code : codes) {
      code = static_cast<std::uint8_t>(rng());
      if ((code & 0x7F) == 0x7F) code = 0x10;  // NaN codes only where placed below: a NaN row checks nothing else
      if (checkpoint_like && (code & 0x78) == 0) code |= 0x28;
    }
    if (checkpoint_like) {
      // zeros and subnormals, both signs, in the first rows of the views
      for (const std::uint8_t odd : {0x00, 0x80, 0x01, 0x87}) codes[(3 + rng() % 60) * cols + rng() % cols] = odd;
    }
    const std::int64_t nan_at = (3 + 32 + 40) * cols + cols / 2;  // view row 72: a NaN row in a later tile
    if (nan_row) {
      if (checkpoint_like) {  // its group otherwise normal
        for (std::int64_t c = nan_at / 64 * 64; c < nan_at / 64 * 64 + 64; ++c) codes[c] = (codes[c] & 0x78) == 0 ? 0x30 : codes[c];
      }
      codes[nan_at] = 0xFF;
    }
    std::vector<float> scales(((full_rows + 127) / 128) * blocks);
    for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = i % 2 == 0 ? std::ldexp(1.0f, static_cast<int>(i % 7) - 3) : 0.017f * static_cast<float>(i + 1);
    if (checkpoint_like) {
      for (std::size_t i = 0; i < scales.size(); ++i) {
        const bool second_block = i >= static_cast<std::size_t>(blocks);
        scales[i] = std::ldexp(1.0f, second_block ? (cols == 1024 ? 100 : -117) : static_cast<int>(i % 5) - 2);
      }
      scales[1] = 0.3f;
    }
    const Weight full{DType::F8_E4M3, codes.data(), full_rows, cols, 0, scales.data(), blocks, /*codes_nan_free=*/!nan_row};
    const auto pairs = static_cast<std::size_t>(cols / 2);
    const auto packed = random_bf16(kGemmTileTokens * cols, 10);
    const auto half_block = first_half_block(packed, pairs);
    for (const auto& [row_begin, rows] : {std::pair<std::int64_t, std::int64_t>{0, 2 * kGemmWideRows}, {0, 3 * kGemmWideRows}, {32, 3 * kGemmWideRows}}) {
      const Weight weight = full.row_slice(3, row_begin + rows + 5);
      std::vector<std::uint16_t> converted(rows * cols), scratch(2 * kGemmWideRows * cols);
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t row = 3 + row_begin + r;
        amx->e4m3_row_to_bf16(codes.data() + row * cols, weight.scales_of_row(row), converted.data() + r * cols, static_cast<std::size_t>(cols));
      }
      for (const bool half : {false, true}) {
        const auto& block = half ? half_block : packed;
        for (const std::size_t tokens : {std::size_t{1}, std::size_t{16}, std::size_t{32}}) {
          if (half && tokens > kGemmHalfTokens) continue;
          const std::size_t stride = static_cast<std::size_t>(row_begin + rows) + 4;
          std::vector<float> ours(kGemmTileTokens * stride, -5.0f), expected(ours.size(), -5.0f), tile(kGemmWideRows * kGemmTileTokens);
          (half ? amx->rows_half_wide_converting : amx->rows_wide_converting)(weight, row_begin, rows, block.data(), tokens, scratch.data(),
                                                                                ours.data(), stride);
          for (std::int64_t r = 0; r < rows; r += kGemmWideRows) {
            (half ? amx->tile_half_wide : amx->tile_wide)(converted.data() + r * cols, static_cast<std::size_t>(cols), block.data(), pairs, tile.data(), {});
            scalar_gemm_bf16().store_tile(tile.data(), kGemmWideRows, tokens, expected.data() + row_begin + r, stride);
          }
          std::size_t finite = 0;  // of the results: the comparison checks values, not NaNs
          for (std::size_t t = 0; t < tokens; ++t) {
            for (std::int64_t r = row_begin; r < row_begin + rows; ++r) finite += std::isfinite(expected[t * stride + static_cast<std::size_t>(r)]) ? 1 : 0;
          }
          EXPECT_GE(finite, tokens * static_cast<std::size_t>(rows - (nan_row ? 1 : 0)));
          for (std::size_t i = 0; i < ours.size(); ++i) {  // bitwise: rows with NaN codes give NaNs
            ASSERT_EQ(std::bit_cast<std::uint32_t>(ours[i]), std::bit_cast<std::uint32_t>(expected[i]))
                << "cols " << cols << " rows " << row_begin << "+" << rows << (half ? " half" : "") << " tokens " << tokens << " at " << i;
          }
        }
      }
    }
  }
}

// The converting tiles (8 rows, and the wide ones of 32) give the plain tiles' results and
// leave the next tile's rows exactly as e4m3_row_to_bf16 converts them (both scale routes:
// powers of two and others, NaN codes; a row of 300 codes ends in a partial group, one of 24
// has no whole step and converts after it).
TEST(GemmBf16Test, AmxConvertingTileConvertsTheNextRowsBitwise) {
  const GemmBf16Kernels* amx = amx_gemm_bf16();
  if (amx == nullptr) GTEST_SKIP() << "no AMX-BF16 on this CPU (or the kernel refused its tiles)";
  for (const std::size_t rows : {static_cast<std::size_t>(kGemmTileRows), static_cast<std::size_t>(kGemmWideRows)}) {
    const bool wide = rows == kGemmWideRows;
    for (const std::size_t cols : {24, 300, 1024}) {
      const std::size_t pairs = cols / 2;
      const auto w = random_bf16(rows * cols, 1), packed = random_bf16(kGemmTileTokens * cols, 2);
      std::mt19937 rng(3);
      std::vector<std::uint8_t> codes(rows * cols);
      for (auto& code : codes) code = static_cast<std::uint8_t>(rng());
      const std::size_t blocks = (cols + 127) / 128;
      std::vector<float> scales(rows * blocks);
      for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = i % 2 == 0 ? std::ldexp(1.0f, static_cast<int>(i % 9) - 4) : 0.013f * static_cast<float>(i + 1);
      NextE4m3Rows next{};
      std::vector<std::uint16_t> converted(rows * cols), expected(converted.size());
      for (std::size_t i = 0; i < rows; ++i) {
        next.codes[i] = codes.data() + i * cols;
        next.scales[i] = scales.data() + i * blocks;
        amx->e4m3_row_to_bf16(next.codes[i], next.scales[i], expected.data() + i * cols, cols);
      }
      next.rows = rows;
      next.cols = cols;
      next.out = converted.data();
      for (const bool half : {false, true}) {
        const std::string what = std::string(wide ? "wide " : "") + (half ? "tile_half" : "tile") + ", cols " + std::to_string(cols);
        std::vector<float> plain(rows * kGemmTileTokens, -1.0f), ours(plain.size(), -1.0f);
        std::fill(converted.begin(), converted.end(), std::uint16_t{0});
        const auto block = half ? first_half_block(packed, pairs) : packed;
        const GemmTileBf16 plain_fn = wide ? (half ? amx->tile_half_wide : amx->tile_wide) : (half ? amx->tile_half : amx->tile);
        const GemmTileConvertingBf16 converting_fn =
            wide ? (half ? amx->tile_half_wide_converting : amx->tile_wide_converting) : (half ? amx->tile_half_converting : amx->tile_converting);
        plain_fn(w.data(), cols, block.data(), pairs, plain.data(), {});
        converting_fn(w.data(), cols, block.data(), pairs, ours.data(), {}, next);
        EXPECT_EQ(ours, plain) << what;
        EXPECT_EQ(converted, expected) << what;
      }
    }
  }
}

// The tile's results into rows of tokens, every shape up to a wide tile of a full block: what
// the scalar copy writes, and nothing else (guards around each token's rows).
TEST(GemmBf16Test, Avx512StoreTileMatchesScalar) {
  const GemmBf16Kernels* fast = avx512_gemm_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  constexpr std::size_t kStride = kGemmWideRows + 5;
  for (std::size_t rows = 1; rows <= kGemmWideRows; ++rows) {
    // exactly the tile's rows (as the 8-row tiles' buffer): a read past them is out of bounds
    std::vector<float> tile(rows * kGemmTileTokens);
    for (std::size_t i = 0; i < tile.size(); ++i) tile[i] = static_cast<float>(i) + 0.25f;
    for (std::size_t tokens = 1; tokens <= kGemmTileTokens; ++tokens) {
      std::vector<float> ours(kGemmTileTokens * kStride + 1, -3.0f), reference(ours.size(), -3.0f);
      fast->store_tile(tile.data(), rows, tokens, ours.data() + 1, kStride);
      scalar_gemm_bf16().store_tile(tile.data(), rows, tokens, reference.data() + 1, kStride);
      ASSERT_EQ(ours, reference) << "rows " << rows << " tokens " << tokens;
    }
  }
}

TEST(GemmBf16Test, Avx512RoundingMatchesScalarBitwise) {
  const GemmBf16Kernels* fast = avx512_gemm_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  auto values = random_floats(101, 3);
  values[0] = 1.00390625f;  // ties, both directions
  values[1] = 1.01171875f;
  values[2] = -0.0f;
  values[3] = std::numeric_limits<float>::infinity();
  values[4] = std::numeric_limits<float>::quiet_NaN();
  values[5] = 3.0e38f;  // rounds up to infinity
  values[6] = std::bit_cast<float>(0x007FFFFFu);  // subnormals: read as zeros of their sign
  values[7] = -1e-40f;
  std::vector<std::uint16_t> ours(values.size()), reference(values.size());
  fast->round_to_bf16(values.data(), ours.data(), values.size());
  scalar_gemm_bf16().round_to_bf16(values.data(), reference.data(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) EXPECT_EQ(ours[i], reference[i]) << "value " << values[i];
}

TEST(GemmBf16Test, Avx512E4m3ConversionMatchesScalarBitwise) {
  const GemmBf16Kernels* fast = avx512_gemm_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  std::vector<std::uint8_t> codes;
  for (int code = 0; code < 256; ++code) {
    if ((code & 0x7F) != 0x7F) codes.push_back(static_cast<std::uint8_t>(code));
  }
  // Powers of two take the byte tables: their range edges (2^-117 .. 2^119) and just past them.
  for (const float scale : {1.0f, 0.0078125f, 3.0f, 1e-3f, 0x1p-12f, 0x1p-117f, 0x1p-118f, 0x1p119f, 0x1p120f, -0.5f}) {
    std::vector<std::uint16_t> ours(codes.size()), reference(codes.size());
    fast->e4m3_to_bf16(codes.data(), scale, ours.data(), codes.size());
    scalar_gemm_bf16().e4m3_to_bf16(codes.data(), scale, reference.data(), codes.size());
    for (std::size_t i = 0; i < codes.size(); ++i) {
      if ((reference[i] & 0x7F80) == 0 && (reference[i] & 0x7F) != 0) {  // a bf16 subnormal: zero to vdpbf16ps
        EXPECT_EQ(ours[i] & 0x7FFF, 0) << "code " << int(codes[i]) << " scale " << scale;
      } else {
        EXPECT_EQ(ours[i], reference[i]) << "code " << int(codes[i]) << " scale " << scale;
      }
    }
  }
  // NaN codes stay NaN on both routes (a power-of-two scale, and 3.0), in the vector body.
  std::vector<std::uint8_t> nan_codes(64, 0x7F);
  for (std::size_t i = 1; i < nan_codes.size(); i += 2) nan_codes[i] = 0xFF;
  for (const float scale : {0.25f, 3.0f}) {
    std::vector<std::uint16_t> nans(nan_codes.size());
    fast->e4m3_to_bf16(nan_codes.data(), scale, nans.data(), nans.size());
    for (const std::uint16_t bits : nans) EXPECT_TRUE(std::isnan(bf16_to_f32(bits))) << "scale " << scale;
  }
}

// A row with one scale per 128 codes: the same bits as the per-block conversion, whatever
// mix of table scales (powers of two) and float-route scales the blocks have, and a short tail.
TEST(GemmBf16Test, RowConversionMatchesBlockConversionBitwise) {
  for (const GemmBf16Kernels* kernels : {&scalar_gemm_bf16(), avx512_gemm_bf16()}) {
    if (kernels == nullptr) continue;
    std::vector<std::uint8_t> codes(5 * 128 + 37);
    for (std::size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<std::uint8_t>((i * 37 + 11) % 256);
    const std::vector<float> scales = {0.0078125f, 3.0f, 0x1p-117f, 0x1p120f, 1.0f, 0.3f};
    std::vector<std::uint16_t> row(codes.size()), blocks(codes.size());
    kernels->e4m3_row_to_bf16(codes.data(), scales.data(), row.data(), codes.size());
    for (std::size_t b = 0; b < codes.size(); b += 128) {
      kernels->e4m3_to_bf16(codes.data() + b, scales[b / 128], blocks.data() + b, std::min<std::size_t>(128, codes.size() - b));
    }
    for (std::size_t i = 0; i < codes.size(); ++i) {
      if ((codes[i] & 0x7F) == 0x7F) {
        EXPECT_TRUE(std::isnan(bf16_to_f32(row[i]))) << kernels->name << " code " << int(codes[i]);
      } else {
        EXPECT_EQ(row[i], blocks[i]) << kernels->name << " index " << i << " code " << int(codes[i]);
      }
    }
  }
}

// I4 rows to bf16: bitwise round_to_bf16 of the float32 dequantised row, on both paths, with
// scales that make products round, and tiny scales whose products are float32 subnormals.
TEST(GemmBf16Test, I4RowConversionRoundsTheDequantisedRow) {
  for (const GemmBf16Kernels* kernels : {&scalar_gemm_bf16(), avx512_gemm_bf16()}) {
    if (kernels == nullptr) continue;
    for (const std::size_t n : {2u, 30u, 128u, 302u}) {
      std::vector<std::uint8_t> packed(n / 2);
      for (std::size_t i = 0; i < packed.size(); ++i) packed[i] = static_cast<std::uint8_t>(i * 53 + 9);
      const std::vector<float> scales = {0.3f, 1e-39f, 1.7f};
      std::vector<float> row(n);
      scalar_vector_ops().i4_to_f32(packed.data(), scales.data(), row.data(), n);
      std::vector<std::uint16_t> ours(n), reference(n);
      kernels->i4_row_to_bf16(packed.data(), scales.data(), ours.data(), n);
      scalar_gemm_bf16().round_to_bf16(row.data(), reference.data(), n);
      EXPECT_EQ(ours, reference) << kernels->name << " n=" << n;
    }
  }
}

TEST(GemmBf16Test, InterleavedRowsAlternate) {
  std::vector<const GemmBf16Kernels*> tables = {&scalar_gemm_bf16()};
  if (const GemmBf16Kernels* fast = avx512_gemm_bf16()) tables.push_back(fast);
  for (const GemmBf16Kernels* kernels : tables) {
    for (const std::size_t n : {1, 16, 17, 31, 32, 33, 64, 100}) {
      std::vector<std::uint16_t> even(n), odd(n), out(2 * n + 8, 0xBEEF);
      for (std::size_t j = 0; j < n; ++j) {
        even[j] = static_cast<std::uint16_t>(2 * j + 1);
        odd[j] = static_cast<std::uint16_t>(40000 + j);
      }
      kernels->interleave_rows(even.data(), odd.data(), n, out.data());
      for (std::size_t j = 0; j < n; ++j) {
        ASSERT_EQ(out[2 * j], even[j]) << kernels->name << " n " << n << " j " << j;
        ASSERT_EQ(out[2 * j + 1], odd[j]) << kernels->name << " n " << n << " j " << j;
      }
      for (std::size_t i = 2 * n; i < out.size(); ++i) ASSERT_EQ(out[i], 0xBEEF) << kernels->name << " wrote past the end, n " << n;
    }
  }
}

// 35 tokens: a block of 32, then the last 3 in a block packed 16 wide.
TEST(GemmBf16Test, PackingPutsColumnPairsOfATokenSideBySide) {
  const std::int64_t tokens = 35, cols = 6, stride = 7;
  const auto x = random_floats(tokens * stride, 4);
  std::vector<std::uint16_t> packed(packed_activation_values(tokens, cols), 0xFFFF);
  ASSERT_EQ(packed.size(), 64u * cols);
  pack_activations_bf16(scalar_gemm_bf16(), x.data(), tokens, stride, cols, 0, 2, packed.data());
  EXPECT_EQ(packed_block_width(tokens, 0), 32);
  EXPECT_EQ(packed_block_width(tokens, 1), 16);
  for (std::int64_t t = 0; t < 48; ++t) {
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::int64_t block = t / 32, m = t % 32, width = block == 0 ? 32 : 16;
      const std::uint16_t expected = t < tokens ? f32_to_bf16(x[t * stride + c]) : 0;
      EXPECT_EQ(packed[block * 32 * cols + ((c / 2) * width + m) * 2 + c % 2], expected) << "t=" << t << " c=" << c;
    }
  }
  for (std::int64_t i = 48 * cols; i < 64 * cols; ++i) EXPECT_EQ(packed[i], 0xFFFF) << "the 16-wide block wrote past its width at " << i;
}

// The AVX-512 packing (scaling and rounding, then 16 x 16 transposes) gives the reference's
// layout bit for bit: widths around its 32-column steps, row counts around its 16-row groups.
TEST(GemmBf16Test, Avx512PackingMatchesScalarBitwise) {
  const GemmBf16Kernels* fast = avx512_gemm_bf16();
  if (fast == nullptr) GTEST_SKIP() << "no AVX512-BF16 on this CPU";
  for (const std::size_t rows : {16, 32, 48}) {
    for (const std::size_t cols : {2, 6, 30, 32, 34, 64, 100, 1024}) {
      const std::size_t stride = cols + 3;
      const auto x = random_floats(rows * stride, static_cast<std::uint32_t>(cols));
      for (const std::size_t count : {0, 1, 15, 16, 17, 31, 32, 48}) {
        if (count > rows) continue;
        for (const float scale : {1.0f, 0.0721f}) {
          std::vector<std::uint16_t> ours(rows * cols + 8, 0xBEEF), reference(rows * cols + 8, 0xBEEF);
          fast->pack_pairs(x.data(), stride, count, rows, cols, scale, ours.data());
          scalar_gemm_bf16().pack_pairs(x.data(), stride, count, rows, cols, scale, reference.data());
          ASSERT_EQ(ours, reference) << "rows " << rows << " cols " << cols << " count " << count << " scale " << scale;
        }
      }
    }
  }
}

// Whether linear() in the bf16 mode gives FP8 rows of `tokens` tokens to the half-precision
// GEMV (gemv_bf16.h): its few-token product, where that table is the best.
bool half_precision_gemv(ComputeContext& ctx, const Weight& weight, std::int64_t tokens) {
  return weight.dtype == DType::F8_E4M3 && &best_gemv_bf16() == avx512fp16_gemv_bf16() && linear_uses_gemv_bf16(ctx, weight, tokens);
}

// y (rows y_stride apart, a guard value after the weight's rows) against Σ bf16(w)·bf16(x) in
// double, within float32 summation error; rows of the half-precision GEMV against Σ w·x (its
// activations are fp16, not bf16) within 2^-7 + 2^-11 of the magnitude (fp16 activations, and
// 512-column spans added in fp16: tests/kernels/gemv_bf16_test.cpp).
void expect_matches_double(ComputeContext& ctx, const Weight& weight, const float* x, std::int64_t tokens, std::int64_t stride,
                           const float* y, std::int64_t y_stride, const char* what) {
  const bool half = half_precision_gemv(ctx, weight, tokens);
  std::vector<float> w_row(weight.cols);
  for (std::int64_t r = 0; r < weight.rows; ++r) {
    weight.row_to_f32(r, w_row.data(), scalar_vector_ops());
    for (std::int64_t t = 0; t < tokens; ++t) {
      double sum = 0.0, magnitude = 0.0;
      for (std::int64_t c = 0; c < weight.cols; ++c) {
        const double product = half ? static_cast<double>(w_row[c]) * x[t * stride + c]
                                    : static_cast<double>(bf16_to_f32(f32_to_bf16(w_row[c]))) * bf16_to_f32(f32_to_bf16(x[t * stride + c]));
        sum += product;
        magnitude += std::fabs(product);
      }
      const double tolerance = half ? magnitude * (0x1p-7 + 0x1p-11) : 1e-6 * magnitude * std::sqrt(static_cast<double>(weight.cols));
      ASSERT_NEAR(y[t * y_stride + r], sum, tolerance + 1e-30)
          << what << ": tokens=" << tokens << " row " << r << " token " << t;
    }
  }
  for (std::int64_t t = 0; t < tokens; ++t) EXPECT_EQ(y[t * y_stride + weight.rows], -7.0f) << what << ": wrote past the rows";
}

// linear() in the bf16 mode (the tile, oneDNN from 32 tokens when `large` says so, or below
// the tile's thresholds kernels/gemv_bf16.h) against the double-precision product.
void expect_bf16_linear_matches(const Weight& weight, std::int64_t tokens, std::uint32_t seed, LargeProducts large, unsigned threads = 2) {
  if (&best_gemm_bf16() == &scalar_gemm_bf16()) GTEST_SKIP() << "the bf16 mode runs float32 products without AVX512-BF16";
  ComputeContext ctx(threads);
  ctx.set_precision(Precision::BF16);
  ctx.set_large_products(large);
  const std::int64_t stride = weight.cols + 3;
  const auto x = random_floats(tokens * stride, seed);
  std::vector<float> y(tokens * (weight.rows + 1), -7.0f);
  linear(ctx, weight, {x.data(), tokens, stride}, {y.data(), tokens, weight.rows + 1});
  expect_matches_double(ctx, weight, x.data(), tokens, stride, y.data(), weight.rows + 1, large == LargeProducts::Onednn ? "oneDNN" : "tile");
}

Weight random_fp8_weight(std::vector<std::uint8_t>& codes, const std::vector<float>& scales, std::int64_t rows, std::int64_t cols,
                         std::uint32_t seed) {
  std::mt19937 rng(seed);
  codes.resize(rows * cols);
  for (auto& code : codes) {
    code = static_cast<std::uint8_t>(rng());
    if ((code & 0x7F) == 0x7F) code = 0x10;  // no NaN codes
  }
  return Weight{DType::F8_E4M3, codes.data(), rows, cols, 0, scales.data(), (cols + 127) / 128};
}

TEST(GemmBf16Test, LinearInBf16ModeWithBf16Weights) {
  const std::int64_t rows = 75, cols = 96;  // a short last tile of rows; odd token counts
  const auto values = random_bf16(rows * cols, 5);
  const Weight weight{DType::BF16, reinterpret_cast<const std::uint8_t*>(values.data()), rows, cols};
  for (const LargeProducts large : {LargeProducts::Tile, LargeProducts::Onednn}) {
    for (const std::int64_t tokens : {1, 2, 4, 5, 16, 17, 32, 33, 70}) expect_bf16_linear_matches(weight, tokens, 6, large);
    expect_bf16_linear_matches(weight.row_slice(8, 64), 40, 7, large);  // whole tiles used in place
    // decode batches on one thread: two 32-row wide tiles in place (AMX) from an odd first row,
    // then an 8-row tile (with 2 threads the pool's chunks of these rows are 16 rows)
    for (const std::int64_t tokens : {9, 16, 31}) expect_bf16_linear_matches(weight.row_slice(3, 72), tokens, 8, large, 1);
  }
}

TEST(GemmBf16Test, LinearInBf16ModeWithFp8Weights) {
  const std::int64_t rows = 200, cols = 160;  // partial 128-tiles in both directions
  std::vector<std::uint8_t> codes;
  const std::vector<float> scales = {0.5f, 0.25f, 2.0f, 0.125f};
  const Weight weight = random_fp8_weight(codes, scales, rows, cols, 8);
  for (const LargeProducts large : {LargeProducts::Tile, LargeProducts::Onednn}) {
    for (const std::int64_t tokens : {1, 3, 8, 9, 15, 32, 45}) expect_bf16_linear_matches(weight, tokens, 9, large);
    for (const std::int64_t tokens : {1, 16, 33}) expect_bf16_linear_matches(weight.row_slice(136, 40), tokens, 10, large);  // scale rows from an offset
    // decode batches on one thread: six 32-row wide tiles (AMX) from an odd first row, five
    // converting the next (both halves of the double buffer), then a short 8-row tile
    for (const std::int64_t tokens : {9, 16, 24}) expect_bf16_linear_matches(weight.row_slice(3, 197), tokens, 13, large, 1);
  }
  // 600 rows on 2 threads: the pool's chunks are 80 rows (8 a thread, 8-row grain), each a
  // converting and a plain wide tile, then two 8-row tiles that convert their own first rows
  std::vector<std::uint8_t> tall_codes;
  const std::vector<float> tall_scales = {0.25f, 0.5f, 2.0f, 0.125f, 1.0f, 0.25f, 4.0f, 0.5f, 0.0625f, 1.0f};  // 5 x 2 blocks
  const Weight tall = random_fp8_weight(tall_codes, tall_scales, 600, cols, 14);
  for (const std::int64_t tokens : {12, 16}) expect_bf16_linear_matches(tall, tokens, 15, LargeProducts::Tile);
}

// A scale that is no power of two takes the conversion's float route, block by block (from 16
// tokens: the few-token GEMV applies scales to its sums, or the half-precision one to the
// activations, kernels/gemv_bf16.h, which its own tests and LinearOnFp8RowsMarkedFreeOfNanCodes
// check with such scales).
TEST(GemmBf16Test, LinearInBf16ModeWithFp8WeightsAndArbitraryScales) {
  const std::int64_t rows = 130, cols = 300;
  std::vector<std::uint8_t> codes;
  const std::vector<float> scales = {0.3f, 0.25f, 1.7f, 1e-3f, 2.0f, 0.0625f};
  const Weight weight = random_fp8_weight(codes, scales, rows, cols, 11);
  for (const LargeProducts large : {LargeProducts::Tile, LargeProducts::Onednn}) {
    for (const std::int64_t tokens : {16, 40}) expect_bf16_linear_matches(weight, tokens, 12, large);
  }
}

// FP8 rows marked free of NaN codes (Weight::codes_nan_free, as the model marks its scanned
// weights) give the same bits as unmarked ones on every path, including the half-precision
// GEMV's, whose range starts in one 128-row group and ends in another (its activations packed
// again for each group; a lone row before a group's end). Unmarked rows holding a NaN code
// give NaN in that row alone.
TEST(GemmBf16Test, LinearOnFp8RowsMarkedFreeOfNanCodes) {
  if (&best_gemm_bf16() == &scalar_gemm_bf16()) GTEST_SKIP() << "the bf16 mode runs float32 products without AVX512-BF16";
  std::vector<std::uint8_t> codes;
  const std::vector<float> scales = {0.5f, 0.3f, 2.0f, 0.125f, 1.0f, 4.0f};  // 3 x 2 blocks
  const Weight weight = random_fp8_weight(codes, scales, 300, 200, 16);
  Weight marked = weight;
  marked.codes_nan_free = true;
  for (const unsigned threads : {1u, 2u}) {
    ComputeContext ctx(threads);
    ctx.set_precision(Precision::BF16);
    if (!half_precision_gemv(ctx, marked, 1)) GTEST_SKIP() << "no half-precision GEMV on this CPU: unmarked and marked rows take one path";
    for (const std::int64_t tokens : {1, 2, 5, 7, 9, 16}) {
      for (const auto& [first, count] : {std::pair<std::int64_t, std::int64_t>{0, 300}, {1, 299}, {125, 6}}) {
        const auto x = random_floats(tokens * weight.cols, 17);
        std::vector<float> plain(tokens * (count + 1), -7.0f), fast(plain.size(), -7.0f);  // a guard after each token's rows
        linear(ctx, weight.row_slice(first, count), {x.data(), tokens, weight.cols}, {plain.data(), tokens, count + 1});
        linear(ctx, marked.row_slice(first, count), {x.data(), tokens, weight.cols}, {fast.data(), tokens, count + 1});
        for (std::size_t i = 0; i < plain.size(); ++i) {
          ASSERT_EQ(std::bit_cast<std::uint32_t>(plain[i]), std::bit_cast<std::uint32_t>(fast[i]))
              << threads << " threads, tokens " << tokens << ", rows " << first << "+" << count << " at " << i;
        }
        expect_matches_double(ctx, marked.row_slice(first, count), x.data(), tokens, weight.cols, plain.data(), count + 1, "marked");
      }
    }
    std::vector<std::uint8_t> nan_codes = codes;
    nan_codes[137 * 200 + 150] = 0xFF;  // row 137 (the second group), in its second block
    const Weight with_nan{DType::F8_E4M3, nan_codes.data(), 300, 200, 0, scales.data(), 2};
    for (const std::int64_t tokens : {1, 3, 16}) {
      const auto x = random_floats(tokens * weight.cols, 18);
      std::vector<float> y(tokens * 300);
      linear(ctx, with_nan, {x.data(), tokens, weight.cols}, {y.data(), tokens, 300});
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t r = 0; r < 300; ++r) EXPECT_EQ(std::isnan(y[t * 300 + r]), r == 137) << "tokens " << tokens << " row " << r;
      }
    }
  }
}

// I4 weights (what `dsv32 quantize` writes) through every path of linear(): float32 products
// (decode rows and prefill blocks), and in the bf16 mode the I4 GEMV (a few tokens), the tile
// and oneDNN; against Σ w·x in double with w = q * scale exactly, within float32 summation
// error, or the bf16 rounding of x and of q * scale in the bf16 mode.
TEST(GemmBf16Test, LinearWithI4Weights) {
  const std::int64_t rows = 70, cols = 300;
  std::mt19937 rng(15);
  std::vector<std::uint8_t> packed(rows * cols / 2);
  for (auto& byte : packed) byte = static_cast<std::uint8_t>(rng());
  std::vector<float> scales(rows * 3);
  for (std::size_t i = 0; i < scales.size(); ++i) scales[i] = 0.01f + 0.003f * static_cast<float>(i % 7);
  const Weight weight{.dtype = DType::I4, .data = packed.data(), .rows = rows, .cols = cols, .block_scales = scales.data(), .scale_cols = 3};
  struct Mode {
    Precision precision;
    LargeProducts large;
    double tolerance;  // relative to Σ |w·x|
  };
  const bool bf16 = bf16_products(Precision::BF16);
  std::vector<Mode> modes = {{Precision::F32, LargeProducts::Tile, 1e-5}};
  if (bf16) modes.insert(modes.end(), {{Precision::BF16, LargeProducts::Tile, 5e-3}, {Precision::BF16, LargeProducts::Onednn, 5e-3}});
  for (const Mode& mode : modes) {
    ComputeContext ctx(2);
    ctx.set_precision(mode.precision);
    ctx.set_large_products(mode.large);
    for (const std::int64_t tokens : {1, 2, 5, 16, 40}) {
      for (const Weight& view : {weight, weight.row_slice(9, 50), weight.row_slice(9, 49)}) {  // (odd: the GEMV's single last row)
        const auto x = random_floats(tokens * cols, static_cast<std::uint32_t>(16 + tokens));
        std::vector<float> y(tokens * (view.rows + 1), -7.0f);
        linear(ctx, view, {x.data(), tokens, cols}, {y.data(), tokens, view.rows + 1});
        for (std::int64_t r = 0; r < view.rows; ++r) {
          const std::int64_t row = view.first_row + r;
          for (std::int64_t t = 0; t < tokens; ++t) {
            double sum = 0.0, magnitude = 0.0;
            for (std::int64_t c = 0; c < cols; ++c) {
              const double w = i4_at(packed.data() + row * cols / 2, static_cast<std::size_t>(c)) * static_cast<double>(scales[row * 3 + c / 128]);
              sum += w * x[t * cols + c];
              magnitude += std::fabs(w * x[t * cols + c]);
            }
            ASSERT_NEAR(y[t * (view.rows + 1) + r], sum, mode.tolerance * magnitude + 1e-30)
                << (mode.precision == Precision::F32 ? "f32" : mode.large == LargeProducts::Onednn ? "bf16 oneDNN" : "bf16") << " tokens=" << tokens
                << " row " << row << " token " << t;
          }
        }
        for (std::int64_t t = 0; t < tokens; ++t) EXPECT_EQ(y[t * (view.rows + 1) + view.rows], -7.0f) << "wrote past the rows";
      }
    }
  }
  if (!bf16) GTEST_SKIP() << "no AVX512-BF16: the float32 paths checked alone";
}

// linear_batch: jobs of every path in one region (the GEMV, the tile, oneDNN), each against
// the double-precision product.
TEST(GemmBf16Test, LinearBatchRunsEachJobLikeLinear) {
  if (&best_gemm_bf16() == &scalar_gemm_bf16()) GTEST_SKIP() << "the bf16 mode runs float32 products without AVX512-BF16";
  std::vector<std::uint8_t> codes;
  const std::vector<float> scales = {0.5f, 0.25f, 2.0f, 0.125f, 1.0f, 4.0f};
  const Weight fp8 = random_fp8_weight(codes, scales, 256, 256, 13);
  const auto values = random_bf16(72 * 256, 14);
  const Weight bf16{DType::BF16, reinterpret_cast<const std::uint8_t*>(values.data()), 72, 256};
  for (const LargeProducts large : {LargeProducts::Tile, LargeProducts::Onednn}) {
    ComputeContext ctx(2);
    ctx.set_precision(Precision::BF16);
    ctx.set_large_products(large);
    const std::vector<std::pair<Weight, std::int64_t>> shapes = {
        {fp8.row_slice(0, 128), 1}, {fp8.row_slice(128, 128), 40}, {bf16, 5}, {fp8, 16}, {bf16, 70}, {fp8.row_slice(8, 100), 3}};
    std::vector<std::vector<float>> xs, ys;
    std::vector<LinearJob> jobs;
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      const auto& [weight, tokens] = shapes[j];
      xs.push_back(random_floats(tokens * weight.cols, static_cast<std::uint32_t>(20 + j)));
      ys.emplace_back(tokens * (weight.rows + 1), -7.0f);
    }
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      const auto& [weight, tokens] = shapes[j];
      jobs.push_back({weight, {xs[j].data(), tokens, weight.cols}, {ys[j].data(), tokens, weight.rows + 1}});
    }
    linear_batch(ctx, jobs);
    for (std::size_t j = 0; j < shapes.size(); ++j) {
      const auto& [weight, tokens] = shapes[j];
      expect_matches_double(ctx, weight, xs[j].data(), tokens, weight.cols, ys[j].data(), weight.rows + 1,
                            large == LargeProducts::Onednn ? "oneDNN batch" : "tile batch");
    }
  }
}

}  // namespace
}  // namespace dsv32
