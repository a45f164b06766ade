#pragma once
// What parsing the model's output yields: the assistant message (reasoning, content, tool calls)
// and, while streaming, the deltas of it.
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dsv32::chat {

struct ToolCall {
  int index = 0;          // position in the stream of calls (the OpenAI delta index)
  std::string id;         // "call_" + 24 hex digits
  std::string name;
  std::string arguments;  // JSON text built as the official parser does (may be invalid JSON)
};

struct ParsedMessage {
  // Official parser shape: strings, "" when empty. nullopt where the model never got there:
  // reasoning when thinking is off, content when thinking never ended with </think>.
  std::optional<std::string> reasoning_content;
  std::optional<std::string> content;
  std::vector<ToolCall> tool_calls;  // complete calls only
  bool saw_eos = false;              // the text reached <｜end▁of▁sentence｜>
  // The official parser would have rejected the text; `problem` says why (for logs). The
  // message above is then the lenient reading of API.md §5.1.
  bool malformed = false;
  std::string problem;
};

// One call's piece of a streaming delta. The first piece of a call carries id and name (and
// arguments may be empty); later pieces only argument text.
struct ToolCallDelta {
  int index = 0;
  std::string id;
  std::string name;
  std::string arguments;
};

struct StreamDelta {
  std::string reasoning_content;
  std::string content;
  std::vector<ToolCallDelta> tool_calls;
  bool empty() const { return reasoning_content.empty() && content.empty() && tool_calls.empty(); }
};

// The message as JSON in the official parser's shape: {"role":"assistant","content",
// "reasoning_content","tool_calls":[{"id","type":"function","function":{"name","arguments"}}]}.
// reasoning_content is "" when thinking is off (as officially); content is null only when the
// reasoning never ended.
nlohmann::ordered_json message_to_json(const ParsedMessage& message);

// The same as an OpenAI response message (API.md §4): reasoning_content null when thinking is
// off, content null when only tool calls were produced, tool_calls null when there are none.
nlohmann::ordered_json message_to_openai_json(const ParsedMessage& message);

}  // namespace dsv32::chat
