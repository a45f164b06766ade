#include "kernels/linear.h"

#include <algorithm>
#include <cassert>

#include "kernels/cpu_features.h"
#include "kernels/gemm_bf16.h"
#include "kernels/gemv_bf16.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// Up to this many activation rows, weights are converted in registers (memory-bound decode, a
// few sequences sharing an expert); beyond it, a block of rows is dequantised once into
// scratch and reused by all of them.
constexpr std::int64_t kFusedMaxRows = 8;

// Rows r..r+3 in the fused kernels: stored format, and one FP8 scale row for all four.
bool fused_rows_ok(const Weight& weight, std::int64_t r) {
  if (weight.dtype == DType::BF16) return true;
  if (weight.dtype != DType::F8_E4M3) return false;
  const std::int64_t first = weight.first_row + r;
  return first / kFp8BlockSize == (first + 3) / kFp8BlockSize;
}

void fused_dot4(const VectorOps& ops, const Weight& weight, std::int64_t r, const float* x, float* out) {
  const auto row = static_cast<std::size_t>(weight.first_row + r);
  const auto cols = static_cast<std::size_t>(weight.cols);
  if (weight.dtype == DType::BF16) {
    ops.dot4_bf16(reinterpret_cast<const std::uint16_t*>(weight.data) + row * cols, cols, x, cols, out);
  } else {
    const float* scales = weight.scales_of_row(weight.first_row + r);
    ops.dot4_e4m3(weight.data + row * cols, cols, scales, x, cols, out);
  }
}

// Prefill: a block of weight rows is dequantised once and applied to the activation rows a
// block at a time, both blocks sized to stay in the core's L2 together; otherwise every group
// of four weight rows streamed the whole activation matrix (2 MB at 512 tokens) from memory.
constexpr std::int64_t kBlockBytes = 128 * 1024;
constexpr std::int64_t kMaxBlockRows = 64;

std::int64_t block_rows_for(std::int64_t cols, std::int64_t limit) {
  const std::int64_t fit = kBlockBytes / (cols * static_cast<std::int64_t>(sizeof(float))) / 4 * 4;
  return std::max<std::int64_t>(4, std::min(fit, limit));
}

void decode_rows(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y,
                 std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  for (std::int64_t r = row_begin; r + 4 <= row_end; r += 4) {
    if (!fused_rows_ok(weight, r)) {
      for (int i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch + i * cols, ops);
    }
    if (weight.dtype == DType::F8_E4M3 && x.rows > 1 && fused_rows_ok(weight, r)) {
      const auto row = static_cast<std::size_t>(weight.first_row + r);
      const float* scales = weight.scales_of_row(weight.first_row + r);
      ops.dot4_e4m3_tokens(weight.data + row * static_cast<std::size_t>(cols), static_cast<std::size_t>(cols), scales, x.data,
                           static_cast<std::size_t>(x.stride), static_cast<std::size_t>(x.rows), static_cast<std::size_t>(cols),
                           y.data + r, static_cast<std::size_t>(y.stride));
      continue;
    }
    for (std::int64_t t = 0; t < x.rows; ++t) {
      float out[4];
      if (fused_rows_ok(weight, r)) {
        fused_dot4(ops, weight, r, x.data + t * x.stride, out);
      } else {
        ops.dot4(scratch, cols, x.data + t * x.stride, cols, out);
      }
      float* y_row = y.data + t * y.stride + r;
      for (int i = 0; i < 4; ++i) y_row[i] = out[i];
    }
  }
}

void prefill_rows(const VectorOps& ops, float* scratch, std::int64_t scratch_rows, const Weight& weight, ConstMatrixRef x,
                  MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols;
  const std::int64_t block_rows = block_rows_for(cols, std::min(scratch_rows, kMaxBlockRows));
  const std::int64_t block_tokens = block_rows_for(cols, kMaxBlockRows);
  for (std::int64_t r0 = row_begin; r0 + 4 <= row_end; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, (row_end - r0) / 4 * 4);
    for (std::int64_t i = 0; i < n; ++i) weight.row_to_f32(r0 + i, scratch + i * cols, ops);
    for (std::int64_t t0 = 0; t0 < x.rows; t0 += block_tokens) {
      const std::int64_t t1 = std::min(x.rows, t0 + block_tokens);
      for (std::int64_t g = 0; g < n; g += 4) {
        const float* rows = scratch + g * cols;
        std::int64_t t = t0;
        for (; t + 4 <= t1; t += 4) {
          ops.dot4x4(rows, cols, x.data + t * x.stride, x.stride, cols, y.data + t * y.stride + r0 + g, y.stride);
        }
        for (; t < t1; ++t) ops.dot4(rows, cols, x.data + t * x.stride, cols, y.data + t * y.stride + r0 + g);
      }
    }
  }
}

