#pragma once
// Turns one row of logits into the next token of one sequence, applying that request's
// penalties, bias, temperature and truncations. Its random stream belongs to the sequence, so
// a seeded request draws the same tokens whatever else is batched with it.
#include <cstdint>
#include <random>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/sampling_params.h"

namespace dsv32::engine {

struct SampledToken {
  std::int32_t token;
  float logprob = 0;                                     // of the raw model distribution
  std::vector<std::pair<std::int32_t, float>> top;       // params.logprobs best alternatives
};

// Vocabulary-sized buffers, shared by all sequences (sampling runs on the engine thread only),
// so a request costs no large allocation.
struct SamplerScratch {
  std::vector<float> work;            // logits after penalties and bias, when there are any
  std::vector<float> weights;         // the candidates' unnormalised probabilities
  std::vector<std::int32_t> order;    // the candidates' tokens (empty: every token, in order)
  std::vector<std::int32_t> select;   // top_k's scratch
  std::vector<std::int32_t> crossing; // top_p: the tokens of the bucket where the mass crosses
  std::vector<double> bucket_mass;    // top_p: mass per histogram bucket
  std::vector<double> block_sums;     // the draw's sums of weight blocks
};

// The index of the largest value, the first of equals (std::max_element's answer for numbers,
// about 15 times faster over a vocabulary); a NaN is never chosen over a number. Greedy decoding.
std::int32_t argmax(std::span<const float> values);

// The index where u (in [0, 1)) times the weights' total falls in their running sum: a draw
// with probabilities proportional to the weights (non-negative), never a zero weight unless all
// are. Whole blocks are skipped by their sums (block_sums: scratch).
std::size_t pick_weighted(std::span<const float> weights, double u, std::vector<double>& block_sums);

class Sampler {
 public:
  // `stream` tells apart the choices of one request (n > 1) that share a seed.
  Sampler(const SamplingParams& params, std::span<const std::int32_t> prompt, std::int64_t vocab, std::uint64_t stream);

  SampledToken sample(std::span<const float> logits, SamplerScratch& scratch);
  // Records a token that is now part of the sequence (for the penalties).
  void accept(std::int32_t token);

 private:
  bool changes_logits() const;  // any bias or penalty that applies now
  void apply_penalties_and_bias(std::vector<float>& logits) const;
  std::int32_t draw(std::span<const float> logits, SamplerScratch& scratch);

  SamplingParams params_;
  std::int64_t vocab_;
  std::mt19937_64 rng_;
  std::unordered_map<std::int32_t, std::int32_t> generated_counts_;
  std::unordered_map<std::int32_t, bool> seen_;  // prompt and generated, for repetition_penalty
};

}  // namespace dsv32::engine
