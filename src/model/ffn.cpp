// Feed-forward blocks: the SwiGLU MLP of the first layers, and the MoE of the others
// (README §5.6): sigmoid router with a correction bias used only for choosing, group-limited
// top-k, renormalised weights times routed_scaling_factor, plus the shared expert. Tokens are
// grouped by expert so each active expert's weights are read once per step.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/linear.h"
#include "model/model.h"

namespace dsv32 {
namespace {

// gate[i] = silu(gate[i]) * up[i]; split across the threads when there is enough of it (the
// experts of 16 decoding sequences: 1.7 ms per step on one thread). The bf16 mode takes e^x
// from a polynomial, 16 at a time (kernels/silu_fast.h; 4 alternated pairs each: 16 sequences
// 54.1 -> 53.3 ms per step, prefill of 512 tokens 530 -> 546 tok/s); the
// float32 run keeps std::exp, as the reference.
void silu_mul(ComputeContext& ctx, float* gate, const float* up, std::int64_t count) {
  constexpr std::int64_t kSerialMax = 16384;
  const bool fast = bf16_products(ctx);
  const auto apply = [&](std::size_t begin, std::size_t end, unsigned) {
    if (fast) {
      ctx.ops().silu_mul_fast(gate + begin, up + begin, end - begin);
      return;
    }
    for (std::size_t i = begin; i < end; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  };
  if (count <= kSerialMax) {
    apply(0, static_cast<std::size_t>(count), 0);
  } else {
    ctx.pool().parallel_for(static_cast<std::size_t>(count), apply, 1024);
  }
}

}  // namespace

void Model::feed_forward(std::int64_t layer, std::int64_t rows, const float* normed, float* out, ForwardTrace* trace) {
  const LayerWeights& weights = weights_.layers[static_cast<std::size_t>(layer)];
  if (weights.is_moe) {
    moe(layer, rows, normed, out, trace);
  } else {
    mlp(weights.mlp, rows, normed, out);
  }
}

void Model::mlp(const MlpWeights& mlp, std::int64_t rows, const float* x, float* out) {
  const std::int64_t hidden = config_.hidden_size, inner = mlp.gate.rows;
  float* gate = grow(ws_.ffn_gate, rows * inner);
  float* up = grow(ws_.ffn_up, rows * inner);
  const LinearJob gate_up[] = {{mlp.gate, {x, rows, hidden}, {gate, rows, inner}}, {mlp.up, {x, rows, hidden}, {up, rows, inner}}};
  linear_batch(ctx_, gate_up);
  silu_mul(ctx_, gate, up, rows * inner);
  linear(ctx_, mlp.down, {gate, rows, inner}, {out, rows, hidden});
}

void Model::route(std::int64_t layer, std::int64_t rows, const float* x) {
  const ModelConfig& c = config_;
  const MoeWeights& moe = weights_.layers[static_cast<std::size_t>(layer)].moe;
  const std::vector<float>& bias = vectors_[static_cast<std::size_t>(layer)].router_bias;
  const std::int64_t E = c.n_routed_experts, k = c.num_experts_per_tok, G = c.n_group, per_group = E / G;
  float* scores = grow(ws_.router_scores, rows * E * 2);  // [rows][E] scores, then [rows][E] choice scores
  linear(ctx_, moe.gate, {x, rows, c.hidden_size}, {scores, rows, E});
  std::int32_t* experts = grow(ws_.routed_experts, rows * k);
  float* weights = grow(ws_.routed_weights, rows * k);
  constexpr float kExcluded = -std::numeric_limits<float>::infinity();
  // Rows are independent: split across the threads (each keeps its choice scores apart).
  float* choices = scores + rows * E;
  ctx_.pool().parallel_for(static_cast<std::size_t>(rows), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto t = static_cast<std::int64_t>(begin); t < static_cast<std::int64_t>(end); ++t) {
      float* s = scores + t * E;
      float* choice = choices + t * E;  // bias-corrected scores, used only to choose
      for (std::int64_t e = 0; e < E; ++e) {
        s[e] = 1.0f / (1.0f + std::exp(-s[e]));
        choice[e] = s[e] + bias[static_cast<std::size_t>(e)];
      }
      if (G > 1) {
        // Group score = sum of its two best experts; experts outside the topk_group best groups drop out.
        float group_score[1024];
        std::int32_t group_order[1024];
        for (std::int64_t g = 0; g < G; ++g) {
          float best = kExcluded, second = kExcluded;
          for (std::int64_t e = g * per_group; e < (g + 1) * per_group; ++e) {
            if (choice[e] > best) {
              second = best;
              best = choice[e];
            } else if (choice[e] > second) {
              second = choice[e];
            }
          }
          group_score[g] = best + second;
          group_order[g] = static_cast<std::int32_t>(g);
        }
        std::partial_sort(group_order, group_order + c.topk_group, group_order + G, [&](std::int32_t a, std::int32_t b) {
          return group_score[a] > group_score[b] || (group_score[a] == group_score[b] && a < b);
        });
        for (std::int64_t rank = c.topk_group; rank < G; ++rank) {
          std::fill(choice + group_order[rank] * per_group, choice + (group_order[rank] + 1) * per_group, kExcluded);
        }
      }
      std::int32_t* chosen = experts + t * k;
      std::int32_t order[4096];
      for (std::int64_t e = 0; e < E; ++e) order[e] = static_cast<std::int32_t>(e);
      std::partial_sort(order, order + k, order + E,
                        [&](std::int32_t a, std::int32_t b) { return choice[a] > choice[b] || (choice[a] == choice[b] && a < b); });
      float total = 0.0f;
      for (std::int64_t j = 0; j < k; ++j) {
        chosen[j] = order[j];
        total += s[order[j]];
      }
      for (std::int64_t j = 0; j < k; ++j) weights[t * k + j] = s[chosen[j]] / total * static_cast<float>(c.routed_scaling_factor);
    }
  });
}