// scratch holds scratch_rows rows of weight.cols floats (at least 4).
void linear_rows(const VectorOps& ops, float* scratch, std::int64_t scratch_rows, const Weight& weight, ConstMatrixRef x,
                 MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  if (x.rows <= kFusedMaxRows) {
    decode_rows(ops, scratch, weight, x, y, row_begin, row_end);
  } else {
    prefill_rows(ops, scratch, scratch_rows, weight, x, y, row_begin, row_end);
  }
  const std::int64_t cols = weight.cols;
  for (std::int64_t r = row_end - (row_end - row_begin) % 4; r < row_end; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) y.data[t * y.stride + r] = ops.dot(scratch, x.data + t * x.stride, cols);
  }
}

// Weight rows converted at a time for the bf16 tile: a block that stays in L2.
std::int64_t gemm_block_rows(std::int64_t cols) {
  const std::int64_t fit = kBlockBytes / (cols * 2) / kGemmTileRows * kGemmTileRows;
  return std::clamp<std::int64_t>(fit, kGemmTileRows, kMaxBlockRows);
}

// The weights tile g of a block (rows [r0, r0 + n) of [row_begin, row_end)) requests while it
// computes: used in place, the next tile's rows; converted into scratch, its share of the next
// block's stored rows (kernels/gemm_bf16.h, TilePrefetch).
TilePrefetch next_weights(const Weight& weight, bool in_place, std::int64_t r0, std::int64_t n, std::int64_t g,
                          std::int64_t block_rows, std::int64_t row_end) {
  const auto row_bytes = static_cast<std::int64_t>(weight.row_bytes());
  const auto stored_row = [&](std::int64_t r) { return weight.data + static_cast<std::size_t>((weight.first_row + r) * row_bytes); };
  if (in_place) {
    const std::int64_t rows = std::min(kGemmTileRows, row_end - (r0 + g + kGemmTileRows));
    if (rows <= 0) return {};
    return {stored_row(r0 + g + kGemmTileRows), static_cast<std::size_t>(rows * row_bytes / 64)};
  }
  const std::int64_t next_rows = std::min(block_rows, row_end - r0 - n);
  if (next_rows <= 0) return {};
  const std::int64_t tiles = (n + kGemmTileRows - 1) / kGemmTileRows;
  const std::int64_t bytes = next_rows * row_bytes, share = (bytes + tiles - 1) / tiles;
  const std::int64_t offset = std::min(bytes, g / kGemmTileRows * share);
  return {stored_row(r0 + n) + offset, static_cast<std::size_t>((std::min(share, bytes - offset) + 63) / 64)};
}

// Copies a tile's results into y (rows [r, r + rows) for tokens [t0, t0 + tokens)).
void store_tile(const GemmBf16Kernels& kernels, const float* tile, MatrixRef y, std::int64_t t0, std::int64_t tokens, std::int64_t r,
                std::int64_t rows) {
  kernels.store_tile(tile, static_cast<std::size_t>(rows), static_cast<std::size_t>(tokens), y.data + t0 * y.stride + r,
                     static_cast<std::size_t>(y.stride));
}

// Tiles ahead whose stored rows converting_tiles requests (one tile ahead measured
// slower: the next tile's conversion found its rows still on the way).
constexpr std::int64_t kPrefetchDistance = 2;

static_assert(kMaxBlockRows >= 2 * kGemmWideRows, "the scratch holds two wide tiles' rows");

