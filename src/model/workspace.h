#pragma once
// Activation buffers of a forward pass. They grow and stay (the key table excepted, past a
// size: release_key_rows_over), so a steady stream of steps of similar size allocates nothing.
// Each starts on a cache line (util/aligned_vector.h).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "kernels/linear.h"
#include "util/aligned_vector.h"

namespace dsv32 {

template <typename T, typename Allocator>
T* grow(std::vector<T, Allocator>& buffer, std::int64_t count) {
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

class SequenceCache;

// Rows [first_row, first_row + rows) attending together to `keys` keys (attention_bf16.cpp).
struct AttentionWorkItem {
  std::int64_t first_row, rows, keys;
};

// A sequence's cached keys of one layer as bf16 rows (positions [0, positions)), converted once
// for a call whose rows visit them many times (model/attention_bf16.cpp).
struct AttentionKeyTable {
  const SequenceCache* cache;
  std::int64_t positions;
  std::int64_t visits;      // the call's key visits to this sequence (what decides the table)
  std::size_t first_value;  // where its rows start in Workspace::attention_key_rows
};

struct Workspace {
  AlignedVector<float> hidden, normed, branch;                    // [T, hidden]
  AlignedVector<float> q_lora, q, kv, q_absorbed, latent_out, heads_out;  // MLA
  AlignedVector<float> index_q, index_k, index_head_weights;     // indexer
  AlignedVector<std::int64_t> index_rows;                         // rows that select
  AlignedVector<float> index_inputs;                              // their gathered inputs
  AlignedVector<std::uint8_t> index_q_codes;
  AlignedVector<float> index_q_scales;
  AlignedVector<std::uint16_t> index_q_packed;                    // one query, kernels/index_scores.h
  AlignedVector<std::int8_t> index_q_int8;                        // or kernels/index_scores_int8.h
  AlignedVector<std::int32_t> index_q_offsets;
  AlignedVector<float> index_padded_weights, index_scores;        // [padded heads], [keys]
  AlignedVector<std::int32_t> selection;                          // [T, max keys]
  AlignedVector<std::int64_t> selection_count;                    // [T]
  AlignedVector<float> attention_queries, attention_partials;    // bf16 attention core
  AlignedVector<std::uint16_t> absorb_queries;
  std::vector<AttentionWorkItem> attention_items;
  std::vector<AttentionKeyTable> attention_key_tables;
  AlignedVector<std::uint16_t> attention_key_rows;
  AlignedVector<float> ffn_gate, ffn_up;                          // MLP / experts
  AlignedVector<float> router_scores, expert_in, expert_out;      // MoE
  AlignedVector<std::int32_t> routed_experts;
  AlignedVector<float> routed_weights;
  AlignedVector<std::int32_t> expert_rows, pair_slots;
  AlignedVector<float> expert_row_weights;
  AlignedVector<std::int64_t> expert_offsets;                    // [experts + 1] into the grouped rows
  std::vector<LinearJob> linear_jobs;
  AlignedVector<float> head_in, logits;

  // Frees the key table's rows once they hold more than keep_bytes. They scale with a call's
  // context, not its rows (about 1.2 KB a position at DeepSeek-V3.2's widths: 160 MB after a
  // 128K-token prompt), so one long prompt would otherwise pin them for the model's life;
  // smaller tables stay for the next call, which then allocates nothing. (Past the limit each
  // chunk of a long prompt allocates its table again: small beside that chunk's attention.)
  void release_key_rows_over(std::size_t keep_bytes) {
    if (attention_key_rows.capacity() * sizeof(std::uint16_t) > keep_bytes) AlignedVector<std::uint16_t>().swap(attention_key_rows);
  }
};

}  // namespace dsv32
