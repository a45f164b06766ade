#pragma once
// Activation buffers of a forward pass. They only ever grow, so a steady stream of steps of
// similar size allocates nothing.
#include <cstdint>
#include <vector>

#include "kernels/linear.h"

namespace dsv32 {

template <typename T>
T* grow(std::vector<T>& buffer, std::int64_t count) {
  if (static_cast<std::int64_t>(buffer.size()) < count) buffer.resize(static_cast<std::size_t>(count));
  return buffer.data();
}

// Rows [first_row, first_row + rows) attending together to `keys` keys (attention_bf16.cpp).
struct AttentionWorkItem {
  std::int64_t first_row, rows, keys;
};

struct Workspace {
  std::vector<float> hidden, normed, branch;                    // [T, hidden]
  std::vector<float> q_lora, q, kv, q_absorbed, latent_out, heads_out;  // MLA
  std::vector<float> index_q, index_k, index_head_weights;     // indexer
  std::vector<std::int64_t> index_rows;                         // rows that select
  std::vector<float> index_inputs;                              // their gathered inputs
  std::vector<std::uint8_t> index_q_codes;
  std::vector<float> index_q_scales;
  std::vector<std::uint16_t> index_q_packed;                    // one query, kernels/index_scores.h
  std::vector<float> index_padded_weights, index_scores;        // [padded heads], [keys]
  std::vector<std::int32_t> selection;                          // [T, max keys]
  std::vector<std::int64_t> selection_count;                    // [T]
  std::vector<float> attention_queries, attention_partials;    // bf16 attention core
  std::vector<std::uint16_t> absorb_queries;
  std::vector<AttentionWorkItem> attention_items;
  std::vector<float> ffn_gate, ffn_up;                          // MLP / experts
  std::vector<float> router_scores, expert_in, expert_out;      // MoE
  std::vector<std::int32_t> routed_experts;
  std::vector<float> routed_weights;
  std::vector<std::int32_t> expert_rows;
  std::vector<float> expert_row_weights;
  std::vector<std::int64_t> expert_offsets;                    // [experts + 1] into the grouped rows
  std::vector<LinearJob> linear_jobs;
  std::vector<float> head_in, logits;
};

}  // namespace dsv32
