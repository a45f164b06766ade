#include "model/weights.h"

#include <fmt/format.h>

#include "kernels/number_formats.h"

namespace dsv32 {
namespace {

MlpWeights bind_mlp(const Checkpoint& ckpt, const std::string& prefix, std::int64_t hidden, std::int64_t inner) {
  return MlpWeights{.gate = ckpt.matrix(prefix + "gate_proj.weight", inner, hidden),
                    .up = ckpt.matrix(prefix + "up_proj.weight", inner, hidden),
                    .down = ckpt.matrix(prefix + "down_proj.weight", hidden, inner)};
}

AttentionWeights bind_attention(const Checkpoint& ckpt, const std::string& prefix) {
  const ModelConfig& c = ckpt.config();
  const std::int64_t heads = c.num_attention_heads;
  AttentionWeights a;
  a.q_a_proj = ckpt.matrix(prefix + "q_a_proj.weight", c.q_lora_rank, c.hidden_size);
  a.q_a_layernorm = ckpt.vector(prefix + "q_a_layernorm.weight", c.q_lora_rank);
  a.q_b_proj = ckpt.matrix(prefix + "q_b_proj.weight", heads * c.qk_head_dim(), c.q_lora_rank);
  a.kv_a_proj_with_mqa = ckpt.matrix(prefix + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size);
  a.kv_a_layernorm = ckpt.vector(prefix + "kv_a_layernorm.weight", c.kv_lora_rank);
  a.kv_b_proj = ckpt.matrix(prefix + "kv_b_proj.weight", heads * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
  a.o_proj = ckpt.matrix(prefix + "o_proj.weight", c.hidden_size, heads * c.v_head_dim);
  if (c.has_indexer) {
    const std::string p = prefix + "indexer.";
    a.indexer.wq_b = ckpt.matrix(p + "wq_b.weight", c.index_n_heads * c.index_head_dim, c.q_lora_rank);
    a.indexer.wk = ckpt.matrix(p + "wk.weight", c.index_head_dim, c.hidden_size);
    a.indexer.k_norm_weight = ckpt.vector(p + "k_norm.weight", c.index_head_dim);
    a.indexer.k_norm_bias = ckpt.vector(p + "k_norm.bias", c.index_head_dim);
    a.indexer.weights_proj = ckpt.matrix(p + "weights_proj.weight", c.index_n_heads, c.hidden_size);
  }
  return a;
}

MoeWeights bind_moe(const Checkpoint& ckpt, const std::string& prefix) {
  const ModelConfig& c = ckpt.config();
  MoeWeights moe;
  moe.gate = ckpt.matrix(prefix + "gate.weight", c.n_routed_experts, c.hidden_size);
  moe.correction_bias = ckpt.vector(prefix + "gate.e_score_correction_bias", c.n_routed_experts);
  moe.experts.reserve(static_cast<std::size_t>(c.n_routed_experts));
  for (std::int64_t e = 0; e < c.n_routed_experts; ++e) {
    moe.experts.push_back(bind_mlp(ckpt, fmt::format("{}experts.{}.", prefix, e), c.hidden_size, c.moe_intermediate_size));
  }
  if (c.n_shared_experts > 0) {
    moe.shared = bind_mlp(ckpt, prefix + "shared_experts.", c.hidden_size, c.n_shared_experts * c.moe_intermediate_size);
  }
  return moe;
}

}  // namespace

ModelWeights ModelWeights::bind(const Checkpoint& ckpt) {
  const ModelConfig& c = ckpt.config();
  ModelWeights w;
  w.embed_tokens = ckpt.matrix("model.embed_tokens.weight", c.vocab_size, c.hidden_size);
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string prefix = fmt::format("model.layers.{}.", i);
    LayerWeights layer;
    layer.input_layernorm = ckpt.vector(prefix + "input_layernorm.weight", c.hidden_size);
    layer.post_attention_layernorm = ckpt.vector(prefix + "post_attention_layernorm.weight", c.hidden_size);
    layer.attention = bind_attention(ckpt, prefix + "self_attn.");
    layer.is_moe = c.is_moe_layer(i);
    if (layer.is_moe) {
      layer.moe = bind_moe(ckpt, prefix + "mlp.");
    } else {
      layer.mlp = bind_mlp(ckpt, prefix + "mlp.", c.hidden_size, c.intermediate_size);
    }
    w.layers.push_back(std::move(layer));
  }
  w.norm = ckpt.vector("model.norm.weight", c.hidden_size);
  w.lm_head = ckpt.matrix("lm_head.weight", c.vocab_size, c.hidden_size);
  return w;
}

void ModelWeights::mark_nan_free_codes(ThreadPool& pool) {
  std::vector<Weight*> fp8;
  const auto add = [&](Weight& weight) {
    if (weight.dtype == DType::F8_E4M3) fp8.push_back(&weight);
  };
  const auto add_mlp = [&](MlpWeights& mlp) {
    add(mlp.gate);
    add(mlp.up);
    add(mlp.down);
  };
  for (LayerWeights& layer : layers) {
    AttentionWeights& a = layer.attention;
    for (Weight* weight : {&a.q_a_proj, &a.q_b_proj, &a.kv_a_proj_with_mqa, &a.kv_b_proj, &a.o_proj, &a.indexer.wq_b, &a.indexer.wk,
                           &a.indexer.weights_proj, &layer.moe.gate}) {
      add(*weight);
    }
    add_mlp(layer.mlp);
    for (MlpWeights& expert : layer.moe.experts) add_mlp(expert);
    add_mlp(layer.moe.shared);
  }
  add(lm_head);
  pool.parallel_for(fp8.size(), [&](std::size_t begin, std::size_t end, unsigned) {
    for (std::size_t i = begin; i < end; ++i) {
      Weight& weight = *fp8[i];
      const std::size_t bytes = static_cast<std::size_t>(weight.rows) * weight.row_bytes();
      weight.codes_nan_free = !e4m3_codes_hold_nan(weight.data + static_cast<std::size_t>(weight.first_row) * weight.row_bytes(), bytes);
    }
  });
}

}  // namespace dsv32
