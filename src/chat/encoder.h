#pragma once
// DeepSeek-V3.2's prompt encoder (encoding_dsv32.py: encode_messages), ported rule for rule.
// It takes the encoder's own message list (OpenAI messages whose content is already a string,
// request tools already attached to a system/developer message). Where the Python code raises,
// this throws dsv32::Error with a message that names the offending message.
//
// chat/request.h maps an OpenAI request onto this; use that from the server.
#include <string>

#include <nlohmann/json.hpp>

namespace dsv32::chat {

struct EncodeOptions {
  bool thinking = false;               // thinking_mode "thinking" (else "chat")
  bool drop_thinking = true;           // the official default
  bool add_default_bos_token = true;   // BOS only when there is no context
};

// Renders `messages` after `context` (earlier turns used only for bookkeeping, as the official
// incremental encoding does). Both are arrays of message objects; `context` may be null.
std::string encode_messages(const nlohmann::ordered_json& messages, const EncodeOptions& options,
                            const nlohmann::ordered_json& context = nullptr);

}  // namespace dsv32::chat
