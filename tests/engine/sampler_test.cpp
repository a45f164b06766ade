#include <gtest/gtest.h>

#include <cmath>
#include <map>

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
