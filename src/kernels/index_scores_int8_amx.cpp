// AMX path of index_scores_int8.h: the int8 products on AMX tiles (TDPBSSD: 16 keys x 64
// values by 64 values x 16 heads per instruction, exact int32 sums), so the scores are the
// scalar reference's bits. This file is compiled with -mamx-tile -mamx-int8 (as the other
// *_amx.cpp) and is only called after index_scores_int8_amx()'s CPU and kernel-permission checks
// (cpu_features.h).
//
// A holds 16 keys' int8 values, loaded straight from the cache (their rows lie dim bytes apart);
// B a step of the packed query ([dim / 4][padded_heads][4] is AMX's four-byte-interleaved B
// layout); C the keys' sums for 16 heads, row j being key j with head h in lane h % 16, as the
// reference's lanes. Both operands are signed, so the sums need no offset (the query's offsets
// serve the AVX-512 kernel's unsigned keys).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/amx_tile_config.h"
#include "kernels/cpu_features.h"
#include "kernels/index_keys_int8_avx512.h"
#include "kernels/index_scores_int8.h"
#include "kernels/tree_sum_avx512.h"

namespace dsv32 {
namespace {

constexpr std::size_t kKeys = 16;        // keys per tile (A's and C's rows)
constexpr std::size_t kStepValues = 64;  // key values one TDPBSSD consumes (64 bytes of a row)

// Tile registers (GCC's intrinsics take them as literal numbers): 0 the keys, 1 and 2 query
// steps (loaded in turn), 4 to 7 the sums of heads 0-15 .. 48-63 of a chunk of 64.
constexpr AmxTileConfig make_config() {
  AmxTileConfig config;
  for (const int t : {0, 1, 2, 4, 5, 6, 7}) config.bytes_per_row[t] = 64, config.rows[t] = kKeys;
  return config;
}
constexpr AmxTileConfig kConfig = make_config();

// One chunk of 64 heads against 16 keys (rows of `keys`, key_stride bytes apart): the four
// groups' sums into sums[g][key][16].
void chunk_sums(const std::int8_t* keys, std::size_t key_stride, const std::int8_t* query_chunk, std::size_t dim, std::size_t heads,
                std::int32_t (&sums)[4][kKeys * 16]) {
  _tile_zero(4);
  _tile_zero(5);
  _tile_zero(6);
  _tile_zero(7);
  const std::size_t query_stride = heads * 4;  // bytes from one quad of the query to the next
  for (std::size_t d = 0; d < dim; d += kStepValues) {
    const std::int8_t* step = query_chunk + (d / 4) * query_stride;
    _tile_loadd(0, keys + d, key_stride);
    _tile_loadd(1, step, query_stride);
    _tile_dpbssd(4, 0, 1);
    _tile_loadd(2, step + 64, query_stride);
    _tile_dpbssd(5, 0, 2);
    _tile_loadd(1, step + 128, query_stride);
    _tile_dpbssd(6, 0, 1);
    _tile_loadd(2, step + 192, query_stride);
    _tile_dpbssd(7, 0, 2);
  }
  _tile_stored(4, sums[0], 64);
  _tile_stored(5, sums[1], 64);
  _tile_stored(6, sums[2], 64);
  _tile_stored(7, sums[3], 64);
}

// One group's 16 keys' lanes from its head groups' sums (heads in order, as the reference sums
// them): the first group of 16 heads multiplied, the others fused-added.
void add_chunk_terms(const IndexQueryInt8& query, std::size_t chunk, const std::int32_t (&sums)[4][kKeys * 16], __m512 (&lanes)[kKeys]) {
  for (int g = 0; g < 4; ++g) {
    const __m512 weight = _mm512_loadu_ps(query.weights + chunk + 16 * g);
    for (std::size_t j = 0; j < kKeys; ++j) {
      lanes[j] = add_relu_terms(lanes[j], _mm512_load_si512(sums[g] + j * 16), weight, chunk == 0 && g == 0);
    }
  }
}

// The scores of a group's first m keys from their lanes.
void store_scores(const __m512 (&lanes)[kKeys], const float* key_scales, std::size_t m, float* out) {
  const __mmask16 valid = static_cast<__mmask16>((1u << m) - 1);
  const __m512 scales = _mm512_maskz_loadu_ps(valid, key_scales);
  _mm512_mask_storeu_ps(out, valid, _mm512_mul_ps(tree_sums(lanes), scales));
}

// Where a group's keys are read: whole groups where they lie; a last partial group copied first
// (its last key repeated), as the rows after it may be another section's or past the cache's end.
struct GroupKeys {
  const std::int8_t* rows;
  std::size_t stride;
};
GroupKeys group_keys(const std::int8_t* key_values, std::size_t dim, std::size_t j0, std::size_t m, std::int8_t (&partial)[kKeys][kIndexMaxDim]) {
  if (m == kKeys) return {key_values + j0 * dim, dim};
  for (std::size_t j = 0; j < kKeys; ++j) std::memcpy(partial[j], key_values + (j0 + std::min(j, m - 1)) * dim, dim);
  amx_buffers_written();
  return {partial[0], kIndexMaxDim};
}

// The next group's keys into L1 while this one is scored: tile loads from L2 stall.
void prefetch_next_group(const std::int8_t* key_values, std::size_t dim, std::size_t j0, std::size_t n) {
  if (j0 + 2 * kKeys > n) return;
  const std::int8_t* next = key_values + (j0 + kKeys) * dim;
  for (std::size_t line = 0; line < kKeys * dim; line += 64) _mm_prefetch(reinterpret_cast<const char*>(next + line), _MM_HINT_T0);
}

// n keys scored with the configuration loaded. With one chunk of 64 heads (the model's), a
// group's sums are read back one group later, while the tile unit forms the next group's: read
// at once, the loads waited for the tile stores to reach L1.
void scores_configured(const IndexQueryInt8& query, const std::int8_t* key_values, const float* key_scales, std::size_t n, float* out,
                       IndexKeysPrefetch prefetch) {
  const std::size_t dim = query.dim, heads = query.padded_heads;
  alignas(64) std::int8_t partial[kKeys][kIndexMaxDim];
  alignas(64) std::int32_t sums[2][4][kKeys * 16];
  GroupPrefetch ahead(prefetch, (n + kKeys - 1) / kKeys);
  if (heads == kIndexHeadChunk) {
    std::size_t pending = 0;  // keys of the group whose sums wait in sums[parity ^ 1]
    int parity = 0;
    for (std::size_t j0 = 0; j0 < n; j0 += kKeys, parity ^= 1) {
      ahead.group();
      const std::size_t m = std::min(kKeys, n - j0);
      const GroupKeys keys = group_keys(key_values, dim, j0, m, partial);
      prefetch_next_group(key_values, dim, j0, n);
      chunk_sums(keys.rows, keys.stride, query.packed, dim, heads, sums[parity]);
      if (pending > 0) {
        __m512 lanes[kKeys];
        add_chunk_terms(query, 0, sums[parity ^ 1], lanes);
        store_scores(lanes, key_scales + j0 - kKeys, pending, out + j0 - kKeys);
      }
      pending = m;
    }
    if (pending > 0) {
      __m512 lanes[kKeys];
      add_chunk_terms(query, 0, sums[parity ^ 1], lanes);
      const std::size_t last = (n - 1) / kKeys * kKeys;
      store_scores(lanes, key_scales + last, pending, out + last);
    }
    return;
  }
  for (std::size_t j0 = 0; j0 < n; j0 += kKeys) {
    ahead.group();
    const std::size_t m = std::min(kKeys, n - j0);
    const GroupKeys keys = group_keys(key_values, dim, j0, m, partial);
    prefetch_next_group(key_values, dim, j0, n);
    __m512 lanes[kKeys];
    for (std::size_t chunk = 0; chunk < heads; chunk += kIndexHeadChunk) {
      chunk_sums(keys.rows, keys.stride, query.packed + chunk * 4, dim, heads, sums[0]);
      add_chunk_terms(query, chunk, sums[0], lanes);
    }
    store_scores(lanes, key_scales + j0, m, out + j0);
  }
}

void scores(const IndexQueryInt8& query, const std::int8_t* key_values, const float* key_scales, std::size_t n, float* out,
            IndexKeysPrefetch prefetch) {
  _tile_loadconfig(&kConfig);
  scores_configured(query, key_values, key_scales, n, out, prefetch);
  _tile_release();
}

void scores_runs(const IndexQueryInt8& query, std::span<const IndexKeyRun> runs) {
  _tile_loadconfig(&kConfig);
  for (const IndexKeyRun& run : runs) scores_configured(query, run.keys, run.scales, run.n, run.scores, run.prefetch);
  _tile_release();
}

}  // namespace

IndexScoresInt8RunsFn index_scores_int8_amx_runs() { return index_scores_int8_amx() != nullptr ? &scores_runs : nullptr; }

IndexScoresInt8Fn index_scores_int8_amx() {
  static const bool usable = index_scores_int8_avx512() != nullptr && cpu_has_amx_int8() && amx_tiles_granted();
  return usable ? &scores : nullptr;
}

}  // namespace dsv32
