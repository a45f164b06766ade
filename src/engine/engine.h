#pragma once
// The generation engine: many requests at once over one model, with continuous batching,
// a paged KV cache with prefix reuse, and per-request sampling. Requests are submitted from
// any thread; their events are delivered on the engine's own thread through the callback given
// at submission, which must return quickly (hand the event to your own queue).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/sampling_params.h"
#include "kernels/compute_context.h"

namespace dsv32 {
class Tokenizer;
struct ModelConfig;
}  // namespace dsv32

namespace dsv32::engine {

struct EngineOptions {
  std::filesystem::path model_dir;
  std::optional<std::filesystem::path> tokenizer;  // default: find_tokenizer(model_dir)
  unsigned threads = 0;                  // 0: all cores
  Precision precision = Precision::F32;  // of the model's batched products (kernels/compute_context.h)
  IndexerProducts indexer_products = IndexerProducts::Auto;  // how the bf16 mode scores the indexer's keys
  NumaPlacement numa = NumaPlacement::Auto;                  // threads and weights over NUMA nodes
  std::int64_t kv_cache_tokens = 65536;  // KV budget, in tokens (rounded up to whole blocks)
  std::int64_t kv_block_tokens = 64;
  std::int64_t max_batch_tokens = 2048;  // tokens per forward step (prefill chunks + decodes)
  std::int64_t max_running = 64;         // sequences decoding together
  std::int64_t max_waiting = 256;        // queued requests before submit() refuses
};

enum class FinishReason { Stop, Length, Cancelled, Error };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled", "error"

struct TopLogprob {
  std::int32_t token;
  std::string text;  // the token's own bytes, lossily decoded
  float logprob;
};

// One generated token of one choice (index < n), or the end of that choice.
struct TokenEvent {
  std::int64_t request_id = 0;
  int choice = 0;
  std::optional<std::int32_t> token;  // absent on a pure finish event
  // New complete UTF-8 text since the previous event of this choice (may be empty while a
  // character or a possible stop string is held back). Stop strings are never included.
  std::string text;
  std::optional<float> logprob;          // when sampling.logprobs >= 0
  std::vector<TopLogprob> top_logprobs;  // sampling.logprobs entries
  std::optional<FinishReason> finish;    // set on the choice's last event
  std::string matched_stop;              // the stop string or id that ended it, if any
  std::string error;                     // with FinishReason::Error
};

struct RequestUsage {
  std::int64_t prompt_tokens = 0;
  std::int64_t cached_prompt_tokens = 0;  // reused from the prefix cache, not recomputed
  std::int64_t completion_tokens = 0;     // over all choices
  double queue_s = 0, time_to_first_token_s = 0;
};

struct GenerationRequest {
  std::vector<std::int32_t> prompt;
  SamplingParams sampling;
  // Called on the engine thread for every event; after a choice's finish event nothing more
  // comes for it. on_done follows the last choice's finish, with the usage.
  std::function<void(const TokenEvent&)> on_event;
  std::function<void(const RequestUsage&)> on_done;
};

enum class SubmitStatus { Accepted, QueueFull, PromptTooLong, Invalid, ShuttingDown };

struct SubmitResult {
  SubmitStatus status;
  std::int64_t request_id = 0;  // when accepted
  std::string message;          // why not, for the client
};

struct EngineMetrics {
  std::int64_t requests_total = 0, requests_running = 0, requests_waiting = 0;
  std::int64_t prompt_tokens_total = 0, cached_prompt_tokens_total = 0, generation_tokens_total = 0;
  std::int64_t kv_blocks_used = 0, kv_blocks_total = 0;
  std::int64_t forward_steps_total = 0;
};

class Engine {
 public:
  explicit Engine(const EngineOptions& options);
  ~Engine();  // finishes in-flight requests as Cancelled, then stops
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  SubmitResult submit(GenerationRequest request);
  // Stops the request at once and frees its cache; its remaining choices end as Cancelled.
  void cancel(std::int64_t request_id);
  // Refuse new requests, let running ones finish (or cancel them after `grace_s`).
  void shutdown(double grace_s);

  EngineMetrics metrics() const;
  const Tokenizer& tokenizer() const;
  const ModelConfig& model_config() const;
  std::int64_t max_context_tokens() const;  // min(model positions, KV budget)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dsv32::engine
