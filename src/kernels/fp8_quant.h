#pragma once
// DeepSeek's `act_quant` with ue8m0 scales: per block of 128 values, a power-of-two scale and
// e4m3 codes. Used for the FP8 latent KV cache and the indexer's queries and keys.
#include <cstddef>
#include <cstdint>

namespace dsv32 {

constexpr std::size_t kActQuantBlock = 128;

// n must be a multiple of 128; writes n codes and n/128 scales.
void act_quant_ue8m0(const float* x, std::size_t n, std::uint8_t* codes, float* scales);

}  // namespace dsv32
