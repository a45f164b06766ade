#pragma once
// The model's hyper-parameters, read from an HF `config.json` of model_type deepseek_v32
// (with the lightning indexer) or deepseek_v3 (no indexer: dense attention).
#include <cstdint>
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "kernels/weight.h"

namespace dsv32 {

struct YarnScaling {
  double factor = 1.0;
  std::int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 1.0;
};

// Native: BF16/F16/F32; Fp8Blocks: DeepSeek's FP8 release; Int4Groups: what `dsv32 quantize`
// writes (kernels/weight.h's I4: 4-bit integers, one float32 scale per row and 128 columns).
enum class WeightFormat { Native, Fp8Blocks, Int4Groups };
inline constexpr const char* kInt4QuantMethod = "dsv32_int4";  // quantization_config's quant_method

struct ModelConfig {
  std::int64_t vocab_size = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_hidden_layers = 0;
  std::int64_t num_attention_heads = 0;
  std::int64_t q_lora_rank = 0;
  std::int64_t kv_lora_rank = 0;
  std::int64_t qk_nope_head_dim = 0;
  std::int64_t qk_rope_head_dim = 0;
  std::int64_t v_head_dim = 0;
  std::int64_t intermediate_size = 0;
  std::int64_t moe_intermediate_size = 0;
  std::int64_t n_routed_experts = 0;
  std::int64_t n_shared_experts = 0;
  std::int64_t num_experts_per_tok = 0;
  std::int64_t n_group = 1;
  std::int64_t topk_group = 1;
  std::int64_t first_k_dense_replace = 0;
  double routed_scaling_factor = 1.0;
  double rope_theta = 10000.0;
  std::int64_t max_position_embeddings = 0;
  std::optional<YarnScaling> yarn;
  // Lightning indexer (DSA); absent for deepseek_v3 checkpoints.
  bool has_indexer = false;
  std::int64_t index_n_heads = 0;
  std::int64_t index_head_dim = 0;
  std::int64_t index_topk = 0;
  std::int64_t num_nextn_predict_layers = 0;
  WeightFormat weight_format = WeightFormat::Native;
  std::int64_t bos_token_id = 0;
  std::int64_t eos_token_id = 1;

  std::int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  bool is_moe_layer(std::int64_t layer) const { return layer >= first_k_dense_replace; }
  // The MLA softmax scale including YaRN's mscale² (reference: ModelArgs/MLA.__init__).
  double softmax_scale() const;

  static ModelConfig from_json(const nlohmann::json& json, const std::string& source);
  static ModelConfig load(const std::filesystem::path& model_dir);
  nlohmann::json to_json() const;
};

}  // namespace dsv32
