#include "engine/engine.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "engine/scheduler.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_files.h"
#include "util/error.h"

namespace dsv32::engine {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Cancelled: return "cancelled";
    case FinishReason::Error: return "error";
  }
  return "error";
}

namespace {

std::int64_t kv_blocks(const EngineOptions& options) {
  if (options.kv_block_tokens < 1) fail("kv_block_tokens must be positive");
  if (options.kv_cache_tokens < options.kv_block_tokens) fail("the KV budget must hold at least one block");
  return (options.kv_cache_tokens + options.kv_block_tokens - 1) / options.kv_block_tokens;
}

std::string check_sampling(const SamplingParams& p) {
  if (p.n < 1 || p.n > 64) return fmt::format("n must be between 1 and 64, got {}", p.n);
  if (!(p.temperature >= 0.0f && p.temperature <= 100.0f)) return "temperature must be between 0 and 100";
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return "top_p must be in (0, 1]";
  if (p.top_k < 0) return "top_k must be 0 (off) or positive";
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return "min_p must be in [0, 1]";
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) return "presence_penalty must be between -2 and 2";
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) return "frequency_penalty must be between -2 and 2";
  if (!(p.repetition_penalty > 0.0f && p.repetition_penalty <= 10.0f)) return "repetition_penalty must be in (0, 10]";
  if (p.logprobs > 20) return "logprobs must be at most 20";
  if (p.max_tokens == 0 || p.max_tokens < -1) return "max_tokens must be positive";
  return {};
}

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  ComputeContext ctx;
  Checkpoint checkpoint;
  Model model;
  Tokenizer tokenizer;
  KvPool pool;
  std::int64_t max_context;
  Scheduler scheduler;

  mutable std::mutex mutex;
  std::condition_variable wake;
  std::vector<std::shared_ptr<RequestState>> inbox;
  std::vector<std::int64_t> cancels;
  bool cancel_everything = false;
  bool refusing = false;
  bool stopping = false;
  std::int64_t next_id = 1;
  EngineMetrics metrics;
  std::thread thread;

  // The context with the run's precision, set before the model and its cache are made (the
  // cache's format follows it: Model::kv_layout).
  static ComputeContext& configured(ComputeContext& ctx, const EngineOptions& opts) {
    ctx.set_precision(opts.precision);
    ctx.set_indexer_products(opts.indexer_products);
    return ctx;
  }

  explicit Impl(const EngineOptions& opts)
      : options(opts),
        ctx(opts.threads, best_vector_ops(), opts.numa),
        checkpoint(opts.model_dir),
        model(checkpoint, configured(ctx, opts)),
        tokenizer(opts.tokenizer ? *opts.tokenizer : find_tokenizer(opts.model_dir)),
        pool(model.kv_layout(opts.kv_block_tokens), kv_blocks(opts)),
        max_context(std::min(model.config().max_position_embeddings, pool.num_blocks() * opts.kv_block_tokens)),
        scheduler(model, tokenizer, pool,
                  SchedulerLimits{.max_batch_tokens = opts.max_batch_tokens, .max_running = opts.max_running, .max_context = max_context}) {
    // Several NUMA nodes: read the weights now, interleaved over them, rather than on first use
    // by whichever thread (one node would then hold them all).
    if (ctx.numa_spread()) checkpoint.prefault(false, &ctx.numa_topology());
    model.scan_fp8_codes();
    if (static_cast<std::int64_t>(tokenizer.id_count()) > model.config().vocab_size) {
      fail("{}: the tokenizer has {} ids but the model's vocabulary has {}", opts.model_dir.string(), tokenizer.id_count(),
           model.config().vocab_size);
    }
    if (model.config().eos_token_id >= static_cast<std::int64_t>(tokenizer.id_count())) {
      fail("{}: eos_token_id {} is not a token of the tokenizer", opts.model_dir.string(), model.config().eos_token_id);
    }
    metrics.kv_blocks_total = pool.num_blocks();
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      cancel_everything = true;
    }
    wake.notify_all();
    thread.join();
  }

  void loop() {
    for (;;) {
      std::vector<std::shared_ptr<RequestState>> arrived;
      std::vector<std::int64_t> cancelled;
      bool cancel_all = false;
      {
        std::unique_lock lock(mutex);
        const bool busy = scheduler.running() + scheduler.waiting() > 0;
        wake.wait(lock, [&] { return stopping || busy || !inbox.empty() || !cancels.empty() || cancel_everything; });
        arrived.swap(inbox);
        cancelled.swap(cancels);
        cancel_all = cancel_everything;
        cancel_everything = false;
        if (stopping && !busy && arrived.empty()) return;
      }
      // Nothing may escape the engine thread: a failure ends the requests it concerns.
      try {
        for (auto& request : arrived) scheduler.add(std::move(request));
        for (const auto id : cancelled) scheduler.cancel(id);
        if (cancel_all) scheduler.cancel_all();
        scheduler.step();
      } catch (const std::exception& e) {
        spdlog::error("engine step failed, cancelling everything: {}", e.what());
        scheduler.cancel_all();
      }
      update_metrics();
    }
  }

  // Engine thread only. Also called before each on_done, so that a client that saw its request
  // end also sees the engine's counts without it.
  void update_metrics() {
    std::lock_guard lock(mutex);
    metrics.requests_running = scheduler.active_running();
    metrics.requests_waiting = scheduler.active_waiting() + static_cast<std::int64_t>(inbox.size());
    metrics.kv_blocks_used = pool.num_blocks() - pool.free_blocks();
    metrics.forward_steps_total = scheduler.forward_steps();
  }

  SubmitResult submit(GenerationRequest request) {
    const auto prompt = static_cast<std::int64_t>(request.prompt.size());
    if (prompt == 0) return {SubmitStatus::Invalid, 0, "the prompt is empty"};
    for (const auto token : request.prompt) {
      if (token < 0 || token >= model.config().vocab_size) {
        return {SubmitStatus::Invalid, 0, fmt::format("token id {} is outside the vocabulary [0, {})", token, model.config().vocab_size)};
      }
    }
    if (auto problem = check_sampling(request.sampling); !problem.empty()) return {SubmitStatus::Invalid, 0, problem};
    if (prompt + 1 > max_context) {
      return {SubmitStatus::PromptTooLong, 0,
              fmt::format("the prompt has {} tokens; this server's context holds at most {} (prompt and completion together)", prompt, max_context)};
    }
    if (request.sampling.max_tokens > 0 && prompt + request.sampling.max_tokens > max_context) {
      return {SubmitStatus::PromptTooLong, 0,
              fmt::format("the prompt ({} tokens) plus max_tokens ({}) exceed the context of {} tokens", prompt, request.sampling.max_tokens, max_context)};
    }
    auto state = std::make_shared<RequestState>();
    state->request = std::move(request);
    state->submitted = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    if (refusing || stopping) return {SubmitStatus::ShuttingDown, 0, "the server is shutting down"};
    if (metrics.requests_waiting + static_cast<std::int64_t>(inbox.size()) >= options.max_waiting) {
      return {SubmitStatus::QueueFull, 0, fmt::format("{} requests are already waiting", options.max_waiting)};
    }
    state->id = next_id++;
    ++metrics.requests_total;
    metrics.prompt_tokens_total += prompt;
    inbox.push_back(state);
    wake.notify_all();
    return {SubmitStatus::Accepted, state->id, {}};
  }
};

