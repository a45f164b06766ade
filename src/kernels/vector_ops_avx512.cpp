// AVX-512 (F/BW/VL) paths; this file alone is compiled with those flags and only called
// after the CPU check below.
#include <immintrin.h>

#include <algorithm>

#include "kernels/number_formats.h"
#include "kernels/vector_ops.h"

namespace dsv32 {
namespace {

float dot(const float* a, const float* b, std::size_t n) {
  __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
  }
  if (i + 16 <= n) {
    acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
    i += 16;
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, a + i), _mm512_maskz_loadu_ps(mask, b + i), acc1);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

double dot_f64(const float* a, const float* b, std::size_t n) {
  __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 av = _mm512_loadu_ps(a + i), bv = _mm512_loadu_ps(b + i);
    acc0 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(av)), _mm512_cvtps_pd(_mm512_castps512_ps256(bv)), acc0);
    acc1 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(av), 1))),
                           _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(bv), 1))), acc1);
  }
  double sum = _mm512_reduce_add_pd(_mm512_add_pd(acc0, acc1));
  for (; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
  return sum;
}

void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 xv = _mm512_loadu_ps(x + i);
    for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(_mm512_loadu_ps(rows + r * row_stride + i), xv, acc[r]);
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(mask, x + i);
    for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, rows + r * row_stride + i), xv, acc[r]);
  }
  for (int r = 0; r < 4; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

void axpy(float a, const float* x, float* y, std::size_t n) {
  const __m512 av = _mm512_set1_ps(a);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * x[i];
}

void bf16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16)));
  }
  for (; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void f16_row(const std::uint16_t* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  }
  for (; i < n; ++i) dst[i] = f16_to_f32(src[i]);
}

// e4m3 -> f32 via f16: (code << 8) shifted arithmetically right by one holds the sign at bit 15
// and exponent/mantissa at bits 7..13, the f16 pattern of value * 2^-8 (subnormals included);
// bit 14 gets a copy of the sign and is cleared. The hardware converts f16 to f32.
__m512 e4m3x16_to_f32_times_2e_8(__m128i codes16) {
  const __m256i shifted = _mm256_srai_epi16(_mm256_slli_epi16(_mm256_cvtepu8_epi16(codes16), 8), 1);
  return _mm512_cvtph_ps(_mm256_and_si256(shifted, _mm256_set1_epi16(static_cast<short>(0xBFFF))));
}

void e4m3_row(const std::uint8_t* src, float scale, float* dst, std::size_t n) {
  const __m512 scale_v = _mm512_set1_ps(scale * 256.0f);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm512_storeu_ps(dst + i, _mm512_mul_ps(e4m3x16_to_f32_times_2e_8(codes), scale_v));
  }
  for (; i < n; ++i) dst[i] = e4m3_to_f32(src[i]) * scale;
}

// Each weight is dequantised (value * block scale, one rounding, exact for power-of-two scales)
// and accumulated exactly as dot4 does on dequantised rows, so decode and prefill agree bitwise.
void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  std::size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m512 xv = _mm512_loadu_ps(x + c);
    const __m512 scale = _mm512_set1_ps(block_scales[c / 128] * 256.0f);
    for (int r = 0; r < 4; ++r) {
      const __m128i codes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + r * row_stride + c));
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(e4m3x16_to_f32_times_2e_8(codes), scale), xv, acc[r]);
    }
  }
  if (c < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - c)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(mask, x + c);
    const __m512 scale = _mm512_set1_ps(block_scales[c / 128] * 256.0f);
    for (int r = 0; r < 4; ++r) {
      const __m128i codes = _mm_maskz_loadu_epi8(mask, rows + r * row_stride + c);
      acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(e4m3x16_to_f32_times_2e_8(codes), scale), xv, acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

__m512 bf16x16_to_f32(const std::uint16_t* src) {
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  std::size_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m512 xv = _mm512_loadu_ps(x + c);
    for (int r = 0; r < 4; ++r) acc[r] = _mm512_fmadd_ps(bf16x16_to_f32(rows + r * row_stride + c), xv, acc[r]);
  }
  if (c < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - c)) - 1);
    const __m512 xv = _mm512_maskz_loadu_ps(mask, x + c);
    for (int r = 0; r < 4; ++r) {
      const __m256i half = _mm256_maskz_loadu_epi16(mask, rows + r * row_stride + c);
      const __m512 w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
      acc[r] = _mm512_fmadd_ps(w, xv, acc[r]);
    }
  }
  for (int r = 0; r < 4; ++r) out[r] = _mm512_reduce_add_ps(acc[r]);
}

}  // namespace

const VectorOps* avx512_vector_ops() {
  static const VectorOps ops{"avx512", dot, dot_f64, dot4, dot4_e4m3, dot4_bf16, axpy, bf16_row, f16_row, e4m3_row};
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return usable ? &ops : nullptr;
}

}  // namespace dsv32
