#include "engine/sampler.h"

#include "kernels/top_k.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

namespace dsv32::engine {
namespace {

std::uint64_t seed_for(const SamplingParams& params, std::uint64_t stream) {
  if (!params.seed) return std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32);
  return *params.seed * 0x9e3779b97f4a7c15ull + stream * 0xbf58476d1ce4e5b9ull + 1;
}

float log_sum_exp(std::span<const float> values) {
  const float max_value = *std::max_element(values.begin(), values.end());
  double sum = 0.0;
  for (const float v : values) sum += std::exp(static_cast<double>(v - max_value));
  return max_value + static_cast<float>(std::log(sum));
}

// The loops below over the whole vocabulary (129280 logits per token of every sequence, on the
// engine thread) run in independent lanes of fixed count, which the compiler vectorises.
constexpr std::size_t kLanes = 16;

// e^x for x <= 0 (below -87 it is taken as e^-87, a weight of 1.6e-38 against the best token's
// 1): range reduction by ln 2 and a degree-6 polynomial, about 2 ulp, in plain arithmetic so a
// loop of it vectorises where std::exp is a call per value.
inline float exp_nonpositive(float x) {
  x = x > -87.0f ? x : -87.0f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer (nearest even)
  const float n = (x * 1.44269504088896341f + kRound) - kRound;
  float r = std::fma(n, -0.693359375f, x);
  r = std::fma(n, 2.12194440e-4f, r);
  float p = 1.0f / 720.0f;
  p = std::fma(p, r, 1.0f / 120.0f);
  p = std::fma(p, r, 1.0f / 24.0f);
  p = std::fma(p, r, 1.0f / 6.0f);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  return p * std::bit_cast<float>((static_cast<std::int32_t>(n) + 127) << 23);
}

// weights[j] = e^((logits[token j] - top) / temperature) for the candidates (tokens[j], or j
// itself when tokens is empty); returns their sum.
double candidate_weights(std::span<const float> logits, std::span<const std::int32_t> tokens, std::size_t count, float top,
                         float temperature, float* weights) {
  const float inverse = 1.0f / temperature;
  if (!tokens.empty()) {
    double total = 0.0;
    for (std::size_t j = 0; j < count; ++j) {
      weights[j] = exp_nonpositive((logits[static_cast<std::size_t>(tokens[j])] - top) * inverse);
      total += weights[j];
    }
    return total;
  }
  const float* x = logits.data();
  double lane_sums[kLanes] = {};
  const std::size_t whole = count / kLanes * kLanes;
  for (std::size_t j = 0; j < whole; j += kLanes) {
    float block[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) block[l] = exp_nonpositive((x[j + l] - top) * inverse);
    for (std::size_t l = 0; l < kLanes; ++l) {
      weights[j + l] = block[l];
      lane_sums[l] += block[l];
    }
  }
  double total = 0.0;
  for (const double sum : lane_sums) total += sum;
  for (std::size_t j = whole; j < count; ++j) {
    weights[j] = exp_nonpositive((x[j] - top) * inverse);
    total += weights[j];
  }
  return total;
}

// Ordered bits of a non-negative float weight, for the nucleus's histograms.
std::uint32_t weight_bits(float weight) { return std::bit_cast<std::uint32_t>(weight); }

}  // namespace

std::int32_t argmax(std::span<const float> values) {
  float best[kLanes];
  std::int32_t at[kLanes];
  for (std::size_t l = 0; l < kLanes; ++l) {
    best[l] = -std::numeric_limits<float>::infinity();
    at[l] = 0;
  }
  const std::size_t n = values.size(), whole = n / kLanes * kLanes;
  for (std::size_t i = 0; i < whole; i += kLanes) {
    for (std::size_t l = 0; l < kLanes; ++l) {
      const bool better = values[i + l] > best[l];
      best[l] = better ? values[i + l] : best[l];
      at[l] = better ? static_cast<std::int32_t>(i + l) : at[l];
    }
  }
  // A lane that never moved holds (-inf, 0): index 0 is then no worse than its elements.
  float top = -std::numeric_limits<float>::infinity();
  std::int32_t index = 0;
  for (std::size_t l = 0; l < kLanes; ++l) {
    if (best[l] > top || (best[l] == top && at[l] < index)) {
      top = best[l];
      index = at[l];
    }
  }
  for (std::size_t i = whole; i < n; ++i) {
    if (values[i] > top) {
      top = values[i];
      index = static_cast<std::int32_t>(i);
    }
  }
  return index;
}

