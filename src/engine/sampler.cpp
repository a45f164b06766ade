#include "engine/sampler.h"

#include <algorithm>
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

}  // namespace

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

std::int32_t Sampler::draw(std::vector<float>& logits, std::vector<std::int32_t>& order_) {
  if (params_.temperature <= 0.0f) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  // Candidates: the top_k best (or all), best first as far as top_p needs the order.
  const auto vocab = static_cast<std::size_t>(vocab_);
  order_.resize(vocab);
  std::iota(order_.begin(), order_.end(), 0);
  std::size_t candidates = vocab;
  const auto better = [&](std::int32_t a, std::int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); };
  if (params_.top_k > 0 && static_cast<std::size_t>(params_.top_k) < vocab) {
    candidates = static_cast<std::size_t>(params_.top_k);
    std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(candidates), order_.end(), better);
  }
  const float max_logit = logits[static_cast<std::size_t>(*std::min_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(candidates), better))];
  double total = 0.0;
  for (std::size_t i = 0; i < candidates; ++i) {
    float& logit = logits[static_cast<std::size_t>(order_[i])];
    logit = std::exp((logit - max_logit) / params_.temperature);  // unnormalised probability
    total += logit;
  }
  if (params_.min_p > 0.0f) {  // drop tokens below min_p times the best probability (1 after scaling)
    const auto end = std::partition(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(candidates),
                                    [&](std::int32_t t) { return logits[static_cast<std::size_t>(t)] >= params_.min_p; });
    candidates = static_cast<std::size_t>(end - order_.begin());
    total = 0.0;
    for (std::size_t i = 0; i < candidates; ++i) total += logits[static_cast<std::size_t>(order_[i])];
  }
  if (params_.top_p < 1.0f) {
    const auto by_probability = [&](std::int32_t a, std::int32_t b) {
      return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    // Sorting the whole vocabulary per token is slow: the nucleus almost always lies within the
    // best 1024, so sort only those when their mass already reaches top_p.
    std::size_t head = std::min<std::size_t>(candidates, 1024);
    std::nth_element(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(head),
                     order_.begin() + static_cast<std::ptrdiff_t>(candidates), by_probability);
    double head_mass = 0.0;
    for (std::size_t i = 0; i < head; ++i) head_mass += logits[static_cast<std::size_t>(order_[i])];
    if (head_mass < params_.top_p * total) head = candidates;
    std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(head), by_probability);
    candidates = head;
    double mass = 0.0;
    std::size_t keep = 0;
    while (keep < candidates && mass < params_.top_p * total) mass += logits[static_cast<std::size_t>(order_[keep++])];
    candidates = std::max<std::size_t>(keep, 1);
    total = mass;
  }
  double target = std::uniform_real_distribution<double>(0.0, total)(rng_);
  for (std::size_t i = 0; i < candidates; ++i) {
    target -= logits[static_cast<std::size_t>(order_[i])];
    if (target <= 0.0) return order_[i];
  }
  return order_[candidates - 1];
}

SampledToken Sampler::sample(std::span<const float> logits, SamplerScratch& scratch) {
  std::vector<float>& work = scratch.work;
  std::vector<std::int32_t>& order_ = scratch.order;
  work.assign(logits.begin(), logits.end());
  apply_penalties_and_bias(work);
  SampledToken result;
  result.token = draw(work, order_);
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
