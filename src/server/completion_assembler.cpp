#include "server/completion_assembler.h"

#include <algorithm>
#include <string_view>

#include "chat/tokens.h"
#include "tokenizer/tokenizer.h"

namespace dsv32::server {

CompletionAssembler::CompletionAssembler(CompletionAssemblerOptions options, const Tokenizer& tokenizer)
    : options_(std::move(options)), tokenizer_(tokenizer) {
  choices_.resize(options_.prompts.size() * static_cast<std::size_t>(options_.choices_per_prompt));
}

Json CompletionAssembler::chunk(int index, const std::string& text, Json finish_reason) const {
  Json choice;
  choice["index"] = index;
  choice["text"] = text;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = std::move(finish_reason);
  Json out = options_.meta.envelope("text_completion", Json::array({std::move(choice)}));
  if (options_.meta.include_usage) out["usage"] = nullptr;
  return out;
}

void CompletionAssembler::start(std::vector<Json>& chunks) {
  if (!options_.echo) return;
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    const std::string& prompt = options_.prompts[i / static_cast<std::size_t>(options_.choices_per_prompt)];
    chunks.push_back(chunk(static_cast<int>(i), prompt, nullptr));
  }
}

void CompletionAssembler::on_event(int submission, const engine::TokenEvent& event, std::vector<Json>& chunks) {
  if (event.choice < 0 || event.choice >= options_.choices_per_prompt) return;
  const std::size_t index = static_cast<std::size_t>(submission * options_.choices_per_prompt + event.choice);
  if (index >= choices_.size()) return;
  Choice& choice = choices_[index];
  if (choice.finish_reason) return;
  // The raw endpoint still never shows the end-of-sentence marker as text; a piece of it may
  // end one event and the rest begin the next.
  std::string text = choice.held + event.text;
  choice.held.clear();
  const std::string_view eos = chat::tokens::kEos;
  for (std::size_t at; (at = text.find(eos)) != std::string::npos;) text.erase(at, eos.size());
  if (!event.finish) {
    for (std::size_t keep = std::min(text.size(), eos.size() - 1); keep > 0; --keep) {
      if (eos.substr(0, keep) == std::string_view(text).substr(text.size() - keep)) {
        choice.held = text.substr(text.size() - keep);
        text.resize(text.size() - keep);
        break;
      }
    }
  }
  if (event.token && options_.logprobs) {
    const std::string token = tokenizer_.is_valid(*event.token) ? std::string(tokenizer_.token_bytes(*event.token)) : "";
    choice.tokens.push_back(token);
    choice.token_logprobs.push_back(event.logprob.value_or(0.0f));
    Json top = Json::object();
    for (const engine::TopLogprob& alt : event.top_logprobs) top[alt.text] = alt.logprob;
    choice.top_logprobs.push_back(std::move(top));
  }
  choice.text += text;
  if (!text.empty()) chunks.push_back(chunk(static_cast<int>(index), text, nullptr));
  if (!event.finish) return;
  if (*event.finish == engine::FinishReason::Error) {
    error_ = event.error.empty() ? std::string("generation failed") : event.error;
  }
  choice.finish_reason = api_finish_reason(*event.finish);
  chunks.push_back(chunk(static_cast<int>(index), "", *choice.finish_reason));
}

std::optional<Json> CompletionAssembler::usage_chunk() const {
  if (!options_.meta.include_usage) return std::nullopt;
  Json out = options_.meta.envelope("text_completion", Json::array());
  out["usage"] = usage_.to_json(false);
  return out;
}

Json CompletionAssembler::response() const {
  Json choices = Json::array();
  for (std::size_t i = 0; i < choices_.size(); ++i) {
    const Choice& choice = choices_[i];
    const std::string& prompt = options_.prompts[i / static_cast<std::size_t>(options_.choices_per_prompt)];
    Json item;
    item["index"] = static_cast<int>(i);
    item["text"] = options_.echo ? prompt + choice.text : choice.text;
    item["logprobs"] = options_.logprobs ? Json{{"tokens", choice.tokens},
                                                {"token_logprobs", choice.token_logprobs},
                                                {"top_logprobs", choice.top_logprobs}}
                                         : Json(nullptr);
    item["finish_reason"] = choice.finish_reason ? Json(*choice.finish_reason) : Json("abort");
    choices.push_back(std::move(item));
  }
  Json out = options_.meta.envelope("text_completion", std::move(choices));
  out["usage"] = usage_.to_json(false);
  return out;
}

}  // namespace dsv32::server
