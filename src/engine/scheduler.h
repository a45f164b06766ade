#pragma once
// Continuous batching over one model: admits waiting sequences while KV blocks allow, builds
// each step from every decoding sequence (one token each) plus prefill chunks of the others
// within a token budget, runs one forward for all of them, samples and emits. Runs on the
// engine thread only.
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/prefix_cache.h"
#include "engine/sequence.h"
#include "model/model.h"

namespace dsv32::engine {

struct SchedulerLimits {
  std::int64_t max_batch_tokens;
  std::int64_t max_running;
  std::int64_t max_context;
};

class Scheduler {
 public:
  Scheduler(Model& model, const Tokenizer& tokenizer, KvPool& pool, SchedulerLimits limits);

  void add(std::shared_ptr<RequestState> request);
  void cancel(std::int64_t request_id);
  void cancel_all();
  // One forward step; false when there was nothing to run.
  bool step();

  std::int64_t running() const { return static_cast<std::int64_t>(running_.size()); }
  std::int64_t waiting() const { return static_cast<std::int64_t>(waiting_.size()); }
  // Sequences not finished yet (during callbacks, finished ones are still listed).
  std::int64_t active_running() const;
  std::int64_t active_waiting() const;
  std::int64_t prefix_cache_blocks() const { return prefix_cache_.blocks(); }
  std::int64_t forward_steps() const { return forward_steps_; }

 private:
  void admit();
  bool make_room(std::int64_t blocks);
  void preempt_last();
  void reserve_decode_blocks();
  // Bookkeeping after a forward; true when the sequence now takes a token.
  bool after_forward(Sequence& sequence);
  void emit_token(Sequence& sequence, const SampledToken& sampled);
  void finish(Sequence& sequence, TokenEvent event, FinishReason reason);
  void cancel_where(const std::function<bool(const Sequence&)>& selected);
  void remove_finished();

  Model& model_;
  const Tokenizer& tokenizer_;
  KvPool& pool_;
  PrefixCache prefix_cache_;
  SchedulerLimits limits_;
  std::int32_t eos_token_;
  std::size_t sampled_vocab_;  // tokens with text: min(model rows, tokenizer ids)
  std::deque<std::unique_ptr<Sequence>> waiting_;
  std::vector<std::unique_ptr<Sequence>> running_;
  std::vector<SamplerScratch> sampler_scratch_;  // one per thread of the model's pool
  // This step's draws: the members that take a token, and what each drew (or the error).
  struct Draw {
    std::size_t member;
    SampledToken sampled;
    std::string error;
  };
  std::vector<Draw> draws_;
  std::vector<SequenceStep> steps_;
  std::vector<Sequence*> step_members_;
  std::int64_t forward_steps_ = 0;
};

}  // namespace dsv32::engine