// 8-row tiles over rows [row_begin, row_end) of one token block against converted weights:
// each tile's rows are converted just before the tile reads them (so they come from L1 or L2
// rather than from a block), by the tile before it into the other half of a double buffer
// where `converting` (nullptr: none) converts, the stored rows of the tile kPrefetchDistance
// ahead requested over the products; a short last tile repeats its last row.
void converting_tiles(const GemmBf16Kernels& kernels, const VectorOps& ops, float* row_f32, std::uint16_t* scratch, const Weight& weight,
                      const std::uint16_t* packed, std::int64_t tokens, MatrixRef y, std::int64_t row_begin, std::int64_t row_end,
                      GemmTileBf16 plain, GemmTileConvertingBf16 converting) {
  const std::int64_t cols = weight.cols, tile_rows = kGemmTileRows;
  const auto row_bytes = static_cast<std::int64_t>(weight.row_bytes());
  float tile[kGemmTileRows * kGemmTileTokens];
  std::uint16_t* buffers[2] = {scratch, scratch + tile_rows * cols};
  for (std::int64_t r = row_begin; r < row_end; r += tile_rows) {
    const std::int64_t rows = std::min(tile_rows, row_end - r);
    const std::int64_t parity = (r - row_begin) / tile_rows % 2;
    std::uint16_t* current = buffers[parity];
    if (converting == nullptr || r == row_begin) {
      for (std::int64_t i = 0; i < tile_rows; ++i) {
        weight_row_to_bf16(kernels, ops, weight, r + std::min(i, rows - 1), 0, cols, row_f32, current + i * cols);
      }
    }
    const std::int64_t ahead = r + kPrefetchDistance * tile_rows, next_rows = std::min(tile_rows, row_end - ahead);
    const TilePrefetch prefetch = next_rows <= 0
                                      ? TilePrefetch{}
                                      : TilePrefetch{weight.data + static_cast<std::size_t>((weight.first_row + ahead) * row_bytes),
                                                     static_cast<std::size_t>((next_rows * row_bytes + 63) / 64)};
    if (converting != nullptr && r + tile_rows < row_end) {
      const NextE4m3Rows next = e4m3_tile_rows(weight, r + tile_rows, tile_rows, row_end, buffers[1 - parity]);
      converting(current, static_cast<std::size_t>(cols), packed, static_cast<std::size_t>(cols / 2), tile, prefetch, next);
    } else {
      plain(current, static_cast<std::size_t>(cols), packed, static_cast<std::size_t>(cols / 2), tile, prefetch);
    }
    store_tile(kernels, tile, y, 0, tokens, r, rows);
  }
}

// One token block (a decode batch) against converted weights, in 8-row tiles (converting on a
// table that has them: AMX). FP8 rows on a table with runs of converting wide tiles go 32 rows
// a tile first, in one run (rows_wide_converting); not for a range of a single wide tile, which
// the run's scratch route would convert whole before any product where the 8-row tiles convert
// only their first 8 (a thread's range is 32 rows at 2048 rows and 16 threads).
void gemm_rows_converting_tiles(const GemmBf16Kernels& kernels, const VectorOps& ops, float* row_f32, std::uint16_t* scratch,
                                const Weight& weight, const std::uint16_t* packed, std::int64_t tokens, MatrixRef y,
                                std::int64_t row_begin, std::int64_t row_end) {
  const bool half = packed_block_width(tokens, 0) == kGemmHalfTokens, fp8 = weight.dtype == DType::F8_E4M3;
  const GemmRowsConvertingBf16 wide_run = half ? kernels.rows_half_wide_converting : kernels.rows_wide_converting;
  const std::int64_t wide_end = row_begin + (row_end - row_begin) / kGemmWideRows * kGemmWideRows;
  if (fp8 && wide_run != nullptr && wide_end - row_begin >= 2 * kGemmWideRows) {
    wide_run(weight, row_begin, wide_end - row_begin, packed, static_cast<std::size_t>(tokens), scratch, y.data, static_cast<std::size_t>(y.stride));
    row_begin = wide_end;
  }
  converting_tiles(kernels, ops, row_f32, scratch, weight, packed, tokens, y, row_begin, row_end, half ? kernels.tile_half : kernels.tile,
                   !fp8 ? nullptr : half ? kernels.tile_half_converting : kernels.tile_converting);
}

