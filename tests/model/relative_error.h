#pragma once
// ‖ours − reference‖ / ‖reference‖ over n values, in double: the measure the precision and
// quantisation tests bound.
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace dsv32::test {

inline double rms_rel(const float* ours, const float* reference, std::int64_t n) {
  double diff = 0.0, norm = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    diff += (static_cast<double>(ours[i]) - reference[i]) * (static_cast<double>(ours[i]) - reference[i]);
    norm += static_cast<double>(reference[i]) * reference[i];
  }
  return std::sqrt(diff / std::max(norm, 1e-30));
}

}  // namespace dsv32::test
