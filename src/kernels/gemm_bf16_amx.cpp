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

// Clears the wide tile's accumulators (registers 4 + 2a + h: weight half a, token half h).
template <int kTokenHalves>
void zero_wide_results() {
  _tile_zero(4);
  _tile_zero(6);
  if constexpr (kTokenHalves == 2) {
    _tile_zero(5);
    _tile_zero(7);
  }
}

// One step of a wide tile: the step's token pairs (packed kTokenHalves * 16 wide) into register
// 2 (and 3), the weights' upper and lower 16 rows into 0 and 1 (stride_bytes apart), their
// products added to the accumulators.
template <int kTokenHalves>
[[gnu::always_inline]] inline void wide_step(const std::uint16_t* tokens, const std::uint16_t* upper, const std::uint16_t* lower,
                                             std::size_t stride_bytes) {
  constexpr std::size_t kPairBytes = 16 * kTokenHalves * 2 * sizeof(std::uint16_t);
  _tile_loadd(2, tokens, kPairBytes);
  _tile_loadd(0, upper, stride_bytes);
  _tile_dpbf16ps(4, 0, 2);
  _tile_loadd(1, lower, stride_bytes);
  _tile_dpbf16ps(6, 1, 2);
  if constexpr (kTokenHalves == 2) {
    _tile_loadd(3, tokens + 32, kPairBytes);
    _tile_dpbf16ps(5, 0, 3);
    _tile_dpbf16ps(7, 1, 3);
  }
}

// The wide tile's results (registers 4 + 2a + h: weight half a, token half h) into out[r * 32 + t].
template <int kTokenHalves>
void store_wide_results(float* out) {
  constexpr std::size_t kOutStride = kGemmTileTokens * sizeof(float);
  float* lower_out = out + kWideHalfRows * kGemmTileTokens;
  _tile_stored(4, out, kOutStride);
  _tile_stored(6, lower_out, kOutStride);
  if constexpr (kTokenHalves == 2) {
    _tile_stored(5, out + 16, kOutStride);
    _tile_stored(7, lower_out + 16, kOutStride);
  }
}

// One step of a wide tile against a block packed 16 wide: the tokens' pairs, then the weights'
// upper and lower 16 rows, into accumulators 4 and 6. Odd steps load into registers 3, 5 and 7,
// even ones into 2, 0 and 1: tiles are not renamed, so a load into a register waits for the
// products still reading it, and alternating lets a step's loads overlap the products before it
// (the staged run's converted rows, in L1; bf16 rows read in place from memory went slower:
// 16 tokens, 128 MB, 4 alternated runs, 15.7-24.9 -> 10.4-16.8 GB/s).
template <bool kOdd>
[[gnu::always_inline]] inline void half_wide_step(const std::uint16_t* tokens, const std::uint16_t* upper, const std::uint16_t* lower,
                                                  std::size_t stride_bytes) {
  constexpr std::size_t kPairBytes = 16 * 2 * sizeof(std::uint16_t);
  if constexpr (kOdd) {
    _tile_loadd(3, tokens, kPairBytes);
    _tile_loadd(5, upper, stride_bytes);
    _tile_loadd(7, lower, stride_bytes);
    _tile_dpbf16ps(4, 5, 3);
    _tile_dpbf16ps(6, 7, 3);
  } else {
    _tile_loadd(2, tokens, kPairBytes);
    _tile_loadd(0, upper, stride_bytes);
    _tile_loadd(1, lower, stride_bytes);
    _tile_dpbf16ps(4, 0, 2);
    _tile_dpbf16ps(6, 1, 2);
  }
}