// The bf16 mode's batched product (kernels/gemm_bf16.h) for weight rows [row_begin, row_end):
// the activations are already packed; the weight rows are used in place when stored as bf16
// (a decode batch 32 rows a tile where the table has runs of wide tiles), otherwise a block of them is
// dequantised and rounded, then applied to every token block (a decode batch: the converting
// tiles above).
// row_f32 holds cols floats, scratch kMaxBlockRows rows of cols bf16 values.
void gemm_rows(const GemmBf16Kernels& kernels, const VectorOps& ops, float* row_f32, std::uint16_t* scratch, const Weight& weight,
               const std::uint16_t* packed, std::int64_t tokens, MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  if (tokens <= kGemmTileTokens && weight.dtype != DType::BF16) {
    gemm_rows_converting_tiles(kernels, ops, row_f32, scratch, weight, packed, tokens, y, row_begin, row_end);
    return;
  }
  const std::int64_t cols = weight.cols;
  const GemmRowsBf16 wide_run = packed_block_width(tokens, 0) == kGemmHalfTokens ? kernels.rows_half_wide : kernels.rows_wide;
  const std::int64_t wide_rows = (row_end - row_begin) / kGemmWideRows * kGemmWideRows;
  if (tokens <= kGemmTileTokens && weight.dtype == DType::BF16 && wide_run != nullptr && wide_rows > 0) {
    // One token block against stored bf16 rows, 32 rows a tile, in place, as one run. Without
    // requests of the next rows: the hardware prefetcher keeps up with the tile's 32 row streams
    // (16 tokens, 264 MB: 19-20 GB/s without, 17 with the next tile requested over the steps).
    const auto* stored = reinterpret_cast<const std::uint16_t*>(weight.data);
    wide_run(stored + (weight.first_row + row_begin) * cols, static_cast<std::size_t>(cols), static_cast<std::size_t>(wide_rows), packed,
             static_cast<std::size_t>(cols / 2), static_cast<std::size_t>(tokens), y.data + row_begin, static_cast<std::size_t>(y.stride));
    row_begin += wide_rows;
    if (row_begin == row_end) return;
  }
  const std::int64_t block_rows = gemm_block_rows(cols);
  float tile[kGemmTileRows * kGemmTileTokens];
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, row_end - r0);
    const std::int64_t padded = (n + kGemmTileRows - 1) / kGemmTileRows * kGemmTileRows;
    const bool in_place = weight.dtype == DType::BF16 && n == padded;
    const std::uint16_t* block = scratch;
    if (in_place) {
      block = reinterpret_cast<const std::uint16_t*>(weight.data) + (weight.first_row + r0) * cols;
    } else {
      for (std::int64_t i = 0; i < padded; ++i) {  // a short last tile repeats its last row
        weight_row_to_bf16(kernels, ops, weight, r0 + std::min(i, n - 1), 0, cols, row_f32, scratch + i * cols);
      }
    }
    for (std::int64_t t0 = 0; t0 < tokens; t0 += kGemmTileTokens) {
      const std::int64_t tokens_here = std::min(kGemmTileTokens, tokens - t0);
      for (std::int64_t g = 0; g < n; g += kGemmTileRows) {
        // Only the first token block reads the weights from memory; the others find them cached.
        const TilePrefetch prefetch = t0 == 0 ? next_weights(weight, in_place, r0, n, g, block_rows, row_end) : TilePrefetch{};
        const GemmTileBf16 tile_fn = packed_block_width(tokens, t0 / kGemmTileTokens) == kGemmHalfTokens ? kernels.tile_half : kernels.tile;
        tile_fn(block + g * cols, static_cast<std::size_t>(cols), packed + t0 * cols, static_cast<std::size_t>(cols / 2), tile, prefetch);
        store_tile(kernels, tile, y, t0, tokens_here, r0 + g, std::min(kGemmTileRows, n - g));
      }
    }
  }
}

// Rounding a weight block to bf16 costs about as much as applying it to a few rows in float32,
// so small batches stay on the float32 path unless the weight is stored in bf16. FP8 weights on
// a table with converting tiles (AMX) take the tile from fewer rows: 1 GB of expert weights,
// GEMV against tile, 6 tokens 9.6 against 8.5 GB/s, 8 tokens 6.9 against 8.6, 12 tokens 4.7
// against 7.3.
constexpr std::int64_t kBf16MinRows = 16;
constexpr std::int64_t kBf16ConvertingMinRows = 8;
constexpr std::int64_t kBf16StoredMinRows = 5;

std::int64_t codes_min_rows(const Weight& weight) {
  const bool converting = weight.dtype == DType::F8_E4M3 && weight.cols % 2 == 0 && best_gemm_bf16().tile_half_converting != nullptr;
  return converting ? kBf16ConvertingMinRows : kBf16MinRows;
}

// Without AVX512-BF16 (or with DSV32_ISA below avx512) the bf16 mode keeps the float32 path:
// the scalar tile is a reference, far slower than float32 SIMD.
bool use_bf16(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x) {
  if (!bf16_products(ctx) || weight.cols % 2 != 0) return false;
  return x.rows >= (weight.dtype == DType::BF16 ? kBf16StoredMinRows : codes_min_rows(weight));
}

// The bf16 mode's few-token product (kernels/gemv_bf16.h) for the weights below the tile's
// row thresholds: each row read once in its stored format and applied to every token.
// Without AVX512-VBMI (which the FP8 conversion needs) these rows keep the float32 path.
bool use_gemv_bf16(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x) {
  if (!bf16_products(ctx) || &best_gemv_bf16() == &scalar_gemv_bf16()) return false;
  if (weight.dtype == DType::F8_E4M3 || weight.dtype == DType::I4) return x.rows < codes_min_rows(weight);
  return weight.dtype == DType::BF16 && x.rows < kBf16StoredMinRows;
}

