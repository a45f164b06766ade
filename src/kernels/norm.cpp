#include "kernels/norm.h"

#include <cmath>

namespace dsv32 {

void rms_norm(const float* x, const float* weight, std::int64_t n, float eps, float* out) {
  double sum_squares = 0.0;  // a double accumulator keeps the mean exact enough for any width
  for (std::int64_t i = 0; i < n; ++i) sum_squares += static_cast<double>(x[i]) * x[i];
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
