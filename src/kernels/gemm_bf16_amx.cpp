// AMX path of gemm_bf16.h's tile: the AVX-512 table with tile and tile_half on AMX tiles
// (TDPBF16PS, here an 8 x 32 by 32 x 16 bf16 product per instruction; 16 x 32 by 32 x 16 in
// the wide tiles, two per step). This file is compiled
// with -mamx-tile -mamx-bf16 (as the other *_amx.cpp) and is only called after
// amx_gemm_bf16()'s CPU and kernel-permission checks (cpu_features.h).
//
// The product is computed transposed: A holds the tile's 8 weight rows (32 columns each, used in
// place row-major), B a packed block's 16 column pairs of 16 tokens (the packed layouts
// [pairs][32 or 16 tokens][2] are AMX's pair-interleaved B layout, 128 or 64 bytes a row), C the 8 x 16
// float32 results, stored straight into tile[r * 32 + t].
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "kernels/amx_tile_config.h"
#include "kernels/cpu_features.h"
#include "kernels/e4m3_to_bf16_avx512.h"
#include "kernels/gemm_bf16.h"

namespace dsv32 {
namespace {

constexpr std::size_t kPairsPerStep = 16;  // column pairs one TDPBF16PS consumes (64 bytes of a row)

// Tile registers (GCC's intrinsics take them as literal numbers): 0 the weights, 1 and 2 the
// packed block's tokens 0-15 and 16-31, 3 and 4 their results.
constexpr AmxTileConfig make_config() {
  AmxTileConfig config;
  config.bytes_per_row[0] = 64, config.rows[0] = kGemmTileRows;
  for (const int b : {1, 2}) config.bytes_per_row[b] = 64, config.rows[b] = kPairsPerStep;
  for (const int c : {3, 4}) config.bytes_per_row[c] = 64, config.rows[c] = kGemmTileRows;
  return config;
}
constexpr AmxTileConfig kConfig = make_config();

// The wide tile's registers: 0 and 1 the weights' two 16-row halves, 2 and 3 the packed
// block's tokens 0-15 and 16-31, 4 + 2a + h the results of weight half a and token half h.
constexpr int kWideHalfRows = kGemmWideRows / 2;
constexpr AmxTileConfig make_wide_config() {
  AmxTileConfig config;
  for (int t = 0; t < 8; ++t) config.bytes_per_row[t] = 64, config.rows[t] = kWideHalfRows;
  return config;
}
constexpr AmxTileConfig kWideConfig = make_wide_config();

// The column pairs past the last whole step, added to the stored results with vdpbf16ps (as
// gemm_bf16_avx512.cpp's tile): shapes whose columns are not a multiple of 32.
void add_tail(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t first_pair,
              std::size_t col_pairs, float* out, int token_halves, std::int64_t rows) {
  for (int half = 0; half < token_halves; ++half) {
    for (std::int64_t r = 0; r < rows; ++r) {
      __m512 acc = _mm512_loadu_ps(out + r * kGemmTileTokens + 16 * half);
      for (std::size_t i = first_pair; i < col_pairs; ++i) {
        std::int32_t pair;
        std::memcpy(&pair, w + r * row_stride + 2 * i, sizeof pair);
        const auto x = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 2 * 16 * token_halves + 32 * half));
        acc = _mm512_dpbf16_ps(acc, x, reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair)));
      }
      _mm512_storeu_ps(out + r * kGemmTileTokens + 16 * half, acc);
    }
  }
}

// The next tile's weights requested over the steps, a few lines each (as the AVX-512 tile).
void prefetch_share(TilePrefetch prefetch, std::size_t step, std::size_t steps) {
  if (prefetch.lines == 0) return;
  const std::size_t first = prefetch.lines * step / steps, last = prefetch.lines * (step + 1) / steps;
  const auto begin = reinterpret_cast<std::uintptr_t>(prefetch.begin);
  for (std::size_t line = first; line < last; ++line) _mm_prefetch(reinterpret_cast<const char*>(begin + 64 * line), _MM_HINT_T1);
}

