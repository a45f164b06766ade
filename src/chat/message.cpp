#include "chat/message.h"

namespace dsv32::chat {

namespace {

nlohmann::ordered_json optional_text(const std::optional<std::string>& text) {
  return text ? nlohmann::ordered_json(*text) : nlohmann::ordered_json();
}

nlohmann::ordered_json calls_to_json(const std::vector<ToolCall>& calls) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& call : calls) {
    out.push_back({{"id", call.id},
                   {"type", "function"},
                   {"function", {{"name", call.name}, {"arguments", call.arguments}}}});
  }
  return out;
}

}  // namespace

nlohmann::ordered_json message_to_json(const ParsedMessage& message) {
  return {{"role", "assistant"},
          {"content", optional_text(message.content)},
          {"reasoning_content", message.reasoning_content.value_or("")},
          {"tool_calls", calls_to_json(message.tool_calls)}};
}

nlohmann::ordered_json message_to_openai_json(const ParsedMessage& message) {
  auto out = message_to_json(message);
  out["reasoning_content"] = optional_text(message.reasoning_content);
  if (message.tool_calls.empty()) {
    out["tool_calls"] = nullptr;
  } else if (message.content && message.content->empty()) {
    out["content"] = nullptr;
  }
  return out;
}

}  // namespace dsv32::chat
