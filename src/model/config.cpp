#include "model/config.h"

#include <cmath>
#include <fstream>

#include "util/error.h"

namespace dsv32 {
namespace {

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& json, std::string source) : json_(json), source_(std::move(source)) {}

  std::int64_t integer(const char* key, std::int64_t min_value) const {
    const auto& value = required(key);
    if (!value.is_number_integer()) fail("{}: \"{}\" must be an integer, got {}", source_, key, value.dump());
    const auto result = value.get<std::int64_t>();
    if (result < min_value) fail("{}: \"{}\" is {}, must be at least {}", source_, key, result, min_value);
    return result;
  }

  std::int64_t integer_or(const char* key, std::int64_t fallback, std::int64_t min_value) const {
    return json_.contains(key) && !json_[key].is_null() ? integer(key, min_value) : fallback;
  }

  double number(const nlohmann::json& object, const char* key, const std::string& where) const {
    if (!object.contains(key)) fail("{}: missing key \"{}\"{}", source_, key, where);
    const auto& value = object[key];
    if (!value.is_number()) fail("{}: \"{}\"{} must be a number, got {}", source_, key, where, value.dump());
    const double result = value.get<double>();
    if (!std::isfinite(result)) fail("{}: \"{}\"{} is not finite", source_, key, where);
    return result;
  }

  double positive(const char* key) const {
    const double value = number(json_, key, "");
    if (value <= 0) fail("{}: \"{}\" is {}, must be positive", source_, key, value);
    return value;
  }

  const nlohmann::json& required(const char* key) const {
    if (!json_.contains(key)) fail("{}: missing key \"{}\"", source_, key);
    return json_[key];
  }

  const nlohmann::json& json() const { return json_; }
  const std::string& source() const { return source_; }

 private:
  const nlohmann::json& json_;
  std::string source_;
};

std::optional<YarnScaling> read_yarn(const ConfigReader& reader) {
  const auto& json = reader.json();
  if (!json.contains("rope_scaling") || json["rope_scaling"].is_null()) return std::nullopt;
  const auto& scaling = json["rope_scaling"];
  if (!scaling.is_object()) fail("{}: \"rope_scaling\" must be an object or null", reader.source());
  const std::string type = scaling.value("type", scaling.value("rope_type", std::string{}));
  if (type != "yarn") fail("{}: rope_scaling type \"{}\" is not supported (only \"yarn\")", reader.source(), type);
  const std::string where = " in rope_scaling";
  YarnScaling yarn;
  yarn.factor = reader.number(scaling, "factor", where);
  yarn.original_max_position_embeddings =
      static_cast<std::int64_t>(reader.number(scaling, "original_max_position_embeddings", where));
  yarn.beta_fast = scaling.contains("beta_fast") ? reader.number(scaling, "beta_fast", where) : 32.0;
  yarn.beta_slow = scaling.contains("beta_slow") ? reader.number(scaling, "beta_slow", where) : 1.0;
  yarn.mscale = scaling.contains("mscale") ? reader.number(scaling, "mscale", where) : 1.0;
  yarn.mscale_all_dim = scaling.contains("mscale_all_dim") ? reader.number(scaling, "mscale_all_dim", where) : 0.0;
  if (yarn.factor < 1.0) fail("{}: rope_scaling factor is {}, must be at least 1", reader.source(), yarn.factor);
  if (yarn.original_max_position_embeddings < 1) {
    fail("{}: rope_scaling original_max_position_embeddings must be positive", reader.source());
  }
  if (yarn.beta_fast <= 0 || yarn.beta_slow <= 0) fail("{}: rope_scaling betas must be positive", reader.source());
  return yarn;
}

WeightFormat read_weight_format(const ConfigReader& reader) {
  const auto& json = reader.json();
  if (!json.contains("quantization_config") || json["quantization_config"].is_null()) return WeightFormat::Native;
  const auto& quant = json["quantization_config"];
  if (!quant.is_object()) fail("{}: quantization_config must be an object", reader.source());
  if (quant.contains("quant_method") && !quant["quant_method"].is_string()) fail("{}: quantization_config quant_method must be a string", reader.source());
  const std::string method = quant.value("quant_method", std::string{});
  if (method == kInt4QuantMethod) {
    const auto integer = [&](const char* key) {
      if (!quant.contains(key) || !quant[key].is_number_integer()) fail("{}: quantization_config {} needs an integer {}", reader.source(), method, key);
      return quant[key].get<std::int64_t>();
    };
    const std::int64_t bits = integer("bits"), group = integer("group_size");
    if (bits != 4 || group != kI4GroupSize) {
      fail("{}: quantization_config {}: bits {} and group_size {} are not supported (only 4 and {})", reader.source(), method, bits, group,
           kI4GroupSize);
    }
    return WeightFormat::Int4Groups;
  }
  if (method != "fp8") {
    fail("{}: quantization_config quant_method \"{}\" is not supported (\"fp8\" or \"{}\")", reader.source(), method, kInt4QuantMethod);
  }
  const std::string format = quant.value("fmt", std::string{"e4m3"});
  if (format != "e4m3") fail("{}: quantization_config fmt \"{}\" is not supported (only \"e4m3\")", reader.source(), format);
  if (quant.contains("weight_block_size")) {
    const auto& block = quant["weight_block_size"];
    if (block != nlohmann::json::array({128, 128})) {
      fail("{}: quantization_config weight_block_size {} is not supported (only [128, 128])", reader.source(), block.dump());
    }
  }
  return WeightFormat::Fp8Blocks;
}