// The next tile's rows as groups of 64 codes, row by row, each converted as e4m3_row_to_bf16
// converts it (e4m3_row_part_to_bf16, whose requests of the lines a few KB ahead keep the
// conversion fed: the tile's own requests of whole tiles ahead left it waiting on its loads).
class NextRowsConverter {
 public:
  explicit NextRowsConverter(const NextE4m3Rows& next)
      : next_(&next), groups_per_row_((next.cols + 63) / 64), groups_(next.rows * groups_per_row_) {
    assert(next.rows > 0 && next.rows <= kGemmWideRows);
  }
  std::size_t groups() const { return groups_; }
  // Groups [begin, end): one division a call (a division per group of 64 codes took as long
  // as a third of its conversion), the tables copied once into registers, then each row's
  // part a block scale at a time: per group, its bookkeeping cost as much as the conversion
  // (DecodeLinear1MB, 16 tokens: 82-86 -> 69-77 us, min of 7, 3 alternated rounds).
  void convert(std::size_t begin, std::size_t end) const {
    if (begin >= end) return;
    const E4m3ToBf16Constants constants = constants_;
    const std::size_t last_row = (end - 1) / groups_per_row_;
    std::size_t row = begin / groups_per_row_, col = (begin % groups_per_row_) * 64;
    for (; row <= last_row; ++row, col = 0) {
      const std::size_t col_end = row < last_row ? next_->cols : std::min(next_->cols, ((end - 1) % groups_per_row_ + 1) * 64);
      e4m3_row_part_to_bf16(constants, next_->codes[row], next_->scales[row], next_->out + row * next_->cols, col, col_end);
    }
  }

 private:
  const NextE4m3Rows* next_;
  std::size_t groups_per_row_, groups_;
  E4m3ToBf16Constants constants_;
};

// One accumulator per 16 tokens: two or four accumulators over the steps measured no faster.
// With a converter, each step also converts its share of the next tile's rows, which the vector
// units do while the tile unit multiplies; a plain tile passes none, and pays nothing for it.
template <int kTokenHalves>
void amx_tile_converting(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                         float* out, TilePrefetch prefetch, const NextRowsConverter* converter) {
  _tile_loadconfig(&kConfig);
  _tile_zero(3);
  if constexpr (kTokenHalves == 2) _tile_zero(4);
  const std::size_t steps = col_pairs / kPairsPerStep;
  for (std::size_t step = 0; step < steps; ++step) {
    prefetch_share(prefetch, step, steps);
    if (converter != nullptr) converter->convert(converter->groups() * step / steps, converter->groups() * (step + 1) / steps);
    constexpr std::size_t kWidth = 16 * kTokenHalves;                          // the block's packed width
    constexpr std::size_t kPairBytes = kWidth * 2 * sizeof(std::uint16_t);  // from one column pair to the next
    const std::uint16_t* tokens = packed_block + step * kPairsPerStep * kWidth * 2;
    _tile_loadd(0, w + step * kPairsPerStep * 2, row_stride * sizeof(std::uint16_t));
    _tile_loadd(1, tokens, kPairBytes);
    _tile_dpbf16ps(3, 0, 1);
    if constexpr (kTokenHalves == 2) {
      _tile_loadd(2, tokens + 32, kPairBytes);
      _tile_dpbf16ps(4, 0, 2);
    }
  }
  _tile_stored(3, out, kGemmTileTokens * sizeof(float));
  if constexpr (kTokenHalves == 2) _tile_stored(4, out + 16, kGemmTileTokens * sizeof(float));
  _tile_release();
  amx_buffers_written();  // the tail reads what the tile stores wrote
  if (steps == 0 && converter != nullptr) converter->convert(0, converter->groups());
  if (steps * kPairsPerStep < col_pairs) add_tail(w, row_stride, packed_block, steps * kPairsPerStep, col_pairs, out, kTokenHalves, kGemmTileRows);
}

