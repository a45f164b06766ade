#include "chat/encoder.h"

#include <vector>

#include "chat/py_json.h"
#include "chat/tokens.h"
#include "chat/tool_schema.h"
#include "util/error.h"

namespace dsv32::chat {

namespace {

using Json = nlohmann::ordered_json;

constexpr std::string_view kResponseFormatHeader =
    "## Response Format:\n\nYou MUST strictly adhere to the following schema to reply:\n";

// Python truthiness of a JSON value (the encoder tests `if tools:`, `content or ""`, ...).
bool truthy(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return false;
    case Json::value_t::boolean: return value.get<bool>();
    case Json::value_t::number_integer: return value.get<std::int64_t>() != 0;
    case Json::value_t::number_unsigned: return value.get<std::uint64_t>() != 0;
    case Json::value_t::number_float: return value.get<double>() != 0.0;
    case Json::value_t::string: return !value.get_ref<const std::string&>().empty();
    default: return !value.empty();
  }
}

const Json& field(const Json& msg, const char* key) {
  static const Json kNull;  // immutable: msg.get(key) of a missing key
  const auto it = msg.find(key);
  return it == msg.end() ? kNull : *it;
}

class Renderer {
 public:
  Renderer(std::vector<const Json*> messages, std::size_t context_size, bool thinking)
      : messages_(std::move(messages)), context_size_(context_size), thinking_(thinking) {
    for (std::size_t i = messages_.size(); i-- > 0;) {
      const auto& role = field(*messages_[i], "role");
      if (role == "user" || role == "developer") {
        last_user_ = static_cast<long>(i);
        break;
      }
    }
  }

  std::string render(std::size_t index) const {
    const Json& msg = *messages_[index];
    const Json& role = field(msg, "role");
    if (role == "system") return render_system(msg, index);
    if (role == "developer") return render_developer(msg, index);
    if (role == "user") return render_user(msg, index);
    if (role == "tool") return render_tool(msg, index);
    if (role == "assistant") return render_assistant(msg, index);
    fail("{}: unknown role {}", label(index), role.dump());
  }

 private:
  std::string label(std::size_t index) const {
    return index < context_size_ ? fmt::format("context[{}]", index)
                                 : fmt::format("messages[{}]", index - context_size_);
  }

  // `content or ""` for a string-or-null content.
  std::string text_or_empty(const Json& msg, std::size_t index, const char* key = "content") const {
    const Json& value = field(msg, key);
    if (!truthy(value)) return "";
    if (!value.is_string()) fail("{}.{} must be a string", label(index), key);
    return value.get<std::string>();
  }

  // str(content): the official encoder prints a missing/None content as "None".
  std::string python_str(const Json& msg, std::size_t index) const {
    const Json& value = field(msg, "content");
    if (value.is_null()) return "None";
    if (!value.is_string()) fail("{}.content must be a string", label(index));
    return value.get<std::string>();
  }

  std::string schema_blocks(const Json& msg) const {
    std::string out;
    if (truthy(field(msg, "tools"))) out += "\n\n" + render_tools_block(field(msg, "tools"));
    if (truthy(field(msg, "response_format"))) {
      out += "\n\n" + std::string(kResponseFormatHeader) + py_json_dumps(field(msg, "response_format"));
    }
    return out;
  }

  std::string_view think_marker(std::size_t index) const {
    return static_cast<long>(index) == last_user_ && thinking_ ? tokens::kThinkStart : tokens::kThinkEnd;
  }

  std::string render_system(const Json& msg, std::size_t index) const {
    return text_or_empty(msg, index) + schema_blocks(msg);
  }

  std::string render_developer(const Json& msg, std::size_t index) const {
    if (!truthy(field(msg, "content"))) fail("{}: a developer message needs non-empty content", label(index));
    std::string body = schema_blocks(msg) + "\n\n# The user's message is: " + python_str(msg, index);
    return std::string(tokens::kUser) + body + std::string(tokens::kAssistant) + std::string(think_marker(index));
  }

  std::string render_user(const Json& msg, std::size_t index) const {
    return std::string(tokens::kUser) + python_str(msg, index) + std::string(tokens::kAssistant) +
           std::string(think_marker(index));
  }

  // Python's messages[i] with negative i counting from the end (the official code relies on it
  // when a tool message comes first).
  const Json& at(long i) const {
    return *messages_[static_cast<std::size_t>(i < 0 ? i + static_cast<long>(messages_.size()) : i)];
  }