void check_consistency(const ModelConfig& c, const std::string& source) {
  auto require = [&](bool ok, const char* what) {
    if (!ok) fail("{}: impossible configuration: {}", source, what);
  };
  require(c.qk_rope_head_dim % 2 == 0, "qk_rope_head_dim must be even");
  require(c.qk_rope_head_dim <= 512, "qk_rope_head_dim must be at most 512");
  require(c.num_attention_heads <= 512, "num_attention_heads must be at most 512");
  require(c.kv_lora_rank % 128 == 0, "kv_lora_rank must be a multiple of 128 (FP8 latent cache blocks)");
  require(c.first_k_dense_replace <= c.num_hidden_layers, "first_k_dense_replace exceeds num_hidden_layers");
  if (c.first_k_dense_replace < c.num_hidden_layers) {
    require(c.n_routed_experts >= 1, "n_routed_experts must be at least 1 when MoE layers exist");
    require(c.num_experts_per_tok >= 1 && c.num_experts_per_tok <= c.n_routed_experts,
            "num_experts_per_tok must be between 1 and n_routed_experts");
    require(c.n_routed_experts <= 4096 && c.n_group <= 1024, "at most 4096 experts in at most 1024 groups");
    require(c.n_routed_experts % c.n_group == 0, "n_routed_experts must be divisible by n_group");
    require(c.topk_group >= 1 && c.topk_group <= c.n_group, "topk_group must be between 1 and n_group");
    require(c.n_group == 1 || c.n_routed_experts / c.n_group >= 2, "each expert group needs at least 2 experts");
    require(c.num_experts_per_tok <= c.topk_group * (c.n_routed_experts / c.n_group),
            "num_experts_per_tok exceeds the experts in topk_group groups");
  }
  if (c.has_indexer) {
    require(c.index_head_dim == 128, "index_head_dim must be 128 (one FP8 block, Hadamard size)");
    require(c.index_head_dim >= c.qk_rope_head_dim, "index_head_dim must be at least qk_rope_head_dim");
  }
}

}  // namespace

double ModelConfig::softmax_scale() const {
  double scale = 1.0 / std::sqrt(static_cast<double>(qk_head_dim()));
  if (yarn && yarn->factor > 1.0) {
    const double mscale = 0.1 * yarn->mscale_all_dim * std::log(yarn->factor) + 1.0;
    scale *= mscale * mscale;
  }
  return scale;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) fail("{}: must be a JSON object", source);
  const ConfigReader reader(json, source);
  const std::string model_type = json.value("model_type", std::string{});
  if (model_type != "deepseek_v32" && model_type != "deepseek_v3") {
    fail("{}: model_type \"{}\" is not supported (deepseek_v32 or deepseek_v3)", source, model_type);
  }
  ModelConfig c;
  c.vocab_size = reader.integer("vocab_size", 1);
  c.hidden_size = reader.integer("hidden_size", 1);
  c.num_hidden_layers = reader.integer("num_hidden_layers", 1);
  c.num_attention_heads = reader.integer("num_attention_heads", 1);
  c.q_lora_rank = reader.integer("q_lora_rank", 1);
  c.kv_lora_rank = reader.integer("kv_lora_rank", 1);
  c.qk_nope_head_dim = reader.integer("qk_nope_head_dim", 1);
  c.qk_rope_head_dim = reader.integer("qk_rope_head_dim", 2);
  c.v_head_dim = reader.integer("v_head_dim", 1);
  c.intermediate_size = reader.integer("intermediate_size", 1);
  c.first_k_dense_replace = reader.integer_or("first_k_dense_replace", 0, 0);
  const bool any_moe = c.first_k_dense_replace < c.num_hidden_layers;
  c.moe_intermediate_size = any_moe ? reader.integer("moe_intermediate_size", 1) : 0;
  c.n_routed_experts = any_moe ? reader.integer("n_routed_experts", 1) : 0;
  c.n_shared_experts = any_moe ? reader.integer_or("n_shared_experts", 0, 0) : 0;
  c.num_experts_per_tok = any_moe ? reader.integer("num_experts_per_tok", 1) : 0;
  c.n_group = reader.integer_or("n_group", 1, 1);
  c.topk_group = reader.integer_or("topk_group", 1, 1);
  c.routed_scaling_factor = any_moe ? reader.positive("routed_scaling_factor") : 1.0;
  c.rope_theta = reader.positive("rope_theta");
  c.max_position_embeddings = reader.integer("max_position_embeddings", 1);
  c.num_nextn_predict_layers = reader.integer_or("num_nextn_predict_layers", 0, 0);
  c.bos_token_id = reader.integer_or("bos_token_id", 0, 0);
  c.eos_token_id = reader.integer_or("eos_token_id", 1, 0);
  if (any_moe) {
    const std::string scoring = json.value("scoring_func", std::string{"sigmoid"});
    if (scoring != "sigmoid") fail("{}: scoring_func \"{}\" is not supported (only \"sigmoid\")", source, scoring);
  }
  c.has_indexer = model_type == "deepseek_v32";
  if (c.has_indexer) {
    c.index_n_heads = reader.integer("index_n_heads", 1);
    c.index_head_dim = reader.integer("index_head_dim", 1);
    c.index_topk = reader.integer("index_topk", 1);
  }
  c.yarn = read_yarn(reader);
  c.weight_format = read_weight_format(reader);
  check_consistency(c, source);
  return c;
}

