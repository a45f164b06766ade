#pragma once
// The indexer's rotation: x <- (H_n · x) / sqrt(n) with H_n the Sylvester Walsh-Hadamard matrix.
// Evaluated in double and rounded once, like the golden data's reference.
#include <cstddef>

namespace dsv32 {

// n must be a power of two; `work` holds n doubles.
void hadamard_rotate(float* x, std::size_t n, double* work);

}  // namespace dsv32
