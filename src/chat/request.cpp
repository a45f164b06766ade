#include "chat/request.h"

#include "chat/encoder.h"
#include "chat/py_json.h"
#include "util/error.h"

namespace dsv32::chat {

namespace {

using Json = nlohmann::ordered_json;

// A request field, looked up at the top level first and then inside extra_body.
const Json* request_field(const Json& request, const char* key) {
  if (auto it = request.find(key); it != request.end() && !it->is_null()) return &*it;
  if (auto extra = request.find("extra_body"); extra != request.end() && extra->is_object()) {
    if (auto it = extra->find(key); it != extra->end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

bool read_flag(const Json& kwargs, const char* key) {
  const auto it = kwargs.find(key);
  if (it == kwargs.end() || it->is_null()) return false;
  if (!it->is_boolean()) fail("chat_template_kwargs.{} must be a boolean", key);
  return it->get<bool>();
}

bool read_thinking(const Json& request) {
  bool thinking = false;
  // Both the top-level and the extra_body copy count: either may carry the switch.
  for (const Json* holder : {&request, request.contains("extra_body") ? &request["extra_body"] : nullptr}) {
    if (holder == nullptr || !holder->is_object()) continue;
    const auto it = holder->find("chat_template_kwargs");
    if (it == holder->end() || it->is_null()) continue;
    if (!it->is_object()) fail("chat_template_kwargs must be an object");
    thinking = thinking || read_flag(*it, "thinking") || read_flag(*it, "enable_thinking");
  }
  return thinking;
}

// Content as the encoder wants it: a string, text parts joined with "\n" (as vLLM does).
Json flatten_content(const Json& content, const std::string& where) {
  if (content.is_null() || content.is_string()) return content;
  if (!content.is_array()) fail("{}.content must be a string or an array of text parts", where);
  std::string text;
  for (std::size_t j = 0; j < content.size(); ++j) {
    const auto& part = content[j];
    if (!part.is_object() || part.value("type", Json()) != "text") {
      fail("{}.content[{}]: only parts of type \"text\" are supported", where, j);
    }
    const auto it = part.find("text");
    if (it == part.end() || !it->is_string()) fail("{}.content[{}].text must be a string", where, j);
    if (j > 0) text += '\n';
    text += it->get<std::string>();
  }
  return text;
}

void check_tool_calls(Json& calls, const std::string& where, const RequestOptions& options) {
  if (calls.is_null()) return;
  if (!calls.is_array()) fail("{}.tool_calls must be an array", where);
  for (std::size_t j = 0; j < calls.size(); ++j) {
    const std::string at = fmt::format("{}.tool_calls[{}]", where, j);
    auto& call = calls[j];
    if (!call.is_object() || !call.contains("function") || !call["function"].is_object()) {
      fail("{} needs a \"function\" object", at);
    }
    auto& function = call["function"];
    if (!function.contains("name") || !function["name"].is_string()) fail("{}.function.name must be a string", at);
    auto& arguments = function["arguments"];
    if (arguments.is_object() && options.accept_object_arguments) arguments = py_json_dumps(arguments);
    if (!arguments.is_string()) fail("{}.function.arguments must be a JSON string", at);
    Json decoded;
    try {
      decoded = Json::parse(arguments.get_ref<const std::string&>());
    } catch (const nlohmann::json::exception&) {
      fail("{}.function.arguments is not valid JSON", at);
    }
    if (!decoded.is_object()) fail("{}.function.arguments must encode a JSON object", at);
  }
}

Json map_message(const Json& message, std::size_t i, const RequestOptions& options) {
  const std::string where = fmt::format("messages[{}]", i);
  if (!message.is_object()) fail("{} must be an object", where);
  const auto role_it = message.find("role");
  if (role_it == message.end() || !role_it->is_string()) fail("{}.role must be a string", where);
  const std::string role = role_it->get<std::string>();
  if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool") {
    fail("{}: unsupported role \"{}\" (expected system, developer, user, assistant or tool)", where, role);
  }
  Json out = message;  // keys the encoder does not read (tool_call_id, name, ...) pass through
  out["content"] = flatten_content(message.value("content", Json()), where);
  if (out["content"].is_null()) {
    // The encoder would print None for these roles; only system/assistant may omit content.
    if (role == "user" || role == "tool" || role == "developer") fail("{}: {} content must not be null", where, role);
    if (!message.contains("content")) out.erase("content");
  }
  if (role == "assistant") {
    // vLLM's newer clients send the earlier reasoning as `reasoning`.
    if (out.contains("reasoning")) {
      if (out.value("reasoning_content", Json()).is_null()) out["reasoning_content"] = out["reasoning"];
      out.erase("reasoning");
    }
    if (out.contains("reasoning_content") && !out["reasoning_content"].is_null() &&
        !out["reasoning_content"].is_string()) {
      fail("{}.reasoning_content must be a string", where);
    }
    if (out.contains("tool_calls")) check_tool_calls(out["tool_calls"], where, options);
  }
  return out;
}

Json read_tools(const Json& request) {
  const Json* tools = request_field(request, "tools");
  if (tools == nullptr) return Json();
  if (!tools->is_array()) fail("tools must be an array");
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const auto& tool = (*tools)[i];
    if (!tool.is_object() || tool.value("type", Json("function")) != "function") {
      fail("tools[{}] must be an object of type \"function\"", i);
    }
    const auto fn = tool.find("function");
    if (fn == tool.end() || !fn->is_object() || !fn->contains("name") || !(*fn)["name"].is_string()) {
      fail("tools[{}].function.name must be a string", i);
    }
  }
  return tools->empty() ? Json() : *tools;
}

Json read_response_format(const Json& request) {
  const Json* format = request_field(request, "response_format");
  if (format == nullptr) return Json();
  if (!format->is_object() || !format->contains("type") || !(*format)["type"].is_string()) {
    fail("response_format must be an object with a string \"type\"");
  }
  const std::string type = (*format)["type"].get<std::string>();
  if (type == "text") return Json();
  if (type != "json_object" && type != "json_schema") {
    fail("response_format.type \"{}\" is not supported (text, json_object or json_schema)", type);
  }
  return *format;
}

}  // namespace

EncoderInput map_chat_request(const Json& request, const RequestOptions& options) {
  if (!request.is_object()) fail("the request body must be a JSON object");
  EncoderInput input;
  input.thinking = read_thinking(request);

  const Json* messages = request_field(request, "messages");
  if (messages == nullptr || !messages->is_array() || messages->empty()) {
    fail("messages must be a non-empty array");
  }
  input.messages = Json::array();
  for (std::size_t i = 0; i < messages->size(); ++i) input.messages.push_back(map_message((*messages)[i], i, options));

  Json tools = read_tools(request);
  if (const Json* choice = request_field(request, "tool_choice"); choice != nullptr && *choice == "none") {
    tools = Json();  // decision (API.md §0): the model does not see the tools at all
  }
  const Json format = read_response_format(request);
  input.tools_enabled = !tools.is_null();
  if (tools.is_null() && format.is_null()) return input;

  // DeepSeek's own usage: the tools (and the response format) belong to a leading system
  // message; create an empty one when the conversation does not start with one.
  if (input.messages[0].value("role", "") != "system") {
    input.messages.insert(input.messages.begin(), Json{{"role", "system"}, {"content", ""}});
  }
  Json& system = input.messages[0];
  if (!format.is_null()) system["response_format"] = format;
  if (!tools.is_null()) {
    if (!system.contains("tools") || !system["tools"].is_array()) system["tools"] = Json::array();
    for (const auto& tool : tools) system["tools"].push_back(tool);
  }
  return input;
}

RenderedChat render_chat_request(const Json& request, const RequestOptions& options) {
  const EncoderInput input = map_chat_request(request, options);
  EncodeOptions encode;
  encode.thinking = input.thinking;
  return RenderedChat{encode_messages(input.messages, encode), input.thinking, input.tools_enabled};
}

}  // namespace dsv32::chat
