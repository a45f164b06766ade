// AVX512-BF16 path of gemv_bf16.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/cpu_features.h"
#include "kernels/e4m3_tables_avx512.h"
#include "kernels/gemv_bf16.h"
#include "kernels/gemv_token_groups.h"
#include "kernels/tree_sum_avx512.h"
#include "kernels/weight.h"

namespace dsv32 {
namespace {

constexpr std::size_t kChunk = 32, kGroup = 64, kBlock = static_cast<std::size_t>(kFp8BlockSize);
static_assert(kI4GroupSize == kFp8BlockSize, "e4m3 and I4 rows share the block loop: one scale per 128 columns");
constexpr int kMaxTokens = 6;      // accumulators per call: 3 per token, in registers with the tables
constexpr int kMaxPairTokens = 4;  // two rows: 6 per token

// Asking for the weight line this far ahead, into L2, keeps more lines in flight than the
// hardware prefetcher alone: 128 MB of FP8 rows, 2 threads, 34 -> 39 GB/s against 2 KB into
// L1; bench decode 63 -> 68 tok/s (4 pairs). Stored bf16 rows too: 40.5 -> 45.8 GB/s, medians
// of 10 alternated runs of DecodeLinear128MB/tokens:1/bf16/bf16 (7 of the 10 pairs faster).
constexpr std::size_t kPrefetchBytes = 8192;

// 64 e4m3 codes -> two chunks of 32 bf16 values in the packed column order (gemv_bf16.h):
// the bytes are interleaved within 16-byte lanes.
struct E4m3Codes {
  const E4m3Tables tables;
  static std::size_t offset(std::size_t column) { return column; }  // of a column's code in its row
  void convert(const std::uint8_t* at, std::size_t columns_left, __m512i& first, __m512i& second) const {
    const __m512i codes = columns_left >= kGroup ? _mm512_loadu_si512(at)
                                                 : _mm512_maskz_loadu_epi8(static_cast<__mmask64>((std::uint64_t{1} << columns_left) - 1), at);
    const E4m3Bytes bytes = e4m3x64_bytes(codes, tables);
    first = _mm512_unpacklo_epi8(bytes.low, bytes.high);
    second = _mm512_unpackhi_epi8(bytes.low, bytes.high);
  }
};

// bf16 bits of q = k - 8 for the 16 nibbles k (the rest of the 32 words unused).
struct alignas(64) I4Table {
  std::uint16_t bits[32];
};
constexpr I4Table make_i4_table() {
  I4Table table{};
  for (int k = 0; k < 16; ++k) {
    const int q = k - 8, magnitude = q < 0 ? -q : q;
    if (magnitude == 0) continue;
    int exponent = 0;
    while ((magnitude >> (exponent + 1)) != 0) ++exponent;
    const int mantissa = (magnitude << (7 - exponent)) & 0x7F;  // exact: at most 4 significant bits
    table.bits[k] = static_cast<std::uint16_t>((q < 0 ? 0x8000 : 0) | (127 + exponent) << 7 | mantissa);
  }
  return table;
}
constexpr I4Table kI4Table = make_i4_table();

// 64 I4 values (32 bytes) -> the even columns (low nibbles) and the odd ones (high nibbles),
// each nibble looked up as a bf16 word (vpermw); columns past the row are zeros.
struct I4Codes {
  const __m512i table = _mm512_load_si512(kI4Table.bits);
  static std::size_t offset(std::size_t column) { return column / 2; }
  void convert(const std::uint8_t* at, std::size_t columns_left, __m512i& first, __m512i& second) const {
    const bool whole = columns_left >= kGroup;
    const __m256i bytes = whole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at))
                                : _mm256_maskz_loadu_epi8(static_cast<__mmask32>((std::uint64_t{1} << ((columns_left + 1) / 2)) - 1), at);
    const __m512i words = _mm512_cvtepu8_epi16(bytes);
    const __m512i low = _mm512_and_si512(words, _mm512_set1_epi16(0x0F)), high = _mm512_srli_epi16(words, 4);
    if (whole) {
      first = _mm512_permutexvar_epi16(low, table);
      second = _mm512_permutexvar_epi16(high, table);
      return;
    }
    // even columns 2k < left, odd ones 2k + 1 < left
    first = _mm512_maskz_permutexvar_epi16(static_cast<__mmask32>((std::uint64_t{1} << ((columns_left + 1) / 2)) - 1), low, table);
    second = _mm512_maskz_permutexvar_epi16(static_cast<__mmask32>((std::uint64_t{1} << (columns_left / 2)) - 1), high, table);
  }
};

inline __m512 dot_chunk(__m512 acc, __m512i w, __m512i x) {
  return _mm512_dpbf16_ps(acc, reinterpret_cast<__m512bh>(w), reinterpret_cast<__m512bh>(x));
}

