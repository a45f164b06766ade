#pragma once
// From an OpenAI chat-completions request to DeepSeek-V3.2's prompt string. This is the request
// mapping of shared/chatfmt/README.md plus the validation a server needs: every request the
// official encoder would reject, or that would render garbage (e.g. user content null → "None"),
// throws dsv32::Error whose message the server returns with HTTP 400.
//
// Parse the request body with nlohmann::ordered_json: tool schemas are rendered with their keys
// in the order the client sent them, and the model was trained on that text.
#include <string>

#include <nlohmann/json.hpp>

namespace dsv32::chat {

struct RequestOptions {
  // OpenAI requires tool_calls[].function.arguments to be a JSON string; the official encoder
  // crashes on an object. Off: such requests are rejected (as the fixtures mark them invalid).
  // On: an object is accepted and written as the string Python's json.dumps would produce.
  bool accept_object_arguments = false;
};

// The official encoder's input derived from a request.
struct EncoderInput {
  nlohmann::ordered_json messages;  // content flattened, request tools/response_format attached
  bool thinking = false;            // chat_template_kwargs.thinking or .enable_thinking
  bool tools_enabled = false;       // request tools were rendered (tool_choice != "none")
};

// Reads `messages`, `tools`, `tool_choice`, `response_format`, `chat_template_kwargs`, and the
// same keys inside `extra_body` (ChatNVIDIA sends them there). Other fields are ignored.
EncoderInput map_chat_request(const nlohmann::ordered_json& request, const RequestOptions& options = {});

struct RenderedChat {
  std::string prompt;
  bool thinking = false;  // the prompt ends with <think>: construct the OutputParser accordingly
  bool tools_enabled = false;
};

RenderedChat render_chat_request(const nlohmann::ordered_json& request, const RequestOptions& options = {});

}  // namespace dsv32::chat