// 32 weight rows as two 16-row tiles against one or two token halves: each token load serves
// both weight tiles (the 8-row tile loads 1 KB of tokens per 512 bytes of weights and token
// half). The wide configuration must be loaded; the results are stored to out.
template <int kTokenHalves>
void wide_tile_products(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
                        float* out, TilePrefetch prefetch, const NextRowsConverter* converter) {
  zero_wide_results<kTokenHalves>();
  const std::size_t steps = col_pairs / kPairsPerStep, stride_bytes = row_stride * sizeof(std::uint16_t);
  const std::uint16_t* lower = w + kWideHalfRows * row_stride;
  for (std::size_t step = 0; step < steps; ++step) {
    prefetch_share(prefetch, step, steps);
    if (converter != nullptr) converter->convert(converter->groups() * step / steps, converter->groups() * (step + 1) / steps);
    constexpr std::size_t kWidth = 16 * kTokenHalves;
    wide_step<kTokenHalves>(packed_block + step * kPairsPerStep * kWidth * 2, w + step * kPairsPerStep * 2, lower + step * kPairsPerStep * 2,
                            stride_bytes);
  }
  store_wide_results<kTokenHalves>(out);
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

// A 64-code group's scale for e4m3x64_to_bf16: whether it is a power of two 2^k in
// table_scale's range (the shift and table routes), and the bias the shift route adds.
struct GroupScale {
  float scale;
  bool table;
  __m512i bias;  // (120 + k) << 7 in each word (used only where table)
};
inline GroupScale group_scale(float scale) {
  int k = 0;
  const bool table = table_scale(scale, k);
  return {scale, table, _mm512_set1_epi16(static_cast<short>((120 + k) << 7))};
}

// 64 codes of one row (one 128-column block's half, so one scale) as e4m3_row_to_bf16 gives
// them. With a scale 2^k in table_scale's range, codes whose exponent field is not zero (all but
// zeros and subnormals, a few in ten thousand of a checkpoint's) take four instructions per 32:
// sign-extended to words and shifted, exponent and mantissa land in bf16's fields, the copied
// sign is cleared, and adding (120 + k) << 7 rebiases the exponent and applies the scale, the
// tables' very bits without their permutes. A group holding a zero, a subnormal or (where the
// weight was not found free of them) a NaN code goes through the tables; other scales through
// the float route.
[[gnu::always_inline]] inline void e4m3x64_to_bf16(const E4m3ToBf16Constants& constants, const std::uint8_t* codes, const GroupScale& scale,
                                                   bool check_nan, std::uint16_t* dst) {
  if (!scale.table) {
    e4m3_to_bf16(codes, scale.scale, dst, 64);
    return;
  }
  const __m512i all = _mm512_loadu_si512(codes);
  __mmask64 other = _mm512_testn_epi8_mask(all, _mm512_set1_epi8(0x78));  // exponent field zero
  if (check_nan) other |= _mm512_cmpeq_epi8_mask(_mm512_and_si512(all, constants.magnitude_bits), constants.magnitude_bits);
  if (other != 0) {
    int k = 0;
    table_scale(scale.scale, k);
    e4m3_times_power_of_two(constants, codes, k, dst, 64);
    return;
  }
  const __m512i fields = _mm512_set1_epi16(static_cast<short>(0x87F0));
  for (int half = 0; half < 2; ++half) {
    const __m512i words = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + 32 * half)));
    _mm512_storeu_si512(dst + 32 * half, _mm512_add_epi16(_mm512_and_si512(_mm512_slli_epi16(words, 4), fields), scale.bias));
  }
}

// Codes of each row converted at a time by the staged run: one line, two steps of products.
constexpr std::size_t kStageCols = 64;
constexpr std::size_t kStageBuffers = 3;  // the chunk multiplied, the next, and the one converting

// Codes [col, col + kStageCols) of rows [row_begin, row_end) of the wide tile whose first row
// is full-tensor row `first` (row_begin, row_end: within the tile) into out (row i at
// out + i * kStageCols), their share of the next tile requested into L2. Everything the loop
// reads is a local: its stores (may_alias vectors) would otherwise reload each field per row.
[[gnu::always_inline]] inline void convert_stage(const E4m3ToBf16Constants& constants, const Weight& weight, std::int64_t first,
                                                 std::size_t col, bool check_nan, std::uint16_t* out, std::int64_t row_begin, std::int64_t row_end) {
  const std::size_t row_bytes = weight.row_bytes(), block = col / static_cast<std::size_t>(kFp8BlockSize);
  const std::uint8_t* codes = weight.data + static_cast<std::size_t>(first + row_begin) * row_bytes + col;
  // This chunk's share of the next tile (32 rows, contiguous), requested in address order:
  // kStageCols bytes a row, each half of the rows' conversion requesting half of it.
  const std::uintptr_t next_share = reinterpret_cast<std::uintptr_t>(weight.data) + static_cast<std::size_t>(first + kGemmWideRows) * row_bytes +
                                    col / kStageCols * kGemmWideRows * kStageCols + static_cast<std::size_t>(row_begin) * kStageCols;
  out += row_begin * static_cast<std::int64_t>(kStageCols);
  const bool one_block = first / kFp8BlockSize == (first + kGemmWideRows - 1) / kFp8BlockSize;  // of scales
  GroupScale scale = group_scale(weight.scales_of_row(first + row_begin)[block]);
  for (std::int64_t i = row_begin; i < row_end; ++i, codes += row_bytes, out += kStageCols) {
    // (an integer address: past the weights, a pointer there would be undefined behaviour)
    _mm_prefetch(reinterpret_cast<const char*>(next_share + static_cast<std::size_t>(i - row_begin) * kStageCols), _MM_HINT_T1);
    if (!one_block && i > row_begin) scale = group_scale(weight.scales_of_row(first + i)[block]);
    e4m3x64_to_bf16(constants, codes, scale, check_nan, out);
  }
}

