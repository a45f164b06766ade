// AVX512-BF16 path of gemm_bf16.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cassert>
#include <bit>
#include <cstring>
#include <limits>

#include "kernels/cpu_features.h"
#include "kernels/e4m3_tables_avx512.h"
#include "kernels/e4m3_to_bf16_avx512.h"
#include "kernels/gemm_bf16.h"
#include "kernels/i4_avx512.h"
#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// A TilePrefetch's lines requested evenly over a loop of `iterations` (bursts measured slower).
class SpreadPrefetch {
 public:
  // Addresses as integers: the last line may start past the end of the weights, and a
  // prefetch never faults, but a pointer formed there would be undefined behaviour.
  SpreadPrefetch(TilePrefetch prefetch, std::size_t iterations)
      : ahead_(reinterpret_cast<std::uintptr_t>(prefetch.begin)), end_(ahead_ + 64 * prefetch.lines),
        step_(prefetch.lines == 0 ? iterations : std::max<std::size_t>(1, iterations / prefetch.lines)) {}
  void at(std::size_t i) {
    if (i != next_ || ahead_ >= end_) return;
    _mm_prefetch(reinterpret_cast<const char*>(ahead_), _MM_HINT_T1);
    ahead_ += 64;
    next_ += step_;
  }

 private:
  std::uintptr_t ahead_, end_;
  std::size_t step_, next_ = 0;
};

// 8 rows x 32 tokens: sixteen accumulators, two activation loads and eight broadcast weight
// pairs per column pair, so the multiply unit is the bound, not the loads.
void tile(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
          float* out, TilePrefetch prefetch) {
  __m512 acc[kGemmTileRows][2];
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  SpreadPrefetch ahead(prefetch, col_pairs);
  for (std::size_t i = 0; i < col_pairs; ++i) {
    ahead.at(i);
    const auto x0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 64));
    const auto x1 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 64 + 32));
#pragma GCC unroll 8
    for (int r = 0; r < kGemmTileRows; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, w + r * row_stride + 2 * i, sizeof pair);
      const auto wb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], x0, wb);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], x1, wb);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) {
    _mm512_storeu_ps(out + r * kGemmTileTokens, acc[r][0]);
    _mm512_storeu_ps(out + r * kGemmTileTokens + 16, acc[r][1]);
  }
}

// A block packed 16 wide (a batch of a few decoding sequences): eight accumulators.
void tile_half(const std::uint16_t* w, std::size_t row_stride, const std::uint16_t* packed_block, std::size_t col_pairs,
               float* out, TilePrefetch prefetch) {
  __m512 acc[kGemmTileRows];
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) acc[r] = _mm512_setzero_ps();
  SpreadPrefetch ahead(prefetch, col_pairs);
  for (std::size_t i = 0; i < col_pairs; ++i) {
    ahead.at(i);
    const auto x0 = reinterpret_cast<__m512bh>(_mm512_loadu_si512(packed_block + i * 2 * kGemmHalfTokens));
#pragma GCC unroll 8
    for (int r = 0; r < kGemmTileRows; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, w + r * row_stride + 2 * i, sizeof pair);
      acc[r] = _mm512_dpbf16_ps(acc[r], x0, reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair)));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kGemmTileRows; ++r) _mm512_storeu_ps(out + r * kGemmTileTokens, acc[r]);
}

// vcvtne2ps2bf16 rounds to nearest even, quiets NaNs and reads float32 subnormals as zeros, as
// f32_to_bf16_flushing_subnormals (which the tail uses).
void round_to_bf16(const float* src, std::uint16_t* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512bh packed = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
    _mm512_storeu_si512(dst + i, reinterpret_cast<__m512i>(packed));
  }
  for (; i < n; ++i) dst[i] = f32_to_bf16_flushing_subnormals(src[i]);
}

// The same through the byte tables when the scale is a power of two in table_scale's range
// (the UE8M0 checkpoints, and make-model's); other scales take the route above.
void e4m3_to_bf16_tables(const std::uint8_t* src, float scale, std::uint16_t* dst, std::size_t n) {
  int k = 0;
  if (!table_scale(scale, k)) {
    e4m3_to_bf16(src, scale, dst, n);
    return;
  }
  e4m3_times_power_of_two(E4m3ToBf16Constants{}, src, k, dst, n);
}

