// AVX2 + FMA + F16C paths (the project's x86-64-v3 baseline).
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "kernels/number_formats.h"
#include "kernels/silu_fast.h"
#include "kernels/weight.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

// vector_ops.h's 16 lanes as two registers (lanes 0-7 and 8-15), so that every sum is the
// scalar reference's (and the AVX-512 table's) to the bit.
struct Lanes {
  __m256 low = _mm256_setzero_ps(), high = _mm256_setzero_ps();
};

// Lane l + lane l + 8, then + 4, + 2, + 1.
float lane_tree_sum(const Lanes& lanes) {
  const __m256 eight = _mm256_add_ps(lanes.low, lanes.high);
  const __m128 four = _mm_add_ps(_mm256_castps256_ps128(eight), _mm256_extractf128_ps(eight, 1));
  const __m128 two = _mm_add_ps(four, _mm_movehl_ps(four, four));
  return _mm_cvtss_f32(_mm_add_ss(two, _mm_movehdup_ps(two)));
}

// 16 weights of a chunk (as lanes) against x[c, c + 16), fused into the lanes.
void add_chunk(Lanes& lanes, const Lanes& w, const float* x) {
  lanes.low = _mm256_fmadd_ps(w.low, _mm256_loadu_ps(x), lanes.low);
  lanes.high = _mm256_fmadd_ps(w.high, _mm256_loadu_ps(x + 8), lanes.high);
}

Lanes load_lanes(const float* values) { return {_mm256_loadu_ps(values), _mm256_loadu_ps(values + 8)}; }

// The last, partial chunk: its m < 16 values, zeros after (the AVX-512 table's masked loads).
template <typename T>
std::array<T, 16> zero_padded(const T* values, std::size_t m) {
  std::array<T, 16> padded{};
  std::copy_n(values, m, padded.begin());
  return padded;
}

float dot(const float* a, const float* b, std::size_t n) {
  Lanes first, second;
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    add_chunk(first, load_lanes(a + i), b + i);
    add_chunk(second, load_lanes(a + i + 16), b + i + 16);
  }
  if (i + 16 <= n) {
    add_chunk(first, load_lanes(a + i), b + i);
    i += 16;
  }
  if (i < n) {
    const auto a_tail = zero_padded(a + i, n - i), b_tail = zero_padded(b + i, n - i);
    add_chunk(second, load_lanes(a_tail.data()), b_tail.data());
  }
  return lane_tree_sum({_mm256_add_ps(first.low, second.low), _mm256_add_ps(first.high, second.high)});
}

// Of each 16 columns the first 8 go to the low double lanes, the last 8 to the high ones (four
// lanes a register); the two added lane by lane, then 4 + 4, 2 + 2, 1 + 1; the rest in order.
double dot_f64(const float* a, const float* b, std::size_t n) {
  __m256d low0 = _mm256_setzero_pd(), low1 = _mm256_setzero_pd(), high0 = _mm256_setzero_pd(), high1 = _mm256_setzero_pd();
  const auto widen = [](const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); };
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    low0 = _mm256_fmadd_pd(widen(a + i), widen(b + i), low0);
    low1 = _mm256_fmadd_pd(widen(a + i + 4), widen(b + i + 4), low1);
    high0 = _mm256_fmadd_pd(widen(a + i + 8), widen(b + i + 8), high0);
    high1 = _mm256_fmadd_pd(widen(a + i + 12), widen(b + i + 12), high1);
  }
  const __m256d four = _mm256_add_pd(_mm256_add_pd(low0, high0), _mm256_add_pd(low1, high1));
  const __m128d two = _mm_add_pd(_mm256_castpd256_pd128(four), _mm256_extractf128_pd(four, 1));
  double sum = _mm_cvtsd_f64(_mm_add_sd(two, _mm_unpackhi_pd(two, two)));
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

// Four rows' lanes side by side, x loaded once per chunk: weights(r, c, m) gives row r's
// chunk at column c as lanes (m < 16: the last, partial chunk, its weights past m zero).
template <typename Weights>
void four_row_dots(std::size_t n, const float* x, float* out, Weights weights) {
  Lanes lanes[4];
  std::size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    for (std::size_t r = 0; r < 4; ++r) add_chunk(lanes[r], weights(r, c, std::size_t{16}), x + c);
  }
  if (c < n) {
    const auto x_tail = zero_padded(x + c, n - c);
    for (std::size_t r = 0; r < 4; ++r) add_chunk(lanes[r], weights(r, c, n - c), x_tail.data());
  }
  for (std::size_t r = 0; r < 4; ++r) out[r] = lane_tree_sum(lanes[r]);
}

void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  four_row_dots(n, x, out, [&](std::size_t r, std::size_t c, std::size_t m) {
    const float* chunk = rows + r * row_stride + c;
    return m == 16 ? load_lanes(chunk) : load_lanes(zero_padded(chunk, m).data());
  });
}

// Four dot4 calls: the same bits as dot4 by construction.
void dot4x4(const float* rows, std::size_t row_stride, const float* x, std::size_t x_stride, std::size_t n, float* out,
            std::size_t out_stride) {
  for (std::size_t t = 0; t < 4; ++t) dot4(rows, row_stride, x + t * x_stride, n, out + t * out_stride);
}

void axpy(float a, const float* x, float* y, std::size_t n) {
  const __m256 av = _mm256_set1_ps(a);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

void axpy4(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) axpy(a[j], x + j * x_stride, y, n);
}

// 8 bf16 values as floats (exact: the bits moved up).
__m256 bf16x8_to_f32(const std::uint16_t* src) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src))), 16));
}

