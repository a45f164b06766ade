#include "server/chat_assembler.h"

#include <string_view>

#include "chat/tokens.h"
#include "tokenizer/tokenizer.h"

namespace dsv32::server {

struct ChatAssembler::Choice {
  explicit Choice(const chat::OutputParserOptions& options) : parser(options) {}
  chat::OutputParser parser;
  std::optional<chat::ParsedMessage> message;  // set by the finish event
  std::optional<std::string> finish_reason;
  Json pending_logprobs = Json::array();  // entries not yet attached to a chunk
  Json all_logprobs = Json::array();
  std::string tail;             // the last bytes of raw text, to spot </think> across events
  bool reasoning_over = false;  // </think> seen: later tokens are not reasoning tokens
  std::int64_t reasoning_tokens = 0;
};

Json logprob_entry(const Tokenizer& tokenizer, const engine::TokenEvent& event) {
  const auto token_text = [&](std::int32_t id) {
    return tokenizer.is_valid(id) ? std::string(tokenizer.token_bytes(id)) : std::string();
  };
  const auto bytes_of = [](const std::string& text) {
    Json bytes = Json::array();
    for (const unsigned char c : text) bytes.push_back(static_cast<int>(c));
    return bytes;
  };
  const std::string text = token_text(*event.token);
  Json entry{{"token", text}, {"logprob", event.logprob.value_or(0.0f)}, {"bytes", bytes_of(text)}};
  Json top = Json::array();
  for (const engine::TopLogprob& alt : event.top_logprobs) {
    top.push_back({{"token", alt.text}, {"logprob", alt.logprob}, {"bytes", bytes_of(alt.text)}});
  }
  entry["top_logprobs"] = std::move(top);
  return entry;
}

ChatAssembler::ChatAssembler(ChatAssemblerOptions options, const Tokenizer& tokenizer)
    : options_(std::move(options)), tokenizer_(tokenizer) {
  for (int i = 0; i < options_.choices; ++i) {
    chat::OutputParserOptions parser_options;
    parser_options.thinking = options_.thinking;
    // Each choice gets its own ids: the seed differs per choice and per request.
    parser_options.id_seed = options_.id_seed + static_cast<std::uint64_t>(i) * 0x9E3779B97F4A7C15ull;
    choices_.push_back(std::make_unique<Choice>(parser_options));
  }
}

ChatAssembler::~ChatAssembler() = default;

Json ChatAssembler::chunk(int index, Json delta, Json finish_reason, Json logprobs) const {
  Json choice;
  choice["index"] = index;
  choice["delta"] = std::move(delta);
  choice["logprobs"] = std::move(logprobs);
  choice["finish_reason"] = std::move(finish_reason);
  Json out = options_.meta.envelope("chat.completion.chunk", Json::array({std::move(choice)}));
  if (options_.meta.include_usage) out["usage"] = nullptr;
  return out;
}

void ChatAssembler::start(std::vector<Json>& chunks) {
  for (int i = 0; i < options_.choices; ++i) {
    chunks.push_back(chunk(i, {{"role", "assistant"}, {"content", ""}}, nullptr, nullptr));
  }
}

// Reasoning, then content, then tool calls: the order the text had. Text deltas carry both
// keys (one null) because some clients read delta.reasoning_content as an attribute.
void ChatAssembler::emit_delta(int index, const chat::StreamDelta& delta, Choice& choice,
                               std::vector<Json>& chunks) const {
  const auto take_logprobs = [&]() -> Json {
    if (!options_.logprobs || choice.pending_logprobs.empty()) return nullptr;
    Json out{{"content", std::move(choice.pending_logprobs)}};
    choice.pending_logprobs = Json::array();
    return out;
  };
  if (!delta.reasoning_content.empty()) {
    chunks.push_back(chunk(index, {{"content", nullptr}, {"reasoning_content", delta.reasoning_content}}, nullptr,
                           take_logprobs()));
  }
  if (!delta.content.empty()) {
    chunks.push_back(
        chunk(index, {{"content", delta.content}, {"reasoning_content", nullptr}}, nullptr, take_logprobs()));
  }
  if (!options_.tools_enabled) return;
  for (const chat::ToolCallDelta& call : delta.tool_calls) {
    Json item{{"index", call.index}};
    if (!call.id.empty()) {
      item["id"] = call.id;
      item["type"] = "function";
      item["function"] = {{"name", call.name}, {"arguments", call.arguments}};
    } else {
      item["function"] = {{"arguments", call.arguments}};
    }
    chunks.push_back(chunk(index, {{"tool_calls", Json::array({std::move(item)})}}, nullptr, take_logprobs()));
  }
}

void ChatAssembler::on_event(int /*submission*/, const engine::TokenEvent& event, std::vector<Json>& chunks) {
  if (event.choice < 0 || event.choice >= options_.choices) return;
  Choice& choice = *choices_[static_cast<std::size_t>(event.choice)];
  if (choice.finish_reason) return;
  if (event.token) {
    if (options_.thinking && !choice.reasoning_over) choice.reasoning_tokens++;
    if (options_.logprobs) {
      Json entry = logprob_entry(tokenizer_, event);
      choice.pending_logprobs.push_back(entry);
      choice.all_logprobs.push_back(std::move(entry));
    }
  }
  if (options_.thinking && !choice.reasoning_over) {
    choice.tail += event.text;
    choice.reasoning_over = choice.tail.find(chat::tokens::kThinkEnd) != std::string::npos;
    if (choice.tail.size() > 64) choice.tail.erase(0, choice.tail.size() - 16);
  }
  emit_delta(event.choice, choice.parser.feed(event.text), choice, chunks);
  if (!event.finish) return;

  chat::OutputParser::Final final = choice.parser.finish();
  emit_delta(event.choice, final.delta, choice, chunks);
  if (!options_.tools_enabled) final.message.tool_calls.clear();
  usage_.reasoning_tokens += choice.reasoning_tokens;
  if (*event.finish == engine::FinishReason::Error) {
    error_ = event.error.empty() ? std::string("generation failed") : event.error;
  }
  choice.finish_reason = !final.message.tool_calls.empty() ? "tool_calls" : api_finish_reason(*event.finish);
  choice.message = std::move(final.message);
  Json logprobs = nullptr;
  if (options_.logprobs && !choice.pending_logprobs.empty()) {
    logprobs = {{"content", std::move(choice.pending_logprobs)}};
    choice.pending_logprobs = Json::array();
  }
  chunks.push_back(chunk(event.choice, Json::object(), *choice.finish_reason, std::move(logprobs)));
}

std::optional<Json> ChatAssembler::usage_chunk() const {
  if (!options_.meta.include_usage) return std::nullopt;
  Json out = options_.meta.envelope("chat.completion.chunk", Json::array());
  out["usage"] = usage_.to_json(options_.thinking);
  return out;
}

Json ChatAssembler::response() const {
  Json choices = Json::array();
  for (int i = 0; i < options_.choices; ++i) {
    const Choice& choice = *choices_[static_cast<std::size_t>(i)];
    Json message = choice.message ? chat::message_to_openai_json(*choice.message)
                                  : Json{{"role", "assistant"}, {"content", nullptr}};
    Json item;
    item["index"] = i;
    item["message"] = std::move(message);
    item["logprobs"] = options_.logprobs ? Json{{"content", choice.all_logprobs}} : Json(nullptr);
    item["finish_reason"] = choice.finish_reason ? Json(*choice.finish_reason) : Json("abort");
    choices.push_back(std::move(item));
  }
  Json out = options_.meta.envelope("chat.completion", std::move(choices));
  out["usage"] = usage_.to_json(options_.thinking);
  return out;
}

}  // namespace dsv32::server
