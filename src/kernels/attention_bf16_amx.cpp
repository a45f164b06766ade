// AMX path of attention_bf16.h: a full block's two products on AMX tiles (TDPBF16PS), the
// online softmax between them as the AVX512-BF16 kernel's (attention_softmax_avx512.h). This
// file is compiled with -mamx-tile -mamx-bf16 (as the other *_amx.cpp) and is only called after
// attend_block_bf16_amx()'s CPU and kernel-permission checks (cpu_features.h).
//
// Scores: A holds 16 keys' rows (32 values each, in place), B a step of the packed query
// ([dim / 2][heads][2] is AMX's pair-interleaved B layout), C the keys' scores for 16 heads,
// stored straight into scores[j][heads]. Values: A holds 16 heads' weights for the block's 16
// key pairs, B 16 channels of the key pairs (interleaved here, as the AVX-512 kernel does in
// registers), C the heads' accumulated values for those channels, loaded from and stored to
// the state. A block of fewer than 32 keys (the last of a range) takes the AVX-512 kernel,
// since the tiles would read rows past the n given; so do shapes off the 32-value steps.
#include <immintrin.h>

#include <cstdint>

#include "kernels/amx_tile_config.h"
#include "kernels/attention_bf16.h"
#include "kernels/attention_softmax_avx512.h"
#include "kernels/cpu_features.h"

namespace dsv32 {
namespace {

constexpr std::size_t kStepValues = 32;  // bf16 values one TDPBF16PS consumes from a row (64 bytes)
constexpr std::size_t kKeyPairs = kAttentionBlockKeys / 2;
constexpr std::size_t kMaxValueDim = 512;  // the latent widths this kernel takes (DeepSeek-V3.2's)

// Every tile 16 rows of 64 bytes. Registers (GCC's intrinsics take them as literal numbers):
// scores 0 and 1 keys 0-15 and 16-31, 2 the query, 4 and 5 their scores; values 3 the
// weights, 6 the channels, 7 the accumulated values.
constexpr AmxTileConfig make_config() {
  AmxTileConfig config;
  for (int t = 0; t < 8; ++t) config.bytes_per_row[t] = 64, config.rows[t] = 16;
  return config;
}
constexpr AmxTileConfig kConfig = make_config();

void scores_block(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, float* scores) {
  const std::size_t heads = query.heads, key_bytes = key_stride * sizeof(std::uint16_t);
  const std::uint16_t* high_keys = keys + 16 * key_stride;
  for (std::size_t hc = 0; hc < heads; hc += kAttentionHeadLanes) {
    _tile_zero(4);
    _tile_zero(5);
    for (std::size_t d = 0; d < query.dim; d += kStepValues) {
      _tile_loadd(0, keys + d, key_bytes);
      _tile_loadd(1, high_keys + d, key_bytes);
      _tile_loadd(2, query.packed + ((d / 2) * heads + hc) * 2, heads * 4);
      _tile_dpbf16ps(4, 0, 2);
      _tile_dpbf16ps(5, 1, 2);
    }
    _tile_stored(4, scores + hc, heads * sizeof(float));
    _tile_stored(5, scores + 16 * heads + hc, heads * sizeof(float));
  }
}

// The block's values as B tiles: channels[c / 16][m][16 channels][2], key 2m in the low half.
void interleave_channels(const std::uint16_t* keys, std::size_t key_stride, std::size_t value_dim, std::uint16_t* channels) {
  const __m512i low = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34,
                                       2, 33, 1, 32, 0);
  const __m512i high = _mm512_add_epi16(low, _mm512_set1_epi16(16));
  for (std::size_t m = 0; m < kKeyPairs; ++m) {
    const std::uint16_t* even = keys + 2 * m * key_stride;
    const std::uint16_t* odd = even + key_stride;
    for (std::size_t c = 0; c < value_dim; c += 32) {
      const __m512i e = _mm512_loadu_si512(even + c), o = _mm512_loadu_si512(odd + c);
      _mm512_store_si512(channels + ((c / 16) * kKeyPairs + m) * 32, _mm512_permutex2var_epi16(e, low, o));
      _mm512_store_si512(channels + ((c / 16 + 1) * kKeyPairs + m) * 32, _mm512_permutex2var_epi16(e, high, o));
    }
  }
}

// weights[h][m] = weight_pairs[m][hc + h]: the head chunk's weights as an A tile.
void transpose_weights(const std::uint32_t* weight_pairs, std::size_t heads, std::size_t hc, std::uint32_t* weights) {
  for (std::size_t m = 0; m < kKeyPairs; ++m) {
    const __m512i pairs = _mm512_loadu_si512(weight_pairs + m * heads + hc);
    _mm512_i32scatter_epi32(weights + m, _mm512_mullo_epi32(_mm512_set1_epi32(kKeyPairs), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)),
                            pairs, 4);
  }
}

AttendBlockBf16 avx512_kernel() {
  static const AttendBlockBf16 kernel = attend_block_bf16_avx512();
  return kernel;
}

void attend_block(const AttentionBf16Query& query, const std::uint16_t* keys, std::size_t key_stride, std::size_t n,
                  const std::uint32_t* visible, const AttentionBf16State& state, float* scratch) {
  if (n != kAttentionBlockKeys || query.dim % kStepValues != 0 || query.value_dim % 32 != 0 || query.value_dim > kMaxValueDim) {
    avx512_kernel()(query, keys, key_stride, n, visible, state, scratch);
    return;
  }
  _tile_loadconfig(&kConfig);
  const std::size_t heads = query.heads;
  float* scores = scratch;
  auto* weight_pairs = reinterpret_cast<std::uint32_t*>(scratch + kAttentionBlockKeys * heads);  // [16][heads]
  scores_block(query, keys, key_stride, scores);
  softmax_block(query, n, visible, state, scores, weight_pairs);

  // The channels (32 KB at the model's 512) and a chunk's weights live on the stack: the
  // caller's scratch is sized for the AVX-512 kernel.
  alignas(64) std::uint16_t channels[kMaxValueDim * kAttentionBlockKeys];
  alignas(64) std::uint32_t weights[kAttentionHeadLanes * kKeyPairs];
  interleave_channels(keys, key_stride, query.value_dim, channels);
  amx_buffers_written();
  const std::size_t acc_bytes = state.acc_stride * sizeof(float);
  for (std::size_t hc = 0; hc < heads; hc += kAttentionHeadLanes) {
    transpose_weights(weight_pairs, heads, hc, weights);
    amx_buffers_written();
    _tile_loadd(3, weights, kKeyPairs * sizeof(std::uint32_t));
    float* acc = state.acc + hc * state.acc_stride;
    for (std::size_t c = 0; c < query.value_dim; c += 16) {
      _tile_loadd(7, acc + c, acc_bytes);
      _tile_loadd(6, channels + (c / 16) * kKeyPairs * 32, 64);
      _tile_dpbf16ps(7, 3, 6);
      _tile_stored(7, acc + c, acc_bytes);
    }
  }
  _tile_release();
}

}  // namespace

AttendBlockBf16 attend_block_bf16_amx() {
  static const bool usable = attend_block_bf16_avx512() != nullptr && cpu_has_amx_bf16() && amx_tiles_granted();
  return usable ? &attend_block : nullptr;
}

}  // namespace dsv32
