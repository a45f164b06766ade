#pragma once
// The two places where DeepSeek's encoder turns OpenAI tool JSON into prompt text: the
// "## Tools" block listing the function schemas, and an earlier assistant turn's tool calls
// written back as DSML.
#include <string>

#include <nlohmann/json.hpp>

namespace dsv32::chat {

// `tools` is the OpenAI array [{type, function:{...}}]; each function object is written as one
// line of Python-style JSON inside the official instructions. Throws dsv32::Error on bad shape.
std::string render_tools_block(const nlohmann::ordered_json& tools);

// An assistant message's OpenAI tool_calls as the DSML <function_calls> block (without the
// leading "\n\n"). `arguments` must be a JSON string that decodes to an object.
std::string render_tool_calls_dsml(const nlohmann::ordered_json& tool_calls);

}  // namespace dsv32::chat