// A row with one scale per 128 codes: the constants are loaded once for the row (per call,
// they cost as much as converting a block of 128).
void e4m3_row_to_bf16_tables(const std::uint8_t* src, const float* scales, std::uint16_t* dst, std::size_t n) {
  e4m3_row_part_to_bf16(E4m3ToBf16Constants{}, src, scales, dst, 0, n);
}

// 32 I4 values at a time: nibbles back into column order, q * scale in float32 (exact but for
// the one rounding), then rounded to bf16 as round_to_bf16 does.
void i4_row_to_bf16(const std::uint8_t* packed, const float* scales, std::uint16_t* dst, std::size_t n) {
  std::size_t c = 0;
  for (; c + 32 <= n; c += 32) {
    const I4x32 q = i4x32_to_f32(packed + c / 2);
    const __m512 scale = _mm512_set1_ps(scales[c / kI4GroupSize]);
    _mm512_storeu_si512(dst + c, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_mul_ps(q.second, scale), _mm512_mul_ps(q.first, scale))));
  }
  for (; c < n; ++c) dst[c] = f32_to_bf16_flushing_subnormals(static_cast<float>(i4_at(packed, c)) * scales[c / kI4GroupSize]);
}

// Word j of the first (second) register: even[j / 2] (even[16 + j / 2]) for even j, odd's for
// odd j (vpermt2w indices into even, odd).
struct alignas(64) PairIndex {
  std::uint16_t first[32], second[32];
};
constexpr PairIndex make_pair_index() {
  PairIndex index{};
  for (int j = 0; j < 32; ++j) {
    index.first[j] = static_cast<std::uint16_t>((j % 2) * 32 + j / 2);
    index.second[j] = static_cast<std::uint16_t>((j % 2) * 32 + 16 + j / 2);
  }
  return index;
}
constexpr PairIndex kPairIndex = make_pair_index();

void interleave_rows(const std::uint16_t* even, const std::uint16_t* odd, std::size_t n, std::uint16_t* out) {
  const __m512i first = _mm512_load_si512(kPairIndex.first), second = _mm512_load_si512(kPairIndex.second);
  for (std::size_t j = 0; j < n; j += 32) {
    const std::size_t left = std::min<std::size_t>(32, n - j);
    const auto mask = static_cast<__mmask32>((std::uint64_t{1} << left) - 1);
    const __m512i a = _mm512_maskz_loadu_epi16(mask, even + j), b = _mm512_maskz_loadu_epi16(mask, odd + j);
    const auto low_mask = static_cast<__mmask32>((std::uint64_t{1} << std::min<std::size_t>(32, 2 * left)) - 1);
    const auto high_mask = static_cast<__mmask32>(left > 16 ? (std::uint64_t{1} << (2 * left - 32)) - 1 : 0);
    _mm512_mask_storeu_epi16(out + 2 * j, low_mask, _mm512_permutex2var_epi16(a, first, b));
    _mm512_mask_storeu_epi16(out + 2 * j + 32, high_mask, _mm512_permutex2var_epi16(a, second, b));
  }
}

// r[i] holds row i of a 16 x 16 matrix of dwords; afterwards r[i] holds its column i: pairs of
// dwords, then of qwords, interleaved within the 128-bit lanes, then the lanes moved as a 4 x 4
// transpose of lanes.
void transpose_dwords(__m512i (&r)[16]) {
  __m512i t[16];
  for (int k = 0; k < 8; ++k) {
    t[2 * k] = _mm512_unpacklo_epi32(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm512_unpackhi_epi32(r[2 * k], r[2 * k + 1]);
  }
  __m512i u[16];  // u[4k + j], lane L: column 4L + j of rows 4k .. 4k + 3
  for (int k = 0; k < 4; ++k) {
    u[4 * k] = _mm512_unpacklo_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 1] = _mm512_unpackhi_epi64(t[4 * k], t[4 * k + 2]);
    u[4 * k + 2] = _mm512_unpacklo_epi64(t[4 * k + 1], t[4 * k + 3]);
    u[4 * k + 3] = _mm512_unpackhi_epi64(t[4 * k + 1], t[4 * k + 3]);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512i a = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), b = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xDD);
    const __m512i c = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88), d = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xDD);
    r[j] = _mm512_shuffle_i32x4(a, c, 0x88);
    r[8 + j] = _mm512_shuffle_i32x4(a, c, 0xDD);
    r[4 + j] = _mm512_shuffle_i32x4(b, d, 0x88);
    r[12 + j] = _mm512_shuffle_i32x4(b, d, 0xDD);
  }
}

