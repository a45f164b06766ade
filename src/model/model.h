#pragma once
// The DeepSeek-V3.2 forward pass on CPU, float32 activations: embedding, per layer
// RMSNorm -> MLA (+ lightning indexer) -> residual -> RMSNorm -> MLP or MoE -> residual,
// final norm and head. Imperative code over named buffers; see attention.cpp, indexer.cpp,
// ffn.cpp for the pieces.
#include <memory>
#include <span>
#include <vector>

#include "kernels/compute_context.h"
#include "kernels/index_scores_int8.h"
#include "model/batch.h"
#include "model/checkpoint.h"
#include "model/phase_profile.h"
#include "model/rope.h"
#include "model/weights.h"
#include "model/workspace.h"

namespace dsv32 {

// The small per-layer vectors (norm weights, biases) converted to float32 once.
struct LayerVectors {
  std::vector<float> input_norm, post_norm, q_a_norm, kv_a_norm, index_k_norm_weight, index_k_norm_bias, router_bias;
};

class Model {
 public:
  Model(const Checkpoint& checkpoint, ComputeContext& ctx);

  const ModelConfig& config() const { return config_; }
  ComputeContext& context() { return ctx_; }  // its threads also serve the engine's sampling
  const ModelWeights& weights() const { return weights_; }
  // The cache this model's runs read: its indexer keys in the format the context's precision
  // scores them in (set the precision first).
  KvLayout kv_layout(std::int64_t block_tokens = 64) const;

  // Runs the steps as one batch, appending their tokens to their caches. Returns the logits,
  // [rows, vocab]: per step, one row per token if all_logits, else one row for its last token.
  std::span<const float> forward(std::span<const SequenceStep> steps, ForwardTrace* trace = nullptr);

  // Where the context's products take the half-precision GEMV (the bf16 mode on CPUs with
  // AVX512-FP16), reads every FP8 code once (on the context's threads) and marks the matrices
  // that hold no NaN code, whose rows then skip the GEMV's check; elsewhere does nothing. Call
  // it after the precision is set and the weights' pages are placed (Checkpoint::prefault).
  void scan_fp8_codes();

  // Times the parts of every later forward() into *profile (null: no timing).
  void set_profile(PhaseProfile* profile) { profile_ = profile; }

  // Pieces used by forward() and by layer-by-layer tests (rows/positions as in forward()).
  void attention(std::int64_t layer, std::span<const TokenRow> rows, const float* normed, float* out, ForwardTrace* trace);
  void feed_forward(std::int64_t layer, std::int64_t rows, const float* normed, float* out, ForwardTrace* trace);

 private:
  void indexer_select(std::int64_t layer, std::span<const TokenRow> rows, const float* normed, const float* q_lora);
  // The int8 kernel's runs where this context's precision scores the indexer's keys in int8,
  // else nullptr: what the indexer runs and the format kv_layout gives the cache.
  IndexScoresInt8RunsFn indexer_int8_runs() const;
  // The bf16 mode's attention over the selected keys into latent_out (attention_bf16.cpp);
  // false when this mode or CPU has no such kernel and the float32 loop runs instead.
  // q̃ = W_UKᵀ·q_nope in the bf16 mode (attention_bf16.cpp); false where the float32 loop runs.
  bool absorb_queries_bf16(std::int64_t layer, std::int64_t T, const float* q, float* q_absorbed);
  void attention_core_f32(std::int64_t layer, std::span<const TokenRow> rows, const float* q, const float* q_absorbed,
                          float* latent_out);
  bool attention_core_bf16(std::int64_t layer, std::span<const TokenRow> rows, const float* q, const float* q_absorbed,
                           float* latent_out);
  void mlp(const MlpWeights& mlp, std::int64_t rows, const float* x, float* out);
  void moe(std::int64_t layer, std::int64_t rows, const float* x, float* out, ForwardTrace* trace);
  void route(std::int64_t layer, std::int64_t rows, const float* x);
  void rms_norm_rows(const std::vector<float>& weight, std::int64_t rows, const float* x, float* out, std::int64_t stride);

  ModelConfig config_;
  ModelWeights weights_;
  ComputeContext& ctx_;
  Rope rope_;
  std::vector<LayerVectors> vectors_;
  std::vector<float> final_norm_;
  Workspace ws_;
  std::vector<TokenRow> rows_;
  PhaseProfile* profile_ = nullptr;
};

}  // namespace dsv32
