// Multi-head latent attention (MLA) in its weight-absorbed form, for prefill and decode alike:
// queries are projected into the latent space (q̃ = W_UK·q_nope), scored against the FP8
// latent cache plus the shared rope key, and the softmax-weighted latent is expanded by W_UV.
// The reference's prefill expands keys/values instead; both are the same math (README §5.2).
#include <cmath>
#include <limits>

#include "kernels/fp8_quant.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "model/model.h"

namespace dsv32 {
namespace {

constexpr std::int64_t kMaxRopePairs = 256;

struct HeadState {
  float max_score;
  float sum;
};

}  // namespace

void Model::attention(std::int64_t layer, std::span<const TokenRow> rows, const float* normed, float* out,
                      ForwardTrace* trace) {
  const ModelConfig& c = config_;
  const AttentionWeights& w = weights_.layers[static_cast<std::size_t>(layer)].attention;
  const LayerVectors& v = vectors_[static_cast<std::size_t>(layer)];
  const auto T = static_cast<std::int64_t>(rows.size());
  const std::int64_t H = c.num_attention_heads, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim;
  const std::int64_t dv = c.v_head_dim, C = c.kv_lora_rank, qk = dn + dr, D = c.hidden_size;
  const VectorOps& ops = ctx_.ops();

  float* cq = grow(ws_.q_lora, T * c.q_lora_rank);
  linear(ctx_, w.q_a_proj, {normed, T, D}, {cq, T, c.q_lora_rank});
  rms_norm_rows(v.q_a_norm, T, cq, cq, c.q_lora_rank);
  float* q = grow(ws_.q, T * H * qk);
  linear(ctx_, w.q_b_proj, {cq, T, c.q_lora_rank}, {q, T, H * qk});
  float* kv = grow(ws_.kv, T * (C + dr));
  // The latent is rounded to FP8 below: accumulate exactly enough to round it as the reference does.
  linear_f64_accumulate(ctx_, w.kv_a_proj_with_mqa, {normed, T, D}, {kv, T, C + dr});

  // RoPE, and the new tokens' latent (FP8-rounded, as the reference simulates its cache) and
  // rope key into the cache before any query reads it.
  for (std::int64_t t = 0; t < T; ++t) {
    float cos[kMaxRopePairs], sin[kMaxRopePairs];
    rope_.angles(rows[t].position, cos, sin);
    for (std::int64_t h = 0; h < H; ++h) Rope::rotate_interleaved(q + t * H * qk + h * qk + dn, cos, sin, dr / 2);
    float* latent = kv + t * (C + dr);
    rms_norm(latent, v.kv_a_norm.data(), C, 1e-6f, latent);
    float* rope_key = latent + C;
    Rope::rotate_interleaved(rope_key, cos, sin, dr / 2);
    const KvSlot slot = rows[t].cache->slot(layer, rows[t].position);
    act_quant_ue8m0(latent, static_cast<std::size_t>(C), slot.latent_codes, slot.latent_scales);
    for (std::int64_t i = 0; i < dr; ++i) slot.rope_key[i] = rope_key[i];
  }
  if (c.has_indexer) indexer_select(layer, rows, normed, cq);

  // q̃[t, h] = W_UK[h]ᵀ · q_nope[t, h]; each thread owns whole heads (disjoint weight rows).
  float* q_absorbed = grow(ws_.q_absorbed, T * H * C);
  std::fill(q_absorbed, q_absorbed + T * H * C, 0.0f);
  ctx_.pool().parallel_for(static_cast<std::size_t>(H), [&](std::size_t begin, std::size_t end, unsigned thread) {
    for (auto h = static_cast<std::int64_t>(begin); h < static_cast<std::int64_t>(end); ++h) {
      const Weight w_uk = w.kv_b_proj.row_slice(h * (dn + dv), dn);
      linear_transposed_accumulate(ops, ctx_.scratch(thread, static_cast<std::size_t>(C)), w_uk, {q + h * qk, T, H * qk},
                                   {q_absorbed + h * C, T, H * C});
    }
  });

  // Scores over the selected keys with an online softmax, accumulating the latent values.
  float* latent_out = grow(ws_.latent_out, T * H * C);
  const auto scale = static_cast<float>(c.softmax_scale());
  const std::int64_t head_groups = std::max<std::int64_t>(1, std::min<std::int64_t>(H, ctx_.threads() / T + (ctx_.threads() % T ? 1 : 0)));
  ctx_.pool().parallel_for(static_cast<std::size_t>(T * head_groups), [&](std::size_t begin, std::size_t end, unsigned thread) {
    float* latent = ctx_.scratch(thread, static_cast<std::size_t>(C));
    for (auto item = static_cast<std::int64_t>(begin); item < static_cast<std::int64_t>(end); ++item) {
      const std::int64_t t = item / head_groups, group = item % head_groups;
      const std::int64_t h_begin = group * H / head_groups, h_end = (group + 1) * H / head_groups;
      HeadState state[512];
      for (std::int64_t h = h_begin; h < h_end; ++h) {
        state[h - h_begin] = {-std::numeric_limits<float>::infinity(), 0.0f};
        std::fill(latent_out + (t * H + h) * C, latent_out + (t * H + h + 1) * C, 0.0f);
      }
      const bool selected = c.has_indexer && ws_.selection_count[static_cast<std::size_t>(t)] >= 0;
      const std::int64_t keys = selected ? ws_.selection_count[static_cast<std::size_t>(t)] : rows[t].position + 1;
      for (std::int64_t k = 0; k < keys; ++k) {
        const std::int64_t key = selected ? ws_.selection[static_cast<std::size_t>(t * c.index_topk + k)] : k;
        const KvSlot slot = rows[t].cache->slot(layer, key);
        for (std::int64_t b = 0; b < C / 128; ++b) ops.e4m3_to_f32(slot.latent_codes + b * 128, slot.latent_scales[b], latent + b * 128, 128);
        for (std::int64_t h = h_begin; h < h_end; ++h) {
          const float score = (ops.dot(q_absorbed + (t * H + h) * C, latent, C) +
                               ops.dot(q + t * H * qk + h * qk + dn, slot.rope_key, dr)) * scale;
          HeadState& s = state[h - h_begin];
          float* acc = latent_out + (t * H + h) * C;
          if (score > s.max_score) {
            const float rescale = std::exp(s.max_score - score);
            s.sum *= rescale;
            for (std::int64_t i = 0; i < C; ++i) acc[i] *= rescale;
            s.max_score = score;
          }
          const float p = std::exp(score - s.max_score);
          s.sum += p;
          ops.axpy(p, latent, acc, C);
        }
      }
      for (std::int64_t h = h_begin; h < h_end; ++h) {
        const float inv = 1.0f / state[h - h_begin].sum;
        float* acc = latent_out + (t * H + h) * C;
        for (std::int64_t i = 0; i < C; ++i) acc[i] *= inv;
      }
    }
  });

  if (trace != nullptr) {
    auto& record = trace->indexer_selection[static_cast<std::size_t>(layer)];
    record.assign(static_cast<std::size_t>(T), {});
    for (std::int64_t t = 0; t < T; ++t) {
      auto& keys = record[static_cast<std::size_t>(t)];
      if (c.has_indexer && ws_.selection_count[static_cast<std::size_t>(t)] >= 0) {
        const auto* first = ws_.selection.data() + t * c.index_topk;
        keys.assign(first, first + ws_.selection_count[static_cast<std::size_t>(t)]);
      } else {
        for (std::int32_t k = 0; k <= rows[t].position; ++k) keys.push_back(k);
      }
      std::sort(keys.begin(), keys.end());
    }
  }

  // o[t, h] = W_UV[h] · latent_out[t, h], then the output projection.
  float* heads_out = grow(ws_.heads_out, T * H * dv);
  ctx_.pool().parallel_for(static_cast<std::size_t>(H), [&](std::size_t begin, std::size_t end, unsigned thread) {
    for (auto h = static_cast<std::int64_t>(begin); h < static_cast<std::int64_t>(end); ++h) {
      const Weight w_uv = w.kv_b_proj.row_slice(h * (dn + dv) + dn, dv);
      linear_serial(ops, ctx_.scratch(thread, static_cast<std::size_t>(4 * C)), w_uv, {latent_out + h * C, T, H * C},
                    {heads_out + h * dv, T, H * dv});
    }
  });
  linear(ctx_, w.o_proj, {heads_out, T, H * dv}, {out, T, D});
}

}  // namespace dsv32
