#pragma once
// Reproducible standard-normal test inputs for the kernel tests.
#include <cstdint>
#include <random>
#include <vector>

namespace dsv32 {

inline std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(n);
  for (auto& v : values) v = normal(rng);
  return values;
}

}  // namespace dsv32
