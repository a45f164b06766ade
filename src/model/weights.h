#pragma once
// The model's tensors bound by role, each a view into the mapped checkpoint (no copies).
#include <vector>

#include "kernels/weight.h"
#include "model/checkpoint.h"
#include "util/thread_pool.h"

namespace dsv32 {

struct MlpWeights {  // SwiGLU: down(silu(gate(x)) * up(x))
  Weight gate, up, down;
};

struct IndexerWeights {
  Weight wq_b;          // [index_heads * index_dim, q_lora]
  Weight wk;            // [index_dim, hidden]
  Weight k_norm_weight, k_norm_bias;
  Weight weights_proj;  // [index_heads, hidden]
};

struct AttentionWeights {
  Weight q_a_proj, q_a_layernorm, q_b_proj;
  Weight kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj;
  Weight o_proj;
  IndexerWeights indexer;  // unused without an indexer (deepseek_v3)
};

struct MoeWeights {
  Weight gate;                 // router [n_experts, hidden]
  Weight correction_bias;      // [n_experts]; rows == 0 when the checkpoint has none
  std::vector<MlpWeights> experts;
  MlpWeights shared;           // rows == 0 when n_shared_experts == 0
};

struct LayerWeights {
  Weight input_layernorm, post_attention_layernorm;
  AttentionWeights attention;
  bool is_moe = false;
  MlpWeights mlp;  // dense layers
  MoeWeights moe;  // MoE layers
};

struct ModelWeights {
  Weight embed_tokens;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Weight norm;
  Weight lm_head;       // [vocab, hidden]

  static ModelWeights bind(const Checkpoint& checkpoint);
  // Scans every FP8 matrix's codes (on the pool's threads) and sets codes_nan_free on those
  // without a NaN code: the half-precision GEMV then skips its per-row check.
  void mark_nan_free_codes(ThreadPool& pool);
};

}  // namespace dsv32
