#include "chat/tool_schema.h"

#include "chat/py_json.h"
#include "chat/tokens.h"
#include "util/error.h"

namespace dsv32::chat {

namespace {

// Copied byte for byte from TOOLS_SYSTEM_TEMPLATE in DeepSeek's encoding_dsv32.py, with the
// placeholders already substituted ({dsml_token} = ｜DSML｜, thinking tokens = <think>/</think>).
constexpr std::string_view kToolsHeader = R"TEMPLATE(## Tools

You have access to a set of tools you can use to answer the user's question.
You can invoke functions by writing a "<｜DSML｜function_calls>" block like the following as part of your reply to the user:
<｜DSML｜function_calls>
<｜DSML｜invoke name="$FUNCTION_NAME">
<｜DSML｜parameter name="$PARAMETER_NAME" string="true|false">$PARAMETER_VALUE</｜DSML｜parameter>
...
</｜DSML｜invoke>
<｜DSML｜invoke name="$FUNCTION_NAME2">
...
</｜DSML｜invoke>
</｜DSML｜function_calls>

String and scalar parameters should be specified as is without any escaping or quotes, while lists and objects should use JSON format. The "string" attribute should be set to "true" for string type parameters and "false" for other types (numbers, booleans, arrays, objects).

If the thinking_mode is enabled, then after function results you should strongly consider outputting a thinking block. Here is an example:

<｜DSML｜function_calls>
...
</｜DSML｜function_calls>

<function_results>
...
</function_results>

<think>...thinking about results</think>

Here are the functions available in JSONSchema format:
<functions>
)TEMPLATE";

constexpr std::string_view kToolsFooter = "</functions>\n";

nlohmann::ordered_json parse_arguments(const nlohmann::ordered_json& arguments, std::size_t index) {
  if (!arguments.is_string()) {
    fail("tool_calls[{}].function.arguments must be a JSON string, not {}", index, arguments.type_name());
  }
  nlohmann::ordered_json parsed;
  try {
    parsed = nlohmann::ordered_json::parse(arguments.get_ref<const std::string&>());
  } catch (const nlohmann::json::exception& e) {
    fail("tool_calls[{}].function.arguments is not valid JSON: {}", index, e.what());
  }
  if (!parsed.is_object()) {
    fail("tool_calls[{}].function.arguments must encode a JSON object, not {}", index, parsed.type_name());
  }
  return parsed;
}

}  // namespace

std::string render_tools_block(const nlohmann::ordered_json& tools) {
  if (!tools.is_array()) fail("tools must be an array");
  std::string out(kToolsHeader);
  bool first = true;
  for (std::size_t i = 0; i < tools.size(); ++i) {
    const auto& tool = tools[i];
    if (!tool.is_object() || !tool.contains("function")) fail("tools[{}] has no \"function\" object", i);
    if (!first) out += '\n';
    first = false;
    out += py_json_dumps(tool["function"]);
  }
  out += '\n';
  out += kToolsFooter;
  return out;
}

std::string render_tool_calls_dsml(const nlohmann::ordered_json& tool_calls) {
  if (!tool_calls.is_array()) fail("tool_calls must be an array");
  std::string out = std::string(tokens::kCallsOpen) + ">\n";
  for (std::size_t i = 0; i < tool_calls.size(); ++i) {
    const auto& call = tool_calls[i];
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
      fail("tool_calls[{}] has no \"function\" object", i);
    }
    const auto& function = call["function"];
    if (!function.contains("name") || !function["name"].is_string()) {
      fail("tool_calls[{}].function.name must be a string", i);
    }
    if (!function.contains("arguments")) fail("tool_calls[{}].function.arguments is missing", i);
    const auto arguments = parse_arguments(function["arguments"], i);
    if (i > 0) out += '\n';
    out += std::string(tokens::kInvokeOpen) + " name=\"" + function["name"].get<std::string>() + "\">\n";
    bool first = true;
    for (const auto& [key, value] : arguments.items()) {
      if (!first) out += '\n';
      first = false;
      const bool is_string = value.is_string();
      out += std::string(tokens::kParamOpen) + " name=\"" + key + "\" string=\"" + (is_string ? "true" : "false") + "\">";
      // Strings go in raw (no escaping at all); everything else as Python JSON.
      out += is_string ? value.get<std::string>() : py_json_dumps(value);
      out += "<" + std::string(tokens::kParamClose) + ">";
    }
    out += "\n" + std::string(tokens::kInvokeClose) + ">";
  }
  out += "\n" + std::string(tokens::kCallsClose);
  return out;
}

}  // namespace dsv32::chat
