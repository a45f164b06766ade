#include "kernels/dot_bf16.h"

#include <cstdlib>
#include <string_view>

#include "kernels/number_formats.h"

namespace dsv32 {

void dot4x4_bf16_scalar(const std::uint16_t* rows, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride,
                        std::size_t n, float* out, std::size_t out_stride) {
  for (std::size_t t = 0; t < 4; ++t) {
    for (std::size_t r = 0; r < 4; ++r) {
      float sum = 0.0f;
      for (std::size_t i = 0; i < n; ++i) sum += bf16_to_f32(rows[r * row_stride + i]) * bf16_to_f32(x[t * x_stride + i]);
      out[t * out_stride + r] = sum;
    }
  }
}

Dot4x4Bf16 best_dot4x4_bf16(std::size_t n) {
  static const bool forced_scalar = [] {
    const char* isa = std::getenv("DSV32_ISA");
    return isa != nullptr && std::string_view(isa) == "scalar";
  }();
  if (!forced_scalar && n % 32 == 0) {
    if (const Dot4x4Bf16 fast = dot4x4_bf16_avx512()) return fast;
  }
  return dot4x4_bf16_scalar;
}

}  // namespace dsv32
