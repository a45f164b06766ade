#include "chat/official_parser.h"

#include <initializer_list>
#include <set>

#include "chat/py_json.h"
#include "chat/tokens.h"
#include "chat/utf8.h"
#include "util/error.h"

namespace dsv32::chat {

namespace dsml {

bool match_invoke_header(std::string_view header, std::string& name) {
  header.remove_prefix(utf8::leading_python_space(header));
  constexpr std::string_view kPrefix = "name=\"";
  if (!header.starts_with(kPrefix)) return false;
  header.remove_prefix(kPrefix.size());
  // The lazy name stops at a `">\n` that ends the text or precedes its final newline.
  if (header.ends_with("\">\n")) {
    name = header.substr(0, header.size() - 3);
    return true;
  }
  if (header.ends_with("\">\n\n")) {
    name = header.substr(0, header.size() - 4);
    return true;
  }
  return false;
}

std::size_t value_terminator_length(std::string_view value) {
  if (value.ends_with('<')) return 1;
  if (value.ends_with("<\n")) return 2;
  return 0;
}

std::string argument_key_prefix(std::string_view name, bool is_string) {
  std::string out = "\"";
  py_json_escape_into(out, name);
  out += "\": ";
  if (is_string) out += '"';
  return out;
}

}  // namespace dsml

namespace {

struct Stop {
  std::size_t index;         // position after the stop string (or text size)
  std::string_view content;  // text before it
  std::string_view stop;     // empty when none was found
};

// _read_until_stop: the earliest of the stop strings at or after `index`.
Stop read_until_stop(std::size_t index, std::string_view text, std::initializer_list<std::string_view> stops) {
  std::size_t best = text.size();
  std::string_view matched;
  for (auto s : stops) {
    const std::size_t pos = text.find(s, index);
    if (pos != std::string_view::npos && pos < best) {
      best = pos;
      matched = s;
    }
  }
  if (matched.empty()) return {text.size(), text.substr(index), {}};
  return {best + matched.size(), text.substr(index, best - index), matched};
}

void check(bool condition, const char* message) {
  if (!condition) throw Error(message);
}

// `^ name="(.*?)" string="(true|false)">(.*?)<$` (DOTALL).
bool match_parameter(std::string_view content, std::string& name, bool& is_string, std::string& value) {
  constexpr std::string_view kPrefix = " name=\"";
  constexpr std::string_view kTrue = "\" string=\"true\">", kFalse = "\" string=\"false\">";
  if (!content.starts_with(kPrefix)) return false;
  const std::size_t t = content.find(kTrue, kPrefix.size()), f = content.find(kFalse, kPrefix.size());
  if (t == std::string_view::npos && f == std::string_view::npos) return false;
  is_string = t < f;
  const std::size_t at = is_string ? t : f;
  name = content.substr(kPrefix.size(), at - kPrefix.size());
  const std::string_view rest = content.substr(at + (is_string ? kTrue : kFalse).size());
  const std::size_t terminator = dsml::value_terminator_length(rest);
  if (terminator == 0) return false;
  value = rest.substr(0, rest.size() - terminator);
  return true;
}

struct ToolCallsResult {
  std::size_t index;
  std::string_view stop;
};

ToolCallsResult parse_tool_calls(std::size_t index, std::string_view text, std::vector<ToolCall>& calls) {
  using namespace tokens;
  std::string_view stop;
  while (index < text.size()) {
    auto r = read_until_stop(index, text, {kInvokeOpen, kCallsClose});
    index = r.index;
    stop = r.stop;
    check(r.content == ">\n", "Tool call format error");
    if (stop == kCallsClose) break;
    check(!stop.empty(), "Missing special token");

    r = read_until_stop(index, text, {kParamOpen, kInvokeClose});
    index = r.index;
    stop = r.stop;
    ToolCall call;
    check(dsml::match_invoke_header(r.content, call.name), "Tool name format error");

    std::set<std::string> seen;
    std::string arguments;
    while (stop == kParamOpen) {
      r = read_until_stop(index, text, {kParamClose});
      index = r.index;
      std::string name, value;
      bool is_string = false;
      check(match_parameter(r.content, name, is_string, value), "Parameter format error");
      check(seen.insert(name).second, "Duplicate parameter name");
      arguments += arguments.empty() ? "{" : ", ";
      arguments += dsml::argument_key_prefix(name, is_string);
      if (is_string) {
        py_json_escape_into(arguments, value);
        arguments += '"';
      } else {
        arguments += value;
      }
      r = read_until_stop(index, text, {kParamOpen, kInvokeClose});
      index = r.index;
      stop = r.stop;
      check(r.content == ">\n", "Parameter format error");
    }
    call.arguments = arguments.empty() ? "{}" : arguments + "}";
    call.index = static_cast<int>(calls.size());
    calls.push_back(std::move(call));
  }
  return {index, stop};
}

}  // namespace

ParsedMessage parse_completion_strict(std::string_view text, bool thinking) {
  using namespace tokens;
  ParsedMessage message;
  message.reasoning_content = "";
  std::size_t index = 0;
  std::string_view stop;
  if (thinking) {
    auto r = read_until_stop(index, text, {kThinkEnd, kCallsStart});
    index = r.index;
    message.reasoning_content = std::string(r.content);
    check(r.stop == kThinkEnd, "Invalid thinking format");
  }
  auto r = read_until_stop(index, text, {kEos, kCallsStart});
  index = r.index;
  stop = r.stop;
  message.content = std::string(r.content);
  if (stop == kCallsStart) {
    const auto calls = parse_tool_calls(index, text, message.tool_calls);
    index = calls.index;
    r = read_until_stop(index, text, {kEos});
    index = r.index;
    stop = r.stop;
    check(r.content.empty(), "Unexpected content after tool calls");
  } else {
    check(stop == kEos, "Invalid summary format");
  }
  check(index == text.size() && (stop == kEos || stop.empty()), "Unexpected content at end");
  for (auto token : {kBos, kEos, kThinkStart, kThinkEnd, kDsml}) {
    check(message.content->find(token) == std::string::npos &&
              message.reasoning_content->find(token) == std::string::npos,
          "Unexpected special token in content");
  }
  message.saw_eos = stop == kEos;
  return message;
}

}  // namespace dsv32::chat
