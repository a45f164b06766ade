#include "engine/scheduler.h"

#include <algorithm>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace dsv32::engine {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Scheduler::Scheduler(Model& model, const Tokenizer& tokenizer, KvPool& pool, SchedulerLimits limits)
    : model_(model),
      tokenizer_(tokenizer),
      pool_(pool),
      prefix_cache_(pool),
      limits_(limits),
      eos_token_(static_cast<std::int32_t>(model.config().eos_token_id)),
      sampled_vocab_(std::min<std::size_t>(static_cast<std::size_t>(model.config().vocab_size), tokenizer.id_count())) {}

void Scheduler::add(std::shared_ptr<RequestState> request) {
  const auto& params = request->request.sampling;
  const auto prompt = static_cast<std::int64_t>(request->request.prompt.size());
  const std::int64_t room = limits_.max_context - prompt;
  const std::int64_t max_new = params.max_tokens < 0 ? room : std::min(params.max_tokens, room);
  request->choices_left = params.n;
  request->usage.prompt_tokens = prompt;
  for (int choice = 0; choice < params.n; ++choice) {
    waiting_.push_back(std::make_unique<Sequence>(request, choice, tokenizer_, static_cast<std::int64_t>(sampled_vocab_), max_new));
  }
}

void Scheduler::cancel(std::int64_t request_id) {
  cancel_where([request_id](const Sequence& sequence) { return sequence.request->id == request_id; });
}

void Scheduler::cancel_all() {
  cancel_where([](const Sequence&) { return true; });
}

void Scheduler::cancel_where(const std::function<bool(const Sequence&)>& selected) {
  const auto cancel_in = [&](auto& queue) {
    for (auto& sequence : queue) {
      if (!sequence->finished && selected(*sequence)) finish(*sequence, {}, FinishReason::Cancelled);
    }
  };
  cancel_in(running_);
  cancel_in(waiting_);
  remove_finished();
}

bool Scheduler::make_room(std::int64_t blocks) {
  if (pool_.free_blocks() < blocks) prefix_cache_.evict(blocks - pool_.free_blocks());
  return pool_.free_blocks() >= blocks;
}

// Recompute preemption (as vLLM): the newest running sequence gives its blocks back and waits
// at the front of the queue; its tokens and sampling state are kept, so it resumes exactly.
void Scheduler::preempt_last() {
  std::unique_ptr<Sequence> victim = std::move(running_.back());
  running_.pop_back();
  victim->cache->clear();
  victim->computed = 0;
  victim->prefix_looked_up = false;
  waiting_.push_front(std::move(victim));
}

void Scheduler::admit() {
  const std::int64_t block_tokens = pool_.layout().block_tokens;
  while (!waiting_.empty() && static_cast<std::int64_t>(running_.size()) < limits_.max_running) {
    Sequence& sequence = *waiting_.front();
    if (!sequence.cache) sequence.cache = std::make_unique<SequenceCache>(pool_);
    if (!sequence.prefix_looked_up) {
      sequence.prefix_looked_up = true;
      // At least the last token is computed again: its logits give the next token.
      const auto blocks = prefix_cache_.match(sequence.tokens, static_cast<std::int64_t>(sequence.tokens.size()) - 1);
      if (!blocks.empty()) {
        const auto reused = static_cast<std::int64_t>(blocks.size()) * block_tokens;
        sequence.cache->adopt(blocks, reused);
        sequence.computed = reused;
        if (sequence.generated() == 0) sequence.request->usage.cached_prompt_tokens = std::max(sequence.request->usage.cached_prompt_tokens, std::min(reused, sequence.prompt_tokens));
      }
    }
    const auto needed = static_cast<std::int64_t>(sequence.tokens.size()) + 1;
    if (!make_room(sequence.cache->blocks_missing(needed))) break;
    sequence.cache->reserve(needed);
    if (sequence.request->usage.queue_s == 0) sequence.request->usage.queue_s = seconds_since(sequence.request->submitted);
    running_.push_back(std::move(waiting_.front()));
    waiting_.pop_front();
  }
}

