// AMX path of index_scores_int8.h: the int8 products on AMX tiles (TDPBUSD: 16 keys x 64
// values by 64 values x 16 heads per instruction, exact int32 sums), the rest as the AVX-512
// kernel, so the scores are the scalar reference's bits. This file is compiled with -mamx-tile
// -mamx-int8 (as the other *_amx.cpp) and is only called after index_scores_int8_amx()'s CPU
// and kernel-permission checks (cpu_features.h).
//
// A holds 16 keys' unsigned values (int8 + 128, key_to_unsigned's rows), B a step of the packed
// query ([dim / 4][padded_heads][4] is AMX's four-byte-interleaved B layout), C the keys' sums
// for 16 heads, row j being key j with head h in lane h % 16, as the AVX-512 kernel's lanes.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/amx_tile_config.h"
#include "kernels/cpu_features.h"
#include "kernels/index_keys_int8_avx512.h"
#include "kernels/index_scores_int8.h"
#include "kernels/tree_sum_avx512.h"

namespace dsv32 {
namespace {

constexpr std::size_t kKeys = 16;       // keys per tile (A's and C's rows)
constexpr std::size_t kStepValues = 64;  // key values one TDPBUSD consumes (64 bytes of a row)

// Tile registers (GCC's intrinsics take them as literal numbers): 0 the keys, 1 and 2 query
// steps (loaded in turn), 4 to 7 the sums of heads 0-15 .. 48-63 of a chunk of 64.
constexpr AmxTileConfig make_config() {
  AmxTileConfig config;
  for (const int t : {0, 1, 2, 4, 5, 6, 7}) config.bytes_per_row[t] = 64, config.rows[t] = kKeys;
  return config;
}
constexpr AmxTileConfig kConfig = make_config();

// One chunk of 64 heads against 16 keys (rows of `keys`, kIndexMaxDim bytes apart): the four
// groups' sums into sums[g][key][16].
void chunk_sums(const std::uint8_t* keys, const std::int8_t* query_chunk, std::size_t dim, std::size_t heads,
                std::int32_t (&sums)[4][kKeys * 16]) {
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  const std::size_t query_stride = heads * 4;  // bytes from one quad of the query to the next
  for (std::size_t d = 0; d < dim; d += kStepValues) {
    const std::int8_t* step = query_chunk + (d / 4) * query_stride;
    _tile_loadd(0, keys + d, kIndexMaxDim);
    _tile_loadd(1, step, query_stride);
    _tile_dpbusd(4, 0, 1);
    _tile_loadd(2, step + 64, query_stride);
    _tile_dpbusd(5, 0, 2);
    _tile_loadd(1, step + 128, query_stride);
    _tile_dpbusd(6, 0, 1);
    _tile_loadd(2, step + 192, query_stride);
    _tile_dpbusd(7, 0, 2);
  }
  _tile_stored(4, sums[0], 64);
  _tile_stored(5, sums[1], 64);
  _tile_stored(6, sums[2], 64);
  _tile_stored(7, sums[3], 64);
}

// n keys scored with the configuration loaded and the key grid's table in registers.
void scores_configured(const IndexQueryInt8& query, const __m512i (&table)[2], const std::uint8_t* key_codes, const float* key_scales,
                       std::size_t n, float* out, IndexKeysPrefetch prefetch) {
  const std::size_t dim = query.dim, heads = query.padded_heads;
  alignas(64) std::uint8_t keys[kKeys][kIndexMaxDim];
  alignas(64) std::int32_t sums[4][kKeys * 16];
  GroupPrefetch ahead(prefetch, (n + kKeys - 1) / kKeys);
  for (std::size_t j0 = 0; j0 < n; j0 += kKeys) {
    ahead.group();
    const std::size_t m = std::min(kKeys, n - j0);
    for (std::size_t j = 0; j < kKeys; ++j) key_to_unsigned(key_codes + (j0 + std::min(j, m - 1)) * dim, dim, table, keys[j]);
    amx_buffers_written();
    __m512 lanes[kKeys];
    for (std::size_t chunk = 0; chunk < heads; chunk += kIndexHeadChunk) {
      chunk_sums(keys[0], query.packed + chunk * 4, dim, heads, sums);
      for (int g = 0; g < 4; ++g) {  // heads in order, as the reference sums them
        const __m512i offset = _mm512_loadu_si512(query.offsets + chunk + 16 * g);
        const __m512 weight = _mm512_loadu_ps(query.weights + chunk + 16 * g);
        for (std::size_t j = 0; j < kKeys; ++j) {
          lanes[j] = add_head_terms(lanes[j], _mm512_load_si512(sums[g] + j * 16), offset, weight, chunk == 0 && g == 0);
        }
      }
    }
    for (std::size_t j = 0; j < m; ++j) out[j0 + j] = tree_sum(lanes[j]) * key_scales[j0 + j];
  }
}

// The keys' grid (key_to_unsigned's table) in registers.
struct KeyGridTable {
  __m512i halves[2];
};
KeyGridTable key_grid_table() {
  const IndexInt8Grid& grid = index_int8_grid(kIndexKeyGridCode);
  return {{_mm512_loadu_si512(grid.magnitudes), _mm512_loadu_si512(grid.magnitudes + 64)}};
}

void scores(const IndexQueryInt8& query, const std::uint8_t* key_codes, const float* key_scales, std::size_t n, float* out,
            IndexKeysPrefetch prefetch) {
  const KeyGridTable grid = key_grid_table();
  _tile_loadconfig(&kConfig);
  scores_configured(query, grid.halves, key_codes, key_scales, n, out, prefetch);
  _tile_release();
}

void scores_runs(const IndexQueryInt8& query, std::span<const IndexKeyRun> runs) {
  const KeyGridTable grid = key_grid_table();
  _tile_loadconfig(&kConfig);
  for (const IndexKeyRun& run : runs) scores_configured(query, grid.halves, run.codes, run.scales, run.n, run.scores, run.prefetch);
  _tile_release();
}

}  // namespace

IndexScoresInt8RunsFn index_scores_int8_amx_runs() { return index_scores_int8_amx() != nullptr ? &scores_runs : nullptr; }

IndexScoresInt8Fn index_scores_int8_amx() {
  static const bool usable = index_scores_int8_avx512() != nullptr && cpu_has_amx_int8() && amx_tiles_granted();
  return usable ? &scores : nullptr;
}

}  // namespace dsv32
