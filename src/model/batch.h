#pragma once
// What one forward call runs: a chunk of new tokens for each of several sequences, each with
// its own cache (whose length is the chunk's first position).
#include <cstdint>
#include <span>
#include <vector>

#include "model/kv_cache.h"

namespace dsv32 {

struct SequenceStep {
  std::span<const std::int32_t> tokens;
  SequenceCache* cache = nullptr;
  bool all_logits = false;  // logits for every token of the chunk, else only for its last
};

// One row of the flattened batch.
struct TokenRow {
  SequenceCache* cache;
  std::int64_t position;
};

// Optional record of a forward pass's decisions and activations, for tests and debugging.
struct ForwardTrace {
  // [layer][row] -> key positions the indexer kept (every causal key when it did not prune).
  std::vector<std::vector<std::vector<std::int32_t>>> indexer_selection;
  // [layer][row] -> routed experts and their weights (empty for dense layers).
  std::vector<std::vector<std::vector<std::int32_t>>> moe_experts;
  std::vector<std::vector<std::vector<float>>> moe_weights;
  // [layer + 1][row * hidden + i]: [0] embeddings, [i + 1] residual stream after layer i.
  std::vector<std::vector<float>> hidden_states;
};

}  // namespace dsv32
