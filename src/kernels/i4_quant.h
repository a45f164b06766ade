#pragma once
// Rounding weights to I4 (kernels/weight.h) for `dsv32 quantize`: per row and group of 128
// columns a float32 scale s, and q = clamp(round(w / s), -8, 7). s is the best of a few
// candidates around max|w| / 7 by the group's squared error (plain max / 7 wastes the -8 code
// and lets one outlier set the step for all 128 values).
#include <cstddef>
#include <cstdint>

namespace dsv32 {

// One row of n (even) values: packed gets n / 2 bytes, scales ceil(n / 128) floats. False (and
// nothing meaningful written) when a value is not finite.
bool quantize_i4_row(const float* values, std::size_t n, std::uint8_t* packed, float* scales);

}  // namespace dsv32
