#include "model/make_model.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <numbers>

#include <fmt/format.h>

#include "kernels/number_formats.h"
#include "model/safetensors_writer.h"
#include "util/error.h"

namespace dsv32 {
namespace {

constexpr std::size_t kChunkValues = 1 << 16;
constexpr float kInitStd = 0.02f;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::uint64_t hash_name(const std::string& name, std::uint64_t seed) {
  std::uint64_t h = 1469598103934665603ull ^ seed;
  for (const char ch : name) h = (h ^ static_cast<unsigned char>(ch)) * 1099511628211ull;
  return h;
}

// normal(0, std) values of a tensor, reproducible per (seed, name, index) whatever the threads.
void normal_values(ThreadPool& pool, std::uint64_t seed, const std::string& name, float std_dev, float* out, std::size_t n) {
  const std::uint64_t base = hash_name(name, seed);
  const std::size_t chunks = (n + kChunkValues - 1) / kChunkValues;
  pool.parallel_for(chunks, [&](std::size_t begin, std::size_t end, unsigned) {
    for (std::size_t chunk = begin; chunk < end; ++chunk) {
      std::uint64_t state = base + chunk * 0x632be59bd9b4e019ull;
      const std::size_t first = chunk * kChunkValues, last = std::min(n, first + kChunkValues);
      for (std::size_t i = first; i < last; i += 2) {
        const double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
        const double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
        const double radius = std::sqrt(-2.0 * std::log(u1)) * std_dev;
        out[i] = static_cast<float>(radius * std::cos(2.0 * std::numbers::pi * u2));
        if (i + 1 < last) out[i + 1] = static_cast<float>(radius * std::sin(2.0 * std::numbers::pi * u2));
      }
    }
  });
}

class TensorPlan {
 public:
  TensorPlan(ThreadPool& pool, std::uint64_t seed, bool fp8) : pool_(pool), seed_(seed), fp8_(fp8) {}

  void bf16_random(const std::string& name, std::vector<std::int64_t> shape) { add_bf16(name, std::move(shape), false); }
  void ones(const std::string& name, std::int64_t n) { add_bf16(name, {n}, true); }

  void zeros(const std::string& name, std::int64_t n) {
    tensors_.push_back({name, DType::BF16, {n}, [](std::span<std::uint8_t> bytes) { std::fill(bytes.begin(), bytes.end(), 0); }});
  }

  void f32_random(const std::string& name, std::int64_t n) {
    tensors_.push_back({name, DType::F32, {n}, [this, name, n](std::span<std::uint8_t> bytes) {
                          normal_values(pool_, seed_, name, kInitStd, reinterpret_cast<float*>(bytes.data()), static_cast<std::size_t>(n));
                        }});
  }

  // A quantisable linear weight: BF16, or FP8 e4m3 plus its weight_scale_inv.
  void linear(const std::string& name, std::int64_t rows, std::int64_t cols) {
    if (!fp8_) return bf16_random(name, {rows, cols});
    tensors_.push_back({name, DType::F8_E4M3, {rows, cols}, [this, name, rows, cols](std::span<std::uint8_t> bytes) {
                          std::vector<float> scales;
                          quantize(name, rows, cols, bytes.data(), scales);
                        }});
    const std::int64_t scale_rows = (rows + 127) / 128, scale_cols = (cols + 127) / 128;
    const std::string scale_name = name.substr(0, name.size() - 6) + "weight_scale_inv";
    tensors_.push_back({scale_name, DType::F32, {scale_rows, scale_cols}, [this, name, rows, cols](std::span<std::uint8_t> bytes) {
                          std::vector<float> scales;
                          quantize(name, rows, cols, nullptr, scales);
                          std::memcpy(bytes.data(), scales.data(), bytes.size());
                        }});
  }

  const std::vector<TensorToWrite>& tensors() const { return tensors_; }

