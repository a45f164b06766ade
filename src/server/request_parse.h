#pragma once
// From a request body to what the engine needs, with every check a client can fail (API.md §3,
// §6): each failure is an ApiError (400, or 404 for an unknown model), never a crash or a 500.
// Unknown fields are ignored; null counts as absent.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/request.h"
#include "engine/sampling_params.h"

namespace dsv32::server {

// The model names a server answers to: the first is listed by /v1/models and echoed when a
// request names none; the others are aliases (e.g. the HF casing).
struct ModelNames {
  std::vector<std::string> names;
  bool accepts(std::string_view name) const;
  const std::string& primary() const { return names.front(); }
};

// The body as JSON whatever the Content-Type says; a JSON object or 400. `extra_body` (sent
// literally by ChatNVIDIA) is merged into the top level where the top level lacks the key.
nlohmann::ordered_json parse_json_body(std::string_view body);

struct CommonParams {
  std::string model;  // as the request spelled it (echoed back)
  bool stream = false;
  bool include_usage = false;
  engine::SamplingParams sampling;  // max_tokens -1: until the context is full
};

struct ChatJob {
  CommonParams common;
  chat::RenderedChat chat;
  bool logprobs = false;
};

struct CompletionJob {
  CommonParams common;
  std::vector<std::string> prompts;  // one submission each
  bool echo = false;
};

ChatJob parse_chat_request(const nlohmann::ordered_json& body, const ModelNames& models);
CompletionJob parse_completion_request(const nlohmann::ordered_json& body, const ModelNames& models);

// 400 context_length_exceeded when the prompt leaves no room, or prompt + max_tokens exceed it.
void check_context(std::int64_t prompt_tokens, std::int64_t max_tokens, std::int64_t context_tokens);

}  // namespace dsv32::server