ModelConfig ModelConfig::load(const std::filesystem::path& model_dir) {
  const auto path = model_dir / "config.json";
  std::ifstream in(path);
  if (!in) fail("{}: cannot open", path.string());
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed JSON: {}", path.string(), e.what());
  }
  return from_json(json, path.string());
}

}  // namespace dsv32

namespace dsv32 {

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json json = {
      {"architectures", {has_indexer ? "DeepseekV32ForCausalLM" : "DeepseekV3ForCausalLM"}},
      {"model_type", has_indexer ? "deepseek_v32" : "deepseek_v3"},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"bos_token_id", bos_token_id},
      {"eos_token_id", eos_token_id},
      {"ep_size", 1},
      {"first_k_dense_replace", first_k_dense_replace},
      {"hidden_act", "silu"},
      {"hidden_size", hidden_size},
      {"initializer_range", 0.02},
      {"intermediate_size", intermediate_size},
      {"kv_lora_rank", kv_lora_rank},
      {"max_position_embeddings", max_position_embeddings},
      {"moe_intermediate_size", moe_intermediate_size},
      {"moe_layer_freq", 1},
      {"n_group", n_group},
      {"n_routed_experts", n_routed_experts},
      {"n_shared_experts", n_shared_experts},
      {"norm_topk_prob", true},
      {"num_attention_heads", num_attention_heads},
      {"num_experts_per_tok", num_experts_per_tok},
      {"num_hidden_layers", num_hidden_layers},
      {"num_key_value_heads", num_attention_heads},
      {"num_nextn_predict_layers", num_nextn_predict_layers},
      {"q_lora_rank", q_lora_rank},
      {"qk_nope_head_dim", qk_nope_head_dim},
      {"qk_rope_head_dim", qk_rope_head_dim},
      {"rms_norm_eps", 1e-6},
      {"rope_theta", rope_theta},
      {"routed_scaling_factor", routed_scaling_factor},
      {"scoring_func", "sigmoid"},
      {"tie_word_embeddings", false},
      {"topk_group", topk_group},
      {"topk_method", "noaux_tc"},
      {"torch_dtype", "bfloat16"},
      {"use_cache", true},
      {"v_head_dim", v_head_dim},
      {"vocab_size", vocab_size},
  };
  if (has_indexer) {
    json["index_n_heads"] = index_n_heads;
    json["index_head_dim"] = index_head_dim;
    json["index_topk"] = index_topk;
  }
  if (yarn) {
    json["rope_scaling"] = {{"type", "yarn"},
                            {"factor", yarn->factor},
                            {"original_max_position_embeddings", yarn->original_max_position_embeddings},
                            {"beta_fast", yarn->beta_fast},
                            {"beta_slow", yarn->beta_slow},
                            {"mscale", yarn->mscale},
                            {"mscale_all_dim", yarn->mscale_all_dim}};
  } else {
    json["rope_scaling"] = nullptr;
  }
  if (weight_format == WeightFormat::Fp8Blocks) {
    json["quantization_config"] = {{"activation_scheme", "dynamic"},
                                   {"fmt", "e4m3"},
                                   {"quant_method", "fp8"},
                                   {"scale_fmt", "ue8m0"},
                                   {"weight_block_size", {128, 128}}};
  } else if (weight_format == WeightFormat::Int4Groups) {
    json["quantization_config"] = {{"quant_method", kInt4QuantMethod}, {"bits", 4}, {"group_size", kI4GroupSize}};
  }
  return json;
}

}  // namespace dsv32