 private:
  void add_bf16(const std::string& name, std::vector<std::int64_t> shape, bool constant_one) {
    std::size_t n = 1;
    for (const auto dim : shape) n *= static_cast<std::size_t>(dim);
    tensors_.push_back({name, DType::BF16, std::move(shape), [this, name, n, constant_one](std::span<std::uint8_t> bytes) {
                          std::vector<float> values(n, 1.0f);
                          if (!constant_one) normal_values(pool_, seed_, name, kInitStd, values.data(), n);
                          auto* out = reinterpret_cast<std::uint16_t*>(bytes.data());
                          for (std::size_t i = 0; i < n; ++i) out[i] = f32_to_bf16(values[i]);
                        }});
  }

  // Per 128x128 tile: a power-of-two scale (like the UE8M0 checkpoints) and e4m3(w / scale).
  void quantize(const std::string& name, std::int64_t rows, std::int64_t cols, std::uint8_t* codes, std::vector<float>& scales) {
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    normal_values(pool_, seed_, name, kInitStd, values.data(), values.size());
    const std::int64_t scale_rows = (rows + 127) / 128, scale_cols = (cols + 127) / 128;
    scales.assign(static_cast<std::size_t>(scale_rows * scale_cols), 0.0f);
    for (std::int64_t br = 0; br < scale_rows; ++br) {
      for (std::int64_t bc = 0; bc < scale_cols; ++bc) {
        float amax = 0.0f;
        for (std::int64_t r = br * 128; r < std::min(rows, (br + 1) * 128); ++r)
          for (std::int64_t c = bc * 128; c < std::min(cols, (bc + 1) * 128); ++c) amax = std::fmax(amax, std::fabs(values[static_cast<std::size_t>(r * cols + c)]));
        const float scale = ue8m0_scale(amax);
        scales[static_cast<std::size_t>(br * scale_cols + bc)] = scale;
        if (codes == nullptr) continue;
        for (std::int64_t r = br * 128; r < std::min(rows, (br + 1) * 128); ++r)
          for (std::int64_t c = bc * 128; c < std::min(cols, (bc + 1) * 128); ++c)
            codes[r * cols + c] = f32_to_e4m3(values[static_cast<std::size_t>(r * cols + c)] / scale);
      }
    }
  }

