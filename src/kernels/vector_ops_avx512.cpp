// AVX-512 (F/BW/VL) paths; this file alone is compiled with those flags and only called
// after the CPU check below.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/i4_avx512.h"
#include "kernels/number_formats.h"
#include "kernels/silu_fast.h"
#include "kernels/weight.h"
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

// One row after the other, one accumulator each: the summation order of a 4-accumulator
// interleave, but memory is read in one sequential stream. Interleaving four rows 2-4 KB apart
// measured 8 GB/s against 24 GB/s sequential on one Sapphire Rapids core (the prefetcher
// follows one stream well, several badly), and decode is bound by that stream.
void dot4(const float* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (int r = 0; r < 4; ++r) {
    const float* row = rows + r * row_stride;
    __m512 acc = _mm512_setzero_ps();
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), acc);
    if (i < n) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, row + i), _mm512_maskz_loadu_ps(mask, x + i), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

// 4 weight rows x 4 activation rows in registers; each output accumulates in one register
// over c in order, exactly as dot4, so prefill and decode give the same bits.
void dot4x4(const float* rows, std::size_t row_stride, const float* x, std::size_t x_stride, std::size_t n, float* out,
            std::size_t out_stride) {
  __m512 acc[4][4];
  // Unrolled explicitly: at -O2 GCC keeps acc[][] on the stack otherwise.
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 w[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) w[r] = _mm512_loadu_ps(rows + r * row_stride + i);
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const __m512 xv = _mm512_loadu_ps(x + t * x_stride + i);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[t][r] = _mm512_fmadd_ps(w[r], xv, acc[t][r]);
    }
  }
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1);
    __m512 w[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) w[r] = _mm512_maskz_loadu_ps(mask, rows + r * row_stride + i);
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + t * x_stride + i);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[t][r] = _mm512_fmadd_ps(w[r], xv, acc[t][r]);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[t][r]);
  }
}

void axpy(float a, const float* x, float* y, std::size_t n) {
  const __m512 av = _mm512_set1_ps(a);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

void axpy4(const float* a, const float* x, std::size_t x_stride, float* y, std::size_t n) {
  const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]), a2 = _mm512_set1_ps(a[2]), a3 = _mm512_set1_ps(a[3]);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 acc = _mm512_loadu_ps(y + i);
    acc = _mm512_fmadd_ps(a0, _mm512_loadu_ps(x + i), acc);
    acc = _mm512_fmadd_ps(a1, _mm512_loadu_ps(x + x_stride + i), acc);
    acc = _mm512_fmadd_ps(a2, _mm512_loadu_ps(x + 2 * x_stride + i), acc);
    acc = _mm512_fmadd_ps(a3, _mm512_loadu_ps(x + 3 * x_stride + i), acc);
    _mm512_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i) {  // as axpy's tail
    for (std::size_t j = 0; j < 4; ++j) y[i] = std::fma(a[j], x[j * x_stride + i], y[i]);
  }
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

// Sixteen columns of the four rows at a time, y loaded and stored once for them; the tail as
// e4m3_row's and axpy4's.
void axpy4_e4m3(const float* a, const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, float* y,
                std::size_t n) {
  const __m512 a0 = _mm512_set1_ps(a[0]), a1 = _mm512_set1_ps(a[1]), a2 = _mm512_set1_ps(a[2]), a3 = _mm512_set1_ps(a[3]);
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 scale = _mm512_set1_ps(block_scales[i / kFp8BlockSize] * 256.0f);
    const auto weight = [&](std::size_t j) {
      return _mm512_mul_ps(e4m3x16_to_f32_times_2e_8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rows + j * row_stride + i))), scale);
    };
    __m512 acc = _mm512_loadu_ps(y + i);
    acc = _mm512_fmadd_ps(a0, weight(0), acc);
    acc = _mm512_fmadd_ps(a1, weight(1), acc);
    acc = _mm512_fmadd_ps(a2, weight(2), acc);
    acc = _mm512_fmadd_ps(a3, weight(3), acc);
    _mm512_storeu_ps(y + i, acc);
  }
  for (; i < n; ++i) {
    for (std::size_t j = 0; j < 4; ++j) y[i] = std::fma(a[j], e4m3_to_f32(rows[j * row_stride + i]) * block_scales[i / kFp8BlockSize], y[i]);
  }
}