// 32 weight rows as two 16-row tiles against one or two token halves: each token load serves
// both weight tiles (the 8-row tile loads 1 KB of tokens per 512 bytes of weights and token
// half). The wide configuration must be loaded; the results are stored to out.
template <int kTokenHalves>
void wide_tile_products(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                        float* out, TilePrefetch prefetch, const NextRowsConverter* converter) {
  _tile_zero(4);
  _tile_zero(6);
  if constexpr (kTokenHalves == 2) {
    _tile_zero(5);
    _tile_zero(7);
  }
  const std::size_t steps = col_pairs / kPairsPerStep, stride_bytes = row_stride * sizeof(std::uint16_t);
  const std::uint16_t* lower = w + kWideHalfRows * row_stride;
  for (std::size_t step = 0; step < steps; ++step) {
    prefetch_share(prefetch, step, steps);
    if (converter != nullptr) converter->convert(converter->groups() * step / steps, converter->groups() * (step + 1) / steps);
    constexpr std::size_t kWidth = 16 * kTokenHalves;
    constexpr std::size_t kPairBytes = kWidth * 2 * sizeof(std::uint16_t);
    const std::uint16_t* tokens = packed_block + step * kPairsPerStep * kWidth * 2;
    _tile_loadd(2, tokens, kPairBytes);
    _tile_loadd(0, w + step * kPairsPerStep * 2, stride_bytes);
    _tile_dpbf16ps(4, 0, 2);
    _tile_loadd(1, lower + step * kPairsPerStep * 2, stride_bytes);
    _tile_dpbf16ps(6, 1, 2);
    if constexpr (kTokenHalves == 2) {
      _tile_loadd(3, tokens + 32, kPairBytes);
      _tile_dpbf16ps(5, 0, 3);
      _tile_dpbf16ps(7, 1, 3);
    }
  }
  constexpr std::size_t kOutStride = kGemmTileTokens * sizeof(float);
  float* lower_out = out + kWideHalfRows * kGemmTileTokens;
  _tile_stored(4, out, kOutStride);
  _tile_stored(6, lower_out, kOutStride);
  if constexpr (kTokenHalves == 2) {
    _tile_stored(5, out + 16, kOutStride);
    _tile_stored(7, lower_out + 16, kOutStride);
  }
}

template <int kTokenHalves>
void amx_tile_wide_converting(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                              float* out, TilePrefetch prefetch, const NextRowsConverter* converter) {
  _tile_loadconfig(&kWideConfig);
  wide_tile_products<kTokenHalves>(w, row_stride, packed_block, col_pairs, out, prefetch, converter);
  _tile_release();
  amx_buffers_written();  // the tail reads what the tile stores wrote
  const std::size_t steps = col_pairs / kPairsPerStep;
  if (steps == 0 && converter != nullptr) converter->convert(0, converter->groups());
  if (steps * kPairsPerStep < col_pairs) {
    add_tail(w, row_stride, packed_block, steps * kPairsPerStep, col_pairs, out, kTokenHalves, kGemmWideRows);
  }
}

// A run of wide tiles in place, the configuration loaded once (the tail's vdpbf16ps and the
// stores into y need no tiles).
template <int kTokenHalves>
void amx_rows_wide(const std::uint16_t* w, std::size_t row_stride, std::size_t rows, const std::uint16_t* packed_block, std::size_t col_pairs,
                   std::size_t tokens, float* y, std::size_t y_stride) {
  assert(rows % kGemmWideRows == 0);
  const std::size_t steps = col_pairs / kPairsPerStep;
  float tile[kGemmWideRows * kGemmTileTokens];
  const auto store_tile = avx512_gemm_bf16()->store_tile;  // the table this one extends
  _tile_loadconfig(&kWideConfig);
  for (std::size_t r = 0; r < rows; r += kGemmWideRows) {
    const std::uint16_t* tile_rows = w + r * row_stride;
    wide_tile_products<kTokenHalves>(tile_rows, row_stride, packed_block, col_pairs, tile, {}, nullptr);
    amx_buffers_written();
    if (steps * kPairsPerStep < col_pairs) {
      add_tail(tile_rows, row_stride, packed_block, steps * kPairsPerStep, col_pairs, tile, kTokenHalves, kGemmWideRows);
    }
    store_tile(tile, kGemmWideRows, tokens, y + r, y_stride);
  }
  _tile_release();
}