void Scheduler::reserve_decode_blocks() {
  for (std::size_t i = 0; i < running_.size(); ++i) {
    Sequence& sequence = *running_[i];
    const std::int64_t needed = sequence.computed + sequence.pending() + 1;
    while (sequence.cache->blocks_missing(needed) > 0 && !make_room(sequence.cache->blocks_missing(needed))) {
      const bool self = i + 1 == running_.size();
      preempt_last();
      if (self) return;
    }
    if (i < running_.size()) sequence.cache->reserve(needed);
  }
}

bool Scheduler::step() {
  admit();
  reserve_decode_blocks();
  if (running_.empty()) return false;
  steps_.clear();
  step_members_.clear();
  std::int64_t budget = limits_.max_batch_tokens;
  for (auto& sequence : running_) {  // decodes first: they must keep moving
    if (sequence->pending() != 1) continue;
    steps_.push_back({.tokens = std::span(sequence->tokens).subspan(static_cast<std::size_t>(sequence->computed), 1),
                      .cache = sequence->cache.get()});
    step_members_.push_back(sequence.get());
    --budget;
  }
  for (auto& sequence : running_) {  // then prefill chunks, oldest first
    if (sequence->pending() <= 1 || budget <= 0) continue;
    const std::int64_t chunk = std::min(sequence->pending(), budget);
    steps_.push_back({.tokens = std::span(sequence->tokens).subspan(static_cast<std::size_t>(sequence->computed), static_cast<std::size_t>(chunk)),
                      .cache = sequence->cache.get()});
    step_members_.push_back(sequence.get());
    budget -= chunk;
  }
  if (steps_.empty()) return false;
  std::span<const float> logits;
  try {
    logits = model_.forward(steps_);
  } catch (const std::exception& e) {
    spdlog::error("forward step failed: {}", e.what());
    for (Sequence* sequence : step_members_) {
      TokenEvent event;
      event.error = e.what();
      finish(*sequence, std::move(event), FinishReason::Error);
    }
    remove_finished();
    return true;
  }
  ++forward_steps_;
  const auto fail_member = [&](Sequence& sequence, const std::string& error) {
    spdlog::error("request {}: {}", sequence.request->id, error);
    TokenEvent event;
    event.error = error;
    if (!sequence.finished) finish(sequence, std::move(event), FinishReason::Error);
  };
  draws_.clear();
  for (std::size_t i = 0; i < step_members_.size(); ++i) {
    try {
      if (after_forward(*step_members_[i])) draws_.push_back({.member = i, .sampled = {}, .error = {}});
    } catch (const std::exception& e) {
      fail_member(*step_members_[i], e.what());
    }
  }
  // The draws run on the model's threads (each sequence's sampler owns its random stream, so
  // its token does not depend on the thread); tokens are emitted afterwards, in order. Rows past
  // the tokenizer's last id are padding (129280 rows for 128815 ids in V3.2): they have no text
  // and are never sampled.
  const auto vocab = static_cast<std::size_t>(model_.config().vocab_size);
  ThreadPool& threads = model_.context().pool();
  if (sampler_scratch_.size() < threads.size()) sampler_scratch_.resize(threads.size());
  threads.parallel_for(draws_.size(), [&](std::size_t begin, std::size_t end, unsigned thread) {
    for (std::size_t d = begin; d < end; ++d) {
      Draw& draw = draws_[d];
      try {
        draw.sampled = step_members_[draw.member]->sampler.sample(logits.subspan(draw.member * vocab, sampled_vocab_), sampler_scratch_[thread]);
      } catch (const std::exception& e) {
        draw.error = e.what();
      }
    }
  });
  for (const Draw& draw : draws_) {
    Sequence& sequence = *step_members_[draw.member];
    try {
      if (!draw.error.empty()) throw std::runtime_error(draw.error);
      emit_token(sequence, draw.sampled);
    } catch (const std::exception& e) {
      fail_member(sequence, e.what());
    }
  }
  remove_finished();
  return true;
}

