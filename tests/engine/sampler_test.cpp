#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "engine/sampler.h"

namespace dsv32::engine {
namespace {

SamplerScratch scratch;  // tests run one at a time in a process

std::vector<float> ramp_logits(std::size_t vocab) {
  std::vector<float> logits(vocab);
  for (std::size_t i = 0; i < vocab; ++i) logits[i] = std::sin(static_cast<float>(i) * 0.37f) * 3.0f;
  return logits;
}

std::int32_t argmax(const std::vector<float>& logits) {
  return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

TEST(Sampler, TemperatureZeroIsGreedy) {
  const auto logits = ramp_logits(1000);
  Sampler sampler(SamplingParams{.temperature = 0.0f}, {}, 1000, 0);
  EXPECT_EQ(sampler.sample(logits, scratch).token, argmax(logits));
}

TEST(Sampler, TopKOneIsGreedyAtAnyTemperature) {
  const auto logits = ramp_logits(1000);
  Sampler sampler(SamplingParams{.temperature = 5.0f, .top_k = 1, .seed = 3}, {}, 1000, 0);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(sampler.sample(logits, scratch).token, argmax(logits));
}

TEST(Sampler, SameSeedSameStreamSameTokens) {
  const auto logits = ramp_logits(5000);
  const SamplingParams params{.temperature = 1.0f, .top_p = 0.9f, .seed = 42};
  Sampler a(params, {}, 5000, 0), b(params, {}, 5000, 0), other_choice(params, {}, 5000, 1);
  std::vector<std::int32_t> first, second, third;
  for (int i = 0; i < 50; ++i) {
    first.push_back(a.sample(logits, scratch).token);
    second.push_back(b.sample(logits, scratch).token);
    third.push_back(other_choice.sample(logits, scratch).token);
  }
  EXPECT_EQ(first, second);
  EXPECT_NE(first, third);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  std::vector<float> logits(100, -10.0f);
  logits[7] = 5.0f;
  logits[9] = 4.0f;  // 7 and 9 hold > 99.9% of the mass
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_p = 0.5f, .seed = 1}, {}, 100, 0);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(logits, scratch).token, 7);
  Sampler wider(SamplingParams{.temperature = 1.0f, .top_p = 0.99f, .seed = 1}, {}, 100, 0);
  std::map<std::int32_t, int> seen;
  for (int i = 0; i < 400; ++i) ++seen[wider.sample(logits, scratch).token];
  EXPECT_EQ(seen.size(), 2u);
}

// Frequencies of `draws` samples against the expected probabilities: each within 5 standard
// deviations of a binomial count.
void expect_frequencies(Sampler& sampler, const std::vector<float>& logits, const std::vector<double>& expected, int draws) {
  std::vector<int> counts(logits.size(), 0);
  for (int i = 0; i < draws; ++i) ++counts[static_cast<std::size_t>(sampler.sample(logits, scratch).token)];
  for (std::size_t t = 0; t < logits.size(); ++t) {
    const double mean = expected[t] * draws, sigma = std::sqrt(draws * expected[t] * (1.0 - expected[t]));
    EXPECT_NEAR(counts[t], mean, 5.0 * sigma + 1e-9) << "token " << t;
  }
}

std::vector<double> softmax(const std::vector<float>& logits, double temperature) {
  std::vector<double> p(logits.size());
  const double top = *std::max_element(logits.begin(), logits.end());
  for (std::size_t i = 0; i < logits.size(); ++i) p[i] = std::exp((logits[i] - top) / temperature);
  const double total = std::accumulate(p.begin(), p.end(), 0.0);
  for (double& v : p) v /= total;
  return p;
}