// A batched job's work per row, relative to the others': the bf16 tile's cost (bf16: the job
// takes the tile) grows with the token blocks (experts in a prefill hold from a few to hundreds
// of tokens); a few-token row's with its tokens, whose products (2 vdpbf16ps per 64 codes and
// token) outweigh its conversion from 2 tokens on. A block of the tile is counted as about a
// 7-token GEMV row, where the two run at the same speed. (16 sequences, where the experts hold
// 1-7 tokens each: 194-200 -> 197-202 tok/s, 3 alternated pairs, the threads' chunks closer.)
std::size_t unit_weight(bool bf16, const LinearJob& job) {
  return bf16 ? static_cast<std::size_t>((job.x.rows + kGemmTileTokens - 1) / kGemmTileTokens) * 9 : 2 + static_cast<std::size_t>(job.x.rows);
}

// FP8 rows [row_begin, row_end) through the half-precision rows (kernels/gemv_bf16.h): the
// activations are packed again for each 128-row group whose block scales differ from the last
// packed ones, and two rows of a group go together.
void half_e4m3_rows_in_thread(ComputeContext& ctx, unsigned thread, const HalfE4m3Rows& half, const Weight& weight, ConstMatrixRef x,
                              MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const auto cols = static_cast<std::size_t>(weight.cols), tokens = static_cast<std::size_t>(x.rows);
  const auto y_stride = static_cast<std::size_t>(y.stride);
  const std::size_t x_stride = half.x_values(cols), row_bytes = weight.row_bytes();
  std::uint16_t* x_packed = ctx.scratch_u16(thread, tokens * x_stride);
  const float* packed_scales = nullptr;
  for (std::int64_t r = row_begin; r < row_end;) {
    const std::int64_t row = weight.first_row + r;
    const float* scales = weight.scales_of_row(row);
    if (packed_scales == nullptr || (scales != packed_scales && !std::equal(scales, scales + weight.scale_cols, packed_scales))) {
      for (std::size_t t = 0; t < tokens; ++t) half.pack_x(x.data + t * x.stride, cols, scales, x_packed + t * x_stride);
    }
    packed_scales = scales;
    const std::uint8_t* codes = weight.data + static_cast<std::size_t>(row) * row_bytes;
    if (r + 1 < row_end && weight.scales_of_row(row + 1) == scales) {
      half.row_pair(codes, row_bytes, x_packed, x_stride, tokens, cols, weight.codes_nan_free, y.data + r, y_stride);
      r += 2;
    } else {
      half.row(codes, x_packed, x_stride, tokens, cols, weight.codes_nan_free, y.data + r, y_stride);
      r += 1;
    }
  }
}

// Weight rows [row_begin, row_end) against the tokens of x, packed here for each range as the
// table wants them: a few rows of activations against the range's hundreds or thousands of
// weight rows.
void gemv_rows_in_thread(ComputeContext& ctx, unsigned thread, const Weight& weight, ConstMatrixRef x, MatrixRef y,
                         std::int64_t row_begin, std::int64_t row_end) {
  const GemvBf16Kernels& gemv = best_gemv_bf16();
  if (weight.dtype == DType::F8_E4M3 && gemv.half_e4m3 != nullptr) {
    half_e4m3_rows_in_thread(ctx, thread, *gemv.half_e4m3, weight, x, y, row_begin, row_end);
    return;
  }
  const auto cols = static_cast<std::size_t>(weight.cols), tokens = static_cast<std::size_t>(x.rows);
  const auto y_stride = static_cast<std::size_t>(y.stride);
  if (weight.dtype == DType::F8_E4M3 || weight.dtype == DType::I4) {  // codes with block scales
    const bool fp8 = weight.dtype == DType::F8_E4M3;
    const auto pack = fp8 ? gemv.pack_e4m3_x : gemv.pack_i4_x;
    const auto row_pair = fp8 ? gemv.e4m3_row_pair : gemv.i4_row_pair;
    const auto single_row = fp8 ? gemv.e4m3_row : gemv.i4_row;
    const std::size_t x_stride = gemv_e4m3_x_values(cols), row_bytes = weight.row_bytes();
    std::uint16_t* x_packed = ctx.scratch_u16(thread, tokens * x_stride);
    for (std::size_t t = 0; t < tokens; ++t) pack(x.data + t * x.stride, cols, x_packed + t * x_stride);
    const auto stored = [&](std::int64_t row) { return weight.data + static_cast<std::size_t>(row) * row_bytes; };
    std::int64_t r = row_begin;
    for (; r + 2 <= row_end; r += 2) {
      const std::int64_t row = weight.first_row + r;
      row_pair(stored(row), row_bytes, weight.scales_of_row(row), weight.scales_of_row(row + 1), x_packed, x_stride, tokens, cols, y.data + r,
               y_stride);
    }
    if (r < row_end) {
      const std::int64_t row = weight.first_row + r;
      single_row(stored(row), weight.scales_of_row(row), x_packed, x_stride, tokens, cols, y.data + r, y_stride);
    }
    return;
  }
  std::uint16_t* x_bf16 = ctx.scratch_u16(thread, tokens * cols);
  for (std::size_t t = 0; t < tokens; ++t) best_gemm_bf16().round_to_bf16(x.data + t * x.stride, x_bf16 + t * cols, cols);
  const auto* stored = reinterpret_cast<const std::uint16_t*>(weight.data);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    const auto row = static_cast<std::size_t>(weight.first_row + r);
    gemv.bf16_row(stored + row * cols, x_bf16, cols, tokens, cols, y.data + r, y_stride);
  }
}