void bf16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, bf16x8_to_f32(src + i));
  for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void f16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

// e4m3 -> f32 via f16 (see the AVX-512 file for the bit construction): value * 2^-8.
__m256 e4m3x8_to_f32_times_2e_8(const std::uint8_t* src) {
  const __m128i codes = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(src)));
  const __m128i shifted = _mm_srai_epi16(_mm_slli_epi16(codes, 8), 1);
  return _mm256_cvtph_ps(_mm_and_si128(shifted, _mm_set1_epi16(static_cast<short>(0xBFFF))));
}

void e4m3_row(const std::uint8_t* src, float scale, float* dst, std::size_t n) {
  const __m256 scale_v = _mm256_set1_ps(scale * 256.0f);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, _mm256_mul_ps(e4m3x8_to_f32_times_2e_8(src + i), scale_v));
  for (; i < n; ++i) dst[i] = e4m3_to_f32(src[i]) * scale;
}

// Eight columns of the four rows at a time, y loaded and stored once for them; the tail as
// e4m3_row's and axpy's.
void axpy4_e4m3(const float* a, const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, float* y,
                std::size_t n) {
  const __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]), a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 scale = _mm256_set1_ps(block_scales[i / kFp8BlockSize] * 256.0f);
    const auto weight = [&](std::size_t j) { return _mm256_mul_ps(e4m3x8_to_f32_times_2e_8(rows + j * row_stride + i), scale); };
    __m256 acc = _mm256_loadu_ps(y + i);
    acc = _mm256_fmadd_ps(a0, weight(0), acc);
    acc = _mm256_fmadd_ps(a1, weight(1), acc);
    acc = _mm256_fmadd_ps(a2, weight(2), acc);
    acc = _mm256_fmadd_ps(a3, weight(3), acc);
    _mm256_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i) {
    for (std::size_t j = 0; j < 4; ++j) y[i] = std::fma(a[j], e4m3_to_f32(rows[j * row_stride + i]) * block_scales[i / kFp8BlockSize], y[i]);
  }
}

// 16 I4 values at a time: the nibbles of 8 bytes interleaved back into column order, less 8,
// converted and scaled (exact: small integers times the group's scale, one rounding).
void i4_row(const std::uint8_t* packed, const float* scales, float* dst, std::size_t n) {
  const __m128i low_nibbles = _mm_set1_epi8(0x0F);
  std::size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(packed + c / 2));
    const __m128i codes = _mm_unpacklo_epi8(_mm_and_si128(bytes, low_nibbles), _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles));
    const __m256 scale = _mm256_set1_ps(scales[c / kI4GroupSize]);
    const __m256i eight = _mm256_set1_epi32(8);
    const __m256i first = _mm256_sub_epi32(_mm256_cvtepu8_epi32(codes), eight);
    const __m256i second = _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(codes, 8)), eight);
    _mm256_storeu_ps(dst + c, _mm256_mul_ps(_mm256_cvtepi32_ps(first), scale));
    _mm256_storeu_ps(dst + c + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(second), scale));
  }
  for (; c < n; ++c) dst[c] = static_cast<float>(i4_at(packed, c)) * scales[c / kI4GroupSize];
}

// Accumulates exactly as dot4 does on dequantised rows: each weight is value · scale, one
// rounding (value · 2^-8 and scale · 2^8 are exact); a partial last chunk reads zero codes.
Lanes e4m3_lanes(const std::uint8_t* codes, float scale) {
  const __m256 scale_v = _mm256_set1_ps(scale * 256.0f);
  return {_mm256_mul_ps(e4m3x8_to_f32_times_2e_8(codes), scale_v), _mm256_mul_ps(e4m3x8_to_f32_times_2e_8(codes + 8), scale_v)};
}

void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  four_row_dots(n, x, out, [&](std::size_t r, std::size_t c, std::size_t m) {
    const std::uint8_t* chunk = rows + r * row_stride + c;
    const float scale = block_scales[c / kFp8BlockSize];
    return m == 16 ? e4m3_lanes(chunk, scale) : e4m3_lanes(zero_padded(chunk, m).data(), scale);
  });
}

Lanes bf16_lanes(const std::uint16_t* src) { return {bf16x8_to_f32(src), bf16x8_to_f32(src + 8)}; }

// One token at a time: the same bits as dot4_e4m3 by construction.
void dot4_e4m3_tokens(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                      std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  for (std::size_t t = 0; t < tokens; ++t) dot4_e4m3(rows, row_stride, block_scales, x + t * x_stride, n, out + t * out_stride);
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  four_row_dots(n, x, out, [&](std::size_t r, std::size_t c, std::size_t m) {
    const std::uint16_t* chunk = rows + r * row_stride + c;
    return m == 16 ? bf16_lanes(chunk) : bf16_lanes(zero_padded(chunk, m).data());
  });
}

// kernels/silu_fast.h one value at a time: the bf16 mode that uses it runs only on CPUs with
// AVX512-BF16, which take the AVX-512 table's.
void silu_mul_fast(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gate[i] = silu_mul_fast_one(gate[i], up[i]);
}

}  // namespace

const VectorOps* avx2_vector_ops() {
  static const VectorOps ops{"avx2", dot, dot_f64, dot4, dot4x4, dot4_e4m3, dot4_bf16, dot4_e4m3_tokens, axpy, axpy4, axpy4_e4m3, bf16_row, f16_row, e4m3_row, i4_row, silu_mul_fast};
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return usable ? &ops : nullptr;
}

}  // namespace dsv32
