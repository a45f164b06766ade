#pragma once
// One choice of one request as the scheduler sees it: its tokens, how many of them are in its
// KV cache, and the per-choice streaming state (sampler, detokeniser, stop strings).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/engine.h"
#include "engine/sampler.h"
#include "engine/stop_matcher.h"
#include "model/kv_cache.h"
#include "tokenizer/stream_decoder.h"

namespace dsv32::engine {

struct RequestState {
  std::int64_t id = 0;
  GenerationRequest request;
  RequestUsage usage;
  int choices_left = 0;
  std::chrono::steady_clock::time_point submitted;
  bool first_token_seen = false;
};

struct Sequence {
  std::shared_ptr<RequestState> request;
  int choice = 0;
  std::vector<std::int32_t> tokens;  // prompt, then generated
  std::int64_t prompt_tokens = 0;
  std::int64_t computed = 0;         // tokens[0, computed) are in the cache
  std::int64_t max_tokens = 0;       // tokens.size() may grow to prompt_tokens + max_tokens
  std::unique_ptr<SequenceCache> cache;
  Sampler sampler;
  StreamDecoder decoder;
  StopMatcher stop;
  bool prefix_looked_up = false;
  bool finished = false;

  Sequence(std::shared_ptr<RequestState> state, int choice_index, const Tokenizer& tokenizer, std::int64_t vocab,
           std::int64_t max_new)
      : request(std::move(state)),
        choice(choice_index),
        tokens(request->request.prompt),
        prompt_tokens(static_cast<std::int64_t>(tokens.size())),
        max_tokens(max_new),
        sampler(request->request.sampling, tokens, vocab, static_cast<std::uint64_t>(choice_index)),
        decoder(tokenizer, false),
        stop(request->request.sampling.stop) {}

  std::int64_t pending() const { return static_cast<std::int64_t>(tokens.size()) - computed; }
  std::int64_t generated() const { return static_cast<std::int64_t>(tokens.size()) - prompt_tokens; }
};

}  // namespace dsv32::engine
