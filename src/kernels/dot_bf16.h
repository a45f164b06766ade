#pragma once
// The bf16 precision mode's inner product: activations and weights rounded to bf16, products
// exact in float32, sums in float32. Four weight rows against four activation rows, laid out as
// dot4x4 (out[t * out_stride + r]). AVX512-BF16 (vdpbf16ps) doubles the multiply rate of the
// float32 FMA path on the CPUs that have it; the scalar version is the reference.
#include <cstddef>
#include <cstdint>

namespace dsv32 {

using Dot4x4Bf16 = void (*)(const std::uint16_t* rows, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride,
                            std::size_t n, float* out, std::size_t out_stride);

void dot4x4_bf16_scalar(const std::uint16_t* rows, std::size_t row_stride, const std::uint16_t* x, std::size_t x_stride,
                        std::size_t n, float* out, std::size_t out_stride);
Dot4x4Bf16 dot4x4_bf16_avx512();  // nullptr when the CPU lacks AVX512-BF16; n must be a multiple of 32

// The fastest this CPU runs for rows of n values (DSV32_ISA=scalar forces the reference).
Dot4x4Bf16 best_dot4x4_bf16(std::size_t n);

}  // namespace dsv32
