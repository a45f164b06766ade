#include "server/scripted_backend.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tokenizer/stream_decoder.h"
#include "util/error.h"

namespace dsv32::server {

struct ScriptedBackend::Active {
  struct Choice {
    std::unique_ptr<StreamDecoder> decoder;
    std::size_t position = 0;
    bool done = false;
  };
  std::int64_t id = 0;
  engine::GenerationRequest request;
  const std::vector<std::int32_t>* script = nullptr;
  std::vector<Choice> choices;
  bool cancelled = false;
  std::chrono::steady_clock::time_point submitted;
  double first_token_s = -1;
  std::int64_t completion_tokens = 0;
};

std::vector<std::string> read_scripted_completions(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) fail("cannot read the scripted output file {}", file.string());
  std::stringstream text;
  text << in.rdbuf();
  const nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, false);
  if (parsed.is_array() && !parsed.empty() &&
      std::all_of(parsed.begin(), parsed.end(), [](const nlohmann::json& item) { return item.is_string(); })) {
    return parsed.get<std::vector<std::string>>();
  }
  return {text.str()};
}

ScriptedBackend::ScriptedBackend(std::shared_ptr<const Tokenizer> tokenizer, ScriptedOptions options)
    : tokenizer_(std::move(tokenizer)), options_(std::move(options)) {
  if (options_.completions.empty()) options_.completions.emplace_back("");
  for (const std::string& completion : options_.completions) scripts_.push_back(tokenizer_->encode(completion));
  metrics_.kv_blocks_total = 1;
  worker_ = std::thread([this] { run(); });
}

ScriptedBackend::~ScriptedBackend() {
  shutdown(0);
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

engine::SubmitResult ScriptedBackend::submit(engine::GenerationRequest request) {
  std::lock_guard lock(mutex_);
  if (refusing_) return {engine::SubmitStatus::ShuttingDown, 0, "the server is shutting down"};
  if (request.sampling.n < 1) return {engine::SubmitStatus::Invalid, 0, "n must be at least 1"};
  if (static_cast<std::int64_t>(request.prompt.size()) >= options_.max_context_tokens) {
    return {engine::SubmitStatus::PromptTooLong, 0, "the prompt fills the context"};
  }
  if (static_cast<std::int64_t>(active_.size()) >= options_.max_active) {
    return {engine::SubmitStatus::QueueFull, 0, "too many requests in flight"};
  }
  auto active = std::make_unique<Active>();
  active->id = next_id_++;
  active->script = &scripts_[next_script_++ % scripts_.size()];
  active->submitted = std::chrono::steady_clock::now();
  for (int i = 0; i < request.sampling.n; ++i) {
    active->choices.push_back({std::make_unique<StreamDecoder>(*tokenizer_, false), 0, false});
  }
  active->request = std::move(request);
  metrics_.requests_total++;
  metrics_.prompt_tokens_total += static_cast<std::int64_t>(active->request.prompt.size());
  const std::int64_t id = active->id;
  active_.push_back(std::move(active));
  wake_.notify_all();
  return {engine::SubmitStatus::Accepted, id, ""};
}

void ScriptedBackend::cancel(std::int64_t request_id) {
  std::lock_guard lock(mutex_);
  cancelled_.push_back(request_id);
}

void ScriptedBackend::shutdown(double grace_s) {
  {
    std::lock_guard lock(mutex_);
    refusing_ = true;
  }
  // Let running requests finish within the grace period, then cancel what is left.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
  std::unique_lock lock(mutex_);
  while (!active_.empty() && std::chrono::steady_clock::now() < deadline) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lock.lock();
  }
  for (const auto& active : active_) cancelled_.push_back(active->id);
}

engine::EngineMetrics ScriptedBackend::metrics() const {
  std::lock_guard lock(mutex_);
  engine::EngineMetrics metrics = metrics_;
  metrics.requests_running = static_cast<std::int64_t>(active_.size());
  return metrics;
}

// Emits one token (or the finish) of every unfinished choice; callbacks run without the lock.
bool ScriptedBackend::tick(Active& active) {
  const auto& script = *active.script;
  const std::int64_t max_tokens = active.request.sampling.max_tokens;
  bool all_done = true;
  for (std::size_t c = 0; c < active.choices.size(); ++c) {
    auto& choice = active.choices[c];
    if (choice.done) continue;
    engine::TokenEvent event;
    event.request_id = active.id;
    event.choice = static_cast<int>(c);
    const bool length = max_tokens >= 0 && static_cast<std::int64_t>(choice.position) >= max_tokens;
    if (active.cancelled) {
      event.finish = engine::FinishReason::Cancelled;
    } else if (length || choice.position >= script.size()) {
      event.text = choice.decoder->finish();
      event.finish = length ? engine::FinishReason::Length : engine::FinishReason::Stop;
    } else {
      const std::int32_t token = script[choice.position++];
      event.token = token;
      event.text = choice.decoder->step(token);
      if (active.request.sampling.logprobs >= 0) event.logprob = -0.5f;
      active.completion_tokens++;
      if (active.first_token_s < 0) {
        active.first_token_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - active.submitted).count();
      }
    }
    if (event.finish) choice.done = true;
    all_done = all_done && choice.done;
    active.request.on_event(event);
  }
  if (all_done) {
    engine::RequestUsage usage;
    usage.prompt_tokens = static_cast<std::int64_t>(active.request.prompt.size());
    usage.completion_tokens = active.completion_tokens;
    usage.time_to_first_token_s = std::max(0.0, active.first_token_s);
    if (active.request.on_done) active.request.on_done(usage);
  }
  return all_done;
}

void ScriptedBackend::run() {
  const auto interval = std::chrono::duration<double, std::milli>(options_.token_interval_ms);
  std::vector<Active*> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stop_ || !active_.empty(); });
      if (stop_ && active_.empty()) return;
      for (const std::int64_t id : cancelled_) {
        for (auto& active : active_) active->cancelled = active->cancelled || active->id == id;
      }
      cancelled_.clear();
      batch.clear();
      for (auto& active : active_) batch.push_back(active.get());
    }
    std::int64_t tokens = 0;
    std::vector<Active*> finished;
    for (Active* active : batch) {
      const std::int64_t before = active->completion_tokens;
      if (tick(*active)) finished.push_back(active);
      tokens += active->completion_tokens - before;
    }
    {
      std::lock_guard lock(mutex_);
      metrics_.generation_tokens_total += tokens;
      metrics_.forward_steps_total++;
      std::erase_if(active_, [&](const auto& active) {
        return std::find(finished.begin(), finished.end(), active.get()) != finished.end();
      });
    }
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace dsv32::server
