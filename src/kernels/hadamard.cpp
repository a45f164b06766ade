#include "kernels/hadamard.h"

#include <cmath>

namespace dsv32 {

void hadamard_rotate(float* x, std::size_t n, double* work) {
  for (std::size_t i = 0; i < n; ++i) work[i] = x[i];
  for (std::size_t half = 1; half < n; half *= 2) {
    for (std::size_t block = 0; block < n; block += 2 * half) {
      for (std::size_t i = block; i < block + half; ++i) {
        const double a = work[i], b = work[i + half];
        work[i] = a + b;
        work[i + half] = a - b;
      }
    }
  }
  const double norm = 1.0 / std::sqrt(static_cast<double>(n));
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(work[i] * norm);
}

}  // namespace dsv32
