#pragma once
// Per-request sampling, as the OpenAI API and vLLM spell it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace dsv32::engine {

struct SamplingParams {
  float temperature = 1.0f;  // 0: greedy
  float top_p = 1.0f;
  std::int32_t top_k = 0;    // 0: off
  float min_p = 0.0f;
  std::optional<std::uint64_t> seed;  // same seed, same tokens, whatever runs beside it
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  std::map<std::int32_t, float> logit_bias;
  std::vector<std::string> stop;             // matched across token boundaries, not returned
  std::vector<std::int32_t> stop_token_ids;
  std::int64_t max_tokens = -1;              // -1: until the context is full
  bool ignore_eos = false;
  std::int32_t logprobs = -1;                // -1: none; k >= 0: chosen token + k alternatives
  std::int32_t n = 1;
};

}  // namespace dsv32::engine
