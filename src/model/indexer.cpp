// DeepSeek Sparse Attention's lightning indexer (README §5.5): FP8 queries per index head and
// one FP8 key per token (cached as FP8 codes, or as int8 values where the scores take int8
// products: kernels/index_scores_int8.h), scored as s_k · Σ_h w_h · relu(Q_h · K); each query keeps
// the index_topk best causal keys (all of them while there are no more than that).
#include <algorithm>
#include <cmath>

#include "kernels/fp8_quant.h"
#include "kernels/hadamard.h"
#include "kernels/index_scores.h"
#include "kernels/index_scores_int8.h"
#include "kernels/linear.h"
#include "kernels/norm.h"
#include "kernels/number_formats.h"
#include "kernels/top_k.h"
#include "model/model.h"
#include "util/error.h"

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

  // Only rows with more causal keys than index_topk select; the others attend to every key,
  // so their query (the indexer's largest projection) is never needed and not computed.
  std::int64_t* selecting = grow(ws_.index_rows, T);
  std::int64_t S = 0;
  for (std::int64_t t = 0; t < T; ++t) {
    if (rows[t].position + 1 > c.index_topk) selecting[S++] = t;
  }
  const std::int64_t R = c.q_lora_rank;
  const float* selected_q_lora = q_lora;
  const float* selected_normed = normed;
  if (S > 0 && S < T) {  // gathered, so that the projections see contiguous rows
    float* gathered = grow(ws_.index_inputs, S * (R + D));
    for (std::int64_t s = 0; s < S; ++s) {
      std::copy_n(q_lora + selecting[s] * R, R, gathered + s * R);
      std::copy_n(normed + selecting[s] * D, D, gathered + S * R + s * D);
    }
    selected_q_lora = gathered;
    selected_normed = gathered + S * R;
  }
  float* q = grow(ws_.index_q, S * Hi * Di);
  float* head_weights = grow(ws_.index_head_weights, S * Hi);
  if (S > 0) {
    const PhaseTimer timer(profile_, Phase::IndexerQuery);
    linear(ctx_, w.wq_b, {selected_q_lora, S, R}, {q, S, Hi * Di});
    linear(ctx_, w.weights_proj, {selected_normed, S, D}, {head_weights, S, Hi});
  }
  float* k = grow(ws_.index_k, T * Di);
  linear(ctx_, w.wk, {normed, T, D}, {k, T, Di});
  // Runs of keys to the int8 kernel, or nullptr where the scores are exact; the int8 kernels
  // read the keys as int8 values, which the cache then holds in place of their FP8 codes.
  const IndexScoresInt8RunsFn score_int8_runs = indexer_int8_runs();
  const bool int8 = score_int8_runs != nullptr;
  for (const TokenRow& row : rows) {
    if (row.cache->layout().index_keys_int8 != int8) {
      fail("indexer: the KV cache holds its keys as {}, but this run scores {} (make the cache with Model::kv_layout after setting the precision)",
           row.cache->layout().index_keys_int8 ? "int8 values" : "FP8 codes", int8 ? "int8 values" : "FP8 codes");
    }
  }
  std::uint8_t* q_codes = grow(ws_.index_q_codes, S * Hi * Di);
  float* q_scales = grow(ws_.index_q_scales, S * Hi);
  // The int8 kernel's query of each selecting row, packed by its heads' items below; the exact
  // kernel's, one row at a time before its scores.
  const std::int64_t padded_heads = index_padded_heads(Hi);
  const std::int64_t packed_rows = int8 ? S : 1;
  std::uint16_t* packed_q = !int8 ? grow(ws_.index_q_packed, padded_heads * Di) : nullptr;
  std::int8_t* packed_q_int8 = int8 ? grow(ws_.index_q_int8, S * padded_heads * Di) : nullptr;
  std::int32_t* q_offsets = int8 ? grow(ws_.index_q_offsets, S * padded_heads) : nullptr;
  float* padded_weights = grow(ws_.index_padded_weights, packed_rows * padded_heads);
  if (int8) {  // the padded heads' zeros (the items below pack the real ones)
    for (std::int64_t s = 0; s < S; ++s) {
      for (std::int64_t h = Hi; h < padded_heads; ++h) {
        pack_index_query_head_int8(nullptr, 0.0f, h, padded_heads, Di, packed_q_int8 + s * padded_heads * Di, q_offsets + s * padded_heads,
                                   padded_weights + s * padded_heads);
      }
    }
  }

  // Rope (half-split, rope part first), Hadamard rotation and FP8 quantisation of k (every row)
  // and of q (each head of the selecting rows: items T.. of the loop, so that the threads share
  // a decoded token's heads); the new keys go to the cache before any query is scored.
  const float head_factor = std::pow(static_cast<float>(Hi), -0.5f);
  const float dim_factor = std::pow(static_cast<float>(Di), -0.5f);
  ctx_.pool().parallel_for(static_cast<std::size_t>(T + S * Hi), [&](std::size_t begin, std::size_t end, unsigned thread) {
    auto* work = reinterpret_cast<double*>(ctx_.scratch(thread, static_cast<std::size_t>(2 * Di)));
    float cos[kMaxRopePairs], sin[kMaxRopePairs];
    std::int64_t angles_of = -1;  // the row whose angles cos/sin hold
    const auto angles_for = [&](std::int64_t t) {
      if (angles_of != t) rope_.angles(rows[t].position, cos, sin);
      angles_of = t;
    };
    for (auto item = static_cast<std::int64_t>(begin); item < static_cast<std::int64_t>(end); ++item) {
      if (item >= T) {
        const std::int64_t s = (item - T) / Hi, h = (item - T) % Hi;
        angles_for(selecting[s]);
        float* qh = q + (s * Hi + h) * Di;
        Rope::rotate_half_split(qh, cos, sin, pairs);
        hadamard_rotate(qh, static_cast<std::size_t>(Di), work);
        act_quant_ue8m0(qh, static_cast<std::size_t>(Di), q_codes + (s * Hi + h) * Di, q_scales + s * Hi + h);
        float& weight = head_weights[s * Hi + h];
        weight = weight * head_factor * q_scales[s * Hi + h] * dim_factor;
        if (int8) {
          pack_index_query_head_int8(q_codes + (s * Hi + h) * Di, weight, h, padded_heads, Di, packed_q_int8 + s * padded_heads * Di,
                                     q_offsets + s * padded_heads, padded_weights + s * padded_heads);
        }
        continue;
      }
      const std::int64_t t = item;
      angles_for(t);
      float* kt = k + t * Di;
      layer_norm(kt, v.index_k_norm_weight.data(), v.index_k_norm_bias.data(), Di, 1e-6f, kt);
      Rope::rotate_half_split(kt, cos, sin, pairs);
      hadamard_rotate(kt, static_cast<std::size_t>(Di), work);
      const KvSlot slot = rows[t].cache->slot(layer, rows[t].position);
      act_quant_ue8m0(kt, static_cast<std::size_t>(Di), slot.index_codes, slot.index_scale);
      if (int8) index_key_codes_to_int8(slot.index_codes, static_cast<std::size_t>(Di));
    }
  });

  // Score the causal keys of every query and keep the top-k (count -1: keep all). The keys of
  // one query are split across the threads (a decoded token has one query and many keys), in
  // runs that lie side by side in a cache block.
  const IndexScoresFn score_exact = Di % 16 == 0 && Di <= static_cast<std::int64_t>(kIndexMaxDim) ? best_index_scores() : &index_scores_scalar;
  std::int32_t* selection = grow(ws_.selection, T * c.index_topk);
  std::int64_t* counts = grow(ws_.selection_count, T);
  std::fill(counts, counts + T, -1);
  const auto dim = static_cast<std::size_t>(Di), heads = static_cast<std::size_t>(padded_heads);
  const IndexQuery query{packed_q, padded_weights, dim, heads};
  // A parallel chunk's runs (cache blocks) go to the int8 kernel kRunsPerCall at a time.
  constexpr std::size_t kRunsPerCall = 32;
  for (std::int64_t s = 0; s < S; ++s) {
    const std::int64_t t = selecting[s], keys = rows[t].position + 1;
    float* scores = grow(ws_.index_scores, keys);
    if (!int8) pack_index_query(q_codes + s * Hi * Di, head_weights + s * Hi, Hi, Di, packed_q, padded_weights);
    const IndexQueryInt8 query_int8 = int8 ? IndexQueryInt8{packed_q_int8 + s * padded_heads * Di, q_offsets + s * padded_heads,
                                                            padded_weights + s * padded_heads, dim, heads}
                                           : IndexQueryInt8{};
    const SequenceCache& cache = *rows[t].cache;
    const std::int64_t run_tokens = cache.block_tokens();
    ctx_.pool().parallel_for(static_cast<std::size_t>(keys), [&](std::size_t begin, std::size_t end, unsigned) {
      IndexKeyRun runs[kRunsPerCall];
      std::size_t pending = 0;
      const auto flush = [&] {
        score_int8_runs(query_int8, std::span<const IndexKeyRun>(runs, pending));
        pending = 0;
      };
      for (auto s0 = static_cast<std::int64_t>(begin); s0 < static_cast<std::int64_t>(end);) {
        const std::int64_t run = std::min(static_cast<std::int64_t>(end) - s0, run_tokens - s0 % run_tokens);
        const KvSlot slot = cache.slot(layer, s0);
        // The next run while this one is scored (32K: 880 -> 790 us a layer), by the int8
        // kernel a few lines per group of keys (32K indexer, 5 alternated pairs: 11.43 -> 11.13
        // ms per step, every pair faster).
        IndexKeysPrefetch next;
        if (const std::int64_t next_run = std::min(static_cast<std::int64_t>(end) - s0 - run, run_tokens); next_run > 0) {
          if (int8) {
            next = cache.index_keys_lines(layer, s0 + run, next_run);
          } else {
            cache.prefetch_index_keys(layer, s0 + run, next_run);
          }
        }
        if (int8) {
          runs[pending++] = {reinterpret_cast<const std::int8_t*>(slot.index_codes), slot.index_scale, static_cast<std::size_t>(run), scores + s0, next};
          if (pending == kRunsPerCall) flush();
        } else {
          score_exact(query, slot.index_codes, slot.index_scale, static_cast<std::size_t>(run), scores + s0);
        }
        s0 += run;
      }
      if (pending > 0) flush();
    }, static_cast<std::size_t>(run_tokens));
    // Top-k under a total order (score, then position), so the set is unique; in position order.
    const std::int64_t k = c.index_topk;
    const PhaseTimer timer(profile_, Phase::IndexerTopK);
    select_top_k(scores, keys, k, selection + t * k, ctx_.index_scratch(0, static_cast<std::size_t>(top_k_scratch_words(keys))));
    counts[t] = k;
  }
}

}  // namespace dsv32
