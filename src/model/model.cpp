#include "model/model.h"

#include <algorithm>

#include "kernels/gemv_bf16.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "util/error.h"

namespace dsv32 {
namespace {

constexpr float kNormEps = 1e-6f;  // the reference hard-codes it for every norm
// The key table a call may leave allocated for the next (Workspace::release_key_rows_over): a
// table of 64 MB serves prompts up to about 50K positions at DeepSeek-V3.2's widths.
constexpr std::size_t kKeepKeyRowsBytes = std::size_t{64} << 20;

std::vector<float> to_f32(const Weight& vector, const VectorOps& ops) {
  if (vector.data == nullptr) return {};
  std::vector<float> values(static_cast<std::size_t>(vector.cols));
  vector.row_to_f32(0, values.data(), ops);
  return values;
}

}  // namespace

Model::Model(const Checkpoint& checkpoint, ComputeContext& ctx)
    : config_(checkpoint.config()), weights_(ModelWeights::bind(checkpoint)), ctx_(ctx), rope_(config_) {
  const VectorOps& ops = ctx.ops();
  for (const LayerWeights& layer : weights_.layers) {
    vectors_.push_back(LayerVectors{
        .input_norm = to_f32(layer.input_layernorm, ops),
        .post_norm = to_f32(layer.post_attention_layernorm, ops),
        .q_a_norm = to_f32(layer.attention.q_a_layernorm, ops),
        .kv_a_norm = to_f32(layer.attention.kv_a_layernorm, ops),
        .index_k_norm_weight = to_f32(layer.attention.indexer.k_norm_weight, ops),
        .index_k_norm_bias = to_f32(layer.attention.indexer.k_norm_bias, ops),
        .router_bias = to_f32(layer.moe.correction_bias, ops),
    });
  }
  final_norm_ = to_f32(weights_.norm, ops);
}

IndexScoresInt8RunsFn Model::indexer_int8_runs() const {
  return index_scores_int8_runs_for(ctx_.precision(), ctx_.indexer_products(), config_.index_head_dim);
}

KvLayout Model::kv_layout(std::int64_t block_tokens) const {
  KvLayout layout = KvLayout::for_model(config_, block_tokens);
  layout.index_keys_int8 = config_.has_indexer && indexer_int8_runs() != nullptr;
  return layout;
}

void Model::scan_fp8_codes() {
  if (bf16_products(ctx_) && best_gemv_bf16().half_e4m3 != nullptr) weights_.mark_nan_free_codes(ctx_.pool());
}

void Model::rms_norm_rows(const std::vector<float>& weight, std::int64_t rows, const float* x, float* out,
                          std::int64_t stride) {
  const auto n = static_cast<std::int64_t>(weight.size());
  // (one row, a decoded token, runs on the calling thread: parallel_for wakes no worker for it)
  ctx_.pool().parallel_for(static_cast<std::size_t>(rows), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto r = static_cast<std::int64_t>(begin); r < static_cast<std::int64_t>(end); ++r) {
      rms_norm(x + r * stride, weight.data(), n, kNormEps, out + r * stride);
    }
  });
}

std::span<const float> Model::forward(std::span<const SequenceStep> steps, ForwardTrace* trace) {
  const PhaseTimer forward_timer(profile_, Phase::Forward);
  const std::int64_t hidden = config_.hidden_size;
  rows_.clear();
  std::int64_t logit_rows = 0;
  for (const SequenceStep& step : steps) {
    if (step.tokens.empty()) fail("forward: a sequence step has no tokens");
    const std::int64_t start = step.cache->length();
    const std::int64_t end = start + static_cast<std::int64_t>(step.tokens.size());
    if (end > config_.max_position_embeddings) {
      fail("forward: position {} is beyond the model's {} positions", end - 1, config_.max_position_embeddings);
    }
    for (const std::int32_t token : step.tokens) {
      if (token < 0 || token >= config_.vocab_size) fail("forward: token id {} is outside the vocabulary [0, {})", token, config_.vocab_size);
    }
    step.cache->reserve(end);
    for (std::int64_t p = start; p < end; ++p) rows_.push_back(TokenRow{step.cache, p});
    logit_rows += step.all_logits ? static_cast<std::int64_t>(step.tokens.size()) : 1;
  }
  const auto rows = static_cast<std::int64_t>(rows_.size());
  float* h = grow(ws_.hidden, rows * hidden);
  float* normed = grow(ws_.normed, rows * hidden);
  float* branch = grow(ws_.branch, rows * hidden);

  std::int64_t r = 0;
  for (const SequenceStep& step : steps) {
    for (const std::int32_t token : step.tokens) weights_.embed_tokens.row_to_f32(token, h + (r++) * hidden, ctx_.ops());
  }
  if (trace != nullptr) {
    trace->hidden_states.assign(1, std::vector<float>(h, h + rows * hidden));
    trace->indexer_selection.assign(static_cast<std::size_t>(config_.num_hidden_layers), {});
    trace->moe_experts.assign(static_cast<std::size_t>(config_.num_hidden_layers), {});
    trace->moe_weights.assign(static_cast<std::size_t>(config_.num_hidden_layers), {});
  }

  for (std::int64_t layer = 0; layer < config_.num_hidden_layers; ++layer) {
    const LayerVectors& v = vectors_[static_cast<std::size_t>(layer)];
    rms_norm_rows(v.input_norm, rows, h, normed, hidden);
    {
      const PhaseTimer timer(profile_, Phase::Attention);
      attention(layer, rows_, normed, branch, trace);
    }
    for (std::int64_t i = 0; i < rows * hidden; ++i) h[i] += branch[i];
    rms_norm_rows(v.post_norm, rows, h, normed, hidden);
    {
      const PhaseTimer timer(profile_, Phase::FeedForward);
      feed_forward(layer, rows, normed, branch, trace);
    }
    for (std::int64_t i = 0; i < rows * hidden; ++i) h[i] += branch[i];
    if (trace != nullptr) trace->hidden_states.emplace_back(h, h + rows * hidden);
  }
  for (const SequenceStep& step : steps) step.cache->set_length(step.cache->length() + static_cast<std::int64_t>(step.tokens.size()));
  ws_.release_key_rows_over(kKeepKeyRowsBytes);

  // Final norm and head only for the rows whose logits are wanted.
  const PhaseTimer head_timer(profile_, Phase::Head);
  float* head_in = grow(ws_.head_in, logit_rows * hidden);
  std::int64_t out_row = 0;
  r = 0;
  for (const SequenceStep& step : steps) {
    const auto count = static_cast<std::int64_t>(step.tokens.size());
    const std::int64_t first = step.all_logits ? r : r + count - 1;
    for (std::int64_t i = first; i < r + count; ++i) {
      rms_norm(h + i * hidden, final_norm_.data(), hidden, kNormEps, head_in + (out_row++) * hidden);
    }
    r += count;
  }
  float* logits = grow(ws_.logits, logit_rows * config_.vocab_size);
  linear(ctx_, weights_.lm_head, ConstMatrixRef{head_in, logit_rows, hidden}, MatrixRef{logits, logit_rows, config_.vocab_size});
  return {logits, static_cast<std::size_t>(logit_rows * config_.vocab_size)};
}

}  // namespace dsv32