// Rows rows (row_stride bytes apart, block_scales[i] for row i) of Codes against Tokens tokens;
// out[t * out_stride + i]. Each row's sums run exactly as for a row alone; two rows share
// every activation load, which was as costly as the products (4 tokens: 72 -> 66 ns per row).
template <typename Codes, int Tokens, int Rows>
void rows_fixed(const std::uint8_t* row, std::size_t row_stride, const float* const* block_scales, std::size_t n, const Codes& codes,
                const std::uint16_t* x, std::size_t x_stride, float* out, std::size_t out_stride) {
  const std::size_t words = gemv_e4m3_x_values(n);
  __m512 total[Rows][Tokens];
#pragma GCC unroll 8
  for (int i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) total[i][t] = _mm512_setzero_ps();
  }
  for (std::size_t b0 = 0; b0 < n; b0 += kBlock) {
    __m512 even[Rows][Tokens], odd[Rows][Tokens];
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) even[i][t] = odd[i][t] = _mm512_setzero_ps();
    }
    for (std::size_t g = b0; g < std::min(words, b0 + kBlock); g += kGroup) {
      __m512i first[Rows], second[Rows];
#pragma GCC unroll 8
      for (int i = 0; i < Rows; ++i) {
        const std::uint8_t* codes_at = row + i * row_stride + Codes::offset(g);
        // (an integer address: past the last row, a pointer there would be undefined behaviour)
        _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<std::uintptr_t>(codes_at) + kPrefetchBytes), _MM_HINT_T1);
        codes.convert(codes_at, n - g, first[i], second[i]);
      }
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) {
        const __m512i x_first = _mm512_loadu_si512(x + t * x_stride + g), x_second = _mm512_loadu_si512(x + t * x_stride + g + kChunk);
#pragma GCC unroll 8
        for (int i = 0; i < Rows; ++i) {
          even[i][t] = dot_chunk(even[i][t], first[i], x_first);
          odd[i][t] = dot_chunk(odd[i][t], second[i], x_second);
        }
      }
    }
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) {
      const __m512 scale = _mm512_set1_ps(block_scales[i][b0 / kBlock]);
#pragma GCC unroll 8
      for (int t = 0; t < Tokens; ++t) total[i][t] = _mm512_fmadd_ps(_mm512_add_ps(even[i][t], odd[i][t]), scale, total[i][t]);
    }
  }
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) {
#pragma GCC unroll 8
    for (int i = 0; i < Rows; ++i) out[t * out_stride + i] = tree_sum(total[i][t]);
  }
}

// Words 16q + {0..7} then 16q + {8..15} of 64 (vpermt2w indices into two registers of 32).
// (even, odd: I4's columns 2k and 2k + 1.)
struct alignas(64) PackIndex {
  std::uint16_t first[32], second[32], even[32], odd[32];
};
constexpr PackIndex make_pack_index() {
  PackIndex index{};
  for (int k = 0; k < 32; ++k) {
    index.first[k] = static_cast<std::uint16_t>(16 * (k / 8) + k % 8);
    index.second[k] = static_cast<std::uint16_t>(16 * (k / 8) + 8 + k % 8);
    index.even[k] = static_cast<std::uint16_t>(2 * k);
    index.odd[k] = static_cast<std::uint16_t>(2 * k + 1);
  }
  return index;
}
constexpr PackIndex kPackIndex = make_pack_index();

// x rounded to bf16 and laid out in each group of 64 as the two index tables say (words of
// the 64 values, for the group's first and second chunk).
void pack_x(const float* x, std::size_t n, std::uint16_t* out, const std::uint16_t* first_words, const std::uint16_t* second_words) {
  const __m512i first_index = _mm512_load_si512(first_words), second_index = _mm512_load_si512(second_words);
  const auto sixteen = [&](std::size_t c) {
    const __mmask16 mask = c >= n ? 0 : n - c >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (n - c)) - 1);
    return _mm512_maskz_loadu_ps(mask, x + c);
  };
  for (std::size_t g = 0; g < n; g += kGroup) {
    const auto low = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(sixteen(g + 16), sixteen(g)));
    const auto high = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(sixteen(g + 48), sixteen(g + 32)));
    _mm512_storeu_si512(out + g, _mm512_permutex2var_epi16(low, first_index, high));
    _mm512_storeu_si512(out + g + kChunk, _mm512_permutex2var_epi16(low, second_index, high));
  }
}

void pack_e4m3_x(const float* x, std::size_t n, std::uint16_t* out) { pack_x(x, n, out, kPackIndex.first, kPackIndex.second); }

// I4's column order: in each group of 64, the even columns then the odd ones.
void pack_i4_x(const float* x, std::size_t n, std::uint16_t* out) { pack_x(x, n, out, kPackIndex.even, kPackIndex.odd); }

// One chunk of a bf16 row applied to every token (Tail: columns from end on are zeros).
template <int Tokens, bool Tail>
inline void bf16_chunk(const std::uint16_t* row, const std::uint16_t* x, std::size_t x_stride, std::size_t c, std::size_t end,
                       __m512 (&acc)[Tokens]) {
  const __mmask32 mask = !Tail || end - c >= kChunk ? ~__mmask32{0} : static_cast<__mmask32>((1u << (end - c)) - 1);
  const __m512i w = Tail ? _mm512_maskz_loadu_epi16(mask, row + c) : _mm512_loadu_si512(row + c);
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) {
    const std::uint16_t* xt = x + t * x_stride + c;
    const __m512i xv = Tail ? _mm512_maskz_loadu_epi16(mask, xt) : _mm512_loadu_si512(xt);
    acc[t] = _mm512_dpbf16_ps(acc[t], reinterpret_cast<__m512bh>(w), reinterpret_cast<__m512bh>(xv));
  }
}