void gemm_rows_in_thread(ComputeContext& ctx, unsigned thread, const Weight& weight, const std::uint16_t* packed,
                         std::int64_t tokens, MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const auto cols = static_cast<std::size_t>(weight.cols);
  gemm_rows(best_gemm_bf16(), ctx.ops(), ctx.scratch(thread, cols), ctx.scratch_u16(thread, kMaxBlockRows * cols), weight,
            packed, tokens, y, row_begin, row_end);
}

// From this many tokens a bf16 product may go through oneDNN (kernels/onednn_gemm.h;
// compute_context.h's LargeProducts decides); decode batches stay on our tile.
constexpr std::int64_t kOnednnMinTokens = 32;

bool use_onednn(const ComputeContext& ctx, ConstMatrixRef x) {
  if (x.rows < kOnednnMinTokens) return false;
  switch (ctx.large_products()) {
    case LargeProducts::Tile: return false;
    case LargeProducts::Onednn: return true;
    case LargeProducts::Auto: break;
  }
  static const bool amx = amx_kernels_allowed() && cpu_has_amx_bf16();  // DSV32_ISA=avx512: no AMX anywhere
  return amx;
}

// Weight rows converted to bf16 per oneDNN call: a block that stays in L2.
std::int64_t onednn_block_rows(std::int64_t cols) {
  const std::int64_t fit = 2 * kBlockBytes / (cols * 2) / 16 * 16;
  return std::clamp<std::int64_t>(fit, 16, 128);
}

// A bf16 job's activations as its product wants them, for token blocks [block_begin,
// block_end) of 32: the tile's packed blocks, or plain bf16 rows for oneDNN (which fit in the
// same packed_activation_values).
void prepare_activations(const ComputeContext& ctx, ConstMatrixRef x, std::int64_t cols, std::int64_t block_begin,
                         std::int64_t block_end, std::uint16_t* out) {
  const GemmBf16Kernels& kernels = best_gemm_bf16();
  if (use_onednn(ctx, x)) {
    for (std::int64_t t = block_begin * kGemmTileTokens; t < std::min(x.rows, block_end * kGemmTileTokens); ++t) {
      kernels.round_to_bf16(x.data + t * x.stride, out + t * cols, static_cast<std::size_t>(cols));
    }
    return;
  }
  pack_activations_bf16(kernels, x.data, x.rows, x.stride, cols, block_begin, block_end, out);
}

// Weight rows [row_begin, row_end) against x_bf16 (tokens rows of bf16) through oneDNN on this
// thread: stored bf16 rows in place, others converted a block at a time.
void onednn_rows_in_thread(ComputeContext& ctx, unsigned thread, const Weight& weight, const std::uint16_t* x_bf16,
                           std::int64_t tokens, MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  const std::int64_t cols = weight.cols, block_rows = onednn_block_rows(cols);
  const GemmBf16Kernels& kernels = best_gemm_bf16();
  float* row_f32 = ctx.scratch(thread, static_cast<std::size_t>(cols + tokens * block_rows));
  float* out = row_f32 + cols;
  std::uint16_t* converted = weight.dtype == DType::BF16 ? nullptr : ctx.scratch_u16(thread, static_cast<std::size_t>(block_rows * cols));
  for (std::int64_t r0 = row_begin; r0 < row_end; r0 += block_rows) {
    const std::int64_t n = std::min(block_rows, row_end - r0);
    const std::uint16_t* w = reinterpret_cast<const std::uint16_t*>(weight.data) + (weight.first_row + r0) * cols;
    if (converted != nullptr) {
      for (std::int64_t i = 0; i < n; ++i) weight_row_to_bf16(kernels, ctx.ops(), weight, r0 + i, 0, cols, row_f32, converted + i * cols);
      w = converted;
    }
    ctx.onednn(thread).multiply(x_bf16, tokens, w, n, cols, out);
    for (std::int64_t t = 0; t < tokens; ++t) std::copy_n(out + t * n, n, y.data + t * y.stride + r0);
  }
}

