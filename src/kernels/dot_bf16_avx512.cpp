// AVX512-BF16 path of dot_bf16.h; this file alone is compiled with -mavx512bf16 and is only
// called after the CPU check below.
#include <immintrin.h>

#include "kernels/dot_bf16.h"

namespace dsv32 {
namespace {

void dot4x4(const std::uint16_t* rows, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride, std::size_t n,
            float* out, std::size_t out_stride) {
  __m512 acc[4][4];
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) acc[t][r] = _mm512_setzero_ps();
  }
  for (std::size_t i = 0; i < n; i += 32) {
    __m512bh w[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) w[r] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(rows + r * row_stride + i));
#pragma GCC unroll 4
    for (int t = 0; t < 4; ++t) {
      const auto xv = reinterpret_cast<__m512bh>(_mm512_loadu_si512(x + t * x_stride + i));
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[t][r] = _mm512_dpbf16_ps(acc[t][r], w[r], xv);
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < 4; ++t) {
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[t][r]);
  }
}

}  // namespace

Dot4x4Bf16 dot4x4_bf16_avx512() {
  __builtin_cpu_init();
  const bool usable = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bf16");
  return usable ? dot4x4 : nullptr;
}

}  // namespace dsv32