std::size_t pick_weighted(std::span<const float> weights, double u, std::vector<double>& block_sums) {
  constexpr std::size_t kBlock = 256, kDoubleLanes = 8;
  const std::size_t n = weights.size(), blocks = (n + kBlock - 1) / kBlock;
  block_sums.resize(blocks);
  double total = 0.0;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t b0 = b * kBlock, b1 = std::min(n, b0 + kBlock), whole = b0 + (b1 - b0) / kDoubleLanes * kDoubleLanes;
    double lanes[kDoubleLanes] = {};
    for (std::size_t j = b0; j < whole; j += kDoubleLanes) {
      for (std::size_t l = 0; l < kDoubleLanes; ++l) lanes[l] += weights[j + l];
    }
    double sum = 0.0;
    for (const double lane : lanes) sum += lane;
    for (std::size_t j = whole; j < b1; ++j) sum += weights[j];
    block_sums[b] = sum;
    total += sum;
  }
  double target = u * total;
  std::size_t b = 0;
  for (; b + 1 < blocks && target >= block_sums[b]; ++b) target -= block_sums[b];
  // Within the block token by token; the sums differ from this walk's only by rounding, and
  // a walk that runs out of the block ends on its last token with any weight.
  const std::size_t b0 = b * kBlock, b1 = std::min(n, b0 + kBlock);
  std::size_t last_weighted = b0;
  for (std::size_t j = b0; j < b1; ++j) {
    if (weights[j] <= 0.0f) continue;
    last_weighted = j;
    target -= weights[j];
    if (target < 0.0) return j;
  }
  return last_weighted;
}

Sampler::Sampler(const SamplingParams& params, std::span<const std::int32_t> prompt, std::int64_t vocab,
                 std::uint64_t stream)
    : params_(params), vocab_(vocab), rng_(seed_for(params, stream)) {
  if (params_.repetition_penalty != 1.0f) {
    for (const std::int32_t token : prompt) seen_[token] = true;
  }
}

void Sampler::accept(std::int32_t token) {
  ++generated_counts_[token];
  if (params_.repetition_penalty != 1.0f) seen_[token] = true;
}

bool Sampler::changes_logits() const {
  return !params_.logit_bias.empty() || params_.repetition_penalty != 1.0f ||
         ((params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) && !generated_counts_.empty());
}

void Sampler::apply_penalties_and_bias(std::vector<float>& logits) const {
  for (const auto& [token, bias] : params_.logit_bias) {
    if (token >= 0 && token < vocab_) logits[static_cast<std::size_t>(token)] += bias;
  }
  if (params_.repetition_penalty != 1.0f) {  // HF/vLLM: shrink the logits of every token seen
    for (const auto& [token, unused] : seen_) {
      float& logit = logits[static_cast<std::size_t>(token)];
      logit = logit > 0 ? logit / params_.repetition_penalty : logit * params_.repetition_penalty;
    }
  }
  if (params_.presence_penalty != 0.0f || params_.frequency_penalty != 0.0f) {
    for (const auto& [token, count] : generated_counts_) {
      logits[static_cast<std::size_t>(token)] -= params_.frequency_penalty * static_cast<float>(count) + params_.presence_penalty;
    }
  }
}