// 32 columns at a time: each row's 32 values rounded into one register of 16 pairs, then 16
// rows transposed at once, so that each pair's 16 rows are one store (the scalar layout needs a
// 4-byte copy per pair and row).
void pack_pairs(const float* x, std::size_t stride, std::size_t count, std::size_t rows, std::size_t cols, float scale,
                std::uint16_t* out) {
  const __m512 factor = _mm512_set1_ps(scale);
  for (std::size_t c0 = 0; c0 < cols; c0 += 32) {
    const std::size_t left = std::min<std::size_t>(32, cols - c0), pairs = left / 2;
    const auto low = static_cast<__mmask16>((1u << std::min<std::size_t>(16, left)) - 1);
    const auto high = static_cast<__mmask16>(left > 16 ? (1u << (left - 16)) - 1 : 0);
    for (std::size_t r0 = 0; r0 < rows; r0 += 16) {
      __m512i group[16];
      for (std::size_t m = 0; m < 16; ++m) {
        if (r0 + m >= count) {
          group[m] = _mm512_setzero_si512();
          continue;
        }
        const float* at = x + (r0 + m) * stride + c0;
        const __m512 first = _mm512_mul_ps(_mm512_maskz_loadu_ps(low, at), factor);
        const __m512 second = _mm512_mul_ps(_mm512_maskz_loadu_ps(high, at + 16), factor);
        group[m] = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(second, first));
      }
      transpose_dwords(group);
      for (std::size_t p = 0; p < pairs; ++p) _mm512_storeu_si512(out + ((c0 / 2 + p) * rows + r0) * 2, group[p]);
    }
  }
}

// 16 rows by 16 tokens at a time: the rows' token values loaded as registers, transposed, and
// each token's values stored at once (the scalar copy took 13 % of a 16-token FP8 product on
// converting tiles: 512 single loads and stores per 32-row tile).
void store_tile(const float* tile, std::size_t rows, std::size_t tokens, float* y, std::size_t y_stride) {
  assert(rows <= static_cast<std::size_t>(kGemmWideRows) && tokens <= static_cast<std::size_t>(kGemmTileTokens));
  for (std::size_t r0 = 0; r0 < rows; r0 += 16) {
    const std::size_t block_rows = std::min<std::size_t>(16, rows - r0);
    const auto row_mask = static_cast<__mmask16>((1u << block_rows) - 1);
    for (std::size_t t0 = 0; t0 < tokens; t0 += 16) {
      __m512i block[16];
      for (std::size_t r = 0; r < 16; ++r) {
        block[r] = r < block_rows ? _mm512_loadu_si512(tile + (r0 + r) * kGemmTileTokens + t0) : _mm512_setzero_si512();
      }
      transpose_dwords(block);
      const std::size_t block_tokens = std::min<std::size_t>(16, tokens - t0);
      for (std::size_t t = 0; t < block_tokens; ++t) {
        _mm512_mask_storeu_ps(y + (t0 + t) * y_stride + r0, row_mask, _mm512_castsi512_ps(block[t]));
      }
    }
  }
}

}  // namespace

const GemmBf16Kernels* avx512_gemm_bf16() {
  static const GemmBf16Kernels kernels{"avx512bf16", tile, tile_half, round_to_bf16, e4m3_to_bf16_tables, e4m3_row_to_bf16_tables,
                                       i4_row_to_bf16, interleave_rows, pack_pairs, store_tile};
  return cpu_has_avx512_bf16_vbmi() ? &kernels : nullptr;
}

}  // namespace dsv32
