#pragma once
// A stand-in generator for tests: every request's choices "generate" a fixed completion (the
// next of a list, in turn), one token per choice per tick, through the same event interface as
// the engine. It lets the tool-call round trip be tested with a model whose output is random,
// and measures the HTTP layer without model cost. `dsv32 serve --debug-scripted-output FILE`.
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/backend.h"

namespace dsv32::server {

struct ScriptedOptions {
  std::vector<std::string> completions;  // raw model output, special tokens written out
  double token_interval_ms = 2;          // time per tick
  std::int64_t max_context_tokens = 8192;
  std::int64_t max_active = 256;  // requests at once before submit() answers QueueFull
};

// Reads FILE: a JSON array of strings (one completion each, used in turn), or else the whole
// file as one completion.
std::vector<std::string> read_scripted_completions(const std::filesystem::path& file);

class ScriptedBackend final : public Backend {
 public:
  ScriptedBackend(std::shared_ptr<const Tokenizer> tokenizer, ScriptedOptions options);
  ~ScriptedBackend() override;

  engine::SubmitResult submit(engine::GenerationRequest request) override;
  void cancel(std::int64_t request_id) override;
  void shutdown(double grace_s) override;
  engine::EngineMetrics metrics() const override;
  const Tokenizer& tokenizer() const override { return *tokenizer_; }
  std::int64_t max_context_tokens() const override { return options_.max_context_tokens; }

 private:
  struct Active;
  void run();
  bool tick(Active& active);  // true when the request is done

  std::shared_ptr<const Tokenizer> tokenizer_;
  ScriptedOptions options_;
  std::vector<std::vector<std::int32_t>> scripts_;  // tokenized completions

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<std::unique_ptr<Active>> active_;
  std::vector<std::int64_t> cancelled_;
  std::int64_t next_id_ = 1;
  std::size_t next_script_ = 0;
  bool refusing_ = false, stop_ = false;
  engine::EngineMetrics metrics_;
  std::thread worker_;
};

}  // namespace dsv32::server
