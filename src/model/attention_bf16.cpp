// The bf16 mode's attention core (kernels/attention_bf16.h): the same absorbed MLA as
// attention.cpp's float32 loop, over blocks of 32 keys converted once to bf16 rows.
//
// Work items: up to kGroupRows consecutive prefill rows of one sequence that attend to every
// causal key share an item (each key block then serves all their heads); a row with an indexer
// selection is an item of its own. When there are fewer items than threads (decode), each
// item's keys are split across the threads and the partial softmax states merged afterwards.
//
// A prompt's rows visit each cached key many times (up to index_topk keys a row); such a call
// converts the keys once into a table of bf16 rows, which blocks of consecutive keys read in
// place and a selection's blocks copy from (4096-token prefill, 3 alternated rounds: attention
// core 5.36-5.94 -> 4.72-4.91 s, prefill 337-364 -> 370-399 tok/s). Decode converts per block.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/attention_bf16.h"
#include "kernels/flush_denormals.h"
#include "kernels/gemm_bf16.h"
#include "model/model.h"

namespace dsv32 {
namespace {

constexpr std::int64_t kGroupRows = 4;
constexpr std::int64_t kMinKeysPerSplit = 128;
// A sequence's keys are converted once per call (a key table) where the call's rows visit
// each of them at least this many times on average; a decoded row visits each key at most once.
constexpr std::int64_t kTableVisitsPerKey = 4;

std::int64_t padded_heads(std::int64_t heads) {
  const auto lanes = static_cast<std::int64_t>(kAttentionHeadLanes);
  return (heads + lanes - 1) / lanes * lanes;
}

// Decides the call's key tables (ws.attention_key_tables: the sequences whose keys its rows
// visit kTableVisitsPerKey times each or more) and fills their rows, key_stride values each
// (padding zero), converting every key once; returns where the rows start. A table holds every
// position up to the call's last row (1216 bytes each at DeepSeek-V3.2's 512 + 64: 40 MB for a
// chunk at 32K); the buffer is reused, its rows rebuilt for each layer. Converted under the
// same denormal flushing as the per-block path, so both give the same bits.
template <typename ConvertKey>
const std::uint16_t* build_key_tables(ComputeContext& ctx, Workspace& ws, std::span<const TokenRow> rows, std::size_t key_stride,
                                      std::size_t key_values, const ConvertKey& convert_key) {
  std::vector<AttentionKeyTable>& tables = ws.attention_key_tables;
  tables.clear();
  if (ctx.attention_key_rows() != AttentionKeyRows::Auto) return nullptr;
  for (const AttentionWorkItem& item : ws.attention_items) {
    const TokenRow& last = rows[static_cast<std::size_t>(item.first_row + item.rows - 1)];
    auto table = std::find_if(tables.begin(), tables.end(), [&](const AttentionKeyTable& t) { return t.cache == last.cache; });
    if (table == tables.end()) table = tables.insert(tables.end(), {last.cache, 0, 0, 0});
    table->positions = std::max(table->positions, last.position + 1);
    table->visits += item.keys;
  }
  std::erase_if(tables, [](const AttentionKeyTable& t) { return t.visits < kTableVisitsPerKey * t.positions; });
  if (tables.empty()) return nullptr;
  std::int64_t positions = 0;
  for (AttentionKeyTable& table : tables) {
    table.first_value = static_cast<std::size_t>(positions) * key_stride;
    positions += table.positions;
  }
  std::uint16_t* key_rows = grow(ws.attention_key_rows, static_cast<std::int64_t>(static_cast<std::size_t>(positions) * key_stride));
  ctx.pool().parallel_for(static_cast<std::size_t>(positions), [&](std::size_t begin, std::size_t end, unsigned) {
    const ScopedFlushDenormals flush_denormals;
    for (auto i = static_cast<std::int64_t>(begin); i < static_cast<std::int64_t>(end); ++i) {
      std::int64_t position = i;
      const AttentionKeyTable* table = tables.data();
      while (position >= table->positions) position -= (table++)->positions;
      std::uint16_t* key = key_rows + table->first_value + static_cast<std::size_t>(position) * key_stride;
      convert_key(*table->cache, position, key);
      std::fill(key + key_values, key + key_stride, std::uint16_t{0});
    }
  }, 16);
  return key_rows;
}

}  // namespace

// q̃[t, h] = W_UK[h]ᵀ · q_nope[t, h] as a bf16 product with the roles of the tile swapped: the
// queries are the tile's rows and W_UK's columns, 32 at a time with its rows paired, are the
// packed block, so the transposed use of the weight needs no transposed copy of it.
bool Model::absorb_queries_bf16(std::int64_t layer, std::int64_t T, const float* q, float* q_absorbed) {
  const ModelConfig& c = config_;
  const GemmBf16Kernels& kernels = best_gemm_bf16();
  const std::int64_t H = c.num_attention_heads, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, dv = c.v_head_dim;
  const std::int64_t C = c.kv_lora_rank, qk = dn + dr;
  if (ctx_.precision() != Precision::BF16 || fast_attend_block_bf16() == nullptr || T < kGemmTileTokens / 2 || C % 32 != 0 ||
      dn % 2 != 0) {
    return false;
  }
  const Weight& kv_b = weights_.layers[static_cast<std::size_t>(layer)].attention.kv_b_proj;
  const std::int64_t padded_tokens = (T + kGemmTileRows - 1) / kGemmTileRows * kGemmTileRows;
  std::uint16_t* queries = grow(ws_.absorb_queries, H * padded_tokens * dn);  // [H][padded tokens][dn]
  ctx_.pool().parallel_for(static_cast<std::size_t>(H * padded_tokens), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto i = static_cast<std::int64_t>(begin); i < static_cast<std::int64_t>(end); ++i) {
      const std::int64_t h = i / padded_tokens, t = i % padded_tokens;
      if (t < T) {
        kernels.round_to_bf16(q + t * H * qk + h * qk, queries + i * dn, static_cast<std::size_t>(dn));
      } else {
        std::fill(queries + i * dn, queries + (i + 1) * dn, std::uint16_t{0});
      }
    }
  });
  // Per head: W_UK[h] converted two rows at a time and laid out as the tile's packed blocks,
  // [column block][row pair][32 columns][2 rows] (the interleave as a kernel: GCC left the
  // plain loop scalar, 0.28 ms per layer of 16 decoding sequences).
  const std::int64_t column_blocks = C / kGemmTileTokens, pairs = dn / 2;
  ctx_.pool().parallel_for(static_cast<std::size_t>(H), [&](std::size_t begin, std::size_t end, unsigned thread) {
    std::uint16_t* rows_bf16 = ctx_.scratch_u16(thread, static_cast<std::size_t>((dn + 2) * C));
    std::uint16_t* packed = rows_bf16 + 2 * C;  // dn * C values
    float* row_f32 = ctx_.scratch(thread, static_cast<std::size_t>(C + kGemmTileRows * kGemmTileTokens));
    float* tile = row_f32 + C;
    for (auto h = static_cast<std::int64_t>(begin); h < static_cast<std::int64_t>(end); ++h) {
      for (std::int64_t pair = 0; pair < pairs; ++pair) {
        const std::int64_t r = h * (dn + dv) + 2 * pair;
        weight_row_to_bf16(kernels, ctx_.ops(), kv_b, r, 0, C, row_f32, rows_bf16);
        weight_row_to_bf16(kernels, ctx_.ops(), kv_b, r + 1, 0, C, row_f32, rows_bf16 + C);
        for (std::int64_t block = 0; block < column_blocks; ++block) {
          const std::uint16_t* even = rows_bf16 + block * kGemmTileTokens;
          kernels.interleave_rows(even, even + C, kGemmTileTokens, packed + (block * pairs + pair) * 2 * kGemmTileTokens);
        }
      }
      for (std::int64_t block = 0; block < column_blocks; ++block) {
        const std::uint16_t* packed_block = packed + block * pairs * 2 * kGemmTileTokens;
        for (std::int64_t t0 = 0; t0 < T; t0 += kGemmTileRows) {
          kernels.tile(queries + (h * padded_tokens + t0) * dn, static_cast<std::size_t>(dn), packed_block, static_cast<std::size_t>(pairs),
                       tile, {});
          for (std::int64_t r = 0; r < kGemmTileRows && t0 + r < T; ++r) {
            std::copy_n(tile + r * kGemmTileTokens, kGemmTileTokens, q_absorbed + ((t0 + r) * H + h) * C + block * kGemmTileTokens);
          }
        }
      }
    }
  });
  return true;
}