  ThreadPool& pool_;
  std::uint64_t seed_;
  bool fp8_;
  std::vector<TensorToWrite> tensors_;
};

void plan_mlp(TensorPlan& plan, const std::string& prefix, std::int64_t hidden, std::int64_t inner) {
  plan.linear(prefix + "gate_proj.weight", inner, hidden);
  plan.linear(prefix + "up_proj.weight", inner, hidden);
  plan.linear(prefix + "down_proj.weight", hidden, inner);
}

void plan_model(TensorPlan& plan, const ModelConfig& c) {
  const std::int64_t H = c.num_attention_heads;
  plan.bf16_random("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  for (std::int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i), a = p + "self_attn.";
    plan.ones(p + "input_layernorm.weight", c.hidden_size);
    plan.linear(a + "q_a_proj.weight", c.q_lora_rank, c.hidden_size);
    plan.ones(a + "q_a_layernorm.weight", c.q_lora_rank);
    plan.linear(a + "q_b_proj.weight", H * c.qk_head_dim(), c.q_lora_rank);
    plan.linear(a + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, c.hidden_size);
    plan.ones(a + "kv_a_layernorm.weight", c.kv_lora_rank);
    plan.linear(a + "kv_b_proj.weight", H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
    plan.linear(a + "o_proj.weight", c.hidden_size, H * c.v_head_dim);
    if (c.has_indexer) {
      plan.linear(a + "indexer.wq_b.weight", c.index_n_heads * c.index_head_dim, c.q_lora_rank);
      plan.linear(a + "indexer.wk.weight", c.index_head_dim, c.hidden_size);
      plan.ones(a + "indexer.k_norm.weight", c.index_head_dim);
      plan.zeros(a + "indexer.k_norm.bias", c.index_head_dim);
      plan.bf16_random(a + "indexer.weights_proj.weight", {c.index_n_heads, c.hidden_size});
    }
    plan.ones(p + "post_attention_layernorm.weight", c.hidden_size);
    if (!c.is_moe_layer(i)) {
      plan_mlp(plan, p + "mlp.", c.hidden_size, c.intermediate_size);
      continue;
    }
    plan.bf16_random(p + "mlp.gate.weight", {c.n_routed_experts, c.hidden_size});
    plan.f32_random(p + "mlp.gate.e_score_correction_bias", c.n_routed_experts);
    for (std::int64_t e = 0; e < c.n_routed_experts; ++e) plan_mlp(plan, fmt::format("{}mlp.experts.{}.", p, e), c.hidden_size, c.moe_intermediate_size);
    if (c.n_shared_experts > 0) plan_mlp(plan, p + "mlp.shared_experts.", c.hidden_size, c.n_shared_experts * c.moe_intermediate_size);
  }
  plan.ones("model.norm.weight", c.hidden_size);
  plan.bf16_random("lm_head.weight", {c.vocab_size, c.hidden_size});
}

}  // namespace

ModelConfig preset_config(const std::string& preset, bool fp8) {
  ModelConfig c;
  c.vocab_size = 129280;
  c.max_position_embeddings = 163840;
  c.rope_theta = 10000.0;
  c.yarn = YarnScaling{.factor = 40, .original_max_position_embeddings = 4096, .beta_fast = 32, .beta_slow = 1, .mscale = 1, .mscale_all_dim = 1};
  c.has_indexer = true;
  c.index_head_dim = 128;
  c.n_shared_experts = 1;
  c.routed_scaling_factor = 2.5;
  c.weight_format = fp8 ? WeightFormat::Fp8Blocks : WeightFormat::Native;
  if (preset == "tiny") {
    // Small enough to load in well under a second, yet every mechanism is on: a dense layer,
    // grouped MoE, an indexer that prunes beyond 16 tokens, YaRN.
    c.hidden_size = 256; c.num_hidden_layers = 3; c.first_k_dense_replace = 1; c.num_attention_heads = 4;
    c.q_lora_rank = 256; c.kv_lora_rank = 128; c.qk_nope_head_dim = 64; c.qk_rope_head_dim = 64; c.v_head_dim = 64;
    c.intermediate_size = 512; c.moe_intermediate_size = 128; c.n_routed_experts = 16; c.num_experts_per_tok = 4;
    c.n_group = 4; c.topk_group = 2; c.index_n_heads = 8; c.index_topk = 16;
  } else if (preset == "bench") {
    c.hidden_size = 1024; c.num_hidden_layers = 8; c.first_k_dense_replace = 1; c.num_attention_heads = 16;
    c.q_lora_rank = 1536; c.kv_lora_rank = 512; c.qk_nope_head_dim = 128; c.qk_rope_head_dim = 64; c.v_head_dim = 128;
    c.intermediate_size = 4096; c.moe_intermediate_size = 512; c.n_routed_experts = 64; c.num_experts_per_tok = 8;
    c.n_group = 8; c.topk_group = 4; c.index_n_heads = 64; c.index_topk = 2048;
  } else {
    fail("unknown preset \"{}\" (tiny or bench)", preset);
  }
  return c;
}

void make_model(const MakeModelOptions& options, ThreadPool& pool) {
  const ModelConfig config = preset_config(options.preset, options.fp8);
  std::filesystem::create_directories(options.out);
  TensorPlan plan(pool, options.seed, options.fp8);
  plan_model(plan, config);
  write_sharded_safetensors(options.out, plan.tensors(), options.max_shard_bytes);
  std::ofstream(options.out / "config.json") << config.to_json().dump(2) << "\n";
  // Validate what was written by reading it back the way every user does.
  (void)ModelConfig::load(options.out);
}

}  // namespace dsv32