Engine::Engine(const EngineOptions& options) : impl_(std::make_unique<Impl>(options)) {}
Engine::~Engine() = default;

SubmitResult Engine::submit(GenerationRequest request) {
  // Count tokens as they are delivered, for the metrics.
  auto on_event = std::move(request.on_event);
  auto on_done = std::move(request.on_done);
  Impl* impl = impl_.get();
  request.on_event = [impl, on_event = std::move(on_event)](const TokenEvent& event) {
    if (event.token) {
      std::lock_guard lock(impl->mutex);
      ++impl->metrics.generation_tokens_total;
    }
    if (on_event) on_event(event);
  };
  request.on_done = [impl, on_done = std::move(on_done)](const RequestUsage& usage) {
    impl->update_metrics();
    {
      std::lock_guard lock(impl->mutex);
      impl->metrics.cached_prompt_tokens_total += usage.cached_prompt_tokens;
    }
    if (on_done) on_done(usage);
  };
  return impl_->submit(std::move(request));
}

void Engine::cancel(std::int64_t request_id) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->cancels.push_back(request_id);
  }
  impl_->wake.notify_all();
}

void Engine::shutdown(double grace_s) {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->refusing = true;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  while (std::chrono::steady_clock::now() < deadline) {
    const EngineMetrics now = metrics();
    if (now.requests_running + now.requests_waiting == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  {
    std::lock_guard lock(impl_->mutex);
    impl_->cancel_everything = true;
  }
  impl_->wake.notify_all();
}

EngineMetrics Engine::metrics() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->metrics;
}

const Tokenizer& Engine::tokenizer() const { return impl_->tokenizer; }
const ModelConfig& Engine::model_config() const { return impl_->model.config(); }
std::int64_t Engine::max_context_tokens() const { return impl_->max_context; }

}  // namespace dsv32::engine