TEST(Sampler, TemperatureDrawsFollowTheSoftmax) {
  // 600 tokens: the draw skips whole blocks of 256 weights by their sums.
  std::vector<float> logits(600);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = i % 100 == 7 ? 4.0f + static_cast<float>(i) / 300.0f : std::sin(static_cast<float>(i));
  Sampler sampler(SamplingParams{.temperature = 0.8f, .seed = 5}, {}, 600, 0);
  expect_frequencies(sampler, logits, softmax(logits, 0.8), 40000);
}

TEST(Sampler, TopKDrawsFollowTheSoftmaxOfTheBest) {
  std::vector<float> logits(1000, 0.0f);
  for (std::size_t i = 0; i < logits.size(); ++i) logits[i] = std::cos(static_cast<float>(i) * 0.7f);
  logits[500] = logits[501] = 2.0f;  // a tie inside the top 3
  logits[900] = 2.5f;
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_k = 3, .seed = 6}, {}, 1000, 0);
  std::vector<float> best(1000, -1e30f);
  for (const std::size_t t : {500, 501, 900}) best[t] = logits[t];
  expect_frequencies(sampler, logits, softmax(best, 1.0), 20000);
}

// The nucleus is the shortest run of the best tokens (by probability, then position) whose mass
// reaches top_p: on a flat distribution with many ties, every draw lies in it and, over many
// draws, every token of it shows up.
TEST(Sampler, TopPNucleusIsTheSortedDefinition) {
  constexpr std::size_t kVocab = 3000;
  std::mt19937 rng(9);
  std::vector<float> logits(kVocab);
  for (float& logit : logits) logit = static_cast<float>(rng() % 40) * 0.05f;  // 40 levels: ties
  const float top_p = 0.3f;
  const auto p = softmax(logits, 1.0);
  std::vector<std::int32_t> order(kVocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) { return p[a] > p[b]; });
  std::set<std::int32_t> nucleus;
  double mass = 0.0;
  for (const std::int32_t t : order) {
    if (mass >= top_p) break;
    nucleus.insert(t);
    mass += p[static_cast<std::size_t>(t)];
  }
  Sampler sampler(SamplingParams{.temperature = 1.0f, .top_p = top_p, .seed = 8}, {}, kVocab, 0);
  std::set<std::int32_t> seen;
  for (int i = 0; i < 30000; ++i) {
    const std::int32_t token = sampler.sample(logits, scratch).token;
    ASSERT_TRUE(nucleus.contains(token)) << "token " << token << " is outside the nucleus of " << nucleus.size();
    seen.insert(token);
  }
  EXPECT_EQ(seen, nucleus);
}

// A subnormal temperature overflows 1 / temperature: the sharpest distribution, so greedy,
// with and without min_p (which must keep the best token whatever its weight).
TEST(Sampler, VanishingTemperatureIsGreedy) {
  const auto logits = ramp_logits(1000);
  for (const float min_p : {0.0f, 0.5f}) {
    Sampler sampler(SamplingParams{.temperature = 1e-40f, .min_p = min_p, .seed = 4}, {}, 1000, 0);
    for (int i = 0; i < 20; ++i) EXPECT_EQ(sampler.sample(logits, scratch).token, argmax(logits)) << "min_p " << min_p;
  }
}

// The vectorised argmax answers as std::max_element: the first of tied maxima across its lanes
// and its tail, index 0 when every value is -inf.
TEST(Sampler, ArgmaxIsTheFirstLargest) {
  std::vector<float> values(37, -1.0f);
  EXPECT_EQ(engine::argmax(values), 0);
  values[35] = values[20] = values[5] = 3.0f;  // lanes 3 and 5, and the tail
  EXPECT_EQ(engine::argmax(values), 5);
  values[5] = 1.0f;
  EXPECT_EQ(engine::argmax(values), 20);
  values[36] = 4.0f;
  EXPECT_EQ(engine::argmax(values), 36);
  const std::vector<float> minus_infinity(17, -std::numeric_limits<float>::infinity());
  EXPECT_EQ(engine::argmax(minus_infinity), 0);
  std::vector<float> with_nan(40, 0.0f);
  with_nan[3] = std::nanf("");
  with_nan[30] = 2.0f;
  EXPECT_EQ(engine::argmax(with_nan), 30);
}