// A bf16 job's rows [row_begin, row_end) on this thread, its activations prepared as above.
void bf16_rows_in_thread(ComputeContext& ctx, unsigned thread, const Weight& weight, const std::uint16_t* activations, ConstMatrixRef x,
                         MatrixRef y, std::int64_t row_begin, std::int64_t row_end) {
  if (use_onednn(ctx, x)) {
    onednn_rows_in_thread(ctx, thread, weight, activations, x.rows, y, row_begin, row_end);
  } else {
    gemm_rows_in_thread(ctx, thread, weight, activations, x.rows, y, row_begin, row_end);
  }
}

void linear_bf16(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  const std::int64_t cols = weight.cols;
  std::uint16_t* activations = ctx.shared_u16(packed_activation_values(x.rows, cols));
  const std::int64_t blocks = (x.rows + kGemmTileTokens - 1) / kGemmTileTokens;
  ctx.pool().parallel_for(static_cast<std::size_t>(blocks), [&](std::size_t begin, std::size_t end, unsigned) {
    prepare_activations(ctx, x, cols, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end), activations);
  });
  ctx.pool().parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
    bf16_rows_in_thread(ctx, thread, weight, activations, x, y, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
  }, kGemmTileRows);
}

}  // namespace

bool linear_uses_gemv_bf16(ComputeContext& ctx, const Weight& weight, std::int64_t tokens) {
  return !use_bf16(ctx, weight, {nullptr, tokens, weight.cols}) && use_gemv_bf16(ctx, weight, {nullptr, tokens, weight.cols});
}

bool bf16_products(Precision precision) {
  return precision == Precision::BF16 && &best_gemm_bf16() != &scalar_gemm_bf16();
}

void linear(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  if (use_bf16(ctx, weight, x)) {
    linear_bf16(ctx, weight, x, y);
    return;
  }
  if (use_gemv_bf16(ctx, weight, x)) {
    ctx.pool().parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
      gemv_rows_in_thread(ctx, thread, weight, x, y, static_cast<std::int64_t>(begin), static_cast<std::int64_t>(end));
    }, 4);
    return;
  }
  const auto cols = static_cast<std::size_t>(weight.cols);
  ctx.pool().parallel_for(
      static_cast<std::size_t>(weight.rows),
      [&](std::size_t begin, std::size_t end, unsigned thread) {
        linear_rows(ctx.ops(), ctx.scratch(thread, kMaxBlockRows * cols), kMaxBlockRows, weight, x, y, static_cast<std::int64_t>(begin),
                    static_cast<std::int64_t>(end));
      },
      4);
}

void linear_batch(ComputeContext& ctx, std::span<const LinearJob> jobs) {
  // Jobs laid end to end in units of 4 rows (dot4's group) times the job's weight, each job
  // starting on a unit, so that the threads' chunks hold similar work. In the bf16 mode the
  // batched jobs' activations are packed into one shared buffer first, in parallel over their
  // token blocks.
  std::size_t units = 0, max_cols = 0, packed_values = 0, pack_blocks = 0;
  for (const LinearJob& job : jobs) {
    const bool bf16 = use_bf16(ctx, job.weight, job.x);
    units += static_cast<std::size_t>((job.weight.rows + 3) / 4) * unit_weight(bf16, job);
    max_cols = std::max(max_cols, static_cast<std::size_t>(job.weight.cols));
    if (!bf16) continue;
    packed_values += packed_activation_values(job.x.rows, job.weight.cols);
    pack_blocks += static_cast<std::size_t>((job.x.rows + kGemmTileTokens - 1) / kGemmTileTokens);
  }
  std::uint16_t* packed = packed_values > 0 ? ctx.shared_u16(packed_values) : nullptr;
  if (pack_blocks > 0) {
    ctx.pool().parallel_for(pack_blocks, [&](std::size_t begin, std::size_t end, unsigned) {
      std::size_t first_block = 0, offset = 0;
      for (const LinearJob& job : jobs) {
        if (!use_bf16(ctx, job.weight, job.x)) continue;
        const auto blocks = static_cast<std::size_t>((job.x.rows + kGemmTileTokens - 1) / kGemmTileTokens);
        const std::size_t lo = std::max(begin, first_block), hi = std::min(end, first_block + blocks);
        if (lo < hi) {
          prepare_activations(ctx, job.x, job.weight.cols, static_cast<std::int64_t>(lo - first_block),
                              static_cast<std::int64_t>(hi - first_block), packed + offset);
        }
        offset += packed_activation_values(job.x.rows, job.weight.cols);
        first_block += blocks;
      }
    });
  }
  ctx.pool().parallel_for(units, [&](std::size_t begin, std::size_t end, unsigned thread) {
    std::size_t first_unit = 0, offset = 0;
    for (const LinearJob& job : jobs) {
      const bool bf16 = use_bf16(ctx, job.weight, job.x);
      const std::size_t weight = unit_weight(bf16, job);
      const auto job_units = static_cast<std::size_t>((job.weight.rows + 3) / 4) * weight;
      const std::size_t lo = std::max(begin, first_unit), hi = std::min(end, first_unit + job_units);
      // Units [lo, hi) of the job are its row groups [lo / weight, hi / weight): consecutive
      // chunks meet on the same group, so each group runs once.
      if (lo < hi && (lo - first_unit) / weight < (hi - first_unit) / weight) {
        const auto row_begin = static_cast<std::int64_t>(4 * ((lo - first_unit) / weight));
        const std::int64_t row_end = std::min(job.weight.rows, static_cast<std::int64_t>(4 * ((hi - first_unit) / weight)));
        if (bf16) {
          bf16_rows_in_thread(ctx, thread, job.weight, packed + offset, job.x, job.y, row_begin, row_end);
        } else if (use_gemv_bf16(ctx, job.weight, job.x)) {
          gemv_rows_in_thread(ctx, thread, job.weight, job.x, job.y, row_begin, row_end);
        } else {
          linear_rows(ctx.ops(), ctx.scratch(thread, kMaxBlockRows * max_cols), kMaxBlockRows, job.weight, job.x, job.y,
                      row_begin, row_end);
        }
      }
      if (bf16) offset += packed_activation_values(job.x.rows, job.weight.cols);
      first_unit += job_units;
    }
  });
}

