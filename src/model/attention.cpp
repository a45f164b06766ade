// Multi-head latent attention (MLA) in its weight-absorbed form, for prefill and decode alike:
// queries are projected into the latent space (q̃ = W_UK·q_nope), scored against the FP8
// latent cache plus the shared rope key, and the softmax-weighted latent is expanded by W_UV.
// The reference's prefill expands keys/values instead; both are the same math (README §5.2).
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "kernels/flush_denormals.h"
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

// Keys are scored a block at a time (4 keys x 4 heads per dot4x4, FMA-bound where one dot per
// key and head waits on latency) and the softmax is updated once per block. Blocks of 32 keys
// moved the fp8 refdata case's logits by 8e-3 (its FP8 steps amplify any rounding change:
// README §4 shows 33 % from quantisation alone); blocks of 4 stay within 1e-3.
constexpr std::int64_t kBlockKeys = 4;

// scores[h * kBlockKeys + j] = (q_absorbed[h] · latent[j] + q_rope[h] · rope_keys[j]) * scale for
// the keys j < n (latent/rope_keys hold n rounded up to 4 keys) and heads h < heads.
void block_scores(const VectorOps& ops, const float* latent, const float* rope_keys, std::int64_t n, std::int64_t C,
                  std::int64_t dr, const float* q_absorbed, const float* q_rope, std::int64_t q_rope_stride, std::int64_t heads,
                  float scale, float* scores) {
  float latent_dots[16], rope_dots[16];
  for (std::int64_t j0 = 0; j0 < n; j0 += 4) {
    const float* keys = latent + j0 * C;
    const float* ropes = rope_keys + j0 * dr;
    std::int64_t h = 0;
    for (; h + 4 <= heads; h += 4) {
      ops.dot4x4(keys, C, q_absorbed + h * C, C, C, latent_dots, 4);
      ops.dot4x4(ropes, dr, q_rope + h * q_rope_stride, q_rope_stride, dr, rope_dots, 4);
      for (std::int64_t i = 0; i < 16; ++i) {
        if (j0 + i % 4 < n) scores[(h + i / 4) * kBlockKeys + j0 + i % 4] = (latent_dots[i] + rope_dots[i]) * scale;
      }
    }
    for (; h < heads; ++h) {
      ops.dot4(keys, C, q_absorbed + h * C, C, latent_dots);
      ops.dot4(ropes, dr, q_rope + h * q_rope_stride, dr, rope_dots);
      for (std::int64_t j = 0; j < 4 && j0 + j < n; ++j) scores[h * kBlockKeys + j0 + j] = (latent_dots[j] + rope_dots[j]) * scale;
    }
  }
}

}  // namespace