// A run of converting wide tiles over FP8 rows, the configuration loaded once: the first tile's
// rows converted before any product, each next tile's during the products of the one before
// (into the other half of scratch), as linear()'s converting tiles do tile by tile.
template <int kTokenHalves>
void amx_rows_wide_converting(const Weight& weight, std::int64_t row_begin, std::int64_t rows, const std::uint16_t* packed_block,
                              std::size_t tokens, std::uint16_t* scratch, float* y, std::size_t y_stride) {
  assert(rows % kGemmWideRows == 0 && rows >= 2 * kGemmWideRows);
  const auto cols = static_cast<std::size_t>(weight.cols);
  const std::size_t col_pairs = cols / 2, steps = col_pairs / kPairsPerStep;
  const std::int64_t row_end = row_begin + rows;
  std::uint16_t* buffers[2] = {scratch, scratch + kGemmWideRows * cols};
  const NextE4m3Rows first = e4m3_tile_rows(weight, row_begin, kGemmWideRows, row_end, buffers[0]);
  const NextRowsConverter first_converter(first);
  first_converter.convert(0, first_converter.groups());
  amx_buffers_written();  // the first tile's loads read what the conversion stored
  const auto store_tile = avx512_gemm_bf16()->store_tile;  // the table this one extends
  float tile[kGemmWideRows * kGemmTileTokens];
  _tile_loadconfig(&kWideConfig);
  for (std::int64_t r = row_begin, parity = 0; r < row_end; r += kGemmWideRows, parity ^= 1) {
    const std::uint16_t* current = buffers[parity];
    if (r + kGemmWideRows < row_end) {
      const NextE4m3Rows next = e4m3_tile_rows(weight, r + kGemmWideRows, kGemmWideRows, row_end, buffers[1 - parity]);
      const NextRowsConverter converter(next);
      wide_tile_products<kTokenHalves>(current, cols, packed_block, col_pairs, tile, {}, &converter);
      amx_buffers_written();
      if (steps == 0) converter.convert(0, converter.groups());
    } else {
      wide_tile_products<kTokenHalves>(current, cols, packed_block, col_pairs, tile, {}, nullptr);
      amx_buffers_written();
    }
    if (steps * kPairsPerStep < col_pairs) add_tail(current, cols, packed_block, steps * kPairsPerStep, col_pairs, tile, kTokenHalves, kGemmWideRows);
    store_tile(tile, kGemmWideRows, tokens, y + r, y_stride);
  }
  _tile_release();
}

// The table's entries: a tile of 8 or 32 rows (kWide), plain or converting the next rows.
template <int kTokenHalves, bool kWide>
void amx_tile_any(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs, float* out,
                  TilePrefetch prefetch, const NextRowsConverter* converter) {
  if constexpr (kWide) {
    amx_tile_wide_converting<kTokenHalves>(w, row_stride, packed_block, col_pairs, out, prefetch, converter);
  } else {
    amx_tile_converting<kTokenHalves>(w, row_stride, packed_block, col_pairs, out, prefetch, converter);
  }
}

template <int kTokenHalves, bool kWide>
void amx_tile(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs, float* out,
              TilePrefetch prefetch) {
  amx_tile_any<kTokenHalves, kWide>(w, row_stride, packed_block, col_pairs, out, prefetch, nullptr);
}

template <int kTokenHalves, bool kWide>
void amx_tile_with_next(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                        float* out, TilePrefetch prefetch, const NextE4m3Rows& next) {
  const NextRowsConverter converter(next);
  amx_tile_any<kTokenHalves, kWide>(w, row_stride, packed_block, col_pairs, out, prefetch, &converter);
}

GemmBf16Kernels with_amx_tiles(GemmBf16Kernels kernels) {
  kernels.name = "amx";
  kernels.tile = amx_tile<2, false>;
  kernels.tile_half = amx_tile<1, false>;
  kernels.tile_converting = amx_tile_with_next<2, false>;
  kernels.tile_half_converting = amx_tile_with_next<1, false>;
  kernels.tile_wide = amx_tile<2, true>;
  kernels.tile_half_wide = amx_tile<1, true>;
  kernels.tile_wide_converting = amx_tile_with_next<2, true>;
  kernels.tile_half_wide_converting = amx_tile_with_next<1, true>;
  kernels.rows_wide = amx_rows_wide<2>;
  kernels.rows_half_wide = amx_rows_wide<1>;
  kernels.rows_wide_converting = amx_rows_wide_converting<2>;
  kernels.rows_half_wide_converting = amx_rows_wide_converting<1>;
  return kernels;
}

}  // namespace

const GemmBf16Kernels* amx_gemm_bf16() {
  static const bool usable = avx512_gemm_bf16() != nullptr && cpu_has_amx_bf16() && amx_tiles_granted();
  if (!usable) return nullptr;
  static const GemmBf16Kernels kernels = with_amx_tiles(*avx512_gemm_bf16());
  return &kernels;
}

}  // namespace dsv32