void Model::moe(std::int64_t layer, std::int64_t rows, const float* x, float* out, ForwardTrace* trace) {
  const ModelConfig& c = config_;
  const MoeWeights& moe = weights_.layers[static_cast<std::size_t>(layer)].moe;
  const std::int64_t hidden = c.hidden_size, k = c.num_experts_per_tok;
  route(layer, rows, x);
  const std::int32_t* experts = ws_.routed_experts.data();
  const float* weights = ws_.routed_weights.data();
  if (trace != nullptr) {
    auto& chosen = trace->moe_experts[static_cast<std::size_t>(layer)];
    auto& chosen_weights = trace->moe_weights[static_cast<std::size_t>(layer)];
    for (std::int64_t t = 0; t < rows; ++t) {
      chosen.emplace_back(experts + t * k, experts + (t + 1) * k);
      chosen_weights.emplace_back(weights + t * k, weights + (t + 1) * k);
    }
  }

  // Group the (row, choice) pairs by expert, rows in order within each expert (a counting sort).
  const std::int64_t E = c.n_routed_experts, pairs = rows * k;
  std::int64_t* offsets = grow(ws_.expert_offsets, 2 * (E + 1));
  std::int64_t* fill = offsets + (E + 1);
  std::fill(offsets, offsets + E + 1, 0);
  for (std::int64_t i = 0; i < pairs; ++i) ++offsets[experts[i] + 1];
  for (std::int64_t e = 0; e < E; ++e) offsets[e + 1] += offsets[e];
  std::int32_t* expert_rows = grow(ws_.expert_rows, pairs);
  float* row_weights = grow(ws_.expert_row_weights, pairs);
  std::int32_t* slot_of = grow(ws_.pair_slots, pairs);  // pair (row, choice) -> its slot
  std::copy(offsets, offsets + E, fill);
  for (std::int64_t i = 0; i < pairs; ++i) {
    const std::int64_t slot = fill[experts[i]]++;
    expert_rows[slot] = static_cast<std::int32_t>(i / k);
    row_weights[slot] = weights[i];
    slot_of[i] = static_cast<std::int32_t>(slot);
  }

  // All active experts (and the shared one, over every row) in two parallel regions: gate and
  // up projections together, then the down projections; the shared expert's rows come last.
  const std::int64_t inner = moe.shared.gate.data != nullptr ? std::max(moe.shared.gate.rows, moe.experts[0].gate.rows)
                                                              : moe.experts[0].gate.rows;
  const std::int64_t all_rows = pairs + (c.n_shared_experts > 0 ? rows : 0);
  float* gathered = grow(ws_.expert_in, pairs * hidden);
  float* gate = grow(ws_.ffn_gate, all_rows * inner);
  float* up = grow(ws_.ffn_up, all_rows * inner);
  float* expert_out = grow(ws_.expert_out, all_rows * hidden);
  ctx_.pool().parallel_for(static_cast<std::size_t>(pairs), [&](std::size_t begin, std::size_t end, unsigned) {
    for (std::size_t i = begin; i < end; ++i) std::copy_n(x + expert_rows[i] * hidden, hidden, gathered + static_cast<std::int64_t>(i) * hidden);
  });
  LinearJob* jobs = grow(ws_.linear_jobs, 2 * (E + 1));
  // Appends one job per active expert, then the shared expert's; returns the new job count.
  const auto add_jobs = [&](std::int64_t count, auto make_job) {
    for (std::int64_t e = 0; e < E; ++e) {
      if (offsets[e + 1] > offsets[e]) {
        jobs[count++] = make_job(moe.experts[static_cast<std::size_t>(e)], offsets[e], offsets[e + 1] - offsets[e], gathered + offsets[e] * hidden);
      }
    }
    if (c.n_shared_experts > 0) jobs[count++] = make_job(moe.shared, pairs, rows, x);
    return count;
  };
  std::int64_t count = add_jobs(0, [&](const MlpWeights& mlp, std::int64_t first, std::int64_t n, const float* in) {
    return LinearJob{mlp.gate, {in, n, hidden}, {gate + first * inner, n, inner}};
  });
  count = add_jobs(count, [&](const MlpWeights& mlp, std::int64_t first, std::int64_t n, const float* in) {
    return LinearJob{mlp.up, {in, n, hidden}, {up + first * inner, n, inner}};
  });
  linear_batch(ctx_, std::span<const LinearJob>(jobs, static_cast<std::size_t>(count)));
  silu_mul(ctx_, gate, up, all_rows * inner);
  count = add_jobs(0, [&](const MlpWeights& mlp, std::int64_t first, std::int64_t n, const float*) {
    return LinearJob{mlp.down, {gate + first * inner, n, inner}, {expert_out + first * hidden, n, hidden}};
  });
  linear_batch(ctx_, std::span<const LinearJob>(jobs, static_cast<std::size_t>(count)));

  // Each row sums its experts in index order (its slots ascending), then the shared expert, as
  // the reference accumulates; rows are split across the threads.
  ctx_.pool().parallel_for(static_cast<std::size_t>(rows), [&](std::size_t begin, std::size_t end, unsigned) {
    for (auto t = static_cast<std::int64_t>(begin); t < static_cast<std::int64_t>(end); ++t) {
      std::int32_t* slots = slot_of + t * k;
      std::sort(slots, slots + k);
      float* row_out = out + t * hidden;
      std::fill(row_out, row_out + hidden, 0.0f);
      for (std::int64_t j = 0; j < k; ++j) ctx_.ops().axpy(row_weights[slots[j]], expert_out + slots[j] * hidden, row_out, hidden);
      if (c.n_shared_experts > 0) {
        const float* shared_out = expert_out + (pairs + t) * hidden;
        for (std::int64_t i = 0; i < hidden; ++i) row_out[i] += shared_out[i];
      }
    }
  });
}

}  // namespace dsv32