bool Model::attention_core_bf16(std::int64_t layer, std::span<const TokenRow> rows, const float* q, const float* q_absorbed,
                                float* latent_out) {
  const ModelConfig& c = config_;
  const AttendBlockBf16 attend = fast_attend_block_bf16();
  const std::int64_t H = c.num_attention_heads, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim, C = c.kv_lora_rank;
  const std::int64_t qk = dn + dr, K = C + dr;
  if (attend == nullptr || ctx_.precision() != Precision::BF16 || C % 128 != 0 || K % 2 != 0) return false;
  const auto T = static_cast<std::int64_t>(rows.size());
  if (T == 0) return true;
  const auto selected = [&](std::int64_t t) { return c.has_indexer && ws_.selection_count[static_cast<std::size_t>(t)] >= 0; };

  // Each query row as one vector: absorbed latent query, then its rope part; rows split across
  // the threads (a 512-token prompt copies 19 MB a layer: 27-31 -> 16-17 ms a prefill, 3
  // alternated runs).
  float* queries = grow(ws_.attention_queries, T * H * K);
  ctx_.pool().parallel_for(static_cast<std::size_t>(T), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto t = static_cast<std::int64_t>(begin); t < static_cast<std::int64_t>(end); ++t) {
      for (std::int64_t h = 0; h < H; ++h) {
        std::copy_n(q_absorbed + (t * H + h) * C, C, queries + (t * H + h) * K);
        std::copy_n(q + t * H * qk + h * qk + dn, dr, queries + (t * H + h) * K + C);
      }
    }
  });

  std::vector<AttentionWorkItem>& items = ws_.attention_items;
  items.clear();
  for (std::int64_t t = 0; t < T;) {
    std::int64_t n = 1;
    if (!selected(t)) {
      while (n < kGroupRows && t + n < T && !selected(t + n) && rows[t + n].cache == rows[t].cache &&
             rows[t + n].position == rows[t].position + n) {
        ++n;
      }
    }
    const std::int64_t keys = selected(t) ? ws_.selection_count[static_cast<std::size_t>(t)] : rows[t + n - 1].position + 1;
    items.push_back({t, n, keys});
    t += n;
  }
  const auto threads = static_cast<std::int64_t>(ctx_.threads());
  const auto item_count = static_cast<std::int64_t>(items.size());
  std::int64_t splits = 1;
  if (item_count < threads) {
    // Sized by the longest item; a short one may get empty splits, which the merge weighs 0.
    std::int64_t most_keys = 0;
    for (const AttentionWorkItem& item : items) most_keys = std::max(most_keys, item.keys);
    splits = std::clamp<std::int64_t>(most_keys / kMinKeysPerSplit, 1, (threads + item_count - 1) / item_count);
  }

  // Partial states of split items: [item][split] x (max, sum, acc) over the item's heads.
  const std::int64_t max_heads = padded_heads(kGroupRows * H);
  const std::int64_t state_floats = max_heads * (C + 2);
  float* partial = splits > 1 ? grow(ws_.attention_partials, item_count * splits * state_floats) : nullptr;
  const std::size_t key_stride = static_cast<std::size_t>((K + 31) / 32 * 32 + 32);
  const GemmBf16Kernels& rounding = best_gemm_bf16();
  const float scale = static_cast<float>(c.softmax_scale());
  // The bf16 row of a cached key: its latent (exact: e4m3 times a power of two, one scale per
  // 128 channels, C % 128 == 0), then its rope key rounded; the row's padding stays as it is.
  const auto convert_key = [&](const SequenceCache& cache, std::int64_t position, std::uint16_t* key) {
    const KvSlot slot = cache.slot(layer, position);
    rounding.e4m3_row_to_bf16(slot.latent_codes, slot.latent_scales, key, static_cast<std::size_t>(C));
    rounding.round_to_bf16(slot.rope_key, key + C, static_cast<std::size_t>(dr));
  };
  const std::uint16_t* key_rows = build_key_tables(ctx_, ws_, rows, key_stride, static_cast<std::size_t>(K), convert_key);
  const auto table_of = [&](const SequenceCache* cache) -> const AttentionKeyTable* {
    for (const AttentionKeyTable& table : ws_.attention_key_tables) {
      if (table.cache == cache) return &table;
    }
    return nullptr;
  };

  ctx_.pool().parallel_for(static_cast<std::size_t>(item_count * splits), [&](std::size_t begin, std::size_t end, unsigned thread) {
    const ScopedFlushDenormals flush_denormals;
    const auto heads_cap = static_cast<std::size_t>(max_heads);
    const std::size_t packed_values = heads_cap * static_cast<std::size_t>(K);
    const std::size_t block_values = kAttentionBlockKeys * key_stride;
    std::uint16_t* packed = ctx_.scratch_u16(thread, packed_values + block_values);
    std::uint16_t* key_block = packed + packed_values;
    std::fill(key_block, key_block + block_values, std::uint16_t{0});
    const std::size_t state_size = static_cast<std::size_t>(state_floats);
    float* scratch = ctx_.scratch(thread, state_size + attention_scratch_floats(heads_cap) + heads_cap);
    float* own_state = scratch;
    float* kernel_scratch = own_state + state_size;
    auto* visible = reinterpret_cast<std::uint32_t*>(kernel_scratch + attention_scratch_floats(heads_cap));

    for (auto claimed = static_cast<std::int64_t>(begin); claimed < static_cast<std::int64_t>(end); ++claimed) {
      // Heaviest first: a causal prefill's items grow with their position, and claimed in
      // order the last (largest) ones left a thread waiting for the other.
      const std::int64_t index = item_count * splits - 1 - claimed;
      const AttentionWorkItem& item = items[static_cast<std::size_t>(index / splits)];
      const std::int64_t split = index % splits;
      const auto heads = static_cast<std::size_t>(padded_heads(item.rows * H));
      float* state_base = splits > 1 ? partial + index * state_floats : own_state;
      const AttentionBf16State state{state_base, state_base + heads, state_base + 2 * heads, static_cast<std::size_t>(C)};
      reset_attention_state(state, heads, static_cast<std::size_t>(C));
      pack_attention_query(queries + item.first_row * H * K, static_cast<std::size_t>(K), static_cast<std::size_t>(item.rows * H),
                           scale, heads, static_cast<std::size_t>(K), packed);
      const AttentionBf16Query query{packed, heads, static_cast<std::size_t>(K), static_cast<std::size_t>(C)};
      const TokenRow& first = rows[item.first_row];
      const bool pruned = selected(item.first_row);
      const std::int32_t* selection = ws_.selection.data() + item.first_row * c.index_topk;
      const std::int64_t key_begin = item.keys * split / splits, key_end = item.keys * (split + 1) / splits;
      const AttentionKeyTable* table = table_of(first.cache);
      const std::uint16_t* table_rows = table != nullptr ? key_rows + table->first_value : nullptr;
      const auto table_row = [&](std::int64_t position) { return table_rows + static_cast<std::size_t>(position) * key_stride; };

      for (std::int64_t k0 = key_begin; k0 < key_end; k0 += static_cast<std::int64_t>(kAttentionBlockKeys)) {
        const std::int64_t n = std::min(static_cast<std::int64_t>(kAttentionBlockKeys), key_end - k0);
        // Consecutive keys from a table are read where they lie; others are gathered into the
        // block, from a table or converted from the cache.
        const std::uint16_t* keys = table_rows != nullptr && !pruned ? table_row(k0) : key_block;
        if (keys == key_block) {
          for (std::int64_t j = 0; j < n; ++j) {
            const std::int64_t position = pruned ? selection[k0 + j] : k0 + j;
            std::uint16_t* key = key_block + static_cast<std::size_t>(j) * key_stride;
            if (table_rows != nullptr) {
              std::copy_n(table_row(position), K, key);
              continue;
            }
            if (const std::int64_t ahead = k0 + j + SequenceCache::kPrefetchAheadKeys; ahead < key_end) {
              first.cache->prefetch_attention_entries(layer, pruned ? selection[ahead] : ahead);
            }
            convert_key(*first.cache, position, key);
          }
        }
        for (std::size_t v = 0; v < heads; ++v) {  // keys after a row's own position are hidden from it
          const auto row = static_cast<std::int64_t>(v) / H;
          const std::int64_t seen = row >= item.rows ? 0 : pruned ? n : rows[item.first_row + row].position + 1 - k0;
          visible[v] = static_cast<std::uint32_t>(std::clamp<std::int64_t>(seen, 0, n));
        }
        attend(query, keys, key_stride, static_cast<std::size_t>(n), visible, state, kernel_scratch);
      }
      if (splits == 1) {
        for (std::int64_t v = 0; v < item.rows * H; ++v) {
          const float inverse = 1.0f / state.sum[v];
          float* out = latent_out + (item.first_row * H + v) * C;
          for (std::int64_t i = 0; i < C; ++i) out[i] = state.acc[v * C + i] * inverse;
        }
      }
    }
  });

  if (splits > 1) {  // merge the splits of each item: rescale every partial to the common max
    for (std::int64_t i = 0; i < item_count; ++i) {
      const AttentionWorkItem& item = items[static_cast<std::size_t>(i)];
      const std::int64_t heads = padded_heads(item.rows * H);
      for (std::int64_t v = 0; v < item.rows * H; ++v) {
        float top = -std::numeric_limits<float>::infinity();
        for (std::int64_t s = 0; s < splits; ++s) top = std::max(top, partial[(i * splits + s) * state_floats + v]);
        float* out = latent_out + (item.first_row * H + v) * C;
        std::fill(out, out + C, 0.0f);
        float sum = 0.0f;
        for (std::int64_t s = 0; s < splits; ++s) {
          const float* base = partial + (i * splits + s) * state_floats;
          const float weight = std::exp(base[v] - top);
          sum += base[heads + v] * weight;
          const float* acc = base + 2 * heads + v * C;
          for (std::int64_t ch = 0; ch < C; ++ch) out[ch] += acc[ch] * weight;
        }
        for (std::int64_t ch = 0; ch < C; ++ch) out[ch] /= sum;
      }
    }
  }
  return true;
}

}  // namespace dsv32
