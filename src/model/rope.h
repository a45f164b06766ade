#pragma once
// Rotary position embedding with DeepSeek's YaRN frequency ramp, computed in float32 exactly
// as the reference orders its operations.
#include <cstdint>
#include <vector>

#include "model/config.h"

namespace dsv32 {

class Rope {
 public:
  explicit Rope(const ModelConfig& config);

  std::int64_t pairs() const { return static_cast<std::int64_t>(inv_freq_.size()); }
  // cos/sin of angle(position, i) for every pair i (arrays of pairs()).
  void angles(std::int64_t position, float* cos_out, float* sin_out) const;

  // MLA layout: pairs (x[2i], x[2i+1]).
  static void rotate_interleaved(float* x, const float* cos, const float* sin, std::int64_t pairs);
  // Indexer layout: pairs (x[i], x[i + pairs]).
  static void rotate_half_split(float* x, const float* cos, const float* sin, std::int64_t pairs);

 private:
  std::vector<float> inv_freq_;
};

}  // namespace dsv32