  std::string render_tool(const Json& msg, std::size_t index) const {
    // Tool results answer the calls of the nearest assistant message before them, by position.
    long prev = static_cast<long>(index) - 1;
    const Json* assistant = &at(prev);
    while (prev >= 0 && field(*assistant, "role") == "tool") {
      --prev;
      assistant = &at(prev);
    }
    if (!(index == 0 || (prev >= 0 && field(*assistant, "role") == "assistant"))) {
      fail("{}: a tool message must follow an assistant message with tool_calls", label(index));
    }
    const long order = static_cast<long>(index) - prev;
    const Json& calls = field(*assistant, "tool_calls");
    if (!truthy(calls) || !calls.is_array() || static_cast<long>(calls.size()) < order) {
      fail("{}: tool result #{} but the assistant message before it has {} tool_calls", label(index), order,
           calls.is_array() ? calls.size() : 0);
    }
    std::string out;
    if (order == 1) out += "\n\n<function_results>";
    out += "\n<result>" + python_str(msg, index) + "</result>";
    if (order == static_cast<long>(calls.size())) {
      out += "\n</function_results>";
      const bool think = static_cast<long>(index) >= last_user_ && thinking_;
      out += "\n\n" + std::string(think ? tokens::kThinkStart : tokens::kThinkEnd);
    }
    return out;
  }

  std::string render_assistant(const Json& msg, std::size_t index) const {
    const Json& calls = field(msg, "tool_calls");
    std::string calls_text;
    if (truthy(calls)) {
      try {
        calls_text = "\n\n" + render_tool_calls_dsml(calls);
      } catch (const Error& e) {
        fail("{}.{}", label(index), e.what());
      }
    }
    std::string thinking_part;
    if (thinking_ && static_cast<long>(index) > last_user_) {
      // No prefill: an assistant turn after the last user turn is a finished turn and must
      // carry its reasoning (or be a tool-calling turn).
      if (!truthy(field(msg, "reasoning_content")) && !truthy(calls)) {
        fail("{}: in thinking mode an assistant message after the last user message needs "
             "reasoning_content or tool_calls",
             label(index));
      }
      thinking_part = text_or_empty(msg, index, "reasoning_content") + std::string(tokens::kThinkEnd);
    }
    return thinking_part + text_or_empty(msg, index) + calls_text + std::string(tokens::kEos);
  }

  std::vector<const Json*> messages_;
  std::size_t context_size_;
  bool thinking_;
  long last_user_ = -1;
};

void collect(const Json& list, const char* what, std::vector<const Json*>& out) {
  if (list.is_null()) return;
  if (!list.is_array()) fail("{} must be an array of messages", what);
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) fail("{}[{}] must be an object", what, i);
    out.push_back(&list[i]);
  }
}

}  // namespace

std::string encode_messages(const Json& messages, const EncodeOptions& options, const Json& context) {
  if (messages.is_null()) fail("messages must be an array of messages");
  std::vector<const Json*> full;
  collect(context, "context", full);
  const std::size_t context_size = full.size();
  collect(messages, "messages", full);

  std::string prompt = options.add_default_bos_token && context_size == 0 ? std::string(tokens::kBos) : "";

  if (options.thinking && options.drop_thinking) {
    // drop_thinking_messages() keeps user/system/tool/assistant turns but silently removes any
    // other role before the last user turn; the shorter list then fails render_message's index
    // assertion. Report that failure up front. (Its removal of old reasoning changes nothing:
    // reasoning is only rendered after the last user turn anyway.)
    long last_user = -1;
    for (std::size_t i = full.size(); i-- > 0;) {
      const auto& role = field(*full[i], "role");
      if (role == "user" || role == "developer") {
        last_user = static_cast<long>(i);
        break;
      }
    }
    for (std::size_t i = 0; static_cast<long>(i) < last_user; ++i) {
      const auto& role = field(*full[i], "role");
      if (role != "user" && role != "system" && role != "tool" && role != "assistant") {
        const std::string where = i < context_size ? fmt::format("context[{}]", i)
                                                   : fmt::format("messages[{}]", i - context_size);
        fail("{}: a {} message before the last user message is not supported in thinking mode "
             "(DeepSeek's encoder drops it and then fails)",
             where, role.is_string() ? role.get<std::string>() : role.dump());
      }
    }
  }

  const Renderer renderer(full, context_size, options.thinking);
  for (std::size_t i = context_size; i < full.size(); ++i) prompt += renderer.render(i);
  return prompt;
}

}  // namespace dsv32::chat
