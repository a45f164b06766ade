#pragma once
// The bf16 precision mode's batched product: activations and weights rounded to bf16, products
// exact in float32, sums in float32. AVX512-BF16 (vdpbf16ps) multiplies at twice the float32
// FMA rate on the CPUs that have it; the scalar versions are the references.
//
// Layout: the activations are packed once per product into blocks of 32 tokens, the two values
// of each column pair side by side ([cols/2][32 tokens][2]), so one register holds a column pair
// of 16 tokens and the weight's pair is a broadcast. A last block of 16 tokens or fewer (a decode
// batch) is packed 16 wide ([cols/2][16][2]): its column pairs then lie in consecutive lines,
// which the AMX tile reads at nearly twice the rate (the 32-wide rows used every other line). The weights stay row-major (stored bf16 is
// used in place, FP8 is converted a block of rows at a time) and no horizontal sums are needed.
#include <cstddef>
#include <cstdint>

#include "kernels/vector_ops.h"
#include "kernels/weight.h"

namespace dsv32 {

constexpr std::int64_t kGemmTileTokens = 32;  // tokens in a packed block and a tile
constexpr std::int64_t kGemmHalfTokens = 16;  // tokens in a last block packed 16 wide, and in tile_half
constexpr std::int64_t kGemmTileRows = 8;     // weight rows in a tile
constexpr std::int64_t kGemmWideRows = 32;    // weight rows in a wide tile (tile_wide)

// Memory a tile requests into L2 while it computes, `lines` 64-byte lines from `begin` spread
// evenly over its loop: the weights the next tile will read. A tile of a few tokens is
// short, and the hardware prefetcher alone left the next rows' first lines to wait on memory
// (bf16 weights, 16 tokens: 17 -> 22-25 GB/s).
struct TilePrefetch {
  const void* begin = nullptr;
  std::size_t lines = 0;
};

// tile[r * 32 + t] = Σ_c w[r][c] · x[t][c] for 8 weight rows (32 in the wide tiles; row_stride
// values apart) and the 32 tokens of one packed block, over col_pairs column pairs.
using GemmTileBf16 = void (*)(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block,
                              std::size_t col_pairs, float* tile, TilePrefetch prefetch);

// Wide tiles over `rows` (a multiple of kGemmWideRows) bf16 weight rows in place against one
// packed block of `tokens` tokens, each tile's results stored into y as store_tile does
// (y[t * y_stride + r]): a run of tile_wide calls with one tile configuration for the run.
using GemmRowsBf16 = void (*)(const std::uint16_t* w, std::size_t row_stride, std::size_t rows, const std::uint16_t* packed_block,
                              std::size_t col_pairs, std::size_t tokens, float* y, std::size_t y_stride);

// Wide tiles over FP8 rows [row_begin, row_begin + rows) of weight (rows a multiple of
// kGemmWideRows, at least two tiles) against one packed block of `tokens` tokens, the rows
// converted to bf16 as e4m3_row_to_bf16 converts them while the tiles multiply: on AMX 64
// columns of the tile's rows at a time into buffers in L1 where the columns are a multiple of
// 64, otherwise each tile's rows during the products of the tile before it into scratch
// (2 * kGemmWideRows * weight.cols values). Results stored as store_tile does, row r at
// y[t * y_stride + r]; one tile configuration for the run.
using GemmRowsConvertingBf16 = void (*)(const Weight& weight, std::int64_t row_begin, std::int64_t rows, const std::uint16_t* packed_block,
                                        std::size_t tokens, std::uint16_t* scratch, float* y, std::size_t y_stride);

// The next tile's FP8 rows, which a converting tile dequantises into `out` (row i at
// out + i * cols) while it multiplies the current one: row i's codes and its block scales (one
// per kFp8BlockSize codes), e4m3_row_to_bf16's result. `rows`: the tile's (kGemmTileRows, or
// kGemmWideRows for a wide tile).
struct NextE4m3Rows {
  const std::uint8_t* codes[kGemmWideRows];
  const float* scales[kGemmWideRows];
  std::size_t rows;
  std::size_t cols;
  std::uint16_t* out;
};

// tile or tile_half of rows already in bf16, converting the next tile's rows on the side: on
// AMX the products leave the vector units free for the conversion.
using GemmTileConvertingBf16 = void (*)(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block,
                                        std::size_t col_pairs, float* tile, TilePrefetch prefetch, const NextE4m3Rows& next);

struct GemmBf16Kernels {
  const char* name;
  GemmTileBf16 tile;
  GemmTileBf16 tile_half;  // the same for a block packed 16 wide (tile[r * 32 + t], t < 16)
  void (*round_to_bf16)(const float* src, std::uint16_t* dst, std::size_t n);  // nearest even
  // dst = bf16(e4m3(src) * scale), as round_to_bf16 of the dequantised float32 values.
  void (*e4m3_to_bf16)(const std::uint8_t* src, float scale, std::uint16_t* dst, std::size_t n);
  // The same for a row of n codes with one scale per kFp8BlockSize (FP8 weight rows, cached
  // latents): code i takes scales[i / kFp8BlockSize].
  void (*e4m3_row_to_bf16)(const std::uint8_t* src, const float* scales, std::uint16_t* dst, std::size_t n);
  // A row of n (even) I4 values (kernels/weight.h) as bf16(q * scales[c / kI4GroupSize]), rounded as
  // round_to_bf16 rounds the float32 product.
  void (*i4_row_to_bf16)(const std::uint8_t* packed, const float* scales, std::uint16_t* dst, std::size_t n);
  // out[2j] = even[j], out[2j + 1] = odd[j] for j < n: two rows as a packed block's column pairs
  // (the absorbed attention's W_UK, whose rows are the pairs).
  void (*interleave_rows)(const std::uint16_t* even, const std::uint16_t* odd, std::size_t n, std::uint16_t* out);
  // Rows as column pairs: `count` rows of x (`stride` floats apart), `cols` (even) values each,
  // times scale and rounded as round_to_bf16, into out[cols / 2][rows][2]; rows from `count` to
  // `rows` (a multiple of 16) are zeros. A packed block of 32 tokens (scale 1), and the bf16
  // attention's query (kernels/attention_bf16.h).
  void (*pack_pairs)(const float* x, std::size_t stride, std::size_t count, std::size_t rows, std::size_t cols, float scale,
                     std::uint16_t* out);
  // A tile's results into rows of tokens: y[t * y_stride + r] = tile[r * kGemmTileTokens + t]
  // for r < rows (at most kGemmWideRows), t < tokens (at most kGemmTileTokens).
  void (*store_tile)(const float* tile, std::size_t rows, std::size_t tokens, float* y, std::size_t y_stride);
  // Converting versions of tile and tile_half (nullptr: this table converts before the tile).
  GemmTileConvertingBf16 tile_converting = nullptr;
  GemmTileConvertingBf16 tile_half_converting = nullptr;
  // tile and tile_half over kGemmWideRows weight rows (tile[r * 32 + t], r < 32), where the
  // table has them (nullptr: four tiles). On AMX two 16-row weight tiles share each load of
  // the tokens, which the 8-row tile loads once per 8 rows: bf16 weights read in place, 16
  // tokens, 13 -> 19-20 GB/s, as fast as a plain read of them.
  GemmTileBf16 tile_wide = nullptr;
  GemmTileBf16 tile_half_wide = nullptr;
  // Converting versions of the wide tiles (next.rows == kGemmWideRows).
  GemmTileConvertingBf16 tile_wide_converting = nullptr;
  GemmTileConvertingBf16 tile_half_wide_converting = nullptr;
  // Runs of tile_wide and tile_half_wide (nullptr: call them tile by tile). On AMX each tile
  // call loads the tile configuration and releases the tiles (other AMX code runs on the same
  // threads between calls); a run does both once: the head's 4040 tiles per step.
  GemmRowsBf16 rows_wide = nullptr;
  GemmRowsBf16 rows_half_wide = nullptr;
  // The same for converting wide tiles over FP8 rows.
  GemmRowsConvertingBf16 rows_wide_converting = nullptr;
  GemmRowsConvertingBf16 rows_half_wide_converting = nullptr;
};

const GemmBf16Kernels& scalar_gemm_bf16();
const GemmBf16Kernels* avx512_gemm_bf16();  // nullptr when the CPU lacks AVX512-BF16 or AVX512-VBMI
// The AVX-512 table with its tiles on AMX; nullptr without AMX-BF16 or the kernel's permission.
const GemmBf16Kernels* amx_gemm_bf16();
// The fastest this CPU runs (DSV32_ISA=avx512 leaves AMX aside; scalar|avx2 force the
// reference, which linear() then leaves aside for its float32 path).
const GemmBf16Kernels& best_gemm_bf16();

// Columns [col, col + count) of weight row r (of the view) as bf16: round_to_bf16 of the
// dequantised floats (stored bf16 is copied, FP8 converted block by block). row_f32 holds
// weight.cols floats, used only by the other dtypes.
void weight_row_to_bf16(const GemmBf16Kernels& kernels, const VectorOps& ops, const Weight& weight, std::int64_t r,
                        std::int64_t col, std::int64_t count, float* row_f32, std::uint16_t* out);

// The FP8 rows of the converting tile of tile_rows rows at view row r (a short last tile, at
// row_end, repeats its last row), to be converted into out (rows weight.cols values apart).
NextE4m3Rows e4m3_tile_rows(const Weight& weight, std::int64_t r, std::int64_t tile_rows, std::int64_t row_end, std::uint16_t* out);

// Values pack_activations_bf16 writes for `tokens` rows of `cols` (even) values.
std::size_t packed_activation_values(std::int64_t tokens, std::int64_t cols);
// Packs tokens [block_begin * 32, block_end * 32) of x (rows `stride` floats apart) into their
// blocks of `packed` (kernels.pack_pairs; block b at b * 32 * cols values, a last block of 16
// tokens or fewer 16 wide); tokens past `tokens` are zeros.
std::int64_t packed_block_width(std::int64_t tokens, std::int64_t block);
void pack_activations_bf16(const GemmBf16Kernels& kernels, const float* x, std::int64_t tokens, std::int64_t stride,
                           std::int64_t cols, std::int64_t block_begin, std::int64_t block_end, std::uint16_t* packed);

}  // namespace dsv32