void linear_f64_accumulate(ComputeContext& ctx, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  const auto cols = static_cast<std::size_t>(weight.cols);
  ctx.pool().parallel_for(static_cast<std::size_t>(weight.rows), [&](std::size_t begin, std::size_t end, unsigned thread) {
    float* row = ctx.scratch(thread, cols);
    for (auto r = static_cast<std::int64_t>(begin); r < static_cast<std::int64_t>(end); ++r) {
      weight.row_to_f32(r, row, ctx.ops());
      for (std::int64_t t = 0; t < x.rows; ++t) {
        y.data[t * y.stride + r] = static_cast<float>(ctx.ops().dot_f64(row, x.data + t * x.stride, cols));
      }
    }
  });
}

void linear_serial(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x, MatrixRef y) {
  linear_rows(ops, scratch, 4, weight, x, y, 0, weight.rows);
}

// How far ahead of its use linear_transposed_accumulate asks for a FP8 row.
constexpr std::int64_t kTransposedAheadRows = 8;

void linear_transposed_accumulate(const VectorOps& ops, float* scratch, const Weight& weight, ConstMatrixRef x,
                                  MatrixRef y) {
  // Four weight rows at a time through axpy4 (one token's FP8 rows: axpy4_e4m3, the same bits
  // without the rows written out): y is loaded and stored once per four rows, and every y[t]
  // still receives the rows in order (the same bits as one axpy per row).
  const auto cols = static_cast<std::size_t>(weight.cols);
  std::int64_t r = 0;
  for (; r + 4 <= weight.rows; r += 4) {
    if (x.rows == 1 && weight.dtype == DType::F8_E4M3 && fused_rows_ok(weight, r)) {
      // One token: the rows dequantised in registers as they stream (nothing else reuses them).
      const std::int64_t row = weight.first_row + r;
      if (r + kTransposedAheadRows + 4 <= weight.rows) {
        const std::uint8_t* ahead = weight.data + static_cast<std::size_t>(row + kTransposedAheadRows) * cols;
        for (std::size_t line = 0; line < 4 * cols; line += 64) __builtin_prefetch(ahead + line);
      }
      ops.axpy4_e4m3(x.data + r, weight.data + static_cast<std::size_t>(row) * cols, cols, weight.scales_of_row(row), y.data, cols);
      continue;
    }
    for (int i = 0; i < 4; ++i) weight.row_to_f32(r + i, scratch + i * weight.cols, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) ops.axpy4(x.data + t * x.stride + r, scratch, cols, y.data + t * y.stride, cols);
  }
  for (; r < weight.rows; ++r) {
    weight.row_to_f32(r, scratch, ops);
    for (std::int64_t t = 0; t < x.rows; ++t) ops.axpy(x.data[t * x.stride + r], scratch, y.data + t * y.stride, weight.cols);
  }
}

}  // namespace dsv32
