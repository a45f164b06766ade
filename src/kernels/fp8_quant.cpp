#include "kernels/fp8_quant.h"

#include <cmath>

#include "kernels/number_formats.h"

namespace dsv32 {

void act_quant_ue8m0(const float* x, std::size_t n, std::uint8_t* codes, float* scales) {
  for (std::size_t block = 0; block * kActQuantBlock < n; ++block) {
    const float* values = x + block * kActQuantBlock;
    float amax = 0.0f;
    for (std::size_t i = 0; i < kActQuantBlock; ++i) amax = std::fmax(amax, std::fabs(values[i]));
    const float scale = ue8m0_scale(amax);
    scales[block] = scale;
    // s is a power of two, so x * (1/s) rounds exactly as the reference's x / s.
    const float inverse = 1.0f / scale;
    for (std::size_t i = 0; i < kActQuantBlock; ++i) codes[block * kActQuantBlock + i] = f32_to_e4m3(values[i] * inverse);
  }
}

}  // namespace dsv32
