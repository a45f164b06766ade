#pragma once
// The 64 bytes ldtilecfg reads (palette 1): per tile register its bytes per row and its rows.
// Shared by the AMX kernels (gemm_bf16_amx.cpp, index_scores_int8_amx.cpp), each of which
// loads its own at the start of a call, since oneDNN's AMX kernels on the same thread load theirs.
#include <cstdint>

namespace dsv32 {

struct alignas(64) AmxTileConfig {
  std::uint8_t palette = 1;
  std::uint8_t start_row = 0;
  std::uint8_t reserved[14] = {};
  std::uint16_t bytes_per_row[16] = {};
  std::uint8_t rows[16] = {};
};
static_assert(sizeof(AmxTileConfig) == 64);

}  // namespace dsv32
