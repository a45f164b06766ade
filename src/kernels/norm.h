#pragma once
// RMSNorm and LayerNorm over one row, float32 as the reference computes them.
#include <cstdint>

namespace dsv32 {

// out = x * rsqrt(mean(x²) + eps) * weight (out may alias x).
void rms_norm(const float* x, const float* weight, std::int64_t n, float eps, float* out);
// out = (x - mean) / sqrt(biased var + eps) * weight + bias (out may alias x).
void layer_norm(const float* x, const float* weight, const float* bias, std::int64_t n, float eps, float* out);

}  // namespace dsv32
