#pragma once
// /v1/chat/completions: runs each choice's text through the chat layer's OutputParser and emits
// the chunk sequence of API.md §5 (role, reasoning_content, content, tool calls, finish, usage).
#include <memory>
#include <vector>

#include "chat/output_parser.h"
#include "server/assembler.h"

namespace dsv32 {
class Tokenizer;
}

namespace dsv32::server {

struct ChatAssemblerOptions {
  ResponseMeta meta;
  int choices = 1;
  bool thinking = false;       // the prompt ends with <think>
  bool tools_enabled = false;  // tool_choice "none": calls are never returned
  bool logprobs = false;
  std::uint64_t id_seed = 0;   // tool-call ids; random per request
};

class ChatAssembler final : public Assembler {
 public:
  ChatAssembler(ChatAssemblerOptions options, const Tokenizer& tokenizer);
  ~ChatAssembler() override;

  void start(std::vector<Json>& chunks) override;
  void on_event(int submission, const engine::TokenEvent& event, std::vector<Json>& chunks) override;
  std::optional<Json> usage_chunk() const override;
  Json response() const override;

 private:
  struct Choice;
  Json chunk(int index, Json delta, Json finish_reason, Json logprobs) const;
  void emit_delta(int index, const chat::StreamDelta& delta, Choice& choice, std::vector<Json>& chunks) const;

  ChatAssemblerOptions options_;
  const Tokenizer& tokenizer_;
  std::vector<std::unique_ptr<Choice>> choices_;
};

// One logprobs entry {"token","logprob","bytes","top_logprobs"} (API.md §4).
Json logprob_entry(const Tokenizer& tokenizer, const engine::TokenEvent& event);

}  // namespace dsv32::server
