#include "kernels/norm.h"

#include <cmath>

namespace dsv32 {
namespace {

// Σ x² in double (exact enough for the mean at any width), element i in partial sum i % 8, the
// partial sums added in a fixed tree: one order whatever ISA the kernels dispatch to, and eight
// independent chains of additions that the compiler keeps in vector registers, where one chain
// paid an addition's latency per element (16 decoding sequences: about 0.9 ms a step in the norms).
double sum_of_squares(const float* x, std::int64_t n) {
  double partial[8] = {};
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) partial[j] += static_cast<double>(x[i + j]) * x[i + j];
  }
  for (int j = 0; i < n; ++i, ++j) partial[j] += static_cast<double>(x[i]) * x[i];
  return ((partial[0] + partial[4]) + (partial[2] + partial[6])) + ((partial[1] + partial[5]) + (partial[3] + partial[7]));
}

}  // namespace

void rms_norm(const float* x, const float* weight, std::int64_t n, float eps, float* out) {
  const double sum_squares = sum_of_squares(x, n);
  const float inv_rms = 1.0f / std::sqrt(static_cast<float>(sum_squares / static_cast<double>(n)) + eps);
  for (std::int64_t i = 0; i < n; ++i) out[i] = x[i] * inv_rms * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, std::int64_t n, float eps, float* out) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < n; ++i) sum += x[i];
  const auto mean = static_cast<float>(sum / static_cast<double>(n));
  double sum_squares = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sum_squares += d * d;
  }
  const float inv_std = 1.0f / std::sqrt(static_cast<float>(sum_squares / static_cast<double>(n)) + eps);
  for (std::int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * inv_std * weight[i] + bias[i];
}

}  // namespace dsv32
