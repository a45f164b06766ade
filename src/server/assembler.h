#pragma once
// Turns the engine's events for one HTTP request into OpenAI JSON: the SSE chunks while
// streaming (API.md §5) and the whole response otherwise (§4, §6). One implementation per
// endpoint; the event loop in generation.h drives either.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"

namespace dsv32::server {

using Json = nlohmann::ordered_json;

// What every response and chunk repeats.
struct ResponseMeta {
  std::string id;  // "chatcmpl-…" / "cmpl-…", the same in every chunk
  std::int64_t created = 0;
  std::string model;  // echoes the request
  bool include_usage = false;

  // {"id", "object", "created", "model", "choices"} in that order; callers add "usage".
  nlohmann::ordered_json envelope(const char* object, nlohmann::ordered_json choices) const;
};

// Token counts over all submissions and choices of one request.
struct UsageTotals {
  std::int64_t prompt_tokens = 0, cached_tokens = 0, completion_tokens = 0, reasoning_tokens = 0;
  void add(const engine::RequestUsage& usage);
  Json to_json(bool with_reasoning) const;
};

class Assembler {
 public:
  virtual ~Assembler() = default;
  // Streaming: the chunks that open the stream (chat: one role chunk per choice).
  virtual void start(std::vector<Json>& chunks) = 0;
  // One event of submission `submission`; appends the chunks to stream for it. A choice that
  // ends in an engine error sets error().
  virtual void on_event(int submission, const engine::TokenEvent& event, std::vector<Json>& chunks) = 0;
  void on_done(const engine::RequestUsage& usage) { usage_.add(usage); }
  // Streaming, after every submission is done: the usage chunk, when the client asked for it.
  virtual std::optional<Json> usage_chunk() const = 0;
  // Non-streaming: the whole response.
  virtual Json response() const = 0;

  const std::optional<std::string>& error() const { return error_; }

 protected:
  std::optional<std::string> error_;
  UsageTotals usage_;
};

// How an engine finish reads in the API. Cancelled shows as "abort", as vLLM reports it.
const char* api_finish_reason(engine::FinishReason reason);

// JSON text that never throws on invalid UTF-8 (it is replaced), for anything model-made.
std::string dump_json(const Json& json);

}  // namespace dsv32::server