std::int32_t Sampler::draw(std::span<const float> logits, SamplerScratch& scratch) {
  // Greedy at temperature 0, and where 1 / temperature overflows (a subnormal temperature would
  // make every weight e^-87: a uniform draw instead of the sharpest one).
  if (!(params_.temperature > 0.0f) || !std::isfinite(1.0f / params_.temperature)) return argmax(logits);
  // Candidates: the top_k best by (logit, then position), in position order; or every token.
  const auto vocab = static_cast<std::size_t>(vocab_);
  std::vector<std::int32_t>& tokens = scratch.order;
  tokens.clear();
  std::size_t count = vocab;
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < vocab) {
    count = static_cast<std::size_t>(params_.top_k);
    tokens.resize(count);
    scratch.select.resize(static_cast<std::size_t>(top_k_scratch_words(vocab_)));
    select_top_k(logits.data(), vocab_, params_.top_k, tokens.data(), scratch.select.data());
  }
  const auto token_at = [&](std::size_t j) { return tokens.empty() ? static_cast<std::int32_t>(j) : tokens[j]; };
  float top = logits[static_cast<std::size_t>(tokens.empty() ? argmax(logits) : token_at(0))];
  for (std::size_t j = 1; j < tokens.size(); ++j) top = std::max(top, logits[static_cast<std::size_t>(tokens[j])]);
  std::vector<float>& weights = scratch.weights;
  weights.resize(count);
  double total = candidate_weights(logits, tokens, count, top, params_.temperature, weights.data());
  const auto keep_only = [&](auto keep) {  // compacts the candidates to those keep(j) accepts
    if (tokens.empty()) {
      tokens.resize(count);
      for (std::size_t j = 0; j < count; ++j) tokens[j] = static_cast<std::int32_t>(j);
    }
    std::size_t kept = 0;
    total = 0.0;
    for (std::size_t j = 0; j < count; ++j) {
      if (!keep(j)) continue;
      tokens[kept] = tokens[j];
      weights[kept] = weights[j];
      total += weights[kept++];
    }
    count = kept;
  };
  if (params_.min_p > 0.0f) {  // drop tokens below min_p times the best probability (1 after scaling)
    keep_only([&](std::size_t j) { return weights[j] >= std::min(params_.min_p, 1.0f) || logits[static_cast<std::size_t>(token_at(j))] == top; });
  }
  if (params_.top_p < 1.0f) {
    // The nucleus: the best tokens by (weight, then position) whose mass first reaches top_p.
    // Weights above a bound are surely in; the bound comes from histograms of the weights' bits
    // (11 bits, then 11 more within the bucket where the mass crosses), so only the tokens of
    // the last bucket are sorted, not the vocabulary.
    const double target = params_.top_p * total;
    std::uint32_t prefix = 0, known = 0;
    double mass_above = 0.0;
    for (const int shift : {21, 10}) {
      std::vector<double>& bucket_mass = scratch.bucket_mass;
      bucket_mass.assign(2048, 0.0);
      for (std::size_t j = 0; j < count; ++j) {
        const std::uint32_t bits = weight_bits(weights[j]);
        if ((bits & known) == prefix) bucket_mass[bits >> shift & 2047] += weights[j];
      }
      std::uint32_t bucket = 2047;
      while (bucket > 0 && mass_above + bucket_mass[bucket] < target) mass_above += bucket_mass[bucket--];
      prefix |= bucket << shift;
      known |= 2047u << shift;
    }
    // Tokens above the crossing bucket are in; those in it are taken best first until the mass
    // reaches the target.
    std::vector<std::int32_t>& crossing = scratch.crossing;
    crossing.clear();
    for (std::size_t j = 0; j < count; ++j) {
      if ((weight_bits(weights[j]) & known) == prefix) crossing.push_back(static_cast<std::int32_t>(j));
    }
    std::sort(crossing.begin(), crossing.end(), [&](std::int32_t a, std::int32_t b) { return weights[a] > weights[b]; });
    double mass = mass_above;
    std::size_t taken = 0;
    while (taken < crossing.size() && (mass < target || taken == 0)) mass += weights[static_cast<std::size_t>(crossing[taken++])];
    const float cut = taken > 0 ? weights[static_cast<std::size_t>(crossing[taken - 1])] : 0.0f;
    // Positions are ascending among equal weights, so "the first `equal` of those equal to the cut" is by position.
    std::size_t equal = 0;
    for (std::size_t i = 0; i < taken; ++i) equal += weights[static_cast<std::size_t>(crossing[i])] == cut ? 1 : 0;
    keep_only([&](std::size_t j) {
      const std::uint32_t bits = weight_bits(weights[j]);
      if ((bits & known) > prefix) return true;  // a higher bucket
      if ((bits & known) != prefix) return false;
      if (weights[j] > cut) return true;
      if (weights[j] < cut || equal == 0) return false;
      --equal;
      return true;
    });
  }
  const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
  return token_at(pick_weighted(std::span<const float>(weights.data(), count), u, scratch.block_sums));
}

SampledToken Sampler::sample(std::span<const float> logits, SamplerScratch& scratch) {
  std::span<const float> scores = logits;
  if (changes_logits()) {  // otherwise the model's row is read in place
    scratch.work.assign(logits.begin(), logits.end());
    apply_penalties_and_bias(scratch.work);
    scores = scratch.work;
  }
  std::vector<std::int32_t>& order_ = scratch.order;
  SampledToken result;
  result.token = draw(scores, scratch);
  if (params_.logprobs >= 0) {
    const float normaliser = log_sum_exp(logits);
    result.logprob = logits[static_cast<std::size_t>(result.token)] - normaliser;
    const auto k = static_cast<std::size_t>(std::min<std::int64_t>(params_.logprobs, vocab_));
    order_.resize(logits.size());
    std::iota(order_.begin(), order_.end(), 0);
    std::partial_sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(k), order_.end(),
                      [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
    for (std::size_t i = 0; i < k; ++i) result.top.emplace_back(order_[i], logits[static_cast<std::size_t>(order_[i])] - normaliser);
  }
  return result;
}

}  // namespace dsv32::engine
