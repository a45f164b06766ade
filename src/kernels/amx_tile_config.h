#pragma once
// What the AMX kernels (gemm_bf16_amx.cpp, index_scores_int8_amx.cpp, attention_bf16_amx.cpp)
// share. Each loads its tile configuration at the start of a call (oneDNN's AMX kernels on the
// same threads load theirs) and releases the tiles at the end, so that a thread switched out
// between calls has no 8 KB of tile data to save.
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

// GCC's _tile_loadd names no memory operand, so without this a buffer filled just before its
// tile load could have its stores moved past the load, or dropped.
inline void amx_buffers_written() { asm volatile("" ::: "memory"); }

}  // namespace dsv32