// A run of wide tiles over FP8 rows whose columns are a multiple of kStageCols: each tile's rows
// are converted kStageCols columns at a time (32 rows x 64 codes, 4 KB of bf16) into a few
// buffers that stay in L1, two chunks ahead of the products that read them, the next tile's
// rows requested meanwhile in address order. Converting a whole tile ahead into scratch (the
// converting tiles) wrote 64 KB a tile through to L2 and read it back, and its table route
// took four permutes per 64 codes. 16 tokens, 4 alternated runs (DecodeLinear, benchmarks/):
// 1 MB in cache 10.0-13.0 -> 11.7-17.7 GB/s, 128 MB 8.2-13.6 -> 12.0-17.8; one thread, 256 KB
// in L2, alternated calls: 1.6x (the rows' own line of the next tile requested instead, 8.8-17.4).
template <int kTokenHalves>
void amx_rows_wide_staged(const Weight& weight, std::int64_t row_begin, std::int64_t rows, const std::uint16_t* packed_block,
                          std::size_t tokens, float* y, std::size_t y_stride) {
  assert(rows % kGemmWideRows == 0 && rows > 0 && weight.cols % static_cast<std::int64_t>(kStageCols) == 0);
  const std::size_t chunks_per_tile = static_cast<std::size_t>(weight.cols) / kStageCols;
  const std::size_t chunks = static_cast<std::size_t>(rows / kGemmWideRows) * chunks_per_tile;
  const bool check_nan = !weight.codes_nan_free;
  const E4m3ToBf16Constants constants;
  alignas(64) std::uint16_t stage[kStageBuffers][kGemmWideRows * kStageCols];
  const auto convert = [&](std::size_t chunk, std::int64_t rows_begin, std::int64_t rows_end) {
    const std::int64_t first = weight.first_row + row_begin + static_cast<std::int64_t>(chunk / chunks_per_tile) * kGemmWideRows;
    convert_stage(constants, weight, first, chunk % chunks_per_tile * kStageCols, check_nan, stage[chunk % kStageBuffers], rows_begin, rows_end);
  };
  convert(0, 0, kGemmWideRows);
  if (chunks > 1) convert(1, 0, kGemmWideRows);
  amx_buffers_written();  // the first loads read what the conversions stored
  const auto store_tile = avx512_gemm_bf16()->store_tile;  // the table this one extends
  float tile[kGemmWideRows * kGemmTileTokens];
  constexpr std::size_t kWidth = 16 * kTokenHalves;
  constexpr std::size_t kStageStride = kStageCols * sizeof(std::uint16_t);
  constexpr std::size_t kLowerHalf = kWideHalfRows * kStageCols;
  _tile_loadconfig(&kWideConfig);
  for (std::size_t chunk = 0; chunk < chunks; ++chunk) {
    const std::size_t col_chunk = chunk % chunks_per_tile;
    if (col_chunk == 0) zero_wide_results<kTokenHalves>();
    const std::uint16_t* w = stage[chunk % kStageBuffers];
    const std::uint16_t* chunk_tokens = packed_block + 2 * col_chunk * kPairsPerStep * kWidth * 2;
    constexpr std::size_t kOddCol = kPairsPerStep * 2, kOddTokens = kPairsPerStep * kWidth * 2;
    // The conversion two chunks ahead goes in two halves, each after a step's products: 32 rows
    // at once filled the reorder window, and the next products waited behind it.
    const bool convert_ahead = chunk + 2 < chunks;
    if constexpr (kTokenHalves == 1) {
      half_wide_step<false>(chunk_tokens, w, w + kLowerHalf, kStageStride);
      if (convert_ahead) convert(chunk + 2, 0, kWideHalfRows);
      half_wide_step<true>(chunk_tokens + kOddTokens, w + kOddCol, w + kLowerHalf + kOddCol, kStageStride);
      if (convert_ahead) convert(chunk + 2, kWideHalfRows, kGemmWideRows);
    } else {
      for (std::size_t odd = 0; odd < 2; ++odd) {
        wide_step<2>(chunk_tokens + odd * kOddTokens, w + odd * kOddCol, w + kLowerHalf + odd * kOddCol, kStageStride);
        if (convert_ahead) convert(chunk + 2, odd * kWideHalfRows, (odd + 1) * kWideHalfRows);
      }
    }
    amx_buffers_written();  // the loads two chunks on read what the conversion stored
    if (col_chunk + 1 == chunks_per_tile) {
      store_wide_results<kTokenHalves>(tile);
      amx_buffers_written();  // the stores into y read what the tile stores wrote
      const std::int64_t r = row_begin + static_cast<std::int64_t>(chunk / chunks_per_tile) * kGemmWideRows;
      store_tile(tile, kGemmWideRows, tokens, y + r, y_stride);
    }
  }
  _tile_release();
}

// The converting run: staged where the columns allow it, tile by tile into scratch otherwise.
template <int kTokenHalves>
void amx_rows_converting(const Weight& weight, std::int64_t row_begin, std::int64_t rows, const std::uint16_t* packed_block,
                         std::size_t tokens, std::uint16_t* scratch, float* y, std::size_t y_stride) {
  if (weight.cols % static_cast<std::int64_t>(kStageCols) == 0) {
    amx_rows_wide_staged<kTokenHalves>(weight, row_begin, rows, packed_block, tokens, y, y_stride);
  } else {
    amx_rows_wide_converting<kTokenHalves>(weight, row_begin, rows, packed_block, tokens, scratch, y, y_stride);
  }
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
  kernels.rows_wide_converting = amx_rows_converting<2>;
  kernels.rows_half_wide_converting = amx_rows_converting<1>;
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
