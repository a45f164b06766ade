// AVX2 + FMA + F16C paths (the project's x86-64-v3 baseline).
#include <immintrin.h>

#include <algorithm>

#include "kernels/number_formats.h"
#include "kernels/silu_fast.h"
#include "kernels/weight.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

float horizontal_sum(__m256 v) {
  __m128 low = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  low = _mm_add_ps(low, _mm_movehl_ps(low, low));
  low = _mm_add_ss(low, _mm_movehdup_ps(low));
  return _mm_cvtss_f32(low);
}

float dot(const float* a, const float* b, std::size_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  float sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

double dot_f64(const float* a, const float* b, std::size_t n) {
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 av = _mm256_loadu_ps(a + i), bv = _mm256_loadu_ps(b + i);
    acc0 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(av)), _mm256_cvtps_pd(_mm256_castps256_ps128(bv)), acc0);
    acc1 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(av, 1)), _mm256_cvtps_pd(_mm256_extractf128_ps(bv, 1)), acc1);
  }
  const __m256d acc = _mm256_add_pd(acc0, acc1);
  __m128d sum2 = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
  double sum = _mm_cvtsd_f64(_mm_add_sd(sum2, _mm_unpackhi_pd(sum2, sum2)));
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xv = _mm256_loadu_ps(x + i);
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_fmadd_ps(_mm256_loadu_ps(rows + r * row_stride + i), xv, acc[r]);
  }
  for (int r = 0; r < 4; ++r) {
    float sum = horizontal_sum(acc[r]);
    for (std::size_t j = i; j < n; ++j) sum += rows[r * row_stride + j] * x[j];
    out[r] = sum;
  }
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
  for (; i < n; ++i) y[i] += a * x[i];
}

void axpy4(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n) {
  for (std::size_t j = 0; j < 4; ++j) axpy(a[j], x + j * x_stride, y, n);
}

void bf16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16)));
  }
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

// Accumulates exactly as dot4 does on dequantised rows (see the AVX-512 file).
void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  std::size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 xv = _mm256_loadu_ps(x + c);
    const __m256 scale = _mm256_set1_ps(block_scales[c / kI4GroupSize] * 256.0f);
    for (int r = 0; r < 4; ++r) {
      acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(e4m3x8_to_f32_times_2e_8(rows + r * row_stride + c), scale), xv, acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    float sum = horizontal_sum(acc[r]);
    for (std::size_t j = c; j < n; ++j) sum += e4m3_to_f32(rows[r * row_stride + j]) * block_scales[j / 128] * x[j];
    out[r] = sum;
  }
}

__m256 bf16x8_to_f32(const std::uint16_t* src) {
  const __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(half), 16));
}

// One token at a time: the same bits as dot4_e4m3 by construction.
void dot4_e4m3_tokens(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                      std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  for (std::size_t t = 0; t < tokens; ++t) dot4_e4m3(rows, row_stride, block_scales, x + t * x_stride, n, out + t * out_stride);
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  std::size_t c = 0;
  for (; c + 8 <= n; c += 8) {
    const __m256 xv = _mm256_loadu_ps(x + c);
    for (int r = 0; r < 4; ++r) acc[r] = _mm256_fmadd_ps(bf16x8_to_f32(rows + r * row_stride + c), xv, acc[r]);
  }
  for (int r = 0; r < 4; ++r) {
    float sum = horizontal_sum(acc[r]);
    for (std::size_t j = c; j < n; ++j) sum += bf16_to_f32(rows[r * row_stride + j]) * x[j];
    out[r] = sum;
  }
}

// kernels/silu_fast.h one value at a time: the bf16 mode that uses it runs only on CPUs with
// AVX512-BF16, which take the AVX-512 table's.
void silu_mul_fast(float* gate, const float* up, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) gate[i] = silu_mul_fast_one(gate[i], up[i]);
}

}  // namespace

const VectorOps* avx2_vector_ops() {
  static const VectorOps ops{"avx2", dot, dot_f64, dot4, dot4x4, dot4_e4m3, dot4_bf16, dot4_e4m3_tokens, axpy, axpy4, bf16_row, f16_row, e4m3_row, i4_row, silu_mul_fast};
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  return usable ? &ops : nullptr;
}

}  // namespace dsv32