// 32 I4 values at a time (see the AVX2 file).
void i4_row(const std::uint8_t* packed, const float* scales, float* dst, std::size_t n) {
  std::size_t c = 0;
  for (; c + 32 <= n; c += 32) {
    const I4x32 q = i4x32_to_f32(packed + c / 2);
    const __m512 scale = _mm512_set1_ps(scales[c / kI4GroupSize]);
    _mm512_storeu_ps(dst + c, _mm512_mul_ps(q.first, scale));
    _mm512_storeu_ps(dst + c + 16, _mm512_mul_ps(q.second, scale));
  }
  for (; c < n; ++c) dst[c] = static_cast<float>(i4_at(packed, c)) * scales[c / kI4GroupSize];
}

// Each weight is dequantised (value * block scale, one rounding, exact for power-of-two scales)
// and accumulated exactly as dot4 does on dequantised rows, so decode and prefill agree bitwise.
// e4m3 -> f32 bits directly: code << 24 shifted arithmetically right by 4 puts the sign in bit 31
// (and copies of it in 27..30, masked off) and exponent/mantissa in bits 20..26: the f32 pattern
// of value * 2^-120, exact (subnormal codes become f32 subnormals). One conversion step fewer than
// the f16 route, which matters because decode of FP8 weights is bound by these instructions.
__m512 e4m3x16_to_f32_times_2e_120(__m128i codes16) {
  const __m512i lanes = _mm512_srai_epi32(_mm512_slli_epi32(_mm512_cvtepu8_epi32(codes16), 24), 4);
  return _mm512_castsi512_ps(_mm512_and_si512(lanes, _mm512_set1_epi32(static_cast<int>(0x87F00000u))));
}

// Scales up to 2^7 keep scale * 2^120 finite (then value * that is one rounding of value * scale,
// as the f16 route's value * 2^-8 * (scale * 2^8)); larger scales take the f16 route.
constexpr float kTwoTo120 = 1.329227995784916e36f;

// Decode streams each weight row once; asking for the line this far ahead of the loads keeps
// more of them in flight than the hardware prefetcher alone (measured on the bench preset's FP8
// weights: 41.0 -> 41.7 tok/s over three runs each; no gain on the bf16 head, so not there).
constexpr std::size_t kPrefetchBytes = 2048;

// Row by row (one sequential stream through the weights, which the hardware prefetcher keeps
// ahead of; interleaving the four rows measured slower), each converted weight vector applied
// to every token: Tokens independent FMA chains, each (row, token) accumulating in one register
// over c in order, as dot4 on the dequantised rows. Tokens is a template parameter so that the
// accumulators stay in registers.
template <int Tokens, bool FastRoute, bool Tail = false>
inline void e4m3_step(const std::uint8_t* row, float scale, const float* x, std::size_t x_stride, std::size_t c, __mmask16 mask,
                      __m512 (&acc)[8]) {
  const __m128i codes = Tail ? _mm_maskz_loadu_epi8(mask, row + c) : _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c));
  const __m512 w = _mm512_mul_ps(FastRoute ? e4m3x16_to_f32_times_2e_120(codes) : e4m3x16_to_f32_times_2e_8(codes),
                                 _mm512_set1_ps(scale * (FastRoute ? kTwoTo120 : 256.0f)));
#pragma GCC unroll 8
  for (int t = 0; t < Tokens; ++t) {
    const __m512 xv = Tail ? _mm512_maskz_loadu_ps(mask, x + t * x_stride + c) : _mm512_loadu_ps(x + t * x_stride + c);
    acc[t] = _mm512_fmadd_ps(w, xv, acc[t]);
  }
}

