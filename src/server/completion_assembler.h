#pragma once
// /v1/completions (API.md §6): raw text out, no reasoning or tool parsing. Choice index =
// prompt index * n + choice.
#include <string>
#include <vector>

#include "server/assembler.h"

namespace dsv32 {
class Tokenizer;
}

namespace dsv32::server {

struct CompletionAssemblerOptions {
  ResponseMeta meta;
  int choices_per_prompt = 1;
  std::vector<std::string> prompts;
  bool echo = false;
  bool logprobs = false;
};

class CompletionAssembler final : public Assembler {
 public:
  CompletionAssembler(CompletionAssemblerOptions options, const Tokenizer& tokenizer);

  void start(std::vector<Json>& chunks) override;
  void on_event(int submission, const engine::TokenEvent& event, std::vector<Json>& chunks) override;
  std::optional<Json> usage_chunk() const override;
  Json response() const override;

 private:
  struct Choice {
    std::string text;
    std::string held;  // a tail that may be the start of the end-of-sentence marker
    std::optional<std::string> finish_reason;
    Json tokens = Json::array(), token_logprobs = Json::array(), top_logprobs = Json::array();
  };
  Json chunk(int index, const std::string& text, Json finish_reason) const;

  CompletionAssemblerOptions options_;
  const Tokenizer& tokenizer_;
  std::vector<Choice> choices_;
};

}  // namespace dsv32::server