template <int Tokens>
void bf16_row_fixed(const std::uint16_t* row, std::size_t n, const std::uint16_t* x, std::size_t x_stride, float* out,
                    std::size_t out_stride) {
  __m512 even[Tokens], odd[Tokens];
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) even[t] = odd[t] = _mm512_setzero_ps();
  std::size_t c = 0;
  for (; c + 2 * kChunk <= n; c += 2 * kChunk) {
    // (integer addresses, as in rows_fixed: past the last row a pointer would be undefined)
    const std::uintptr_t ahead = reinterpret_cast<std::uintptr_t>(row + c) + kPrefetchBytes;
    _mm_prefetch(reinterpret_cast<const char*>(ahead), _MM_HINT_T1);  // the two lines of this step's 128 bytes
    _mm_prefetch(reinterpret_cast<const char*>(ahead + 64), _MM_HINT_T1);
    bf16_chunk<Tokens, false>(row, x, x_stride, c, n, even);
    bf16_chunk<Tokens, false>(row, x, x_stride, c + kChunk, n, odd);
  }
  if (c < n) bf16_chunk<Tokens, true>(row, x, x_stride, c, n, even);
  if (c + kChunk < n) bf16_chunk<Tokens, true>(row, x, x_stride, c + kChunk, n, odd);
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) out[t * out_stride] = tree_sum(_mm512_add_ps(even[t], odd[t]));
}

// Tokens in groups of up to kMaxTokens, each group with its accumulators in registers
// (fixed[g - 1] handles g tokens).
template <typename Codes>
using CodesFixed = void (*)(const std::uint8_t*, std::size_t, const float* const*, std::size_t, const Codes&, const std::uint16_t*,
                            std::size_t, float*, std::size_t);
using Bf16Fixed = void (*)(const std::uint16_t*, std::size_t, const std::uint16_t*, std::size_t, float*, std::size_t);

template <typename Codes, int Rows, int... T>
constexpr std::array<CodesFixed<Codes>, sizeof...(T)> codes_table(std::integer_sequence<int, T...>) {
  return {rows_fixed<Codes, T + 1, Rows>...};
}
template <int... T>
constexpr std::array<Bf16Fixed, kMaxTokens> bf16_table(std::integer_sequence<int, T...>) {
  return {bf16_row_fixed<T + 1>...};
}

template <typename Codes>
void codes_row(const std::uint8_t* row, const float* block_scales, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens,
               std::size_t n, float* out, std::size_t out_stride) {
  static constexpr auto fixed = codes_table<Codes, 1>(std::make_integer_sequence<int, kMaxTokens>());
  const Codes codes;
  by_token_groups(tokens, kMaxTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    fixed[group - 1](row, 0, &block_scales, n, codes, xg, x_stride, og, out_stride);
  });
}

template <typename Codes>
void codes_row_pair(const std::uint8_t* row, std::size_t row_stride, const float* scales0, const float* scales1, const std::uint16_t* x,
                    std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  if (tokens > kMaxPairTokens) {  // the pair's groups would convert each row twice: slower from 5 tokens on
    codes_row<Codes>(row, scales0, x, x_stride, tokens, n, out, out_stride);
    codes_row<Codes>(row + row_stride, scales1, x, x_stride, tokens, n, out + 1, out_stride);
    return;
  }
  static constexpr auto fixed = codes_table<Codes, 2>(std::make_integer_sequence<int, kMaxPairTokens>());
  const Codes codes;
  const float* const scales[] = {scales0, scales1};
  by_token_groups(tokens, kMaxPairTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    fixed[group - 1](row, row_stride, scales, n, codes, xg, x_stride, og, out_stride);
  });
}

void bf16_row(const std::uint16_t* row, const std::uint16_t* x, std::size_t x_stride, std::size_t tokens, std::size_t n, float* out,
              std::size_t out_stride) {
  static constexpr auto fixed = bf16_table(std::make_integer_sequence<int, kMaxTokens>());
  by_token_groups(tokens, kMaxTokens, x, x_stride, out, out_stride, [&](std::size_t group, const std::uint16_t* xg, float* og) {
    fixed[group - 1](row, n, xg, x_stride, og, out_stride);
  });
}

}  // namespace

const GemvBf16Kernels* avx512_gemv_bf16() {
  static const GemvBf16Kernels kernels{"avx512bf16",          pack_e4m3_x, codes_row<E4m3Codes>, codes_row_pair<E4m3Codes>, bf16_row,
                                       pack_i4_x,             codes_row<I4Codes>, codes_row_pair<I4Codes>};
  return cpu_has_avx512_bf16_vbmi() ? &kernels : nullptr;
}

}  // namespace dsv32