template <int Tokens>
void dot4_e4m3_fixed(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                     std::size_t x_stride, std::size_t n, float* out, std::size_t out_stride) {
  bool small_scales = true;
  for (std::size_t b = 0; b < (n + 127) / 128; ++b) small_scales = small_scales && std::fabs(block_scales[b]) <= 128.0f;
  for (int r = 0; r < 4; ++r) {
    const std::uint8_t* row = rows + r * row_stride;
    __m512 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < 8; ++t) acc[t] = _mm512_setzero_ps();
    std::size_t c = 0;
    if (small_scales) {
      for (; c + 16 <= n; c += 16) {
        if (c % 64 == 0) _mm_prefetch(reinterpret_cast<const char*>(row + c) + kPrefetchBytes, _MM_HINT_T0);
        e4m3_step<Tokens, true>(row, block_scales[c / kFp8BlockSize], x, x_stride, c, 0xFFFF, acc);
      }
    } else {
      for (; c + 16 <= n; c += 16) e4m3_step<Tokens, false>(row, block_scales[c / kFp8BlockSize], x, x_stride, c, 0xFFFF, acc);
    }
    if (c < n) {
      e4m3_step<Tokens, false, true>(row, block_scales[c / kFp8BlockSize], x, x_stride, c, static_cast<__mmask16>((1u << (n - c)) - 1), acc);
    }
#pragma GCC unroll 8
    for (int t = 0; t < Tokens; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[t]);
  }
}

void dot4_e4m3_tokens(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
                      std::size_t x_stride, std::size_t tokens, std::size_t n, float* out, std::size_t out_stride) {
  for (; tokens >= 8; tokens -= 8, x += 8 * x_stride, out += 8 * out_stride) {
    dot4_e4m3_fixed<8>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride);
  }
  switch (tokens) {
    case 7: dot4_e4m3_fixed<7>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 6: dot4_e4m3_fixed<6>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 5: dot4_e4m3_fixed<5>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 4: dot4_e4m3_fixed<4>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 3: dot4_e4m3_fixed<3>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 2: dot4_e4m3_fixed<2>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    case 1: dot4_e4m3_fixed<1>(rows, row_stride, block_scales, x, x_stride, n, out, out_stride); break;
    default: break;
  }
}

void dot4_e4m3(const std::uint8_t* rows, std::size_t row_stride, const float* block_scales, const float* x,
               std::size_t n, float* out) {
  dot4_e4m3_fixed<1>(rows, row_stride, block_scales, x, n, n, out, 1);
}

__m512 bf16x16_to_f32(const std::uint16_t* src) {
  const __m256i half = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

void dot4_bf16(const std::uint16_t* rows, std::size_t row_stride, const float* x, std::size_t n, float* out) {
  for (int r = 0; r < 4; ++r) {  // row by row, as dot4
    const std::uint16_t* row = rows + r * row_stride;
    __m512 acc = _mm512_setzero_ps();
    std::size_t c = 0;
    for (; c + 16 <= n; c += 16) acc = _mm512_fmadd_ps(bf16x16_to_f32(row + c), _mm512_loadu_ps(x + c), acc);
    if (c < n) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (n - c)) - 1);
      const __m256i half = _mm256_maskz_loadu_epi16(mask, row + c);
      const __m512 w = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
      acc = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(mask, x + c), acc);
    }
    out[r] = _mm512_reduce_add_ps(acc);
  }
}

// kernels/silu_fast.h, 16 at a time (vscalefps: p * 2^n, exact here as ldexp).
void silu_mul_fast(float* gate, const float* up, std::size_t n) {
  using C = SiluFastConstants;
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    __m512 y = _mm512_sub_ps(_mm512_setzero_ps(), g);
    y = _mm512_max_ps(y, _mm512_set1_ps(C::kLowest));
    y = _mm512_min_ps(y, _mm512_set1_ps(C::kHighest));
    const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(C::kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(C::kLn2High), y);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(C::kLn2Low), r);
    __m512 p = _mm512_set1_ps(C::kC6);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC5));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(C::kC0));
    const __m512 e = _mm512_scalef_ps(p, k);
    _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), _mm512_loadu_ps(up + i)));
  }
  for (; i < n; ++i) gate[i] = silu_mul_fast_one(gate[i], up[i]);
}

}  // namespace

const VectorOps* avx512_vector_ops() {
  static const VectorOps ops{"avx512", dot, dot_f64, dot4, dot4x4, dot4_e4m3, dot4_bf16, dot4_e4m3_tokens, axpy, axpy4, axpy4_e4m3, bf16_row, f16_row, e4m3_row, i4_row, silu_mul_fast};
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  return usable ? &ops : nullptr;
}

}  // namespace dsv32
