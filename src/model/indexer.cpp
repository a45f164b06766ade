// DeepSeek Sparse Attention's lightning indexer (README §5.5): FP8 queries per index head and
// one FP8 key per token (cached), scored as s_k · Σ_h w_h · relu(Q_h · K); each query keeps
// the index_topk best causal keys (all of them while there are no more than that).
#include <algorithm>
#include <cmath>

#include "kernels/fp8_quant.h"
#include "kernels/hadamard.h"
#include "kernels/index_scores.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/number_formats.h"
#include "model/model.h"

namespace dsv32 {
namespace {

constexpr std::int64_t kMaxRopePairs = 256;

}  // namespace

void Model::indexer_select(std::int64_t layer, std::span<const TokenRow> rows, const float* normed, const float* q_lora) {
  const ModelConfig& c = config_;
  const IndexerWeights& w = weights_.layers[static_cast<std::size_t>(layer)].attention.indexer;
  const LayerVectors& v = vectors_[static_cast<std::size_t>(layer)];
  const auto T = static_cast<std::int64_t>(rows.size());
  const std::int64_t Hi = c.index_n_heads, Di = c.index_head_dim, pairs = c.qk_rope_head_dim / 2, D = c.hidden_size;

  float* q = grow(ws_.index_q, T * Hi * Di);
  linear(ctx_, w.wq_b, {q_lora, T, c.q_lora_rank}, {q, T, Hi * Di});
  float* k = grow(ws_.index_k, T * Di);
  linear(ctx_, w.wk, {normed, T, D}, {k, T, Di});
  float* head_weights = grow(ws_.index_head_weights, T * Hi);
  linear(ctx_, w.weights_proj, {normed, T, D}, {head_weights, T, Hi});
  std::uint8_t* q_codes = grow(ws_.index_q_codes, T * Hi * Di);
  float* q_scales = grow(ws_.index_q_scales, T * Hi);

  // Rope (half-split, rope part first), Hadamard rotation and FP8 quantisation of q and k;
  // the new keys go to the cache before any query is scored.
  const float head_factor = std::pow(static_cast<float>(Hi), -0.5f);
  const float dim_factor = std::pow(static_cast<float>(Di), -0.5f);
  ctx_.pool().parallel_for(static_cast<std::size_t>(T), [&](std::size_t begin, std::size_t end, unsigned thread) {
    auto* work = reinterpret_cast<double*>(ctx_.scratch(thread, static_cast<std::size_t>(2 * Di)));
    for (auto t = static_cast<std::int64_t>(begin); t < static_cast<std::int64_t>(end); ++t) {
      float cos[kMaxRopePairs], sin[kMaxRopePairs];
      rope_.angles(rows[t].position, cos, sin);
      for (std::int64_t h = 0; h < Hi; ++h) {
        float* qh = q + (t * Hi + h) * Di;
        Rope::rotate_half_split(qh, cos, sin, pairs);
        hadamard_rotate(qh, static_cast<std::size_t>(Di), work);
        act_quant_ue8m0(qh, static_cast<std::size_t>(Di), q_codes + (t * Hi + h) * Di, q_scales + t * Hi + h);
        float& weight = head_weights[t * Hi + h];
        weight = weight * head_factor * q_scales[t * Hi + h] * dim_factor;
      }
      float* kt = k + t * Di;
      layer_norm(kt, v.index_k_norm_weight.data(), v.index_k_norm_bias.data(), Di, 1e-6f, kt);
      Rope::rotate_half_split(kt, cos, sin, pairs);
      hadamard_rotate(kt, static_cast<std::size_t>(Di), work);
      const KvSlot slot = rows[t].cache->slot(layer, rows[t].position);
      act_quant_ue8m0(kt, static_cast<std::size_t>(Di), slot.index_codes, slot.index_scale);
    }
  });

  // Score the causal keys of every query and keep the top-k (count -1: keep all). The keys of
  // one query are split across the threads (a decoded token has one query and many keys), in
  // runs that lie side by side in a cache block.
  const std::int64_t padded_heads = index_padded_heads(Hi);
  std::uint16_t* packed_q = grow(ws_.index_q_packed, padded_heads * Di);
  float* padded_weights = grow(ws_.index_padded_weights, padded_heads);
  const IndexScoresFn score_keys = Di % 16 == 0 && Di <= static_cast<std::int64_t>(kIndexMaxDim) ? best_index_scores() : &index_scores_scalar;
  std::int32_t* selection = grow(ws_.selection, T * c.index_topk);
  std::int64_t* counts = grow(ws_.selection_count, T);
  for (std::int64_t t = 0; t < T; ++t) {
    const std::int64_t keys = rows[t].position + 1;
    if (keys <= c.index_topk) {
      counts[t] = -1;
      continue;
    }
    float* scores = grow(ws_.index_scores, keys);
    pack_index_query(q_codes + t * Hi * Di, head_weights + t * Hi, Hi, Di, packed_q, padded_weights);
    const IndexQuery query{packed_q, padded_weights, static_cast<std::size_t>(Di), static_cast<std::size_t>(padded_heads)};
    const SequenceCache& cache = *rows[t].cache;
    const std::int64_t run_tokens = cache.block_tokens();
    ctx_.pool().parallel_for(static_cast<std::size_t>(keys), [&](std::size_t begin, std::size_t end, unsigned) {
      for (auto s0 = static_cast<std::int64_t>(begin); s0 < static_cast<std::int64_t>(end);) {
        const std::int64_t run = std::min(static_cast<std::int64_t>(end) - s0, run_tokens - s0 % run_tokens);
        const KvSlot slot = cache.slot(layer, s0);
        score_keys(query, slot.index_codes, slot.index_scale, static_cast<std::size_t>(run), scores + s0);
        s0 += run;
      }
    }, static_cast<std::size_t>(run_tokens));
    std::int32_t* order = ctx_.index_scratch(0, static_cast<std::size_t>(keys));
    for (std::int64_t s = 0; s < keys; ++s) order[s] = static_cast<std::int32_t>(s);
    std::nth_element(order, order + c.index_topk, order + keys,
                     [&](std::int32_t a, std::int32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
    std::copy(order, order + c.index_topk, selection + t * c.index_topk);
    counts[t] = c.index_topk;
  }
}

}  // namespace dsv32
