#include "server/assembler.h"

namespace dsv32::server {

void UsageTotals::add(const engine::RequestUsage& usage) {
  prompt_tokens += usage.prompt_tokens;
  cached_tokens += usage.cached_prompt_tokens;
  completion_tokens += usage.completion_tokens;
}

Json UsageTotals::to_json(bool with_reasoning) const {
  Json usage;
  usage["prompt_tokens"] = prompt_tokens;
  usage["completion_tokens"] = completion_tokens;
  usage["total_tokens"] = prompt_tokens + completion_tokens;
  usage["prompt_tokens_details"] = {{"cached_tokens", cached_tokens}};
  if (with_reasoning) usage["completion_tokens_details"] = {{"reasoning_tokens", reasoning_tokens}};
  return usage;
}

Json ResponseMeta::envelope(const char* object, Json choices) const {
  Json out;
  out["id"] = id;
  out["object"] = object;
  out["created"] = created;
  out["model"] = model;
  out["choices"] = std::move(choices);
  return out;
}

const char* api_finish_reason(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::Stop: return "stop";
    case engine::FinishReason::Length: return "length";
    case engine::FinishReason::Cancelled: return "abort";
    case engine::FinishReason::Error: return "error";
  }
  return "stop";
}

std::string dump_json(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace dsv32::server