bool Scheduler::after_forward(Sequence& sequence) {
  if (sequence.finished) return false;
  const bool prompt_was_pending = sequence.computed < sequence.prompt_tokens;
  sequence.computed = sequence.cache->length();
  if (prompt_was_pending && sequence.computed >= sequence.prompt_tokens) {
    prefix_cache_.insert(std::span(sequence.tokens).first(static_cast<std::size_t>(sequence.prompt_tokens)), sequence.cache->blocks());
  }
  return sequence.pending() == 0;  // a prefill chunk short of the end takes no token yet
}

void Scheduler::emit_token(Sequence& sequence, const SampledToken& sampled) {
  RequestState& request = *sequence.request;
  const SamplingParams& params = request.request.sampling;
  if (!request.first_token_seen) {
    request.first_token_seen = true;
    request.usage.time_to_first_token_s = seconds_since(request.submitted);
  }
  sequence.tokens.push_back(sampled.token);
  sequence.sampler.accept(sampled.token);
  ++request.usage.completion_tokens;

  TokenEvent event;
  event.token = sampled.token;
  if (params.logprobs >= 0) {
    event.logprob = sampled.logprob;
    for (const auto& [token, logprob] : sampled.top) {
      event.top_logprobs.push_back({token, tokenizer_.decode(std::span(&token, 1)), logprob});
    }
  }
  const bool is_eos = sampled.token == eos_token_ && !params.ignore_eos;
  const bool is_stop_id = std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), sampled.token) != params.stop_token_ids.end();
  if (is_eos || is_stop_id) {  // the stop token's own text is not part of the answer
    event.text = sequence.stop.feed(sequence.decoder.finish());
    if (!sequence.stop.matched()) event.text += sequence.stop.flush();
    if (is_stop_id) event.matched_stop = std::to_string(sampled.token);
    if (sequence.stop.matched()) event.matched_stop = *sequence.stop.matched();
    return finish(sequence, std::move(event), FinishReason::Stop);
  }
  event.text = sequence.stop.feed(sequence.decoder.step(sampled.token));
  if (sequence.stop.matched()) {
    event.matched_stop = *sequence.stop.matched();
    return finish(sequence, std::move(event), FinishReason::Stop);
  }
  if (sequence.generated() >= sequence.max_tokens || static_cast<std::int64_t>(sequence.tokens.size()) >= limits_.max_context) {
    event.text += sequence.stop.feed(sequence.decoder.finish());
    if (sequence.stop.matched()) {
      event.matched_stop = *sequence.stop.matched();
      return finish(sequence, std::move(event), FinishReason::Stop);
    }
    event.text += sequence.stop.flush();
    return finish(sequence, std::move(event), FinishReason::Length);
  }
  if (request.request.on_event) request.request.on_event(event);
}

void Scheduler::finish(Sequence& sequence, TokenEvent event, FinishReason reason) {
  RequestState& request = *sequence.request;
  sequence.finished = true;
  event.request_id = request.id;
  event.choice = sequence.choice;
  event.finish = reason;
  if (sequence.cache) {
    // Keep what was computed for later requests that share this prefix (the next chat turn).
    if (reason != FinishReason::Error) {
      prefix_cache_.insert(std::span(sequence.tokens).first(static_cast<std::size_t>(sequence.cache->length())), sequence.cache->blocks());
    }
    sequence.cache->clear();
  }
  if (request.request.on_event) request.request.on_event(event);
  if (--request.choices_left == 0 && request.request.on_done) request.request.on_done(request.usage);
}

std::int64_t Scheduler::active_running() const {
  return std::count_if(running_.begin(), running_.end(), [](const auto& s) { return !s->finished; });
}

std::int64_t Scheduler::active_waiting() const {
  return std::count_if(waiting_.begin(), waiting_.end(), [](const auto& s) { return !s->finished; });
}

void Scheduler::remove_finished() {
  std::erase_if(running_, [](const auto& sequence) { return sequence->finished; });
  std::erase_if(waiting_, [](const auto& sequence) { return sequence->finished; });
}

}  // namespace dsv32::engine