void Model::attention_core_f32(std::int64_t layer, std::span<const TokenRow> rows, const float* q, const float* q_absorbed,
                               float* latent_out) {
  const ModelConfig& c = config_;
  const auto T = static_cast<std::int64_t>(rows.size());
  const std::int64_t H = c.num_attention_heads, dn = c.qk_nope_head_dim, dr = c.qk_rope_head_dim;
  const std::int64_t C = c.kv_lora_rank, qk = dn + dr;
  const VectorOps& ops = ctx_.ops();
  const auto scale = static_cast<float>(c.softmax_scale());
  const std::int64_t head_groups = std::max<std::int64_t>(1, std::min<std::int64_t>(H, ctx_.threads() / T + (ctx_.threads() % T ? 1 : 0)));
  ctx_.pool().parallel_for(static_cast<std::size_t>(T * head_groups), [&](std::size_t begin, std::size_t end, unsigned thread) {
    float* latent = ctx_.scratch(thread, static_cast<std::size_t>(kBlockKeys * (C + dr) + H * kBlockKeys));
    float* rope_keys = latent + kBlockKeys * C;
    float* scores = rope_keys + kBlockKeys * dr;
    const ScopedFlushDenormals flush_denormals;
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
      for (std::int64_t k0 = 0; k0 < keys; k0 += kBlockKeys) {
        const std::int64_t n = std::min(kBlockKeys, keys - k0);
        for (std::int64_t j = 0; j < (n + 3) / 4 * 4; ++j) {  // a short last group of 4 repeats its last key
          const std::int64_t k = k0 + std::min(j, n - 1);
          const std::int64_t key = selected ? ws_.selection[static_cast<std::size_t>(t * c.index_topk + k)] : k;
          if (const std::int64_t ahead = k + SequenceCache::kPrefetchAheadKeys; j < n && ahead < keys) {  // scattered keys: ask early
            rows[t].cache->prefetch_attention_entries(layer, selected ? ws_.selection[static_cast<std::size_t>(t * c.index_topk + ahead)] : ahead);
          }
          const KvSlot slot = rows[t].cache->slot(layer, key);
          for (std::int64_t b = 0; b < C / 128; ++b) ops.e4m3_to_f32(slot.latent_codes + b * 128, slot.latent_scales[b], latent + j * C + b * 128, 128);
          std::copy(slot.rope_key, slot.rope_key + dr, rope_keys + j * dr);
        }
        block_scores(ops, latent, rope_keys, n, C, dr, q_absorbed + (t * H + h_begin) * C, q + t * H * qk + h_begin * qk + dn, qk,
                     h_end - h_begin, scale, scores);
        for (std::int64_t h = h_begin; h < h_end; ++h) {
          const float* score = scores + (h - h_begin) * kBlockKeys;
          HeadState& s = state[h - h_begin];
          float* acc = latent_out + (t * H + h) * C;
          const float block_max = *std::max_element(score, score + n);
          if (block_max > s.max_score) {
            const float rescale = std::exp(s.max_score - block_max);
            s.sum *= rescale;
            for (std::int64_t i = 0; i < C; ++i) acc[i] *= rescale;
            s.max_score = block_max;
          }
          float p[kBlockKeys];
          for (std::int64_t j = 0; j < n; ++j) {
            p[j] = std::exp(score[j] - s.max_score);
            s.sum += p[j];
          }
          if (n == 4) {
            ops.axpy4(p, latent, static_cast<std::size_t>(C), acc, static_cast<std::size_t>(C));
          } else {
            for (std::int64_t j = 0; j < n; ++j) ops.axpy(p[j], latent + j * C, acc, C);
          }
        }
      }
      for (std::int64_t h = h_begin; h < h_end; ++h) {
        const float inv = 1.0f / state[h - h_begin].sum;
        float* acc = latent_out + (t * H + h) * C;
        for (std::int64_t i = 0; i < C; ++i) acc[i] *= inv;
      }
    }
  });

}

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
  // The latent is rounded to FP8 below: accumulate exactly enough to round it as the reference
  // does (the bf16 mode rounds its inputs anyway, and takes the fast product).
  if (!bf16_products(ctx_)) {
    linear_f64_accumulate(ctx_, w.kv_a_proj_with_mqa, {normed, T, D}, {kv, T, C + dr});
  } else {
    linear(ctx_, w.kv_a_proj_with_mqa, {normed, T, D}, {kv, T, C + dr});
  }

  // RoPE, and the new tokens' latent (FP8-rounded, as the reference simulates its cache) and
  // rope key into the cache before any query reads it.
  // (rows split across the threads: 16 decoding sequences spent 0.8 ms per step here on one)
  ctx_.pool().parallel_for(static_cast<std::size_t>(T), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto t = static_cast<std::int64_t>(begin); t < static_cast<std::int64_t>(end); ++t) {
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
  });
  if (c.has_indexer) {
    const PhaseTimer timer(profile_, Phase::Indexer);
    indexer_select(layer, rows, normed, cq);
  }
  std::optional<PhaseTimer> core_timer(std::in_place, profile_, Phase::AttentionCore);

  // q̃[t, h] = W_UK[h]ᵀ · q_nope[t, h]; each thread owns whole heads (disjoint weight rows).
  float* q_absorbed = grow(ws_.q_absorbed, T * H * C);
  if (!absorb_queries_bf16(layer, T, q, q_absorbed)) {
    std::fill(q_absorbed, q_absorbed + T * H * C, 0.0f);
    ctx_.pool().parallel_for(static_cast<std::size_t>(H), [&](std::size_t begin, std::size_t end, unsigned thread) {
      for (auto h = static_cast<std::int64_t>(begin); h < static_cast<std::int64_t>(end); ++h) {
        const Weight w_uk = w.kv_b_proj.row_slice(h * (dn + dv), dn);
        linear_transposed_accumulate(ops, ctx_.scratch(thread, static_cast<std::size_t>(4 * C)), w_uk, {q + h * qk, T, H * qk},
                                     {q_absorbed + h * C, T, H * C});
      }
    });
  }

  // Scores over the selected keys with an online softmax, accumulating the latent values.
  float* latent_out = grow(ws_.latent_out, T * H * C);
  if (!attention_core_bf16(layer, rows, q, q_absorbed, latent_out)) attention_core_f32(layer, rows, q, q_absorbed, latent_out);
  core_timer.reset();

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

  // o[t, h] = W_UV[h] · latent_out[t, h], one job per head, then the output projection.
  float* heads_out = grow(ws_.heads_out, T * H * dv);
  LinearJob* jobs = grow(ws_.linear_jobs, H);
  for (std::int64_t h = 0; h < H; ++h) {
    jobs[h] = {w.kv_b_proj.row_slice(h * (dn + dv) + dn, dv), {latent_out + h * C, T, H * C}, {heads_out + h * dv, T, H * dv}};
  }
  linear_batch(ctx_, std::span<const LinearJob>(jobs, static_cast<std::size_t>(H)));
  linear(ctx_, w.o_proj, {heads_out, T, H * dv}, {out, T, D});
}

}  // namespace dsv32
