#include "model/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace dsv32 {
namespace {

double correction_dim(double rotations, double dim, double base, double original_length) {
  return dim * std::log(original_length / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

}  // namespace

Rope::Rope(const ModelConfig& config) {
  const std::int64_t dim = config.qk_rope_head_dim;
  const auto base = static_cast<float>(config.rope_theta);
  inv_freq_.resize(static_cast<std::size_t>(dim / 2));
  for (std::int64_t i = 0; i < dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(dim);
    inv_freq_[static_cast<std::size_t>(i)] = 1.0f / std::pow(base, exponent);
  }
  if (!config.yarn) return;
  const YarnScaling& yarn = *config.yarn;
  const auto original = static_cast<double>(yarn.original_max_position_embeddings);
  const double low = std::max(std::floor(correction_dim(yarn.beta_fast, static_cast<double>(dim), config.rope_theta, original)), 0.0);
  double high = std::min(std::ceil(correction_dim(yarn.beta_slow, static_cast<double>(dim), config.rope_theta, original)),
                         static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  const auto factor = static_cast<float>(yarn.factor);
  for (std::size_t i = 0; i < inv_freq_.size(); ++i) {
    const float ramp = std::clamp((static_cast<float>(i) - static_cast<float>(low)) / static_cast<float>(high - low), 0.0f, 1.0f);
    const float smooth = 1.0f - ramp;
    const float f = inv_freq_[i];
    inv_freq_[i] = f / factor * (1.0f - smooth) + f * smooth;
  }
}

void Rope::angles(std::int64_t position, float* cos_out, float* sin_out) const {
  const auto pos = static_cast<float>(position);
  for (std::size_t i = 0; i < inv_freq_.size(); ++i) {
    const float angle = pos * inv_freq_[i];
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
  }
}

void Rope::rotate_interleaved(float* x, const float* cos, const float* sin, std::int64_t pairs) {
  for (std::int64_t i = 0; i < pairs; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = a * sin[i] + b * cos[i];
  }
}

void Rope::rotate_half_split(float* x, const float* cos, const float* sin, std::int64_t pairs) {
  for (std::int64_t i = 0; i < pairs; ++i) {
    const float a = x[i], b = x[i + pairs];
    x[i] = a * cos[i] - b * sin[i];
    x[i + pairs] = a * sin[i] + b * cos[i];
  }
}

}  // namespace dsv32
