#include "kernels/fp8_quant.h"

#include <cmath>

#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

// A block's codes; the restrict tells the compiler the codes are not the values (a byte store
// may alias anything), which is what lets it vectorise f32_to_e4m3 over the block.
void encode_block(const float* __restrict values, float inverse, std::uint8_t* __restrict codes) {
  for (std::size_t i = 0; i < kActQuantBlock; ++i) codes[i] = f32_to_e4m3(values[i] * inverse);
}

}  // namespace

void act_quant_ue8m0(const float* x, std::size_t n, std::uint8_t* codes, float* scales) {
  for (std::size_t block = 0; block * kActQuantBlock < n; ++block) {
    const float* values = x + block * kActQuantBlock;
    // Eight running maxima, NaN passed over as std::fmax would (a libm call per value):
    // loops that vectorise, as the codes' below.
    float partial[8] = {};
    for (std::size_t i = 0; i < kActQuantBlock; i += 8) {
      for (std::size_t j = 0; j < 8; ++j) {
        const float magnitude = std::fabs(values[i + j]);
        partial[j] = magnitude > partial[j] ? magnitude : partial[j];
      }
    }
    float amax = 0.0f;
    for (const float value : partial) amax = value > amax ? value : amax;
    const float scale = ue8m0_scale(amax);
    scales[block] = scale;
    // s is a power of two, so x * (1/s) rounds exactly as the reference's x / s.
    const float inverse = 1.0f / scale;
    encode_block(values, inverse, codes + block * kActQuantBlock);
  }
}

}  // namespace dsv32