// The draw at the edges of [0, 1): the first weighted token at 0, the last weighted one (never
// a zero weight after it) just below 1, over several blocks of the skip-by-sums walk.
TEST(Sampler, PickWeightedCoversTheRunningSum) {
  std::vector<float> weights(1000, 0.0f);
  weights[3] = 0.25f;
  weights[300] = 1e-30f;
  weights[700] = 0.5f;
  weights[701] = 0.25f;
  std::vector<double> sums;
  EXPECT_EQ(pick_weighted(weights, 0.0, sums), 3u);
  EXPECT_EQ(pick_weighted(weights, 0.2, sums), 3u);
  EXPECT_EQ(pick_weighted(weights, 0.3, sums), 700u);
  EXPECT_EQ(pick_weighted(weights, 0.74, sums), 700u);
  EXPECT_EQ(pick_weighted(weights, 0.76, sums), 701u);
  EXPECT_EQ(pick_weighted(weights, std::nextafter(1.0, 0.0), sums), 701u);
  // Many tiny weights whose float and double sums differ: the top of the range is still a
  // weighted token, not the zero weight behind it.
  std::vector<float> many(129280, 0.0f);
  for (std::size_t i = 0; i + 1 < many.size(); ++i) many[i] = 1.0f + static_cast<float>(i % 7) * 1e-7f;
  EXPECT_EQ(pick_weighted(many, std::nextafter(1.0, 0.0), sums), many.size() - 2);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  std::vector<float> logits(50, 0.0f);
  logits[3] = 3.0f;  // p(others)/p(3) = e^-3 < 0.1
  Sampler sampler(SamplingParams{.temperature = 1.0f, .min_p = 0.1f, .seed = 2}, {}, 50, 0);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sampler.sample(logits, scratch).token, 3);
}

TEST(Sampler, LogitBiasAndPenaltiesMoveTheChoice) {
  std::vector<float> logits(10, 0.0f);
  logits[4] = 2.0f;
  Sampler biased(SamplingParams{.temperature = 0.0f, .logit_bias = {{6, 5.0f}}}, {}, 10, 0);
  EXPECT_EQ(biased.sample(logits, scratch).token, 6);
  Sampler penalised(SamplingParams{.temperature = 0.0f, .presence_penalty = 1.5f, .frequency_penalty = 1.0f}, {}, 10, 0);
  EXPECT_EQ(penalised.sample(logits, scratch).token, 4);
  penalised.accept(4);  // 2 - 1.5 - 1 < 0: another token wins now
  EXPECT_NE(penalised.sample(logits, scratch).token, 4);
  Sampler repeated(SamplingParams{.temperature = 0.0f, .repetition_penalty = 3.0f}, std::vector<std::int32_t>{4}, 10, 0);
  logits[5] = 1.0f;
  EXPECT_EQ(repeated.sample(logits, scratch).token, 5);  // 2 / 3 < 1
}

TEST(Sampler, LogprobsAreOfTheModelDistribution) {
  const auto logits = ramp_logits(300);
  Sampler sampler(SamplingParams{.temperature = 0.0f, .logprobs = 5}, {}, 300, 0);
  const auto sampled = sampler.sample(logits, scratch);
  double total = 0.0;
  for (const float logit : logits) total += std::exp(logit);
  EXPECT_NEAR(sampled.logprob, logits[static_cast<std::size_t>(sampled.token)] - std::log(total), 1e-4);
  ASSERT_EQ(sampled.top.size(), 5u);
  EXPECT_EQ(sampled.top[0].first, sampled.token);
  for (std::size_t i = 1; i < 5; ++i) EXPECT_LE(sampled.top[i].second, sampled.top[i - 1].second);
}

}  // namespace
}  // namespace dsv32::engine
